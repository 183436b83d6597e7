"""Vectorised kinematic diffraction: structure → 3D point cloud of reflections.

F(hkl) = Σ_j occ_j f_j(s) exp(2πi (h x_j + k y_j + l z_j)),  I = |F|² / V²,  s = |g|/2.

Speed comes from three facts, and nothing loops over reflections in Python:

- Friedel's law, I(−h) = I(h) for real scattering amplitudes: point sets are generated in
  lexicographic order, where rows i and M−1−i are mates, so only the first half is computed;
- phases factorise, exp(2πi h·x) = eₓ[h] e_y[k] e_z[l]: per site one complex exponential per
  axis, powers by cumulative products, and per reflection two products of gathered table rows;
- amplitudes are evaluated once per element and mixed per distinct site composition, and the
  sites of one composition are summed with a single matrix product.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.pointsets import (
    half_to_full,
    limiting_sphere_half,
    miller_box_half,
)
from crystalgenome.diffraction.scattering import ScatteringModel, scattering_model
from crystalgenome.diffraction.settings import DiffractionSettings
from crystalgenome.errors import StructureError
from crystalgenome.structures.cell import Cell
from crystalgenome.structures.symmetry import SymmetryInfo, standardise_cell
from crystalgenome.structures.validate import validate_structure

if TYPE_CHECKING:
    from pymatgen.core import Structure


def _phase_tables(frac: np.ndarray, bound: int) -> np.ndarray:
    """(3, 2B+1, n) table of exp(2πi m x_j) for m = −B..B along each axis."""
    base = np.exp(2j * np.pi * frac.T)  # (3, n)
    if bound == 0:
        return np.ones((3, 1, frac.shape[0]), dtype=np.complex128)
    powers = np.cumprod(np.broadcast_to(base[:, None, :], (3, bound, frac.shape[0])), axis=1)
    ones = np.ones((3, 1, frac.shape[0]), dtype=np.complex128)
    return np.concatenate([powers[:, ::-1].conj(), ones, powers], axis=1)


def _type_amplitudes(
    cell: Cell, model: ScatteringModel, s_squared: np.ndarray, debye_waller: dict[str, float]
) -> np.ndarray:
    """(n_types, M) occupancy-weighted amplitude of each site composition at each s² (Å⁻²)."""
    elements = cell.elements
    per_element = model.amplitudes(elements, s_squared)  # (n_el, M)
    if debye_waller:
        b_factors = np.array([debye_waller.get(symbol, 0.0) for symbol in elements])
        per_element = per_element * np.exp(-b_factors[:, None] * s_squared[None, :])
    if len(cell.compositions) == len(elements) and all(len(c) == 1 for c in cell.compositions):
        order = [elements.index(next(iter(c))) for c in cell.compositions]
        occupancy = np.array([next(iter(c.values())) for c in cell.compositions])
        return per_element[order] * occupancy[:, None]
    column = {symbol: i for i, symbol in enumerate(elements)}
    mixing = np.zeros((len(cell.compositions), len(elements)))
    for t, composition in enumerate(cell.compositions):
        for symbol, occupancy in composition.items():
            mixing[t, column[symbol]] += occupancy
    return mixing @ per_element


def structure_factors(
    cell: Cell,
    hkl: np.ndarray,
    model: ScatteringModel,
    debye_waller: dict[str, float] | None = None,
    *,
    g_squared: np.ndarray | None = None,
    lexicographic: bool = False,
) -> np.ndarray:
    """(M,) complex structure factors F(hkl) of ``cell`` (electrons or fm) for integer ``hkl`` (M, 3).

    Rows are grouped by (h, k): for each group the phase sums over the sites of every composition
    t, S_t(h, k, l) = Σ_j e_x[h, j] e_y[k, j] e_z[l, j] [type_j = t], come out of one complex
    matrix product (distinct (h, k)) × (sites) @ (sites) × (l, t), gathered at the requested rows.
    ``g_squared`` (|g|², Å⁻²) may be passed when already known; ``lexicographic=True`` promises
    rows sorted by (h, k, l), which spares a sort.
    """
    hkl = np.asarray(hkl, dtype=np.int64)
    if hkl.shape[0] == 0:
        return np.zeros(0, dtype=np.complex128)
    if g_squared is None:
        g = hkl @ cell.reciprocal
        g_squared = np.einsum("ij,ij->i", g, g)
    amplitudes = _type_amplitudes(cell, model, g_squared / 4.0, debye_waller or {})  # (T, M)
    bound = int(np.abs(hkl).max())
    tables = _phase_tables(np.mod(cell.frac_coords, 1.0), bound)  # (3, 2B+1, n)
    index = hkl + bound
    width = 2 * bound + 1
    hk_key = index[:, 0] * width + index[:, 1]
    if lexicographic:
        first = np.empty(hk_key.shape[0], dtype=bool)
        first[0] = True
        np.not_equal(hk_key[1:], hk_key[:-1], out=first[1:])
        hk_unique, hk_row = hk_key[first], np.cumsum(first) - 1
    else:
        hk_unique, hk_row = np.unique(hk_key, return_inverse=True)
    hk_phase = tables[0].take(hk_unique // width, axis=0) * tables[1].take(
        hk_unique % width, axis=0
    )  # (U, n)
    n_types = len(cell.compositions)
    one_hot = np.zeros((cell.num_sites, n_types))
    one_hot[np.arange(cell.num_sites), cell.types] = 1.0
    l_by_type = (tables[2].T[:, :, None] * one_hot[:, None, :]).reshape(cell.num_sites, width * n_types)
    sums = (hk_phase @ l_by_type).reshape(-1, width, n_types)  # (U, 2B+1, T)
    per_type = sums[hk_row, index[:, 2]]  # (M, T)
    return np.einsum("mt,tm->m", per_type, amplitudes)


def friedel_half_intensities(
    cell: Cell,
    half_hkl: np.ndarray,
    model: ScatteringModel,
    debye_waller: dict[str, float] | None = None,
    *,
    half_g: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """|F|²/V² and g (Å⁻¹) for the first half of a lexicographic centrosymmetric point set."""
    g = half_hkl @ cell.reciprocal if half_g is None else half_g
    g_squared = np.einsum("ij,ij->i", g, g)
    factors = structure_factors(cell, half_hkl, model, debye_waller, g_squared=g_squared, lexicographic=True)
    return (factors.real**2 + factors.imag**2) / cell.volume**2, g


def _as_cell(structure: Structure | Cell) -> Cell:
    return structure if isinstance(structure, Cell) else Cell.from_structure(structure)


class DiffractionCalculator:
    """Computes 3D diffraction patterns with one set of :class:`DiffractionSettings`.

    Example::

        calc = DiffractionCalculator(DiffractionSettings(radiation="xray", max_miller=3))
        pattern = calc.compute(structure, name="mp-149")
    """

    def __init__(self, settings: DiffractionSettings | None = None) -> None:
        self.settings = settings or DiffractionSettings()
        self.model = scattering_model(self.settings.radiation)
        self._debye_waller = dict(self.settings.debye_waller)

    def prepare_cell(
        self, structure: Structure | Cell, name: str = "structure"
    ) -> tuple[Cell, SymmetryInfo | None]:
        """Validate the input and return the cell to diffract (standardised as configured)."""
        cell = _as_cell(structure)
        validate_structure(cell, name=name, min_distance=self.settings.min_distance)
        self.model.check(cell.elements, name)
        return standardise_cell(
            cell,
            self.settings.cell,
            symprec=self.settings.symprec,
            backend=self.settings.symmetry_backend,
            name=name,
        )

    def half_point_set(self, cell: Cell, name: str = "structure") -> tuple[np.ndarray, np.ndarray]:
        """First half (ending at the origin) of the configured lexicographic point set of ``cell``,
        as Miller indices (M, 3) and reciprocal vectors g (M, 3), Å⁻¹."""
        settings = self.settings
        if settings.g_max is not None:
            return limiting_sphere_half(
                cell.lattice,
                settings.g_max,
                max_points=settings.max_points,
                name=name,
                reciprocal=cell.reciprocal,
            )
        hkl = miller_box_half(settings.max_miller, max_points=settings.max_points, name=name)
        return hkl, hkl @ cell.reciprocal

    def compute(self, structure: Structure | Cell, name: str = "structure") -> DiffractionPattern:
        """The diffraction pattern of one structure, points in lexicographic (h, k, l) order.

        Raises:
            StructureError: naming ``name`` when the structure cannot be diffracted.
        """
        cell, symmetry = self.prepare_cell(structure, name)
        half_hkl, half_g = self.half_point_set(cell, name)
        half_intensity, _ = friedel_half_intensities(
            cell, half_hkl, self.model, self._debye_waller, half_g=half_g
        )
        if not np.all(np.isfinite(half_intensity)):
            raise StructureError(name, "non-finite intensities (check the lattice and coordinates)")
        return DiffractionPattern(
            name=name,
            hkl=half_to_full(half_hkl),
            g=half_to_full(half_g),
            intensity=half_to_full(half_intensity, negate=False),
            lattice=cell.lattice,
            settings=self.settings,
            symmetry=symmetry,
            friedel_ordered=True,
        )

    def compute_many(
        self, items: Iterable[tuple[str, Structure | Cell]]
    ) -> Iterator[tuple[str, DiffractionPattern | StructureError]]:
        """Patterns of many ``(name, structure)`` pairs; a bad one yields its error, not an exception."""
        for name, structure in items:
            try:
                yield name, self.compute(structure, name)
            except StructureError as error:
                yield name, error


def diffract(
    structure: Structure | Cell,
    settings: DiffractionSettings | None = None,
    *,
    name: str = "structure",
    **overrides: object,
) -> DiffractionPattern:
    """One-call convenience: ``diffract(structure, radiation="neutron", wavelength="CuKa")``."""
    if overrides:
        base = (settings or DiffractionSettings()).to_dict()
        base.update(overrides)
        base["debye_waller"] = tuple(sorted(dict(base["debye_waller"]).items()))
        settings = DiffractionSettings(**base)
    return DiffractionCalculator(settings).compute(structure, name)
