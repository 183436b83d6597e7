"""Vectorised kinematic diffraction: structure → 3D point cloud of reflections.

F(hkl) = Σ_j occ_j f_j(s) exp(2πi (h x_j + k y_j + l z_j)),  I = |F|² / V²,  s = |g|/2.

Speed comes from three facts, none of which loops over reflections in Python:
- Friedel's law: I(−h) = I(h) for real scattering amplitudes, so only half the points are computed;
- phases factorise, exp(2πi h·x) = eₓ[h] e_y[k] e_z[l], so per site only 3(2N+1) complex
  exponentials are evaluated and the rest are products gathered from those tables;
- amplitudes are evaluated once per element and combined per distinct site composition, and
  sites are summed per composition with one matrix product.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.pointsets import limiting_sphere, miller_box_checked, reciprocal_lattice
from crystalgenome.diffraction.scattering import ScatteringModel, scattering_model
from crystalgenome.diffraction.settings import DiffractionSettings
from crystalgenome.errors import StructureError
from crystalgenome.structures.cell import Cell
from crystalgenome.structures.symmetry import SymmetryInfo, standardise_cell
from crystalgenome.structures.validate import validate_structure

if TYPE_CHECKING:
    from pymatgen.core import Structure

_PHASE_CHUNK_ENTRIES = 2_000_000  # bound on (points x sites) per block, ~32 MB of complex128


def friedel_half(hkl: np.ndarray) -> np.ndarray:
    """Mask of the points that represent each Friedel pair ±h once (origin included)."""
    h, k, l = hkl[:, 0], hkl[:, 1], hkl[:, 2]
    return (h > 0) | ((h == 0) & (k > 0)) | ((h == 0) & (k == 0) & (l >= 0))


def _friedel_partner_index(hkl: np.ndarray, half: np.ndarray) -> np.ndarray:
    """For every row, the index (into ``hkl[half]``) of the row itself or of its −h partner."""
    bound = int(np.abs(hkl).max()) if hkl.size else 0
    width = 2 * bound + 1
    canonical = np.where(half[:, None], hkl, -hkl) + bound
    keys = (canonical[:, 0] * width + canonical[:, 1]) * width + canonical[:, 2]
    lookup = np.full(width**3, -1, dtype=np.int64)
    lookup[keys[half]] = np.arange(int(half.sum()))
    index = lookup[keys]
    if np.any(index < 0):
        raise ValueError("point set is not centrosymmetric: cannot apply Friedel's law")
    return index


def _type_amplitudes(
    cell: Cell, model: ScatteringModel, s_squared: np.ndarray, debye_waller: dict[str, float]
) -> np.ndarray:
    """(n_types, M) occupancy-weighted amplitude of each site composition at each s² (Å⁻²)."""
    elements = cell.elements
    per_element = model.amplitudes(elements, s_squared)  # (n_el, M)
    if debye_waller:
        b_factors = np.array([debye_waller.get(symbol, 0.0) for symbol in elements])
        per_element = per_element * np.exp(-b_factors[:, None] * s_squared[None, :])
    column = {symbol: i for i, symbol in enumerate(elements)}
    mixing = np.zeros((len(cell.compositions), len(elements)))
    for t, composition in enumerate(cell.compositions):
        for symbol, occupancy in composition.items():
            mixing[t, column[symbol]] += occupancy
    return mixing @ per_element


def structure_factors(
    cell: Cell, hkl: np.ndarray, model: ScatteringModel, debye_waller: dict[str, float] | None = None
) -> np.ndarray:
    """(M,) complex structure factors F(hkl) of ``cell`` for integer ``hkl`` (M, 3).

    Direct evaluation (no Friedel shortcut); see :func:`intensities` for the fast path.
    """
    hkl = np.asarray(hkl, dtype=np.int64)
    g_norm = np.linalg.norm(hkl @ reciprocal_lattice(cell.lattice), axis=1)
    amplitudes = _type_amplitudes(cell, model, (g_norm / 2) ** 2, debye_waller or {})  # (T, M)
    frac = np.mod(cell.frac_coords, 1.0)
    bounds = np.abs(hkl).max(axis=0) if hkl.size else np.zeros(3, dtype=np.int64)
    # Per-axis phase tables e[n, j] = exp(2πi n x_j) for n in -B..B.
    tables = [
        np.exp(2j * np.pi * np.arange(-b, b + 1)[:, None] * frac[None, :, axis])
        for axis, b in enumerate(bounds)
    ]
    one_hot = np.zeros((cell.num_sites, len(cell.compositions)))
    one_hot[np.arange(cell.num_sites), cell.types] = 1.0
    factors = np.empty(hkl.shape[0], dtype=np.complex128)
    rows = max(1, _PHASE_CHUNK_ENTRIES // max(cell.num_sites, 1))
    for start in range(0, hkl.shape[0], rows):
        block = hkl[start : start + rows] + bounds
        phase = tables[0][block[:, 0]] * tables[1][block[:, 1]] * tables[2][block[:, 2]]  # (m, n)
        per_type = phase @ one_hot  # (m, T)
        factors[start : start + rows] = np.einsum("mt,tm->m", per_type, amplitudes[:, start : start + rows])
    return factors


def intensities(
    cell: Cell, hkl: np.ndarray, model: ScatteringModel, debye_waller: dict[str, float] | None = None
) -> np.ndarray:
    """(M,) intensities |F|²/V² for a centrosymmetric point set, using Friedel's law."""
    half = friedel_half(hkl)
    partner = _friedel_partner_index(hkl, half)
    factors = structure_factors(cell, hkl[half], model, debye_waller)
    half_intensity = (factors.real**2 + factors.imag**2) / cell.volume**2
    return half_intensity[partner]


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

    def prepare_cell(self, structure: Structure | Cell, name: str = "structure") -> tuple[Cell, SymmetryInfo | None]:
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

    def point_set(self, cell: Cell, name: str = "structure") -> np.ndarray:
        """(M, 3) Miller indices of the configured point set for ``cell``."""
        if self.settings.g_max is not None:
            return limiting_sphere(cell.lattice, self.settings.g_max, max_points=self.settings.max_points, name=name)
        return miller_box_checked(self.settings.max_miller, self.settings.max_points, name)

    def compute(self, structure: Structure | Cell, name: str = "structure") -> DiffractionPattern:
        """The diffraction pattern of one structure.

        Raises:
            StructureError: naming ``name`` when the structure cannot be diffracted.
        """
        cell, symmetry = self.prepare_cell(structure, name)
        hkl = self.point_set(cell, name)
        values = intensities(cell, hkl, self.model, self._debye_waller)
        if not np.all(np.isfinite(values)):
            raise StructureError(name, "non-finite intensities (check the lattice and coordinates)")
        return DiffractionPattern(
            name=name,
            hkl=hkl,
            g=hkl @ reciprocal_lattice(cell.lattice),
            intensity=values,
            lattice=cell.lattice,
            settings=self.settings,
            symmetry=symmetry,
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
    structure: Structure | Cell, settings: DiffractionSettings | None = None, *, name: str = "structure", **overrides
) -> DiffractionPattern:
    """One-call convenience: ``diffract(structure, radiation="neutron", wavelength="CuKa")``."""
    if overrides:
        base = (settings or DiffractionSettings()).to_dict()
        base.update(overrides)
        base["debye_waller"] = tuple(sorted(dict(base["debye_waller"]).items()))
        settings = DiffractionSettings(**base)
    return DiffractionCalculator(settings).compute(structure, name)
