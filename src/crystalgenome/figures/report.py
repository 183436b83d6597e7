"""Evaluate a run and draw its figures: the one call behind ``crystalgenome evaluate``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.figures.curves import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_precision_recall,
    plot_roc,
)
from crystalgenome.figures.pattern import plot_pattern_3d
from crystalgenome.training.evaluation import evaluate_run, write_evaluation
from crystalgenome.training.run import Run, load_run


def evaluate(
    run_dir: str | Path | Run,
    points: np.ndarray,
    mask: np.ndarray | None,
    labels: np.ndarray,
    ids: Sequence[str] | None = None,
    *,
    out_dir: str | Path | None = None,
    rotations: int | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics (with 95% intervals and rotation invariance) and figures of a run on labelled data.

    Writes into ``out_dir`` (default ``run_dir/evaluation``): metrics.json, predictions.csv, roc.png,
    precision_recall.png, confusion_matrix.png, learning_curves.png (from the run's metrics.csv) and
    pattern_3d.png (the first structure). Returns the metrics with a ``figures`` entry {name: path}.
    """
    run = run_dir if isinstance(run_dir, Run) else load_run(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run.run_dir / "evaluation"
    evaluation = evaluate_run(
        run, points, mask, labels, ids=ids, rotations=rotations, bootstrap=bootstrap, seed=seed
    )
    names = run.class_names
    figures = {
        "roc": plot_roc(evaluation.labels, evaluation.probabilities, names, out_dir / "roc.png"),
        "precision_recall": plot_precision_recall(
            evaluation.labels, evaluation.probabilities, names, out_dir / "precision_recall.png"
        ),
        "confusion_matrix": plot_confusion_matrix(
            evaluation.metrics["confusion_matrix"]["counts"], names, out_dir / "confusion_matrix.png"
        ),
        "pattern_3d": plot_pattern_3d(
            points[0],
            out_dir / "pattern_3d.png",
            mask=None if mask is None else mask[0],
            title=f"3D diffraction pattern of {evaluation.ids[0]}",
        ),
    }
    history = run.run_dir / "metrics.csv"
    if history.is_file():
        figures["learning_curves"] = plot_learning_curves(history, out_dir / "learning_curves.png")
    evaluation.metrics["figures"] = {name: str(path) for name, path in figures.items()}
    write_evaluation(evaluation, out_dir)
    return evaluation.metrics
