"""Batched diffraction: many structures per numpy call, the same results as one at a time.

For small cells (most of Materials Project) the per-structure engine spends its time in the fixed
cost of ~100 numpy calls rather than in arithmetic. Here every stage works on ragged ("segment")
arrays that hold the points of many structures back to back, and Python loops run over cells or
elements, never over reflections:

- validation is screened for all structures at once (finite values, volume, occupancies, the
  shortest wrapped distance over all site pairs); structures the screen cannot clear are checked
  one by one by the engine, so verdicts and error messages are exactly the engine's;
- limiting spheres are built from the engine's (h, k) rows cut to the chord of l that can reach
  the sphere, with the engine's matrix product for g and its sphere test, so hkl, g and the
  selection are bit for bit those of :func:`~crystalgenome.diffraction.pointsets.limiting_sphere_half`;
- amplitudes are evaluated through :class:`ScatteringModel` once per element of the batch, over
  the points of every cell holding it;
- phase sums per site composition use the engine's factorisation: per-axis tables for all sites
  of a chunk, e_xy per (h, k) row and site, then one complex matrix product (h, k) rows × sites @
  sites × l per cell and composition (BLAS, so large cells are as fast as in the engine);
- Friedel mates, patterns and the powder projection are assembled with a few gathers per chunk.

Cells are processed in chunks of about :data:`CHUNK_POINTS` points, which bounds memory and keeps
arrays small enough to be cheap to allocate.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.diffraction.engine import DiffractionCalculator
from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.pointsets import miller_box_half
from crystalgenome.diffraction.powder import (
    SCALED_INTENSITY_TOL,
    TWO_THETA_TOL,
    PowderPattern,
    lorentz_polarisation,
    powder_pattern,
)
from crystalgenome.diffraction.radiation import resolve_wavelength
from crystalgenome.diffraction.settings import DiffractionSettings
from crystalgenome.errors import StructureError
from crystalgenome.structures.cell import Cell
from crystalgenome.structures.symmetry import SymmetryInfo, standardise_cell
from crystalgenome.structures.validate import MIN_VOLUME

if TYPE_CHECKING:
    from pymatgen.core import Structure

CHUNK_POINTS = 50_000
"""About how many points (first halves of the point sets) one batched step handles, ~0.5 kB of
working memory each. Small enough that most arrays stay below the 4 MB from which NumPy asks for
transparent huge pages (whose page faults cost more than they save for short-lived arrays)."""

_SCREEN_PAIRS = 1_000_000  # site pairs per step of the overlap screen
_SCREEN_MARGIN = 1e-6  # relative margin of the screen; closer cases get the exact per-structure check
_FULL_IMAGE_CHECK_SITES = 2000  # above this validate_structure checks all 27 images (see has_overlap)
_DENSE_SCREEN_SITES = 24  # cells with this many sites get their site pairs screened one cell at a time

Result = DiffractionPattern | StructureError
Prepared = tuple[int, Cell, SymmetryInfo | None]  # (position in the batch, cell to diffract, symmetry)


def compute_batch(
    calculator: DiffractionCalculator | DiffractionSettings | None,
    items: Sequence[tuple[str, Structure | Cell]],
    *,
    chunk_points: int = CHUNK_POINTS,
    route_pairs: float | None = None,
) -> list[Result]:
    """Patterns of ``(name, structure)`` pairs, in order; a bad structure gives its error instead.

    Each result is what ``calculator.compute(structure, name)`` returns (same hkl order, g, |g|,
    cell, symmetry and settings; intensities equal to rounding, ~1e-15 of the strongest
    reflection) or the :class:`StructureError` it raises, with the same message. The arrays of
    the patterns of one chunk are views into shared buffers (copy one to keep it alone).

    Args:
        calculator: a calculator, or the settings of one (None: default settings).
        items: ``(name, structure)`` pairs; pymatgen ``Structure`` or :class:`Cell`.
        chunk_points: about how many points to process at once (memory, ~0.5 kB a point).
        route_pairs: structures with more (half point set × sites) than this are handed to
            ``calculator.compute`` one by one; None (default): none are, the batch's own
            per-cell matrix products serve large cells as well.
    """
    calc = calculator if isinstance(calculator, DiffractionCalculator) else DiffractionCalculator(calculator)
    names = [name for name, _ in items]
    cells = [item if isinstance(item, Cell) else Cell.from_structure(item) for _, item in items]
    results: list[Result | None] = [None] * len(items)
    batched = list(range(len(items)))
    if route_pairs is not None:
        large = _pair_estimates(calc.settings, cells) > route_pairs
        for index in np.flatnonzero(large).tolist():
            results[index] = _compute_one(calc, cells[index], names[index])
        batched = np.flatnonzero(~large).tolist()
    prepared = _prepare_all(calc, batched, names, cells, results)
    for chunk in _chunks(calc.settings, prepared, chunk_points):
        patterns = _diffract_chunk(calc, [names[index] for index, _, _ in chunk], chunk)
        for (index, _, _), pattern in zip(chunk, patterns, strict=True):
            # None: a non-finite intensity, for which the engine raises its error.
            results[index] = pattern or _compute_one(calc, cells[index], names[index])
    return results  # type: ignore[return-value]


def powder_batch(
    patterns: Sequence[DiffractionPattern], wavelength: float | str | None = None, *, scaled: bool = True
) -> list[PowderPattern]:
    """:func:`~crystalgenome.diffraction.powder.powder_pattern` of many patterns at once (same peaks)."""
    results: list[PowderPattern | None] = [None] * len(patterns)
    chosen, wavelengths = [], []
    for index, pattern in enumerate(patterns):
        own = pattern.settings.wavelength if wavelength is None else wavelength
        if own is None or not pattern.friedel_ordered:
            results[index] = powder_pattern(pattern, wavelength, scaled=scaled)
        else:
            chosen.append(index)
            wavelengths.append(resolve_wavelength(own))
    if chosen:
        peaks = _powder_peaks([patterns[i] for i in chosen], np.array(wavelengths), scaled=scaled)
        for index, peak in zip(chosen, peaks, strict=True):
            results[index] = peak
    return results  # type: ignore[return-value]


# --- routing, validation and preparation ---------------------------------------------------------


def _lattices(cells: Sequence[Cell]) -> np.ndarray:
    return np.stack([cell.lattice for cell in cells]) if cells else np.zeros((0, 3, 3))


def _volumes(lattices: np.ndarray) -> np.ndarray:
    """|det| of each lattice, Å³ (NaN for non-finite lattices), as ``Cell.volume`` computes it."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(np.linalg.det(lattices)) if len(lattices) else np.zeros(0)


