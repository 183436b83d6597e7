"""Symmetry facts every correct diffraction engine obeys."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from scipy.spatial.transform import Rotation

from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings, scattering_model
from crystalgenome.diffraction.engine import structure_factors
from crystalgenome.diffraction.pointsets import limiting_sphere
from crystalgenome.structures import Cell

XRAY = scattering_model("xray")


def _intensity_of(pattern, hkl) -> float:
    row = np.flatnonzero((pattern.hkl == np.asarray(hkl)).all(axis=1))
    assert row.size == 1, f"{hkl} not in the point set"
    return float(pattern.intensity[row[0]])


def _conventional(structure: Structure, max_miller: int = 4):
    settings = DiffractionSettings(cell="conventional", max_miller=max_miller)
    return DiffractionCalculator(settings).compute(structure)


@pytest.fixture
def p1_structure() -> Structure:
    """A non-centrosymmetric triclinic crystal with four different elements."""
    return Structure(
        Lattice.from_parameters(4.1, 5.3, 6.2, 78.0, 95.0, 110.0),
        ["Zn", "S", "O", "Cu"],
        [[0.11, 0.23, 0.37], [0.61, 0.07, 0.83], [0.42, 0.77, 0.19], [0.9, 0.5, 0.6]],
    )


def test_friedel_law_from_independent_evaluation(p1_structure: Structure) -> None:
    """F(−h) = F(h)* computed separately for h and −h (no mirroring), so I(h) = I(−h)."""
    cell = Cell.from_structure(p1_structure)
    hkl = np.random.default_rng(0).integers(-5, 6, size=(200, 3))
    plus, minus = structure_factors(cell, hkl, XRAY), structure_factors(cell, -hkl, XRAY)
    np.testing.assert_allclose(minus, np.conj(plus), rtol=1e-12, atol=1e-9)
    pattern = DiffractionCalculator(DiffractionSettings(cell="input")).compute(p1_structure)
    np.testing.assert_allclose(pattern.intensity, pattern.intensity[::-1], rtol=1e-12)
    np.testing.assert_array_equal(pattern.hkl, -pattern.hkl[::-1])


def test_fcc_mixed_parity_absent() -> None:
    copper = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.615), ["Cu"], [[0, 0, 0]])
    pattern = _conventional(copper)
    parity = pattern.hkl % 2
    mixed = ~((parity == 0).all(axis=1) | (parity == 1).all(axis=1))
    strongest = pattern.intensity.max()
    assert mixed.sum() > 0
    assert pattern.intensity[mixed].max() < 1e-20 * strongest
    assert pattern.intensity[~mixed].min() > 1e-3 * strongest


def test_bcc_odd_sum_absent() -> None:
    iron = Structure.from_spacegroup("Im-3m", Lattice.cubic(2.87), ["Fe"], [[0, 0, 0]])
    pattern = _conventional(iron)
    odd = pattern.hkl.sum(axis=1) % 2 == 1
    assert pattern.intensity[odd].max() < 1e-20 * pattern.intensity.max()
    assert pattern.intensity[~odd].min() > 1e-3 * pattern.intensity.max()


def test_diamond_200_absent_111_present() -> None:
    silicon = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]])
    pattern = _conventional(silicon)
    strongest = pattern.intensity.max()
    for absent in ([2, 0, 0], [0, 2, 0], [0, 0, 2], [2, 2, 2], [4, 2, 0]):
        assert _intensity_of(pattern, absent) < 1e-20 * strongest
    for present in ([1, 1, 1], [2, 2, 0], [3, 1, 1], [4, 0, 0]):
        assert _intensity_of(pattern, present) > 1e-3 * strongest


def test_hcp_001_absent_002_present() -> None:
    magnesium = Structure.from_spacegroup(
        "P6_3/mmc", Lattice.hexagonal(3.21, 5.21), ["Mg"], [[1 / 3, 2 / 3, 0.25]]
    )
    pattern = _conventional(magnesium)
    strongest = pattern.intensity.max()
    assert _intensity_of(pattern, [0, 0, 1]) < 1e-20 * strongest
    assert _intensity_of(pattern, [0, 0, 3]) < 1e-20 * strongest
    assert _intensity_of(pattern, [0, 0, 2]) > 1e-3 * strongest
    assert _intensity_of(pattern, [1, 0, 0]) > 1e-3 * strongest


@pytest.mark.parametrize("cell", ["input", "primitive", "conventional"])
def test_invariant_under_site_permutation_and_translation(real_structures: dict, cell: str) -> None:
    structure = real_structures["LiFePO4"]
    calculator = DiffractionCalculator(DiffractionSettings(cell=cell))
    reference = calculator.compute(structure)
    order = np.random.default_rng(1).permutation(len(structure))
    permuted = Structure(
        structure.lattice, [structure[i].species for i in order], structure.frac_coords[order]
    )
    shifted = structure.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.137, -0.291, 0.413], frac_coords=True)
    for other in (permuted, shifted):
        result = calculator.compute(other)
        np.testing.assert_array_equal(result.hkl, reference.hkl)
        np.testing.assert_allclose(result.intensity, reference.intensity, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("cell", ["input", "primitive"])
def test_rotation_rotates_g_and_keeps_intensities(real_structures: dict, cell: str) -> None:
    structure = real_structures["TiO2"]
    rotation = Rotation.from_euler("zyx", [31.0, -47.0, 112.0], degrees=True).as_matrix()
    rotated = Structure(
        Lattice(structure.lattice.matrix @ rotation.T), structure.species, structure.frac_coords
    )
    calculator = DiffractionCalculator(DiffractionSettings(cell=cell, wavelength="CuKa"))
    before, after = calculator.compute(structure), calculator.compute(rotated)
    np.testing.assert_array_equal(after.hkl, before.hkl)
    np.testing.assert_allclose(after.g, before.g @ rotation.T, atol=1e-9)
    np.testing.assert_allclose(after.intensity, before.intensity, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", ["Si", "SrTiO3", "Li2O", "He_BCC"])
def test_primitive_and_conventional_agree_on_shared_points(real_structures: dict, name: str) -> None:
    """Where the two point sets share a reciprocal vector g, |F|²/V² is the same."""
    structure = real_structures[name]
    primitive = DiffractionCalculator(DiffractionSettings(cell="primitive", max_miller=4)).compute(structure)
    conventional = DiffractionCalculator(DiffractionSettings(cell="conventional", max_miller=3)).compute(
        structure
    )
    distance = np.linalg.norm(conventional.g[:, None, :] - primitive.g[None, :, :], axis=2)
    conv_rows, prim_rows = np.nonzero(distance < 1e-8)
    assert conv_rows.size >= 50
    np.testing.assert_allclose(
        conventional.intensity[conv_rows], primitive.intensity[prim_rows], rtol=1e-9, atol=1e-12
    )
    # Conventional points missing from the primitive lattice are exactly the centring absences.
    unmatched = np.setdiff1d(np.arange(conventional.num_points), conv_rows)
    in_primitive_box = np.abs(conventional.g[unmatched] @ primitive.lattice.T).max(axis=1) <= 4
    non_integer = (
        np.abs(
            np.round(conventional.g[unmatched] @ primitive.lattice.T)
            - conventional.g[unmatched] @ primitive.lattice.T
        ).max(axis=1)
        > 1e-6
    )
    assert np.all(non_integer | ~in_primitive_box)
    assert (
        conventional.intensity[unmatched[non_integer]].max(initial=0) < 1e-20 * conventional.intensity.max()
    )


def test_point_sets(real_structures: dict) -> None:
    structure = real_structures["LiFePO4"]
    for n in (1, 2, 3):
        pattern = DiffractionCalculator(DiffractionSettings(max_miller=n)).compute(structure)
        assert pattern.num_points == (2 * n + 1) ** 3
        assert np.abs(pattern.hkl).max() == n
    g_max = 2 / 1.54184
    reciprocal = structure.lattice.reciprocal_lattice_crystallographic
    expected = reciprocal.get_points_in_sphere([[0, 0, 0]], [0, 0, 0], g_max)
    hkl = limiting_sphere(structure.lattice.matrix, g_max, max_points=10**6)
    assert hkl.shape[0] == len(expected)
    assert {tuple(row) for row in hkl} == {tuple(np.round(p[0]).astype(int)) for p in expected}
    pattern = DiffractionCalculator(DiffractionSettings(wavelength="CuKa", cell="input")).compute(structure)
    assert pattern.g_norm.max() <= g_max
    assert pattern.num_points == len(expected)


def test_neutron_differs_from_xray_and_has_no_form_factor_falloff() -> None:
    nickel = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.52), ["Ni"], [[0, 0, 0]])
    neutron = DiffractionCalculator(DiffractionSettings(cell="conventional", radiation="neutron")).compute(
        nickel
    )
    allowed = neutron.intensity > 1e-10 * neutron.intensity.max()
    # One element, no Debye-Waller: every allowed reflection has |F| = 4 b exactly.
    np.testing.assert_allclose(neutron.intensity[allowed], (4 * 10.3 / nickel.volume) ** 2, rtol=1e-12)
    xray = _conventional(nickel, max_miller=3)
    falloff = xray.intensity[allowed][np.argsort(xray.g_norm[allowed])]
    assert falloff[1] > falloff[-1] * 2


def test_unit_scattering_is_chemistry_free() -> None:
    """With f = 1, swapping the elements leaves the pattern unchanged; the origin is (n/V)²."""
    lattice = Lattice.from_parameters(4.1, 5.3, 6.2, 78.0, 95.0, 110.0)
    coords = [[0.11, 0.23, 0.37], [0.61, 0.07, 0.83], [0.42, 0.77, 0.19]]
    settings = DiffractionSettings(radiation="unit", cell="input")
    first = DiffractionCalculator(settings).compute(Structure(lattice, ["Zn", "S", "O"], coords))
    second = DiffractionCalculator(settings).compute(Structure(lattice, ["U", "H", "Fe"], coords))
    np.testing.assert_allclose(first.intensity, second.intensity, rtol=1e-12)
    assert first.intensity[first.num_points // 2] == pytest.approx((3 / lattice.volume) ** 2)
    xray = DiffractionCalculator(DiffractionSettings(cell="input")).compute(
        Structure(lattice, ["Zn", "S", "O"], coords)
    )
    assert not np.allclose(xray.intensity / xray.intensity.max(), first.intensity / first.intensity.max())


def test_electron_factors_obey_mott_bethe() -> None:
    """f_e(s) = (Z − f_x(s)) / (41.78214 s²) for s > 0 (Mott–Bethe), finite at s = 0, and heavier
    atoms scatter electrons more weakly relative to Z than X-rays (f_e/Z falls from Li to Pb)."""
    from crystalgenome.diffraction import scattering_model

    s_squared = np.array([0.01, 0.05, 0.2, 1.0])
    symbols = ["Li", "O", "Fe", "Pb"]
    z = np.array([3.0, 8.0, 26.0, 82.0])
    xray = scattering_model("xray").amplitudes(symbols, s_squared)
    electron = scattering_model("electron").amplitudes(symbols, s_squared)
    np.testing.assert_allclose(electron * 41.78214 * s_squared, z[:, None] - xray, rtol=1e-10)
    at_zero = scattering_model("electron").amplitudes(symbols, np.zeros(1))[:, 0]
    assert np.all(np.isfinite(at_zero)) and np.all(at_zero > 0)
    assert at_zero[0] / z[0] > at_zero[-1] / z[-1]
