"""What ``crystalgenome train`` uses when no option says otherwise: the settings of our best results.

Symmetry tasks read the standardised conventional cell (its reciprocal lattice shows the lattice
system's metric directly) with the ``lattice_symmetry`` model; property tasks read the standardised
primitive cell with the ``lattice`` model. Both models are exactly rotation invariant, so training
draws no rotations (:meth:`crystalgenome.training.TrainConfig.default_for`). README's results table
lists the runs behind these choices.
"""

from __future__ import annotations

from crystalgenome.data import TASKS

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
