"""Shared plumbing: figures are built with matplotlib's object API (no pyplot state, Agg canvas) and
saved atomically as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crystalgenome.utils.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 150


def new_figure(width: float = 5.0, height: float = 4.0) -> Figure:
    """A matplotlib Figure drawn with the Agg backend, independent of any pyplot state."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_png(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` to ``path`` as PNG (atomically); returns the path."""
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI)
    return path
