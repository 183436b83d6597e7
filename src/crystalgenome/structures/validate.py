"""Sanity checks that turn bad structures into clear :class:`StructureError` messages."""

from __future__ import annotations

import numpy as np

from crystalgenome.errors import StructureError
from crystalgenome.structures.cell import Cell

MIN_VOLUME = 1e-3
"""Smallest accepted cell volume, Å³; anything below is a degenerate lattice."""

MIN_DISTANCE = 0.5
"""Smallest accepted distance between two sites, Å (the H–H bond is 0.74 Å)."""

_LENGTH_NAMES = ("a", "b", "c")
_ANGLE_NAMES = ("alpha", "beta", "gamma")

_IMAGE_SHIFTS = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)
_ZERO_SHIFT = 13  # index of (0, 0, 0) in _IMAGE_SHIFTS
_CHUNK_ENTRIES = 1_000_000


def cell_parameter_problem(
    a: float, b: float, c: float, alpha: float, beta: float, gamma: float
) -> str | None:
    """Why lengths (Å) and angles (degrees) do not describe a real cell, or None.

    Lengths must be finite and positive, angles strictly between 0° and 180°, each angle smaller than
    the sum of the other two (else 1 − cos²α − cos²β − cos²γ + 2 cosα cosβ cosγ < 0: no such cell),
    and the volume at least :data:`MIN_VOLUME`.
    """
    for label, value in zip(_LENGTH_NAMES, (a, b, c), strict=True):
        if not (np.isfinite(value) and value > 0):
            return f"cell length {label} is {value:g} Å; cell lengths must be positive"
    angles = (alpha, beta, gamma)
    for label, value in zip(_ANGLE_NAMES, angles, strict=True):
        if not (np.isfinite(value) and 0 < value < 180):
            return f"cell angle {label} is {value:g}°; cell angles must be between 0° and 180°"
    cosines = np.cos(np.radians(angles))
    squared = 1 - float(cosines @ cosines) + 2 * float(np.prod(cosines))
    text = ", ".join(f"{label}={value:g}°" for label, value in zip(_ANGLE_NAMES, angles, strict=True))
    if squared < -1e-12:
        return f"cell angles {text} do not form a cell (each must be smaller than the sum of the other two)"
    volume = a * b * c * float(np.sqrt(max(squared, 0.0)))
    if volume < MIN_VOLUME:
        return f"cell has zero volume ({volume:.3g} Å³ from lengths {a:g}, {b:g}, {c:g} Å and angles {text})"
    return None


def minimum_distance(cell: Cell) -> float:
    """Shortest distance between two sites or between a site and its own periodic image, Å.

    Fractional differences are wrapped to [-0.5, 0.5] and the 27 neighbouring images are
    checked, vectorised over all pairs (in row blocks to bound memory).
    """
    return closest_pair(cell)[0]


def closest_pair(cell: Cell) -> tuple[float, int, int]:
    """(distance in Å, site i, site j) of the closest two sites (i == j: a site and its own image);
    see :func:`minimum_distance`."""
    frac, n = cell.frac_coords, cell.num_sites
    shifts = _IMAGE_SHIFTS @ cell.lattice  # (27, 3)
    rows = max(1, _CHUNK_ENTRIES // (27 * n))
    shortest, pair = np.inf, (0, 0)
    for start in range(0, n, rows):
        block = frac[start : start + rows]
        diff = block[:, None, :] - frac[None, :, :]
        diff -= np.round(diff)
        images = (diff @ cell.lattice)[:, :, None, :] + shifts  # (r, n, 27, 3)
        squared = np.einsum("abcd,abcd->abc", images, images)
        local = np.arange(block.shape[0])
        squared[local, start + local, _ZERO_SHIFT] = np.inf
        flat = int(squared.argmin())
        if squared.flat[flat] < shortest:
            shortest = float(squared.flat[flat])
            row, column, _ = np.unravel_index(flat, squared.shape)
            pair = (start + int(row), int(column))
    return float(np.sqrt(shortest)), *pair


def _shortest_wrapped_distance(cell: Cell) -> float:
    """Shortest distance between sites with fractional differences wrapped to [-0.5, 0.5], Å."""
    diff = cell.frac_coords[:, None, :] - cell.frac_coords[None, :, :]
    diff -= np.round(diff)
    cart = diff @ cell.lattice
    squared = np.einsum("ijk,ijk->ij", cart, cart)
    np.fill_diagonal(squared, np.inf)
    return float(np.sqrt(squared.min())) if cell.num_sites > 1 else float("inf")


def has_overlap(cell: Cell, min_distance: float) -> bool:
    """Whether two sites (or a site and its own image) are closer than ``min_distance`` Å.

    Exact and cheap for ordinary cells: a periodic image other than the wrapped one differs by
    at least half a lattice step along some axis, so it is at least 0.5 · (smallest interplanar
    height) away; when that exceeds ``min_distance`` only wrapped differences need checking.
    """
    lattice = cell.lattice
    cross = np.cross(lattice[[1, 2, 0]], lattice[[2, 0, 1]])
    heights = cell.volume / np.sqrt(np.einsum("ij,ij->i", cross, cross))
    if 0.5 * heights.min() < min_distance or cell.num_sites > 2000:
        return minimum_distance(cell) < min_distance
    return _shortest_wrapped_distance(cell) < min_distance


def validate_structure(cell: Cell, *, name: str = "structure", min_distance: float = MIN_DISTANCE) -> None:
    """Raise :class:`StructureError` naming ``name`` if the cell cannot be diffracted.

    Checks: at least one site; finite lattice and coordinates (cell parameters whose squared
    volume is negative give NaN lattices); volume above :data:`MIN_VOLUME`; no two sites (or a
    site and its own periodic image) closer than ``min_distance`` Å; occupancies in (0, 1].
    A left-handed basis (negative determinant) is a valid description of a crystal and is
    accepted: three of pymatgen's own example structures use one.
    """
    if cell.num_sites == 0:
        raise StructureError(name, "structure has no sites")
    if not np.all(np.isfinite(cell.lattice)):
        raise StructureError(
            name, "lattice contains NaN or infinite values (cell parameters with a negative squared volume?)"
        )
    if not np.all(np.isfinite(cell.frac_coords)):
        raise StructureError(name, "atomic coordinates contain NaN or infinite values")
    volume = abs(cell.volume)
    if volume < MIN_VOLUME:
        raise StructureError(name, f"cell volume is zero ({volume:.3g} Å³): degenerate lattice")
    for composition in cell.compositions:
        total = sum(composition.values())
        if any(occ <= 0 for occ in composition.values()) or total > 1 + 1e-6:
            raise StructureError(name, f"invalid site occupancies {composition} (each must be in (0, 1])")
    if min_distance > 0 and has_overlap(cell, min_distance):
        shortest, i, j = closest_pair(cell)
        if shortest < min_distance:
            first, second = _species(cell, i), _species(cell, j)
            what = (
                f"site {i} ({first}) is {shortest:.3f} Å from its own periodic image"
                if i == j
                else f"sites {i} ({first}) and {j} ({second}) are {shortest:.3f} Å apart"
            )
            raise StructureError(name, f"overlapping atoms: {what} (minimum {min_distance} Å)")


def _species(cell: Cell, site: int) -> str:
    """``Na`` or ``Na0.5Cl0.5``: what site ``site`` holds."""
    composition = cell.compositions[int(cell.types[site])]
    return "".join(s if abs(o - 1) < 1e-8 else f"{s}{o:g}" for s, o in composition.items())
