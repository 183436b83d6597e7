"""Batched diffraction, step 2: the physics of one chunk of cells.

Limiting spheres or Miller boxes, amplitudes per element, phase sums per site composition and the
assembled patterns (see :mod:`crystalgenome.diffraction.batch`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from crystalgenome.diffraction.batch_screen import (
    Prepared,
    cell_volumes,
    lattice_matrices,
    segment_positions,
    sphere_bounds,
    volume_squares,
)
from crystalgenome.diffraction.engine import DiffractionCalculator
from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.pointsets import miller_box_half
from crystalgenome.diffraction.settings import DiffractionSettings
from crystalgenome.structures.cell import Cell


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
    bh, bk, bl = sphere_bounds(lattices, g_max).T
    rows_per_cell = bh * (2 * bk + 1) + bk + 1
    row_cell = np.repeat(np.arange(len(lattices)), rows_per_cell)
    row_local = segment_positions(rows_per_cell)
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
    hkl = np.stack([h[row], k[row], low[row] + segment_positions(length)], axis=1)
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
    local = segment_positions(size)
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
    pair_site = np.repeat(site_first[row_cell], row_sites) + segment_positions(row_sites)
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
    return sums.take(np.repeat(point_base, point_kinds) + segment_positions(point_kinds) * plane)


def diffract_chunk(
    calc: DiffractionCalculator, names: list[str], chunk: list[Prepared]
) -> list[DiffractionPattern | None]:
    """Patterns of prepared cells; None where an intensity is not finite."""
    settings = calc.settings
    cells = [cell for _, cell, _ in chunk]
    lattices = lattice_matrices(cells)
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
    intensity = (factor_real**2 + factor_imag**2) / np.repeat(volume_squares(cell_volumes(lattices)), counts)
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
