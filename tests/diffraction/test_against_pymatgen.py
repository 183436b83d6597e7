"""The powder projection reproduces pymatgen's XRDCalculator and NDCalculator peak by peak."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffraction.neutron import NDCalculator
from pymatgen.analysis.diffraction.xrd import XRDCalculator

from crystalgenome.diffraction import (
    DiffractionCalculator,
    DiffractionSettings,
    powder_pattern,
    resolve_wavelength,
)

REFERENCES = {"xray": XRDCalculator, "neutron": NDCalculator}


def _compare(structure, radiation: str, wavelength: str | float) -> None:
    reference = REFERENCES[radiation](wavelength=resolve_wavelength(wavelength))
    reference = reference.get_pattern(structure, two_theta_range=None)
    calculator = DiffractionCalculator(
        DiffractionSettings(radiation=radiation, wavelength=wavelength, cell="input")
    )
    ours = powder_pattern(calculator.compute(structure))
    assert ours.two_theta.shape == (len(reference.x),)
    np.testing.assert_allclose(ours.two_theta, reference.x, rtol=1e-9, atol=0)
    np.testing.assert_allclose(ours.intensity, reference.y, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.d_spacing, reference.d_hkls, rtol=1e-9)


def test_enough_real_structures(real_structures: dict) -> None:
    """The comparison covers pymatgen's bundled structures (and ≥ 30 with the shared MP data)."""
    assert len(real_structures) >= 21


@pytest.mark.parametrize("radiation", ["xray", "neutron"])
def test_powder_matches_pymatgen(real_structures: dict, radiation: str) -> None:
    compared = 0
    for name, structure in real_structures.items():
        elements = {el.symbol for el in structure.composition}
        calculator = DiffractionCalculator(DiffractionSettings(radiation=radiation, cell="input"))
        if not all(calculator.model.known(symbol) for symbol in elements):
            continue
        try:
            _compare(structure, radiation, "CuKa")
        except AssertionError as error:
            raise AssertionError(f"{name} ({radiation}): {error}") from None
        compared += 1
    assert compared >= min(30, len(real_structures) - 2)


@pytest.mark.parametrize("wavelength", ["MoKa", 2.2897])
def test_other_wavelengths(real_structures: dict, wavelength: str | float) -> None:
    for name in ["Si", "LiFePO4", "SrTiO3", "TiO2"]:
        _compare(real_structures[name], "xray", wavelength)


def test_debye_waller_matches_pymatgen(real_structures: dict) -> None:
    structure = real_structures["SrTiO3"]
    factors = {"Sr": 0.6, "Ti": 0.4, "O": 0.9}
    reference = XRDCalculator(debye_waller_factors=factors).get_pattern(structure, two_theta_range=None)
    settings = DiffractionSettings(wavelength="CuKa", cell="input", debye_waller=factors)
    ours = powder_pattern(DiffractionCalculator(settings).compute(structure))
    np.testing.assert_allclose(ours.two_theta, reference.x, rtol=1e-9)
    np.testing.assert_allclose(ours.intensity, reference.y, rtol=1e-6, atol=1e-9)


def test_partial_occupancy_matches_pymatgen(real_structures: dict) -> None:
    structure = real_structures["LiFePO4"].copy()
    structure.replace_species({"Fe": {"Fe": 0.5, "Mn": 0.5}})
    structure.replace_species({"Li": {"Li": 0.75}})
    for radiation in ("xray", "neutron"):
        _compare(structure, radiation, "CuKa")
