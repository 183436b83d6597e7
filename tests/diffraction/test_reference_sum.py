"""3D intensities equal a straightforward, independent structure-factor sum for every hkl."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
from pymatgen.analysis.diffraction.neutron import ATOMIC_SCATTERING_LEN
from pymatgen.analysis.diffraction.xrd import ATOMIC_SCATTERING_PARAMS
from pymatgen.core import Lattice, Structure

from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings


def reference_intensities(
    structure: Structure, hkls: np.ndarray, radiation: str, b_factors=None
) -> list[float]:
    """|F|²/V² by the textbook sum, one reflection and one site at a time (pymatgen's tables)."""
    b_factors = b_factors or {}
    reciprocal = structure.lattice.reciprocal_lattice_crystallographic.matrix
    values = []
    for hkl in hkls:
        g = np.asarray(hkl, dtype=float) @ reciprocal
        s2 = float(g @ g) / 4.0
        total = 0j
        for site in structure:
            for species, occupancy in site.species.items():
                symbol = species.symbol
                if radiation == "xray":
                    coeffs = ATOMIC_SCATTERING_PARAMS[symbol]
                    amplitude = species.Z - 41.78214 * s2 * sum(a * math.exp(-b * s2) for a, b in coeffs)
                else:
                    amplitude = ATOMIC_SCATTERING_LEN[symbol]
                amplitude *= math.exp(-b_factors.get(symbol, 0.0) * s2)
                phase = 2 * math.pi * float(np.dot(hkl, site.frac_coords))
                total += occupancy * amplitude * cmath.exp(1j * phase)
        values.append(abs(total) ** 2 / structure.volume**2)
    return values


@pytest.mark.parametrize("radiation", ["xray", "neutron"])
@pytest.mark.parametrize("name", ["LiFePO4", "TiO2", "Li3V2(PO4)3", "Graphite", "La2CoO4F"])
def test_box_intensities_equal_reference(real_structures: dict, name: str, radiation: str) -> None:
    structure = real_structures[name]
    pattern = DiffractionCalculator(DiffractionSettings(radiation=radiation, cell="input")).compute(structure)
    expected = reference_intensities(structure, pattern.hkl, radiation)
    assert pattern.num_points == 343
    np.testing.assert_allclose(pattern.intensity, expected, rtol=1e-9, atol=1e-12 * max(expected))
    g_expected = pattern.hkl @ structure.lattice.reciprocal_lattice_crystallographic.matrix
    np.testing.assert_allclose(pattern.g, g_expected, atol=1e-12)
    np.testing.assert_allclose(pattern.lattice, structure.lattice.matrix)


def test_sphere_with_disorder_and_debye_waller_equals_reference() -> None:
    structure = Structure(
        Lattice.from_parameters(5.1, 6.3, 7.2, 81.0, 97.0, 104.0),
        [{"Fe": 0.6, "Ni": 0.3}, "O", {"Si": 0.5}, "O"],
        [[0.1, 0.2, 0.3], [0.45, 0.05, 0.7], [0.8, 0.6, 0.15], [0.3, 0.9, 0.55]],
    )
    b_factors = {"Fe": 0.5, "O": 1.1}
    settings = DiffractionSettings(wavelength="MoKa", cell="input", debye_waller=b_factors)
    pattern = DiffractionCalculator(settings).compute(structure)
    expected = reference_intensities(structure, pattern.hkl, "xray", b_factors)
    np.testing.assert_allclose(pattern.intensity, expected, rtol=1e-9, atol=1e-12 * max(expected))


def test_origin_carries_total_scattering_over_volume(real_structures: dict) -> None:
    structure = real_structures["LiFePO4"]
    for radiation, per_site in [
        ("xray", lambda sp: sp.Z),
        ("neutron", lambda sp: ATOMIC_SCATTERING_LEN[sp.symbol]),
    ]:
        pattern = DiffractionCalculator(DiffractionSettings(radiation=radiation)).compute(structure)
        origin = np.flatnonzero((pattern.hkl == 0).all(axis=1))
        assert origin.size == 1
        total = sum(per_site(sp) * occ for site in structure for sp, occ in site.species.items())
        # Σ/V is intensive: the same in the (symmetry-refined) primitive cell as in the input cell.
        assert pattern.intensity[origin[0]] == pytest.approx((total / structure.volume) ** 2, rel=1e-6)
        input_cell = DiffractionCalculator(DiffractionSettings(radiation=radiation, cell="input")).compute(
            structure
        )
        origin = np.flatnonzero((input_cell.hkl == 0).all(axis=1))[0]
        assert input_cell.intensity[origin] == pytest.approx((total / structure.volume) ** 2, rel=1e-12)
