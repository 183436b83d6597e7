"""Stage 5: training, evaluation and prediction of PointNet classifiers on diffraction point clouds.

Inputs are in-memory arrays: raw ``points`` (n, P, 4) = (g_x, g_y, g_z in Å⁻¹, I = |F|²/V²), a
padding ``mask`` (n, P), integer ``labels`` and class names. ::

    result = train(points, mask, labels, split, class_names, config=TrainConfig(), out_dir="runs/x")
    run = load_run("runs/x")
    probabilities = predict_proba(run, points, mask)
    evaluation = evaluate_run(run, points, mask, labels, out_dir="runs/x/eval")
"""

from __future__ import annotations

from crystalgenome.training.checkpoint import load_checkpoint
from crystalgenome.training.config import TrainConfig
from crystalgenome.training.evaluation import Evaluation, evaluate_run, write_evaluation
from crystalgenome.training.inputs import Normalisation
from crystalgenome.training.metrics import classification_metrics
from crystalgenome.training.run import Run, load_ensemble, load_run, predict_proba
from crystalgenome.training.trainer import TrainResult, fingerprint_arrays, train

__all__ = [
    "Evaluation",
    "Normalisation",
    "Run",
    "TrainConfig",
    "TrainResult",
    "classification_metrics",
    "evaluate_run",
    "fingerprint_arrays",
    "load_checkpoint",
    "load_ensemble",
    "load_run",
    "predict_proba",
    "train",
    "write_evaluation",
]
