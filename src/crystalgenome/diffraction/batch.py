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

The steps live in :mod:`~crystalgenome.diffraction.batch_screen` (validation screening and
preparation), :mod:`~crystalgenome.diffraction.batch_physics` (one chunk's physics) and
:mod:`~crystalgenome.diffraction.batch_powder` (the powder projection). Cells are processed in chunks
of about :data:`CHUNK_POINTS` points, which bounds memory and keeps arrays small enough to be cheap
to allocate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.diffraction.batch_physics import diffract_chunk
from crystalgenome.diffraction.batch_powder import powder_peaks
from crystalgenome.diffraction.batch_screen import (
    Result,
    compute_one,
    pair_estimates,
    plan_chunks,
    prepare_all,
)
from crystalgenome.diffraction.engine import DiffractionCalculator
from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.powder import (
    PowderPattern,
    powder_pattern,
)
from crystalgenome.diffraction.radiation import resolve_wavelength
from crystalgenome.diffraction.settings import DiffractionSettings
from crystalgenome.structures.cell import Cell

if TYPE_CHECKING:
    from pymatgen.core import Structure

CHUNK_POINTS = 50_000
"""About how many points (first halves of the point sets) one batched step handles, ~0.5 kB of
working memory each. Small enough that most arrays stay below the 4 MB from which NumPy asks for
transparent huge pages (whose page faults cost more than they save for short-lived arrays)."""


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
        large = pair_estimates(calc.settings, cells) > route_pairs
        for index in np.flatnonzero(large).tolist():
            results[index] = compute_one(calc, cells[index], names[index])
        batched = np.flatnonzero(~large).tolist()
    prepared = prepare_all(calc, batched, names, cells, results)
    for chunk in plan_chunks(calc.settings, prepared, chunk_points):
        patterns = diffract_chunk(calc, [names[index] for index, _, _ in chunk], chunk)
        for (index, _, _), pattern in zip(chunk, patterns, strict=True):
            # None: a non-finite intensity, for which the engine raises its error.
            results[index] = pattern or compute_one(calc, cells[index], names[index])
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
        peaks = powder_peaks([patterns[i] for i in chosen], np.array(wavelengths), scaled=scaled)
        for index, peak in zip(chosen, peaks, strict=True):
            results[index] = peak
    return results  # type: ignore[return-value]
