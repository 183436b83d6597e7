"""Classification metrics over a whole split at once, each with a seeded bootstrap 95% interval.

Never averaged over mini-batches (the authors' ROC-AUC was, which is biased). Every metric is computed
for a matrix of sample weights W (R, n) at once: row r holds how many times each sample occurs in
bootstrap resample r (all ones for the point estimate), so 1,000 resamples cost a few array operations.
The definitions are scikit-learn's (tested against it): precision/recall/F1 of the positive class
(index 1) for binary tasks and macro averages otherwise; ROC-AUC and average precision for the
positive class (binary) or macro one-vs-rest (multi-class); zero_division = 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

SCALAR_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
)


def _group_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of consecutive column groups starting at ``starts`` of (R, n) ``values`` → (R, G)."""
    return np.add.reduceat(values, starts, axis=1)


def _sorted_groups(scores: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of ``scores`` and the start index of each run of tied scores in that order."""
    order = np.argsort(-scores if descending else scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts


def weighted_roc_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(R,) ROC-AUC of ``scores`` for binary ``positive`` (n,) under each weight row of (R, n).

    AUC = P(score_pos > score_neg) + ½ P(tie), the Mann–Whitney form (equal to the trapezoidal ROC area).
    NaN where a resample lacks one class.
    """
    order, starts = _sorted_groups(scores, descending=False)
    w = weights[:, order]
    is_positive = positive[order].astype(bool)
    positive_weight = _group_sums(np.where(is_positive, w, 0.0), starts)
    negative_weight = _group_sums(np.where(is_positive, 0.0, w), starts)
    negatives_below = np.cumsum(negative_weight, axis=1) - negative_weight
    pairs = (positive_weight * (negatives_below + 0.5 * negative_weight)).sum(axis=1)
    total = positive_weight.sum(axis=1) * negative_weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, pairs / total, np.nan)


