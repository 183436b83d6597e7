"""Batched diffraction, step 1: validation screening and preparation of many structures at once.

Finite values, volume, occupancies and the shortest wrapped distance over all site pairs are screened
for the whole batch; structures the screen cannot clear are checked one by one by the engine, so
verdicts and error messages are exactly the engine's. Then cells are standardised, capped and cut
into chunks of about a given number of points (see :mod:`crystalgenome.diffraction.batch`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from crystalgenome.diffraction.engine import DiffractionCalculator
from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.settings import DiffractionSettings
from crystalgenome.errors import StructureError
from crystalgenome.structures.cell import Cell
from crystalgenome.structures.symmetry import SymmetryInfo, standardise_cell
from crystalgenome.structures.validate import MIN_VOLUME

_SCREEN_PAIRS = 1_000_000  # site pairs per step of the overlap screen
_SCREEN_MARGIN = 1e-6  # relative margin of the screen; closer cases get the exact per-structure check
_FULL_IMAGE_CHECK_SITES = 2000  # above this validate_structure checks all 27 images (see has_overlap)
_DENSE_SCREEN_SITES = 24  # cells with this many sites get their site pairs screened one cell at a time

Result = DiffractionPattern | StructureError
Prepared = tuple[int, Cell, SymmetryInfo | None]  # (position in the batch, cell to diffract, symmetry)


def lattice_matrices(cells: Sequence[Cell]) -> np.ndarray:
    return np.stack([cell.lattice for cell in cells]) if cells else np.zeros((0, 3, 3))


def cell_volumes(lattices: np.ndarray) -> np.ndarray:
    """|det| of each lattice, Å³ (NaN for non-finite lattices), as ``Cell.volume`` computes it."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(np.linalg.det(lattices)) if len(lattices) else np.zeros(0)


def volume_squares(volumes: np.ndarray) -> np.ndarray:
    """V² as the engine computes it from a Python float (``pow``, which can differ from V·V in the
    last bit)."""
    return np.array([float(volume) ** 2 for volume in volumes])


