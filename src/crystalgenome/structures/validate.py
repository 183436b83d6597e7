"""Sanity checks that turn bad structures into clear :class:`StructureError` messages."""

from __future__ import annotations

import numpy as np

from crystalgenome.errors import StructureError
from crystalgenome.structures.cell import Cell

MIN_VOLUME = 1e-3
"""Smallest accepted cell volume, Å³; anything below is a degenerate lattice."""

MIN_DISTANCE = 0.5
"""Smallest accepted distance between two sites, Å (the H–H bond is 0.74 Å)."""

_IMAGE_SHIFTS = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)


def minimum_distance(cell: Cell) -> float:
    """Shortest distance between two distinct sites (periodic images included), Å.

    Uses fractional differences wrapped to [-0.5, 0.5) plus the 27 neighbouring images,
    vectorised over all pairs; ``inf`` for a one-site cell.
    """
    n = cell.num_sites
    if n < 2:
        return float("inf")
    diff = cell.frac_coords[:, None, :] - cell.frac_coords[None, :, :]
    upper = np.triu_indices(n, k=1)
    pair = diff[upper]
    pair -= np.round(pair)
    images = (pair[:, None, :] + _IMAGE_SHIFTS[None, :, :]) @ cell.lattice
    return float(np.sqrt((images**2).sum(axis=-1).min()))


def validate_structure(cell: Cell, *, name: str = "structure", min_distance: float = MIN_DISTANCE) -> None:
    """Raise :class:`StructureError` naming ``name`` if the cell cannot be diffracted.

    Checks: at least one site; finite lattice and coordinates; positive volume above
    :data:`MIN_VOLUME` (a left-handed, i.e. negative-volume, basis is rejected); no two sites
    closer than ``min_distance`` Å; occupancies in (0, 1].
    """
    if cell.num_sites == 0:
        raise StructureError(name, "structure has no sites")
    if not np.all(np.isfinite(cell.lattice)):
        raise StructureError(name, "lattice contains NaN or infinite values")
    if not np.all(np.isfinite(cell.frac_coords)):
        raise StructureError(name, "atomic coordinates contain NaN or infinite values")
    volume = cell.volume
    if abs(volume) < MIN_VOLUME:
        raise StructureError(name, f"cell volume is zero ({volume:.3g} Å³): degenerate lattice")
    if volume < 0:
        raise StructureError(name, f"cell volume is negative ({volume:.3g} Å³): left-handed lattice basis")
    for composition in cell.compositions:
        total = sum(composition.values())
        if any(occ <= 0 for occ in composition.values()) or total > 1 + 1e-6:
            raise StructureError(name, f"invalid site occupancies {composition} (each must be in (0, 1])")
    if min_distance > 0:
        shortest = minimum_distance(cell)
        if shortest < min_distance:
            raise StructureError(
                name, f"overlapping atoms: two sites are {shortest:.3f} Å apart (minimum {min_distance} Å)"
            )
