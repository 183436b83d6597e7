"""Evaluate a trained run on labelled point clouds: metrics with intervals, rotation invariance, predictions.

Figures are drawn by :func:`crystalgenome.figures.evaluate`, which calls :func:`evaluate_run`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crystalgenome.training.inputs import check_inputs
from crystalgenome.training.metrics import classification_metrics
from crystalgenome.training.predict import rotation_invariance
from crystalgenome.training.run import Run, load_run, predict_proba
from crystalgenome.utils.atomic import atomic_write_json, atomic_write_text

INVARIANCE_ROTATIONS = 20
"""Random rotations of the rotation-invariance fraction."""


@dataclass
class Evaluation:
    """Metrics (JSON-able) and the per-structure arrays they came from."""

    metrics: dict[str, Any]
    labels: np.ndarray
    probabilities: np.ndarray
    ids: list[str]
    rotation_invariant: np.ndarray  # 1.0 unchanged under the rotations, 0.0 changed, NaN not checked
    class_names: list[str]


def evaluate_run(
    run: Run | str | Path,
    points: np.ndarray,
    mask: np.ndarray | None,
    labels: np.ndarray,
    *,
    ids: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    rotations: int | None = None,
    invariance_rotations: int = INVARIANCE_ROTATIONS,
    bootstrap: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Metrics of ``run`` on raw point clouds with labels (class indices of the run's class names).

    Writes ``metrics.json`` and ``predictions.csv`` (id, true, predicted, one probability column per
    class) into ``out_dir`` when given.

    Args:
        rotations: test-time rotations averaged (default: the run's ``test_time_rotations``).
        invariance_rotations: rotations of the rotation-invariance fraction (single-pass predictions).
        bootstrap: bootstrap resamples of the 95% intervals.
        seed: seed of the bootstrap and of the invariance rotations.
    """
    run = run if isinstance(run, Run) else load_run(run)
    labels = np.asarray(labels, dtype=np.int64)
    mask = check_inputs(points, mask)
    ids = [str(item) for item in (ids if ids is not None else range(labels.size))]
    probabilities = predict_proba(run, points, mask, rotations=rotations)
    metrics = classification_metrics(labels, probabilities, run.class_names, bootstrap=bootstrap, seed=seed)
    inputs = torch.from_numpy(run.normalisation.apply(points, mask))
    fraction, invariant = rotation_invariance(
        run.model, inputs, torch.from_numpy(mask), rotations=invariance_rotations, seed=seed + 12345
    )
    metrics["rotation_invariance"] = {
        "value": fraction,
        "rotations": invariance_rotations,
        "structures": int(np.isfinite(invariant).sum()),
    }
    metrics["test_time_rotations"] = run.train_config.test_time_rotations if rotations is None else rotations
    metrics["run_dir"] = str(run.run_dir)
    if "members" in run.metrics:  # an ensemble (load_ensemble)
        metrics["members"] = list(run.metrics["members"])
    metrics["checkpoint_epoch"] = run.epoch
    evaluation = Evaluation(metrics, labels, probabilities, ids, invariant, run.class_names)
    if out_dir is not None:
        write_evaluation(evaluation, out_dir)
    return evaluation


def _flag(value: float) -> str:
    """A rotation-invariance flag as predictions.csv writes it: True, False, or empty when not checked."""
    return "" if np.isnan(value) else str(bool(value))


def write_evaluation(evaluation: Evaluation, out_dir: str | Path) -> None:
    """metrics.json and predictions.csv (atomic writes)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "metrics.json", evaluation.metrics)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = evaluation.class_names
    writer.writerow(["id", "true", "predicted", "rotation_invariant", *[f"p_{name}" for name in names]])
    predicted = evaluation.probabilities.argmax(axis=1)
    for row, identifier in enumerate(evaluation.ids):
        writer.writerow(
            [
                identifier,
                names[evaluation.labels[row]],
                names[predicted[row]],
                _flag(evaluation.rotation_invariant[row]),
                *(f"{p:.6g}" for p in evaluation.probabilities[row]),
            ]
        )
    atomic_write_text(out_dir / "predictions.csv", buffer.getvalue())