def _half_count(settings: DiffractionSettings, volumes: np.ndarray) -> np.ndarray:
    """About how many points the first half of each point set holds."""
    if settings.g_max is None:
        return np.full(volumes.shape, ((2 * settings.max_miller + 1) ** 3) // 2 + 1, dtype=float)
    return 2.0 / 3.0 * np.pi * settings.g_max**3 * volumes + 1


def pair_estimates(settings: DiffractionSettings, cells: Sequence[Cell]) -> np.ndarray:
    """About (half point set) × (sites) of each input cell (standardising never enlarges it)."""
    sites = np.array([cell.num_sites for cell in cells], dtype=float)
    estimate = _half_count(settings, cell_volumes(lattice_matrices(cells))) * sites
    return np.nan_to_num(estimate, nan=0.0, posinf=np.inf)


def segment_positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c−1 for every segment length c in ``counts``, back to back."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


@lru_cache(maxsize=64)
def _triangle(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Site pairs (i < j) ordered by j, so that the first n(n−1)/2 are those of n sites."""
    j = np.repeat(np.arange(size), np.arange(size))
    return segment_positions(np.arange(size)), j


def _screen_validation(cells: Sequence[Cell], min_distance: float) -> np.ndarray:
    """True for each cell that certainly passes ``validate_structure``.

    The checks are those of the engine with a small margin: anything not cleared here is checked
    again one by one, which gives the exact verdict and message.
    """
    sites = np.array([cell.num_sites for cell in cells], dtype=np.int64)
    lattices = lattice_matrices(cells)
    clear = (sites > 0) & np.isfinite(lattices).all(axis=(1, 2))
    frac = np.concatenate([cell.frac_coords for cell in cells]) if cells else np.zeros((0, 3))
    site_owner = np.repeat(np.arange(len(cells)), sites)
    clear &= np.bincount(site_owner, weights=~np.isfinite(frac).all(axis=1), minlength=len(cells)) == 0
    volumes = cell_volumes(np.where(clear[:, None, None], lattices, np.eye(3)))
    clear &= volumes >= MIN_VOLUME * (1 + _SCREEN_MARGIN)
    clear &= np.array([_occupancies_valid(cell) for cell in cells], dtype=bool)
    if min_distance <= 0 or not clear.any():
        return clear
    safe = np.where(clear[:, None, None], lattices, np.eye(3))
    cross = np.cross(safe[:, [1, 2, 0]], safe[:, [2, 0, 1]])
    heights = np.where(clear, volumes, 1.0)[:, None] / np.linalg.norm(cross, axis=2)
    clear &= 0.5 * heights.min(axis=1) >= min_distance * (1 + _SCREEN_MARGIN)
    clear &= sites <= _FULL_IMAGE_CHECK_SITES
    shortest = _shortest_wrapped_distances(safe, frac, sites, np.cumsum(sites) - sites, clear)
    return clear & (shortest >= min_distance * (1 + _SCREEN_MARGIN))


def _occupancies_valid(cell: Cell) -> bool:
    """Every occupancy in (0, 1] and every site's total at most 1 (NaN is left to the engine)."""
    for composition in cell.compositions:
        total = 0.0
        for occupancy in composition.values():
            if not occupancy > 0:
                return False
            total += occupancy
        if not total <= 1 + 1e-6:
            return False
    return True


def _shortest_wrapped_distances(
    lattices: np.ndarray, frac: np.ndarray, sites: np.ndarray, first_site: np.ndarray, chosen: np.ndarray
) -> np.ndarray:
    """Shortest distance (Å) between two sites of each chosen cell, fractional differences wrapped
    to [−0.5, 0.5] (inf for one site), over all site pairs of many cells in bounded steps."""
    shortest = np.full(len(sites), np.inf)
    for cell in np.flatnonzero(chosen & (sites >= _DENSE_SCREEN_SITES)).tolist():  # all pairs at once
        own = frac[first_site[cell] : first_site[cell] + sites[cell]]
        diff = own[:, None, :] - own[None, :, :]
        diff -= np.round(diff)
        cart = diff.reshape(-1, 3) @ lattices[cell]
        squared = np.einsum("ij,ij->i", cart, cart).reshape(sites[cell], sites[cell])
        np.fill_diagonal(squared, np.inf)
        shortest[cell] = np.sqrt(squared.min())
    candidates = np.flatnonzero(chosen & (sites > 1) & (sites < _DENSE_SCREEN_SITES))
    pairs = sites[candidates] * (sites[candidates] - 1) // 2
    step_of = np.cumsum(pairs) // _SCREEN_PAIRS
    for step in np.unique(step_of):
        members = candidates[step_of == step]
        counts = pairs[step_of == step]
        lower, upper = _triangle(int(sites[members].max()))
        local = segment_positions(counts)
        base = np.repeat(first_site[members], counts)
        diff = frac[base + lower[local]] - frac[base + upper[local]]
        diff -= np.round(diff)
        cart = np.empty_like(diff)
        ends = np.cumsum(counts).tolist()
        for cell, start, end in zip(members.tolist(), [0, *ends[:-1]], ends, strict=True):
            np.matmul(diff[start:end], lattices[cell], out=cart[start:end])
        squared = np.einsum("ij,ij->i", cart, cart)
        shortest[members] = np.sqrt(np.minimum.reduceat(squared, np.cumsum(counts) - counts))
    return shortest


def _prepare(
    calc: DiffractionCalculator, cell: Cell, name: str, *, validated: bool, known: bool
) -> tuple[Cell, SymmetryInfo | None]:
    """``calc.prepare_cell``, skipping the checks already passed in bulk (validation and, when
    ``known``, scattering data for every element)."""
    if not validated:
        return calc.prepare_cell(cell, name)
    if not known:
        calc.model.check(cell.elements, name)
    settings = calc.settings
    return standardise_cell(
        cell, settings.cell, symprec=settings.symprec, backend=settings.symmetry_backend, name=name
    )


def compute_one(calc: DiffractionCalculator, cell: Cell, name: str) -> Result:
    try:
        return calc.compute(cell, name)
    except StructureError as error:
        return error


def prepare_all(
    calc: DiffractionCalculator, chosen: list[int], names: list[str], cells: list[Cell], results: list
) -> list[Prepared]:
    """Validated (screened in bulk) and standardised cells within the point caps; the errors of the
    others go into ``results``."""
    prepared: list[Prepared] = []
    screened = _screen_validation([cells[index] for index in chosen], calc.settings.min_distance)
    known: dict[str, bool] = {}
    for index, clear in zip(chosen, screened.tolist(), strict=True):
        symbols = [symbol for composition in cells[index].compositions for symbol in composition]
        for symbol in symbols:
            if symbol not in known:
                known[symbol] = calc.model.known(symbol)
        all_known = all(known[symbol] for symbol in symbols)
        try:
            cell, symmetry = _prepare(calc, cells[index], names[index], validated=clear, known=all_known)
        except StructureError as error:
            results[index] = error
            continue
        prepared.append((index, cell, symmetry))
    within = _within_caps(calc.settings, [cell for _, cell, _ in prepared]).tolist()
    for (index, _, _), fits in zip(prepared, within, strict=True):
        if not fits:
            results[index] = compute_one(calc, cells[index], names[index])  # the engine's PointCapError
    return [entry for entry, fits in zip(prepared, within, strict=True) if fits]


def sphere_bounds(lattices: np.ndarray, g_max: float) -> np.ndarray:
    """(S, 3) search-box bounds |h| ≤ g_max |a| of each cell, as the engine computes them."""
    rows = lattices.reshape(-1, 3)
    lengths = np.sqrt(np.einsum("ij,ij->i", rows, rows)).reshape(-1, 3)
    return np.floor(g_max * lengths + 1e-9).astype(np.int64)


def _within_caps(settings: DiffractionSettings, cells: Sequence[Cell]) -> np.ndarray:
    """False where the engine's point-cap checks would refuse the (prepared) cell."""
    if settings.g_max is None:
        fits = (2 * settings.max_miller + 1) ** 3 <= settings.max_points
        return np.full(len(cells), fits)
    lattices = lattice_matrices(cells)
    count = (4.0 / 3.0 * np.pi * settings.g_max**3 * cell_volumes(lattices)).astype(np.int64)
    box = np.prod(2 * sphere_bounds(lattices, settings.g_max) + 1, axis=1)
    return (count <= settings.max_points) & (box <= max(8 * settings.max_points, 10_000_000))


def plan_chunks(settings: DiffractionSettings, prepared: list[Prepared], budget: int) -> list[list[Prepared]]:
    """Prepared cells ordered by (sites, compositions), cut into chunks of about ``budget`` points."""
    if not prepared:
        return []
    prepared = sorted(prepared, key=lambda entry: (entry[1].num_sites, len(entry[1].compositions)))
    cost = _half_count(settings, cell_volumes(lattice_matrices([cell for _, cell, _ in prepared])))
    chunk_of = (np.cumsum(cost) - cost) // budget
    cuts = [0, *(np.flatnonzero(np.diff(chunk_of)) + 1).tolist(), len(prepared)]
    return [prepared[start:end] for start, end in itertools.pairwise(cuts)]