def weighted_average_precision(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(R,) average precision Σ_k (R_k − R_{k−1}) P_k over descending score thresholds (scikit-learn's)."""
    order, starts = _sorted_groups(scores, descending=True)
    w = weights[:, order]
    is_positive = positive[order].astype(bool)
    true_positives = np.cumsum(_group_sums(np.where(is_positive, w, 0.0), starts), axis=1)
    predicted = np.cumsum(_group_sums(w, starts), axis=1)
    total_positive = true_positives[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall_steps = np.diff(true_positives, axis=1, prepend=0.0) / total_positive
        return np.where(total_positive[:, 0] > 0, (recall_steps * precision).sum(axis=1), np.nan)


def weighted_confusion(
    labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray, num_classes: int
) -> np.ndarray:
    """(R, K, K) confusion matrices (rows = true class, columns = predicted) under each weight row."""
    cell = labels * num_classes + predicted  # (n,)
    resamples = weights.shape[0]
    flat = (np.arange(resamples)[:, None] * num_classes**2 + cell[None, :]).ravel()
    counts = np.bincount(flat, weights=weights.ravel(), minlength=resamples * num_classes**2)
    return counts.reshape(resamples, num_classes, num_classes)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0)


def metric_table(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric for every weight row: {name: (R,)} plus ``confusion`` (R, K, K).

    Args:
        labels: (n,) true class indices.
        probabilities: (n, K) class probabilities (rows sum to 1).
        weights: (R, n) non-negative sample weights (bootstrap counts, or ones).
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    num_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    confusion = weighted_confusion(labels, predicted, weights, num_classes)
    true_count = confusion.sum(axis=2)  # (R, K)
    predicted_count = confusion.sum(axis=1)
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    precision = _safe_ratio(hits, predicted_count)
    recall = _safe_ratio(hits, true_count)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    present = true_count > 0
    table: dict[str, np.ndarray] = {
        "accuracy": hits.sum(axis=1) / weights.sum(axis=1),
        "balanced_accuracy": (recall * present).sum(axis=1) / present.sum(axis=1),
        "confusion": confusion,
    }
    if num_classes == 2:
        positive = labels == 1
        table |= {"precision": precision[:, 1], "recall": recall[:, 1], "f1": f1[:, 1]}
        table["roc_auc"] = weighted_roc_auc(positive, probabilities[:, 1], weights)
        table["average_precision"] = weighted_average_precision(positive, probabilities[:, 1], weights)
    else:
        involved = present | (predicted_count > 0)  # scikit-learn averages over classes seen in either
        table |= {
            name: (value * involved).sum(axis=1) / involved.sum(axis=1)
            for name, value in (("precision", precision), ("recall", recall), ("f1", f1))
        }
        per_class_auc = [
            weighted_roc_auc(labels == k, probabilities[:, k], weights) for k in range(num_classes)
        ]
        per_class_ap = [
            weighted_average_precision(labels == k, probabilities[:, k], weights) for k in range(num_classes)
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # classes absent from a resample
            table["roc_auc"] = np.nanmean(np.stack(per_class_auc, axis=1), axis=1)
            table["average_precision"] = np.nanmean(np.stack(per_class_ap, axis=1), axis=1)
    return table


def bootstrap_weights(num_samples: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) counts of each sample in each bootstrap resample (drawn with replacement)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_samples, size=(resamples, num_samples))
    flat = (np.arange(resamples)[:, None] * num_samples + draws).ravel()
    return (
        np.bincount(flat, minlength=resamples * num_samples)
        .reshape(resamples, num_samples)
        .astype(np.float64)
    )


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _json_float(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def classification_metrics(
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: list[str] | tuple[str, ...] | None = None,
    *,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of a whole split with percentile bootstrap intervals (JSON-able).

    Returns ``{"n": ..., "class_names": [...], "positive_class": ... (binary), "accuracy": {"value",
    "low", "high", "ci95": [low, high]}, ..., "confusion_matrix": {"counts", "low", "high"},
    "bootstrap": {...}}`` (the interval key is "ci" when ``confidence`` is not 0.95).
    Undefined values (e.g. ROC-AUC with one class present) are None.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = probabilities.shape[1]
    names = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]
    point = metric_table(labels, probabilities, np.ones((1, labels.size)))
    resampled = (
        metric_table(labels, probabilities, bootstrap_weights(labels.size, bootstrap, seed))
        if bootstrap
        else None
    )
    result: dict[str, Any] = {"n": int(labels.size), "class_names": names}
    if num_classes == 2:
        result["positive_class"] = names[1]
    for name in SCALAR_METRICS:
        value = float(point[name][0])
        low, high = _interval(resampled[name], confidence) if resampled is not None else (np.nan, np.nan)
        low, high = _json_float(low), _json_float(high)
        result[name] = {
            "value": _json_float(value),
            "low": low,
            "high": high,
            "ci95" if confidence == 0.95 else "ci": [low, high],
        }
    counts = point["confusion"][0]
    tail = 100 * (1 - confidence) / 2
    confusion: dict[str, Any] = {"counts": counts.astype(int).tolist()}
    if resampled is not None:
        confusion["low"] = np.percentile(resampled["confusion"], tail, axis=0).tolist()
        confusion["high"] = np.percentile(resampled["confusion"], 100 - tail, axis=0).tolist()
    result["confusion_matrix"] = confusion
    result["bootstrap"] = {
        "resamples": bootstrap,
        "confidence": confidence,
        "seed": seed,
        "method": "percentile",
    }
    return result


def selection_score(labels: np.ndarray, probabilities: np.ndarray) -> tuple[str, float]:
    """The model-selection metric: ROC-AUC for binary tasks, accuracy for multi-class (no bootstrap)."""
    table = metric_table(labels, probabilities, np.ones((1, len(labels))))
    name = "roc_auc" if probabilities.shape[1] == 2 else "accuracy"
    value = float(table[name][0])
    return name, value if np.isfinite(value) else float("-inf")
