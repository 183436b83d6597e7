"""Workflows: the stages composed into what the CLI runs (train, evaluate, predict, demo).

This is the only package that imports every stage; the CLI is a thin layer over it.
"""

from __future__ import annotations

from crystalgenome.workflows.defaults import (
    SYMMETRY_TASKS,
    TaskDefaults,
    default_cell,
    default_model,
    task_defaults,
)
from crystalgenome.workflows.predict import PredictionResult, predict_files
from crystalgenome.workflows.tasks import DATASET_FILE, evaluate_task, read_dataset_record, train_task

__all__ = [
    "DATASET_FILE",
    "SYMMETRY_TASKS",
    "PredictionResult",
    "TaskDefaults",
    "default_cell",
    "default_model",
    "evaluate_task",
    "predict_files",
    "read_dataset_record",
    "task_defaults",
    "train_task",
]
