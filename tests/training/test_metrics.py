"""Whole-split metrics and their bootstrap intervals, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from crystalgenome.training.metrics import (
    SCALAR_METRICS,
    bootstrap_weights,
    classification_metrics,
    metric_table,
    selection_score,
)


def _problem(
    num_classes: int, n: int = 400, seed: int = 0, rounding: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) + 1.2 * np.eye(num_classes)[labels]
    probabilities = np.exp(logits)
    probabilities = np.round(
        probabilities / probabilities.sum(1, keepdims=True), rounding
    )  # ties in the scores
    return labels, probabilities / probabilities.sum(1, keepdims=True)


def _sklearn(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    predicted = probabilities.argmax(1)
    binary = probabilities.shape[1] == 2
    precision, recall, f1, _ = sk.precision_recall_fscore_support(
        labels, predicted, average="binary" if binary else "macro", zero_division=0
    )
    if binary:
        auc = sk.roc_auc_score(labels, probabilities[:, 1])
        ap = sk.average_precision_score(labels, probabilities[:, 1])
    else:
        auc = sk.roc_auc_score(labels, probabilities, multi_class="ovr", average="macro")
        onehot = np.eye(probabilities.shape[1])[labels]
        ap = sk.average_precision_score(onehot, probabilities, average="macro")
    return {
        "accuracy": sk.accuracy_score(labels, predicted),
        "balanced_accuracy": sk.balanced_accuracy_score(labels, predicted),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": auc,
        "average_precision": ap,
    }


@pytest.mark.parametrize("num_classes", [2, 3, 7])
@pytest.mark.parametrize("rounding", [2, 8])
def test_point_values_equal_sklearn(num_classes: int, rounding: int) -> None:
    labels, probabilities = _problem(num_classes, rounding=rounding)
    table = metric_table(labels, probabilities, np.ones((1, labels.size)))
    for name, expected in _sklearn(labels, probabilities).items():
        assert table[name][0] == pytest.approx(expected, abs=1e-12), name
    np.testing.assert_array_equal(table["confusion"][0], sk.confusion_matrix(labels, probabilities.argmax(1)))


@pytest.mark.parametrize("num_classes", [2, 4])
def test_bootstrap_replicates_equal_sklearn_on_resampled_data(num_classes: int) -> None:
    labels, probabilities = _problem(num_classes, n=150)
    weights = bootstrap_weights(labels.size, 6, seed=3)
    table = metric_table(labels, probabilities, weights)
    for replicate in range(6):
        index = np.repeat(np.arange(labels.size), weights[replicate].astype(int))
        assert index.size == labels.size
        for name, expected in _sklearn(labels[index], probabilities[index]).items():
            assert table[name][replicate] == pytest.approx(expected, abs=1e-12), (replicate, name)


def test_classification_metrics_report() -> None:
    labels, probabilities = _problem(2, n=500)
    report = classification_metrics(labels, probabilities, ["metal", "insulator"], bootstrap=1000, seed=1)
    assert report["n"] == 500 and report["positive_class"] == "insulator"
    for name in SCALAR_METRICS:
        entry = report[name]
        assert entry["low"] <= entry["value"] <= entry["high"], name
        assert 0 < entry["high"] - entry["low"] < 0.2, name
    # Bootstrap standard error of an accuracy ≈ sqrt(p(1-p)/n): the 95% interval is about ±1.96 of it.
    p = report["accuracy"]["value"]
    width = report["accuracy"]["high"] - report["accuracy"]["low"]
    assert width == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / 500), rel=0.2)
    assert np.sum(report["confusion_matrix"]["counts"]) == 500
    assert (
        classification_metrics(labels, probabilities, bootstrap=1000, seed=1)
        | {"class_names": ["metal", "insulator"], "positive_class": "insulator"}
        == report
    )


def test_undefined_auc_is_none_not_a_crash() -> None:
    labels = np.zeros(10, dtype=int)
    probabilities = np.tile([0.7, 0.3], (10, 1))
    report = classification_metrics(labels, probabilities, bootstrap=50)
    assert report["roc_auc"]["value"] is None
    assert report["accuracy"]["value"] == 1.0


def test_selection_score() -> None:
    labels, probabilities = _problem(2)
    assert selection_score(labels, probabilities) == (
        "roc_auc",
        pytest.approx(sk.roc_auc_score(labels, probabilities[:, 1])),
    )
    labels, probabilities = _problem(5)
    assert selection_score(labels, probabilities) == (
        "accuracy",
        pytest.approx(sk.accuracy_score(labels, probabilities.argmax(1))),
    )
