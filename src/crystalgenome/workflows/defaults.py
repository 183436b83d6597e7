"""What ``crystalgenome train`` (and ``baseline``, the demo, :func:`~crystalgenome.workflows.train_task`)
uses when no option says otherwise: the settings of our best results, decided here alone.

Symmetry tasks read the standardised conventional cell (its reciprocal lattice shows the lattice
system's metric directly) with the ``lattice_symmetry`` model; property tasks read the standardised
primitive cell with the ``lattice`` model. Both models are exactly rotation invariant, so training
draws no rotations (:meth:`crystalgenome.training.TrainConfig.default_for`). README's results table
lists the runs behind these choices.

``task_defaults(task)`` is the one entry point: the CLI, the demo and ``train_task`` all resolve their
unset options through it, so ``train_task(data, "crystal_system", out)`` trains exactly what
``crystalgenome train --task crystal_system`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystalgenome.data import TASKS
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.model import ModelConfig, resolve_model_config
from crystalgenome.training import TrainConfig

SYMMETRY_TASKS: tuple[str, ...] = ("crystal_system", "crystal_family", "trigonal_hexagonal")
"""Tasks whose labels come from symmetry analysis."""


def _check(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")


def default_model(task: str) -> str:
    """The packaged model config ``train`` uses for ``task``."""
    _check(task)
    return "lattice_symmetry" if task in SYMMETRY_TASKS else "lattice"


def default_cell(task: str) -> str:
    """The cell choice (``primitive`` or ``conventional``) ``train`` featurizes sources with for ``task``."""
    _check(task)
    return "conventional" if task in SYMMETRY_TASKS else "primitive"


@dataclass(frozen=True)
class TaskDefaults:
    """The defaults of one task: its packaged model, its cell choice, and what follows from them.

    Attributes:
        task: one of :data:`crystalgenome.data.TASKS`.
        model: packaged model config name (:func:`default_model`).
        cell: cell choice of the diffraction settings (:func:`default_cell`).
    """

    task: str
    model: str
    cell: str

    def model_config(self, model: ModelConfig | str | Path | None = None) -> ModelConfig:
        """``model`` (an instance, packaged name or JSON path), or the task's packaged model."""
        return resolve_model_config(self.model if model is None else model)

    def train_config(self, model: ModelConfig | str | Path | None = None) -> TrainConfig:
        """The training defaults for ``model`` (default: the task's model); rotation-invariant models
        get no rotation augmentation and no test-time rotations."""
        return TrainConfig.default_for(self.model_config(model))

    def settings(self, **options: Any) -> DiffractionSettings:
        """Diffraction settings with the task's cell; ``options`` that are not None override."""
        given = {name: value for name, value in options.items() if value is not None}
        return DiffractionSettings(**{"cell": self.cell, **given})


def task_defaults(task: str) -> TaskDefaults:
    """The defaults ``train``, ``baseline``, the demo and ``train_task`` use for ``task``.

    Raises:
        ValueError: ``task`` is not one of :data:`crystalgenome.data.TASKS`.
    """
    return TaskDefaults(task=task, model=default_model(task), cell=default_cell(task))
