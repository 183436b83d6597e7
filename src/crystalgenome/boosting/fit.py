"""Fit a gradient-boosted tree classifier on descriptor rows; the number of rounds is chosen on the
validation rows only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from crystalgenome.boosting.trees import TreeEnsemble
from crystalgenome.training.metrics import selection_score
from crystalgenome.utils.config import JsonConfig


@dataclass(frozen=True)
class BoostConfig(JsonConfig):
    """Settings of scikit-learn's ``HistGradientBoostingClassifier`` and of round selection.

    Attributes:
        max_rounds: boosting rounds fitted; the kept number is the best on the validation rows.
        learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization: tree settings.
        max_features: fraction of features each split considers (decorrelates trees).
        check_every: rounds between two validation scores.
        class_weighting: ``"none"`` or ``"balanced"`` (inverse class frequency on the training rows).
        seed: seed of the feature subsampling and binning.
        bagging: fits with seeds ``seed``, ``seed + 1``, ... whose raw scores are averaged, each with
            its own round count chosen on the validation rows.
    """

    config_kind: ClassVar[str] = "boost config"

    max_rounds: int = 1000
    learning_rate: float = 0.05
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0
    max_features: float = 0.5
    check_every: int = 10
    class_weighting: str = "none"
    seed: int = 0
    bagging: int = 1

    def __post_init__(self) -> None:
        if self.class_weighting not in ("none", "balanced"):
            raise ValueError(f"class_weighting must be none or balanced, got {self.class_weighting!r}")
        if self.max_rounds < 1 or self.check_every < 1 or self.bagging < 1:
            raise ValueError("max_rounds, check_every and bagging must be >= 1")


@dataclass
class BoostResult:
    """The kept trees, the validation score of each checked round count (of each bagged fit), what
    was selected, and the validation score of the averaged ensemble."""

    ensemble: TreeEnsemble
    rounds: int | list[int]
    metric: str
    best_score: float
    history: list[tuple[int, float]] | list[list[tuple[int, float]]]


def fit_boosted(
    features: np.ndarray,
    labels: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    *,
    num_classes: int,
    config: BoostConfig | None = None,
) -> BoostResult:
    """Fit on ``train_rows``, keep the round count with the best validation score (ROC-AUC for binary
    tasks, accuracy otherwise; ties: fewer rounds), and export those rounds as a :class:`TreeEnsemble`;
    with ``config.bagging`` > 1, the average of that many such fits with consecutive seeds.

    Raises:
        ValueError: a class is missing from the training rows, or there are no validation rows.
    """
    config = config or BoostConfig()
    present = np.unique(labels[train_rows])
    if present.size != num_classes:
        raise ValueError(f"the training rows hold {present.size} of the {num_classes} classes")
    if len(valid_rows) == 0:
        raise ValueError("round selection needs validation rows")
    fits = [
        _fit_one(features, labels, train_rows, valid_rows, config.replace(seed=config.seed + offset))
        for offset in range(config.bagging)
    ]
    if len(fits) == 1:
        return fits[0]
    ensemble = TreeEnsemble.average([fit.ensemble for fit in fits])
    metric, score = selection_score(labels[valid_rows], ensemble.predict_proba(features[valid_rows]))
    return BoostResult(
        ensemble=ensemble,
        rounds=[int(fit.rounds) for fit in fits],
        metric=metric,
        best_score=score,
        history=[fit.history for fit in fits],
    )


def _fit_one(
    features: np.ndarray,
    labels: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    config: BoostConfig,
) -> BoostResult:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=config.max_rounds, learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes, min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization, max_features=config.max_features,
        early_stopping=False, random_state=config.seed,
        class_weight="balanced" if config.class_weighting == "balanced" else None,
    )  # fmt: skip
    model.fit(features[train_rows], labels[train_rows])
    history: list[tuple[int, float]] = []
    metric = ""
    for index, probabilities in enumerate(model.staged_predict_proba(features[valid_rows]), start=1):
        if index % config.check_every == 0 or index == model.n_iter_:
            metric, score = selection_score(labels[valid_rows], probabilities)
            history.append((index, score))
    rounds, best = max(history, key=lambda item: (item[1], -item[0]))
    return BoostResult(TreeEnsemble.from_sklearn(model, rounds), rounds, metric, best, history)
