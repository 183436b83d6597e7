"""Stage 6: figures (matplotlib, Agg canvas, PNG files) and the evaluate-and-plot report of a run."""

from __future__ import annotations

from crystalgenome.figures.curves import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_precision_recall,
    plot_roc,
    read_metrics_rows,
)
from crystalgenome.figures.pattern import plot_pattern_3d
from crystalgenome.figures.report import evaluate

__all__ = [
    "evaluate",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "plot_pattern_3d",
    "plot_precision_recall",
    "plot_roc",
    "read_metrics_rows",
]
