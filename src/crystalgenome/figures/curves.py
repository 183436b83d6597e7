"""ROC and precision–recall curves, confusion matrix and learning curves, each written as a PNG."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.figures.common import new_figure, save_png


def _one_vs_rest(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, is_positive, score) per curve: the positive class for binary tasks, every class otherwise."""
    labels = np.asarray(labels)
    if probabilities.shape[1] == 2:
        return [(class_names[1], labels == 1, probabilities[:, 1])]
    return [
        (name, labels == k, probabilities[:, k])
        for k, name in enumerate(class_names)
        if 0 < (labels == k).sum() < labels.size
    ]


def plot_roc(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str], path: str | Path
) -> Path:
    """ROC curve(s) with their areas (one-vs-rest per class for multi-class tasks)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure = new_figure()
    axes = figure.add_subplot()
    for name, positive, score in _one_vs_rest(labels, probabilities, class_names):
        false_positive, true_positive, _ = roc_curve(positive, score)
        axes.plot(false_positive, true_positive, label=f"{name} (AUC {roc_auc_score(positive, score):.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axes.set(
        xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01), title="ROC"
    )
    axes.legend(loc="lower right", fontsize="small")
    return save_png(figure, path)


def plot_precision_recall(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str], path: str | Path
) -> Path:
    """Precision–recall curve(s) with their average precision."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure = new_figure()
    axes = figure.add_subplot()
    for name, positive, score in _one_vs_rest(labels, probabilities, class_names):
        precision, recall, _ = precision_recall_curve(positive, score)
        axes.step(
            recall,
            precision,
            where="post",
            label=f"{name} (AP {average_precision_score(positive, score):.3f})",
        )
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01), title="Precision–recall")
    axes.legend(loc="lower left", fontsize="small")
    return save_png(figure, path)


def plot_confusion_matrix(
    counts: np.ndarray | Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path
) -> Path:
    """Confusion matrix: counts written in the cells, colour = fraction of the true class (row)."""
    counts = np.asarray(counts, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    size = 1.2 + 0.6 * len(class_names)
    figure = new_figure(size + 1.0, size)
    axes = figure.add_subplot()
    image = axes.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(counts):
        axes.text(
            j,
            i,
            f"{int(value)}",
            ha="center",
            va="center",
            color="white" if fractions[i, j] > 0.5 else "black",
            fontsize="small",
        )
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=45, ha="right")
    axes.set_yticks(ticks, class_names)
    axes.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    figure.colorbar(image, ax=axes, label="fraction of true class")
    return save_png(figure, path)


def read_metrics_rows(source: str | Path | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-epoch rows from a run's metrics.csv (or a list of dicts), numbers parsed."""
    if not isinstance(source, str | Path):
        return list(source)
    with Path(source).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    def parse(value: str) -> Any:
        if value in ("True", "False"):
            return value == "True"
        try:
            return float(value)
        except ValueError:
            return value

    return [{key: parse(value) for key, value in row.items()} for row in rows]


def plot_learning_curves(source: str | Path | Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Loss (left) and accuracy / validation score (right) per epoch, best epoch marked."""
    rows = read_metrics_rows(source)
    epochs = [row["epoch"] for row in rows]
    figure = new_figure(9.0, 3.6)
    loss_axes, score_axes = figure.subplots(1, 2)
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        if rows and key in rows[0]:
            loss_axes.plot(epochs, [row[key] for row in rows], label=label)
    for key in ("train_accuracy", "val_accuracy", "val_roc_auc"):
        if rows and key in rows[0]:
            score_axes.plot(epochs, [row[key] for row in rows], label=key.replace("_", " "))
    best = [row["epoch"] for row in rows if row.get("best") is True]
    for axes in (loss_axes, score_axes):
        if best:
            axes.axvline(best[-1], color="grey", linestyle=":", linewidth=1, label="best epoch")
        axes.set_xlabel("epoch")
        axes.legend(fontsize="small")
    loss_axes.set(ylabel="cross-entropy", title="Loss")
    score_axes.set(ylabel="score", title="Accuracy / ROC-AUC")
    return save_png(figure, path)