def _squares(volumes: np.ndarray) -> np.ndarray:
    """V² as the engine computes it from a Python float (``pow``, which can differ from V·V in the
    last bit)."""
    return np.array([float(volume) ** 2 for volume in volumes])


def _half_count(settings: DiffractionSettings, volumes: np.ndarray) -> np.ndarray:
    """About how many points the first half of each point set holds."""
    if settings.g_max is None:
        return np.full(volumes.shape, ((2 * settings.max_miller + 1) ** 3) // 2 + 1, dtype=float)
    return 2.0 / 3.0 * np.pi * settings.g_max**3 * volumes + 1


def _pair_estimates(settings: DiffractionSettings, cells: Sequence[Cell]) -> np.ndarray:
    """About (half point set) × (sites) of each input cell (standardising never enlarges it)."""
    sites = np.array([cell.num_sites for cell in cells], dtype=float)
    estimate = _half_count(settings, _volumes(_lattices(cells))) * sites
    return np.nan_to_num(estimate, nan=0.0, posinf=np.inf)


def _segment_positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c−1 for every segment length c in ``counts``, back to back."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


@lru_cache(maxsize=64)
def _triangle(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Site pairs (i < j) ordered by j, so that the first n(n−1)/2 are those of n sites."""
    j = np.repeat(np.arange(size), np.arange(size))
    return _segment_positions(np.arange(size)), j


def _screen_validation(cells: Sequence[Cell], min_distance: float) -> np.ndarray:
    """True for each cell that certainly passes ``validate_structure``.

    The checks are those of the engine with a small margin: anything not cleared here is checked
    again one by one, which gives the exact verdict and message.
    """
    sites = np.array([cell.num_sites for cell in cells], dtype=np.int64)
    lattices = _lattices(cells)
    clear = (sites > 0) & np.isfinite(lattices).all(axis=(1, 2))
    frac = np.concatenate([cell.frac_coords for cell in cells]) if cells else np.zeros((0, 3))
    site_owner = np.repeat(np.arange(len(cells)), sites)
    clear &= np.bincount(site_owner, weights=~np.isfinite(frac).all(axis=1), minlength=len(cells)) == 0
    volumes = _volumes(np.where(clear[:, None, None], lattices, np.eye(3)))
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
        local = _segment_positions(counts)
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


def _compute_one(calc: DiffractionCalculator, cell: Cell, name: str) -> Result:
    try:
        return calc.compute(cell, name)
    except StructureError as error:
        return error


def _prepare_all(
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
            results[index] = _compute_one(calc, cells[index], names[index])  # the engine's PointCapError
    return [entry for entry, fits in zip(prepared, within, strict=True) if fits]


def _sphere_bounds(lattices: np.ndarray, g_max: float) -> np.ndarray:
    """(S, 3) search-box bounds |h| ≤ g_max |a| of each cell, as the engine computes them."""
    rows = lattices.reshape(-1, 3)
    lengths = np.sqrt(np.einsum("ij,ij->i", rows, rows)).reshape(-1, 3)
    return np.floor(g_max * lengths + 1e-9).astype(np.int64)


def _within_caps(settings: DiffractionSettings, cells: Sequence[Cell]) -> np.ndarray:
    """False where the engine's point-cap checks would refuse the (prepared) cell."""
    if settings.g_max is None:
        fits = (2 * settings.max_miller + 1) ** 3 <= settings.max_points
        return np.full(len(cells), fits)
    lattices = _lattices(cells)
    count = (4.0 / 3.0 * np.pi * settings.g_max**3 * _volumes(lattices)).astype(np.int64)
    box = np.prod(2 * _sphere_bounds(lattices, settings.g_max) + 1, axis=1)
    return (count <= settings.max_points) & (box <= max(8 * settings.max_points, 10_000_000))


def _chunks(settings: DiffractionSettings, prepared: list[Prepared], budget: int) -> list[list[Prepared]]:
    """Prepared cells ordered by (sites, compositions), cut into chunks of about ``budget`` points."""
    if not prepared:
        return []
    prepared = sorted(prepared, key=lambda entry: (entry[1].num_sites, len(entry[1].compositions)))
    cost = _half_count(settings, _volumes(_lattices([cell for _, cell, _ in prepared])))
    chunk_of = (np.cumsum(cost) - cost) // budget
    cuts = [0, *(np.flatnonzero(np.diff(chunk_of)) + 1).tolist(), len(prepared)]
    return [prepared[start:end] for start, end in itertools.pairwise(cuts)]


# --- one chunk -------------------------------------------------------------------------------------


def _matmul_rows(rows: np.ndarray, matrix: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = rows @ matrix`` with the matrix-matrix product even for a single row (NumPy
    switches to a vector kernel there, which can differ in the last bit from the engine's)."""
    if rows.shape[0] == 1:
        out[:] = np.matmul(np.repeat(rows, 2, axis=0), matrix)[:1]
    else:
        np.matmul(rows, matrix, out=out)


def _sphere_candidates(
    lattices: np.ndarray, reciprocals: np.ndarray, g_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lexicographic candidates (h, k, l) ≤ (0, 0, 0) of each cell's limiting sphere, back to back,
    and their count per cell: the (h, k) rows of the engine's search box, each cut to the chord
    of l that can reach the sphere (widened by a relative 1e-6 of g_max², so no point is lost)."""
    bh, bk, bl = _sphere_bounds(lattices, g_max).T
    rows_per_cell = bh * (2 * bk + 1) + bk + 1
    row_cell = np.repeat(np.arange(len(lattices)), rows_per_cell)
    row_local = _segment_positions(rows_per_cell)
    span = (2 * bk + 1)[row_cell]
    h = row_local // span - bh[row_cell]
    k = row_local % span - bk[row_cell]
    stars = reciprocals[row_cell]  # (rows, 3, 3): a*, b*, c*
    offset = h[:, None] * stars[:, 0] + k[:, None] * stars[:, 1]
    # |offset + l c*|² ≤ g_max²  ⇔  quad l² + 2 half_lin l + const ≤ 0
    quad = np.einsum("ij,ij->i", stars[:, 2], stars[:, 2])
    half_lin = np.einsum("ij,ij->i", offset, stars[:, 2])
    const = np.einsum("ij,ij->i", offset, offset) - g_max**2 * (1 + 1e-6)
    disc = half_lin**2 - quad * const
    root = np.sqrt(np.maximum(disc, 0.0))
    low = np.maximum(np.ceil((-half_lin - root) / quad - 1e-6), -bl[row_cell]).astype(np.int64)
    high = np.minimum(np.floor((-half_lin + root) / quad + 1e-6), bl[row_cell]).astype(np.int64)
    origin_rows = np.cumsum(rows_per_cell) - 1  # (0, 0): l ≤ 0 only
    high[origin_rows] = np.minimum(high[origin_rows], 0)
    length = np.where(disc >= 0, np.maximum(high - low + 1, 0), 0)
    row = np.repeat(np.arange(row_cell.shape[0]), length)
    hkl = np.stack([h[row], k[row], low[row] + _segment_positions(length)], axis=1)
    return hkl, np.bincount(row_cell, weights=length, minlength=len(lattices)).astype(np.int64)


def _sphere_half_points(
    lattices: np.ndarray, reciprocals: np.ndarray, g_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First halves of the limiting spheres of many cells, back to back: hkl, g (Å⁻¹), |g|² and
    the count of each cell.

    g and the sphere test use the engine's arithmetic (a matrix product per cell), so hkl, g and
    the selection are bit for bit those of ``limiting_sphere_half``.
    """
    hkl, candidates = _sphere_candidates(lattices, reciprocals, g_max)
    g = np.empty(hkl.shape)
    rows = hkl.astype(np.float64)
    ends = np.cumsum(candidates).tolist()
    for cell, (start, end) in enumerate(itertools.pairwise([0, *ends])):
        _matmul_rows(rows[start:end], reciprocals[cell], g[start:end])
    g_squared = np.einsum("ij,ij->i", g, g)
    inside = g_squared <= (g_max * (1 + 1e-12)) ** 2
    if inside.all():
        return hkl, g, g_squared, candidates
    counts = np.bincount(np.repeat(np.arange(len(lattices)), candidates)[inside], minlength=len(lattices))
    return (*(np.compress(inside, values, axis=0) for values in (hkl, g, g_squared)), counts)


def _box_half_points(
    settings: DiffractionSettings, reciprocals: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First half of the Miller box for many cells, back to back: hkl, g (Å⁻¹), |g|², counts."""
    half = miller_box_half(settings.max_miller, max_points=settings.max_points, name="batch")
    g = np.matmul(half, reciprocals).reshape(-1, 3)
    count = half.shape[0]
    hkl = np.tile(half, (len(reciprocals), 1))
    return hkl, g, np.einsum("ij,ij->i", g, g), np.full(len(reciprocals), count, dtype=np.int64)


def _type_amplitudes(
    calc: DiffractionCalculator, cells: Sequence[Cell], s_squared: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Occupancy-weighted amplitude of every (point, site composition): for each cell a block
    (points, compositions), point-major, blocks back to back.

    Amplitudes are evaluated through the scattering model once per element, over the points of
    every cell that holds it, with the engine's order of operations (f, times the Debye–Waller
    factor, times the occupancy; several elements of one composition summed in symbol order).
    """
    # One entry per (cell, composition, element), as plain lists of numbers.
    owner: list[int] = []
    slot: list[int] = []
    symbol: list[str] = []
    occupancy: list[float] = []
    for index, cell in enumerate(cells):
        for t, composition in enumerate(cell.compositions):
            for name, fraction in composition.items():
                owner.append(index)
                slot.append(t)
                symbol.append(name)
                occupancy.append(fraction)
    symbols, element = np.unique(np.array(symbol), return_inverse=True)
    by_element = np.argsort(element.ravel(), kind="stable")
    owner_arr, slot_arr, occupancy_arr = (np.array(column)[by_element] for column in (owner, slot, occupancy))
    size = counts[owner_arr]  # points of each entry
    local = _segment_positions(size)
    point_first = np.cumsum(counts) - counts
    s2 = s_squared[np.repeat(point_first[owner_arr], size) + local]
    values = np.empty(s2.shape[0])
    ends = np.cumsum(np.bincount(np.repeat(element.ravel()[by_element], size), minlength=len(symbols)))
    for name, (start, end) in zip(symbols.tolist(), itertools.pairwise([0, *ends.tolist()]), strict=True):
        values[start:end] = calc.model.amplitudes([name], s2[start:end])[0]
    debye_waller = dict(calc.settings.debye_waller)
    if debye_waller:
        factors = np.array([debye_waller.get(name, 0.0) for name in symbols.tolist()])
        values *= np.exp(-np.repeat(factors[element.ravel()[by_element]], size) * s2)
    if np.any(occupancy_arr != 1.0):
        values *= np.repeat(occupancy_arr, size)
    type_count = np.array([len(cell.compositions) for cell in cells])
    block = counts * type_count
    slots = np.repeat((np.cumsum(block) - block)[owner_arr] + slot_arr, size) + local * np.repeat(
        type_count[owner_arr], size
    )
    return np.bincount(slots, weights=values, minlength=int(block.sum()))


def _phase_tables(frac: np.ndarray, bound: int) -> np.ndarray:
    """(n, 3, 2B+1) tables exp(2πi m x) for m = −B..B of n sites, the engine's arithmetic (powers
    by cumulative products, so every entry equals the engine's for any B)."""
    base = np.exp(2j * np.pi * frac)  # (n, 3)
    ones = np.ones((*base.shape, 1), dtype=np.complex128)
    if bound == 0:
        return ones
    powers = np.cumprod(np.broadcast_to(base[:, :, None], (*base.shape, bound)), axis=2)
    return np.concatenate([powers[:, :, ::-1].conj(), ones, powers], axis=2)


def _sites_by_composition(
    cells: Sequence[Cell], sites: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Fractional coordinates of all sites, each cell's sites grouped by composition (stable),
    the first site of each cell, and for each cell the end of each composition's group."""
    kinds = max(len(cell.compositions) for cell in cells)
    key = np.repeat(np.arange(len(cells)) * kinds, sites) + np.concatenate([cell.types for cell in cells])
    order = np.argsort(key, kind="stable")
    frac = np.concatenate([cell.frac_coords for cell in cells])[order]
    per_type = np.bincount(key, minlength=len(cells) * kinds).reshape(len(cells), kinds)
    ends = [
        ends[: len(cell.compositions)]
        for cell, ends in zip(cells, np.cumsum(per_type, axis=1).tolist(), strict=True)
    ]
    return frac, np.cumsum(sites) - sites, ends


def _rows(hkl: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(h, k) rows of back-to-back lexicographic point sets: first point of each row, row of each
    point, cell of each row, and rows per cell."""
    point_cell = np.repeat(np.arange(counts.shape[0]), counts)
    row_start = np.empty(hkl.shape[0], dtype=bool)
    row_start[0] = True
    row_start[1:] = (hkl[1:, 0] != hkl[:-1, 0]) | (hkl[1:, 1] != hkl[:-1, 1])
    row_start[np.cumsum(counts) - counts] = True
    starts = np.flatnonzero(row_start)
    row_cell = point_cell[starts]
    return starts, np.cumsum(row_start) - 1, row_cell, np.bincount(row_cell, minlength=counts.shape[0])


def _type_sums(cells: Sequence[Cell], hkl: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Phase sums S_t(hkl) = Σ_{j of composition t} exp(2πi hkl·x_j) of every (point, site
    composition), in the layout of :func:`_type_amplitudes`.

    As in the engine, phases factorise per axis, e_xy = eₓ[h] e_y[k] per (h, k) row, and each
    cell's sums are matrix products (rows) × (sites of t) @ (sites of t) × (l), one per t, whose
    entries are then gathered at the points.
    """
    sites = np.array([cell.frac_coords.shape[0] for cell in cells])
    frac, site_first, type_ends = _sites_by_composition(cells, sites)
    bound = int(np.abs(hkl).max())
    width = 2 * bound + 1
    tables = _phase_tables(np.mod(frac, 1.0), bound)  # (all sites, 3, W)
    flat = tables.reshape(-1)
    starts, row_index, row_cell, rows_per_cell = _rows(hkl, counts)
    # e_xy of every (row, site of its cell), row-major per cell.
    row_sites = sites[row_cell]
    pair_site = np.repeat(site_first[row_cell], row_sites) + _segment_positions(row_sites)
    xy = flat.take(pair_site * (3 * width) + np.repeat(hkl[starts, 0] + bound, row_sites))
    xy *= flat.take(pair_site * (3 * width) + width + np.repeat(hkl[starts, 1] + bound, row_sites))
    pair_first = np.cumsum(rows_per_cell * sites) - rows_per_cell * sites
    l_bound = np.maximum.reduceat(np.abs(hkl[:, 2]), np.cumsum(counts) - counts)
    l_width = 2 * l_bound + 1
    kinds = np.array([len(cell.compositions) for cell in cells])
    block = kinds * rows_per_cell * l_width  # per cell: (T, rows, 2 l_bound + 1)
    block_first = np.cumsum(block) - block
    sums = np.empty(int(block.sum()), dtype=np.complex128)
    for cell, (first, size, rows, lb, start, ends) in enumerate(
        zip(
            site_first.tolist(),
            sites.tolist(),
            rows_per_cell.tolist(),
            l_bound.tolist(),
            block_first.tolist(),
            type_ends,
            strict=True,
        )
    ):
        z = tables[first : first + size, 2, bound - lb : bound + lb + 1]  # (n, 2 lb + 1)
        xy_cell = xy[pair_first[cell] : pair_first[cell] + rows * size].reshape(rows, size)
        out = sums[start : start + len(ends) * rows * (2 * lb + 1)].reshape(len(ends), rows, 2 * lb + 1)
        for t, (low, high) in enumerate(itertools.pairwise([0, *ends])):
            _matmul_rows(xy_cell[:, low:high], z[low:high], out[t])
    row_first = np.cumsum(rows_per_cell) - rows_per_cell
    row_base = block_first[row_cell] + (np.arange(starts.shape[0]) - row_first[row_cell]) * l_width[row_cell]
    point_base = row_base[row_index] + hkl[:, 2] + np.repeat(l_bound, counts)
    point_kinds = np.repeat(kinds, counts)
    plane = np.repeat(rows_per_cell * l_width, counts * kinds)
    return sums.take(np.repeat(point_base, point_kinds) + _segment_positions(point_kinds) * plane)


def _diffract_chunk(
    calc: DiffractionCalculator, names: list[str], chunk: list[Prepared]
) -> list[DiffractionPattern | None]:
    """Patterns of prepared cells; None where an intensity is not finite."""
    settings = calc.settings
    cells = [cell for _, cell, _ in chunk]
    lattices = _lattices(cells)
    reciprocals = np.linalg.inv(lattices).transpose(0, 2, 1)
    if settings.g_max is None:
        hkl, g, g_squared, counts = _box_half_points(settings, reciprocals)
    else:
        hkl, g, g_squared, counts = _sphere_half_points(lattices, reciprocals, settings.g_max)
    amplitudes = _type_amplitudes(calc, cells, g_squared / 4.0, counts)
    sums = _type_sums(cells, hkl, counts)
    kinds = np.repeat([len(cell.compositions) for cell in cells], counts)
    entry_first = np.cumsum(kinds) - kinds
    factor_real = np.add.reduceat(amplitudes * sums.real, entry_first)
    factor_imag = np.add.reduceat(amplitudes * sums.imag, entry_first)
    intensity = (factor_real**2 + factor_imag**2) / np.repeat(_squares(_volumes(lattices)), counts)
    finite = np.logical_and.reduceat(np.isfinite(intensity), np.cumsum(counts) - counts)
    return _assemble(calc, names, chunk, (hkl, g, g_squared, intensity), counts, finite)


def _assemble(
    calc: DiffractionCalculator,
    names: list[str],
    chunk: list[Prepared],
    halves: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    counts: np.ndarray,
    finite: np.ndarray,
) -> list[DiffractionPattern | None]:
    """Full Friedel-ordered patterns (rows i and M−1−i mates) from back-to-back first halves of
    hkl, g, |g|² and intensities, as ``half_to_full`` builds them."""
    hkl, g, g_squared, intensity = halves
    full_counts = 2 * counts - 1
    # Source row of each full row: +1 steps up to the origin, −1 steps back, then a jump to the
    # next cell's first row.
    steps = np.repeat(np.tile([1, -1], counts.shape[0]), np.stack([counts, counts - 1], axis=1).ravel())
    full_first = np.cumsum(full_counts) - full_counts
    steps[full_first] = np.concatenate([[0], counts[:-1]])
    source = np.cumsum(steps)
    sign = np.sign(steps)[:, None]  # −1 on mirrored rows (steps 0 and jumps only on kept rows)
    sign[full_first] = 1
    full_hkl = hkl.take(source, axis=0)
    full_hkl *= sign
    full_g = g.take(source, axis=0)
    full_g *= sign
    full_intensity = intensity.take(source)
    full_norm = np.sqrt(g_squared).take(source)
    patterns: list[DiffractionPattern | None] = []
    for name, (_, cell, symmetry), start, count, ok in zip(
        names, chunk, full_first.tolist(), full_counts.tolist(), finite.tolist(), strict=True
    ):
        end = start + count
        patterns.append(
            DiffractionPattern(
                name=name,
                hkl=full_hkl[start:end],
                g=full_g[start:end],
                intensity=full_intensity[start:end],
                lattice=cell.lattice,
                settings=calc.settings,
                symmetry=symmetry,
                friedel_ordered=True,
                g_norm=full_norm[start:end],
            )
            if ok
            else None
        )
    return patterns


# --- powder ------------------------------------------------------------------------------------------


_KEY_BITS = 25  # 2θ ≤ 180° is at most 1.8e7 steps of TWO_THETA_TOL
_POWDER_POINTS = 1 << 16  # points per step of the powder projection: small arrays, cache-friendly


def _powder_steps(sizes: np.ndarray) -> list[slice]:
    """Consecutive runs of patterns holding at most :data:`_POWDER_POINTS` points (at least one)."""
    step_of = (np.cumsum(sizes) - sizes) // _POWDER_POINTS
    cuts = [0, *(np.flatnonzero(np.diff(step_of)) + 1).tolist(), len(sizes)]
    return [slice(start, end) for start, end in itertools.pairwise(cuts)]


def _sorted_groups(owner: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order sorting points by (owner, key, position), i.e. a stable sort by (owner, key), and the
    (owner, key) code of each sorted point. One unstable sort of unique composite integers when
    they fit 63 bits (much faster than a stable argsort), else a stable argsort."""
    code = (owner.astype(np.int64) << _KEY_BITS) | keys
    position_bits = max(1, int(keys.shape[0]).bit_length())
    if int(owner[-1]).bit_length() + _KEY_BITS + position_bits > 63:
        order = np.argsort(code, kind="stable")
        return order, code[order]
    ordered = np.sort((code << position_bits) | np.arange(keys.shape[0]))
    return ordered & ((1 << position_bits) - 1), ordered >> position_bits


def _powder_peaks(
    patterns: Sequence[DiffractionPattern], wavelengths: np.ndarray, *, scaled: bool
) -> list[PowderPattern]:
    """Powder patterns of Friedel-ordered patterns, with the arithmetic of ``powder_pattern``."""
    sizes = np.array([p.g_norm.shape[0] - p.g_norm.shape[0] // 2 - 1 for p in patterns])
    return [
        peak
        for part in _powder_steps(sizes)
        for peak in _powder_step(patterns[part], wavelengths[part], sizes[part], scaled=scaled)
    ]


def _powder_step(
    patterns: Sequence[DiffractionPattern], wavelengths: np.ndarray, sizes: np.ndarray, *, scaled: bool
) -> list[PowderPattern]:
    """One step of :func:`_powder_peaks`: the h > 0 halves of all patterns back to back."""
    g_norm, owner, two_theta, weighted = _powder_points(patterns, wavelengths, sizes)
    if not g_norm.size:
        empty = np.zeros(0)
        return [_powder(empty, empty, empty, np.zeros(0, np.int64), slice(0), float(w)) for w in wavelengths]
    order, groups = _sorted_groups(owner, np.round(two_theta / TWO_THETA_TOL).astype(np.int64))
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
    intensity = np.add.reduceat(weighted.take(order), starts)
    # The representative of merged peaks is the smallest |g| (smallest 2θ), as in powder_pattern.
    peak_g = np.minimum.reduceat(g_norm.take(order), starts)
    peak_two_theta = np.minimum.reduceat(two_theta.take(order), starts)
    multiplicity = np.diff(np.append(starts, groups.size))
    peak_owner = groups[starts] >> _KEY_BITS
    present = np.flatnonzero(np.bincount(peak_owner, minlength=len(patterns)))
    strongest = np.zeros(len(patterns))
    strongest[present] = np.maximum.reduceat(intensity, np.searchsorted(peak_owner, present))
    with np.errstate(invalid="ignore", divide="ignore"):
        strong = intensity / strongest[peak_owner] * 100 > SCALED_INTENSITY_TOL
    intensity, peak_two_theta, peak_g = intensity[strong], peak_two_theta[strong], peak_g[strong]
    multiplicity, peak_owner = multiplicity[strong], peak_owner[strong]
    if scaled:
        intensity = intensity / strongest[peak_owner] * 100
    d_spacing = 1.0 / peak_g
    ends = np.cumsum(np.bincount(peak_owner, minlength=len(patterns)))
    return [
        _powder(peak_two_theta, intensity, d_spacing, multiplicity, slice(start, end), float(w))
        for start, end, w in zip(ends - np.diff(ends, prepend=0), ends, wavelengths, strict=True)
    ]


def _powder_points(
    patterns: Sequence[DiffractionPattern], wavelengths: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """|g|, pattern, 2θ (degrees) and Lorentz(-polarisation)-weighted |F|² of the points with
    0 < |g| ≤ 2/λ of the h > 0 halves (counted twice for their Friedel mates)."""
    g_norm = np.concatenate([p.g_norm[p.g_norm.shape[0] // 2 + 1 :] for p in patterns])
    values = 2.0 * np.concatenate([p.intensity[p.intensity.shape[0] // 2 + 1 :] for p in patterns])
    volumes = _volumes(np.stack([p.lattice for p in patterns]))
    owner = np.repeat(np.arange(len(patterns)), sizes)
    uniform = bool(np.all(wavelengths == wavelengths[0]))
    wavelength = wavelengths[0] if uniform else wavelengths[owner]
    keep = (g_norm > 0) & (g_norm <= 2.0 / wavelength * (1 + 1e-12))
    values = values * np.repeat(_squares(volumes), sizes)
    if not keep.all():
        g_norm, owner, values = g_norm[keep], owner[keep], values[keep]
        if not uniform:
            wavelength = wavelength[keep]
    sin_theta = np.minimum(wavelength * g_norm / 2, 1.0)
    two_theta = np.degrees(2 * np.arcsin(sin_theta))
    return (
        g_norm,
        owner,
        two_theta,
        values * _lorentz_factors(sin_theta, [p.radiation for p in patterns], owner),
    )


def _lorentz_factors(sin_theta: np.ndarray, radiations: list[str], owner: np.ndarray) -> np.ndarray:
    """Lorentz(-polarisation) factor of each point, for the radiation of its pattern."""
    kinds = sorted(set(radiations))
    if len(kinds) == 1:
        return lorentz_polarisation(sin_theta, kinds[0])
    code = np.array([kinds.index(radiation) for radiation in radiations])[owner]
    factor = np.empty_like(sin_theta)
    for index, radiation in enumerate(kinds):
        chosen = code == index
        factor[chosen] = lorentz_polarisation(sin_theta[chosen], radiation)
    return factor


def _powder(
    two_theta: np.ndarray,
    intensity: np.ndarray,
    d_spacing: np.ndarray,
    multiplicity: np.ndarray,
    part: slice,
    wavelength: float,
) -> PowderPattern:
    return PowderPattern(
        two_theta=two_theta[part],
        intensity=intensity[part],
        d_spacing=d_spacing[part],
        multiplicity=multiplicity[part],
        wavelength=wavelength,
    )
