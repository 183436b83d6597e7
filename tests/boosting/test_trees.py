"""The portable tree ensemble reproduces scikit-learn's predictions; round selection uses validation only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from crystalgenome.boosting import BoostConfig, TreeEnsemble, fit_boosted


def _data(num_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(600, 6))
    features[rng.random(features.shape) < 0.1] = np.nan  # missing values take the learned branch
    score = np.nan_to_num(features[:, 0]) + 0.5 * np.nan_to_num(features[:, 1]) ** 2
    labels = np.digitize(score, np.quantile(score, np.linspace(0, 1, num_classes + 1)[1:-1]))
    return features, labels


@pytest.mark.parametrize("num_classes", [2, 4])
def test_matches_sklearn_probabilities(num_classes: int) -> None:
    features, labels = _data(num_classes)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(features[:400], labels[:400])
    ensemble = TreeEnsemble.from_sklearn(model)
    np.testing.assert_allclose(
        ensemble.predict_proba(features[400:]), model.predict_proba(features[400:]), rtol=1e-9, atol=1e-12
    )
    staged = list(model.staged_predict_proba(features[400:]))
    truncated = TreeEnsemble.from_sklearn(model, 15)
    assert truncated.num_iterations == 15
    np.testing.assert_allclose(truncated.predict_proba(features[400:]), staged[14], rtol=1e-9, atol=1e-12)


def test_round_trip_without_pickle(tmp_path: Path) -> None:
    features, labels = _data(3)
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(features, labels)
    ensemble = TreeEnsemble.from_sklearn(model)
    ensemble.save(tmp_path / "trees.npz")
    loaded = TreeEnsemble.load(tmp_path / "trees.npz")
    np.testing.assert_array_equal(loaded.predict_proba(features), ensemble.predict_proba(features))
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with pytest.raises(ValueError, match="not a tree ensemble"):
        TreeEnsemble.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="features"):
        ensemble.predict_proba(features[:, :2])


def test_fit_keeps_the_best_validation_round_count() -> None:
    features, labels = _data(2, seed=1)
    rows = np.arange(600)
    result = fit_boosted(
        features, labels, rows[:400], rows[400:500], num_classes=2,
        config=BoostConfig(max_rounds=120, check_every=10, learning_rate=0.2),
    )  # fmt: skip
    scores = dict(result.history)
    assert result.rounds in scores
    assert result.best_score == max(scores.values())
    assert result.ensemble.num_iterations == result.rounds
    assert result.metric == "roc_auc"
    assert result.best_score > 0.8  # the signal is strong; chance is 0.5


def test_fit_refuses_a_missing_class() -> None:
    features, labels = _data(2)
    rows = np.flatnonzero(labels == 0)
    with pytest.raises(ValueError, match="1 of the 2 classes"):
        fit_boosted(features, labels, rows, rows, num_classes=2)
    with pytest.raises(ValueError, match="class_weighting"):
        BoostConfig(class_weighting="sometimes")


def test_average_of_ensembles_averages_raw_scores() -> None:
    features, labels = _data(3)
    members = [
        TreeEnsemble.from_sklearn(
            HistGradientBoostingClassifier(max_iter=n, random_state=0).fit(features, labels)
        )
        for n in (5, 12)
    ]
    averaged = TreeEnsemble.average(members)
    expected = (members[0].raw_scores(features) + members[1].raw_scores(features)) / 2
    np.testing.assert_allclose(averaged.raw_scores(features), expected, rtol=1e-10, atol=1e-12)


def test_bagged_fit_reports_each_members_rounds() -> None:
    features, labels = _data(2, seed=2)
    rows = np.arange(600)
    config = BoostConfig(max_rounds=40, check_every=10, bagging=3, max_features=0.5)
    result = fit_boosted(features, labels, rows[:400], rows[400:], num_classes=2, config=config)
    assert isinstance(result.rounds, list) and len(result.rounds) == 3
    assert result.ensemble.num_iterations == sum(result.rounds)
