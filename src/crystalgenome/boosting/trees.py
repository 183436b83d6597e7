"""A fitted gradient-boosted tree ensemble as plain arrays: saved without pickle, predicted with numpy.

scikit-learn's own pickles break across its versions and can run code when loaded; shipped models are
stored as the trees' node arrays (``.npz``) instead, and predicted by a vectorised traversal that
reproduces ``HistGradientBoostingClassifier.predict_proba`` to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crystalgenome.utils.atomic import atomic_path

_ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "value", "is_leaf", "roots", "baseline")


@dataclass(frozen=True)
class TreeEnsemble:
    """Additive trees: raw score of output c = baseline[c] + Σ leaf values of the trees of output c.

    Attributes:
        feature, threshold, missing_left, left, right, value, is_leaf: (nodes,) arrays of all trees
            together; a sample goes left when ``x[feature] <= threshold`` (NaN: when ``missing_left``);
            child indices are global.
        roots: (iterations, outputs) global index of each tree's root.
        baseline: (outputs,) initial raw scores.
    """

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    is_leaf: np.ndarray
    roots: np.ndarray
    baseline: np.ndarray

    @property
    def num_iterations(self) -> int:
        return int(self.roots.shape[0])

    @property
    def num_outputs(self) -> int:
        """1 for a binary classifier (logit of class 1), else the number of classes."""
        return int(self.roots.shape[1])

    @property
    def num_features(self) -> int:
        """Smallest input width the trees can read."""
        used = self.feature[~self.is_leaf]
        return int(used.max()) + 1 if used.size else 0

    @classmethod
    def from_sklearn(cls, model, iterations: int | None = None) -> TreeEnsemble:
        """The first ``iterations`` boosting rounds (all when None) of a fitted
        ``HistGradientBoostingClassifier`` (numeric features only)."""
        rounds = model._predictors[: iterations or len(model._predictors)]
        parts, roots, offset = [], [], 0
        for trees in rounds:
            row = []
            for predictor in trees:
                nodes = predictor.nodes
                if nodes["is_categorical"].any():
                    raise ValueError("categorical splits are not supported")
                parts.append(nodes)
                row.append(offset)
                offset += len(nodes)
            roots.append(row)
        nodes = np.concatenate(parts)
        shift = np.repeat(np.asarray([r for row in roots for r in row]), [len(p) for p in parts])
        leaf = nodes["is_leaf"].astype(bool)
        return cls(
            feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.int32),
            threshold=nodes["num_threshold"].astype(np.float64),
            missing_left=nodes["missing_go_to_left"].astype(bool),
            left=np.where(leaf, 0, nodes["left"].astype(np.int64) + shift).astype(np.int32),
            right=np.where(leaf, 0, nodes["right"].astype(np.int64) + shift).astype(np.int32),
            value=nodes["value"].astype(np.float64),
            is_leaf=leaf,
            roots=np.asarray(roots, dtype=np.int32),
            baseline=np.asarray(model._baseline_prediction, dtype=np.float64).ravel(),
        )

    @classmethod
    def average(cls, members: list[TreeEnsemble]) -> TreeEnsemble:
        """One ensemble whose raw scores are the mean of the members' (e.g. fits of several seeds)."""
        if not members or len({m.num_outputs for m in members}) != 1:
            raise ValueError("average needs at least one ensemble, all with the same number of outputs")
        offsets = np.cumsum([0] + [len(m.value) for m in members[:-1]])

        def joined(name: str, shift: bool = False) -> np.ndarray:
            parts = [getattr(m, name) for m in members]
            return np.concatenate([p + o for p, o in zip(parts, offsets, strict=True)] if shift else parts)

        leaf = joined("is_leaf")
        return cls(
            feature=joined("feature"),
            threshold=joined("threshold"),
            missing_left=joined("missing_left"),
            left=np.where(leaf, 0, joined("left", shift=True)).astype(np.int32),
            right=np.where(leaf, 0, joined("right", shift=True)).astype(np.int32),
            value=joined("value") / len(members),
            is_leaf=leaf,
            roots=np.concatenate([m.roots + o for m, o in zip(members, offsets, strict=True)]).astype(
                np.int32
            ),
            baseline=np.mean([m.baseline for m in members], axis=0),
        )

    def raw_scores(self, features: np.ndarray) -> np.ndarray:
        """(n, outputs) raw scores of (n, features) inputs."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] < self.num_features:
            raise ValueError(f"expected (n, >= {self.num_features}) features, got {features.shape}")
        node = np.broadcast_to(self.roots.ravel(), (len(features), self.roots.size)).copy()
        rows = np.arange(len(features))[:, None]
        active = ~self.is_leaf[node]
        while active.any():
            current = node[active]
            values = features[np.broadcast_to(rows, node.shape)[active], self.feature[current]]
            below = values <= self.threshold[current]
            go_left = np.where(np.isnan(values), self.missing_left[current], below)
            node[active] = np.where(go_left, self.left[current], self.right[current])
            active = ~self.is_leaf[node]
        leaves = self.value[node].reshape(len(features), self.num_iterations, self.num_outputs)
        return self.baseline + leaves.sum(axis=1)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, classes) class probabilities (sigmoid for one output, softmax otherwise)."""
        raw = self.raw_scores(features)
        if self.num_outputs == 1:
            positive = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> None:
        """Write the arrays to ``path`` (``.npz``, atomically)."""
        with atomic_path(path) as temporary, temporary.open("wb") as handle:
            np.savez_compressed(handle, **{name: getattr(self, name) for name in _ARRAYS})

    @classmethod
    def load(cls, path: str | Path) -> TreeEnsemble:
        """Read an ensemble written by :meth:`save` (no pickle is loaded)."""
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in _ARRAYS if name not in data]
            if missing:
                raise ValueError(f"{path}: not a tree ensemble (missing {', '.join(missing)})")
            return cls(**{name: data[name] for name in _ARRAYS})

    def __post_init__(self) -> None:
        if self.is_leaf.dtype != bool or self.missing_left.dtype != bool:
            raise ValueError("is_leaf and missing_left must be boolean arrays")
