"""Pattern descriptors against independent references: pymatgen cell parameters and densities, direct
sums over the reflections, exact rotation invariance; composition against known fractions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from crystalgenome.descriptors import (
    PROBES,
    PatternClouds,
    PatternDescriptor,
    composition_names,
    element_fractions,
    reciprocal_metric,
)
from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
from tests.conftest import bundled_structures


def _clouds(structures: list[Structure], settings: DiffractionSettings | None = None) -> PatternClouds:
    settings = settings or DiffractionSettings()
    patterns = {
        probe: [DiffractionCalculator(replace(settings, radiation=probe)).compute(s) for s in structures]
        for probe in PROBES
    }
    width = max(p.num_points for p in patterns["xray"])
    mask = np.zeros((len(structures), width), dtype=bool)
    points = {}
    for probe, found in patterns.items():
        cloud = np.zeros((len(structures), width, 7), dtype=np.float32)
        for row, pattern in enumerate(found):
            cloud[row, : pattern.num_points, :4] = pattern.point_cloud()
            cloud[row, : pattern.num_points, 4:] = pattern.hkl
            mask[row, : pattern.num_points] = True
        points[probe] = cloud
    return PatternClouds(points, mask)


@pytest.fixture(scope="module")
def structures() -> list[Structure]:
    found = bundled_structures()
    return [found[name] for name in sorted(found)[:8]]


def _column(descriptor: PatternDescriptor, values: np.ndarray, name: str) -> np.ndarray:
    return values[:, descriptor.names().index(name)]


def test_names_match_columns(structures: list[Structure]) -> None:
    clouds = _clouds(structures[:3])
    for descriptor in (PatternDescriptor.baseline(), PatternDescriptor.rich()):
        values = descriptor.compute(clouds)
        assert values.shape == (3, len(descriptor.names()))
        assert len(set(descriptor.names())) == len(descriptor.names())
    assert 65 <= len(PatternDescriptor.baseline().names()) <= 80  # the "~70-number summary"


def test_volume_per_atom_and_cell_match_pymatgen(structures: list[Structure]) -> None:
    """The unit probe's origin gives N/V; the least-squares metric gives the diffracted cell."""
    settings = DiffractionSettings(cell="input")
    clouds = _clouds(structures, settings)
    descriptor = PatternDescriptor(contrasts=True)
    values = descriptor.compute(clouds)
    expected = [np.log(s.volume / s.composition.num_atoms) for s in structures]
    np.testing.assert_allclose(_column(descriptor, values, "ln_volume_per_atom"), expected, rtol=1e-4)
    for row, structure in enumerate(structures):
        lengths = [_column(descriptor, values, f"a_sorted_{i}")[row] for i in (1, 2, 3)]
        angles = [_column(descriptor, values, f"angle_sorted_{i}")[row] for i in (1, 2, 3)]
        np.testing.assert_allclose(lengths, sorted(structure.lattice.abc), rtol=1e-4)
        np.testing.assert_allclose(angles, sorted(structure.lattice.angles), atol=1e-3)


def test_metric_of_a_known_cell() -> None:
    lattice = Lattice.from_parameters(3.0, 4.0, 5.0, 80.0, 95.0, 110.0)
    structure = Structure(lattice, ["Si"], [[0, 0, 0]])
    clouds = _clouds([structure], DiffractionSettings(cell="input"))
    metric = reciprocal_metric(clouds.g, clouds.hkl, clouds.mask)[0]
    np.testing.assert_allclose(metric, lattice.matrix @ lattice.matrix.T, rtol=1e-5, atol=1e-5)


def test_descriptors_do_not_depend_on_the_inputs_orientation(structures: list[Structure]) -> None:
    from scipy.spatial.transform import Rotation

    rotated = []
    for seed, structure in enumerate(structures):
        matrix = Rotation.random(random_state=seed).as_matrix()
        lattice = Lattice(structure.lattice.matrix @ matrix.T)
        rotated.append(Structure(lattice, structure.species_and_occu, structure.frac_coords))
    settings = DiffractionSettings(cell="input")  # no standardisation: the cloud itself is rotated
    descriptor = PatternDescriptor.rich()
    first = descriptor.compute(_clouds(structures, settings))
    second = descriptor.compute(_clouds(rotated, settings))
    np.testing.assert_allclose(first, second, rtol=2e-4, atol=2e-4)


def test_profile_and_reflection_list_against_direct_sums(structures: list[Structure]) -> None:
    clouds = _clouds(structures[:4])
    descriptor = PatternDescriptor(shells=16, reflections=5)
    values = descriptor.compute(clouds)
    intensity = clouds.intensity("xray")
    g_norm = np.linalg.norm(clouds.g, axis=-1)
    for row in range(4):
        real = clouds.mask[row] & (g_norm[row] > 0)
        # each Friedel pair counted once: half of the total intensity off the origin
        half_total = intensity[row][real].sum() / 2
        profile = [_column(descriptor, values, f"profile_xray_{i}")[row] for i in range(16)]
        assert np.sum(np.exp(profile) - 1e-8) == pytest.approx(half_total, rel=1e-4)
        assert _column(descriptor, values, "g_0")[row] == pytest.approx(g_norm[row][real].min(), rel=1e-5)
        nearest = g_norm[row][real].min()
        strongest = intensity[row][real & np.isclose(g_norm[row], nearest, rtol=1e-6)].max()
        origin = intensity[row][clouds.mask[row] & (g_norm[row] == 0)][0]
        assert np.exp(_column(descriptor, values, "ln_rel_I_xray_0")[row]) == pytest.approx(
            strongest / origin + 1e-8, rel=1e-4
        )


def test_mean_scattering_power_is_the_mean_atomic_number() -> None:
    """½ ln(I_xray(000)/I_unit(000)) = ln(ΣZ/N): f(0) = Z for X-rays."""
    lattice = Lattice.cubic(5.64)
    structure = Structure.from_spacegroup("Fm-3m", lattice, ["Na", "Cl"], [[0, 0, 0], [0.5, 0, 0]])
    descriptor = PatternDescriptor(probes=("xray", "unit"), patterson=4)
    values = descriptor.compute(_clouds([structure]))
    assert np.exp(_column(descriptor, values, "ln_mean_f_xray")[0]) == pytest.approx((11 + 17) / 2, rel=1e-3)


def test_patterson_peaks_near_the_nearest_neighbour_distance() -> None:
    """Unit scatterers on a simple cubic lattice (a = 3 Å): the averaged Patterson function has local
    maxima at the first two neighbour distances, a and a√2."""
    structure = Structure(Lattice.cubic(3.0), ["Cu"], [[0, 0, 0]])
    descriptor = PatternDescriptor(probes=("unit",), shells=0, patterson=46, r_max=5.0)
    values = descriptor.compute(_clouds([structure], DiffractionSettings(cell="input", max_miller=4)))
    radii = np.linspace(0.5, 5.0, 46)
    curve = np.array([_column(descriptor, values, f"patterson_unit_{i}")[0] for i in range(46)])
    peaks = radii[1:-1][(curve[1:-1] > curve[:-2]) & (curve[1:-1] > curve[2:])]
    for distance in (3.0, 3.0 * np.sqrt(2)):
        assert np.abs(peaks - distance).min() <= 0.15, peaks


def test_a_probe_that_could_not_see_a_structure_gives_nan(structures: list[Structure]) -> None:
    clouds = _clouds(structures[:2])
    neutron = clouds.points["neutron"].copy()
    neutron[1, :, 3] = np.nan
    damaged = PatternClouds({**clouds.points, "neutron": neutron}, clouds.mask)
    descriptor = PatternDescriptor.rich()
    values = descriptor.compute(damaged)
    names = descriptor.names()
    neutron_columns = [i for i, name in enumerate(names) if "neutron" in name]
    assert np.isnan(values[1, neutron_columns]).all()
    assert not np.isnan(values[0, neutron_columns]).any()
    xray_profile = [i for i, name in enumerate(names) if name.startswith("profile_xray")]
    assert not np.isnan(values[:, xray_profile]).any()


def test_clouds_of_other_reflections_are_refused(structures: list[Structure]) -> None:
    clouds = _clouds(structures[:2])
    shuffled = clouds.points["neutron"][:, ::-1].copy()
    with pytest.raises(ValueError, match="same reflections"):
        PatternClouds({**clouds.points, "neutron": shuffled}, clouds.mask)
    with pytest.raises(KeyError, match="unit"):
        PatternDescriptor().compute(PatternClouds({"xray": clouds.points["xray"]}, clouds.mask))


def test_descriptor_round_trips_through_json(tmp_path) -> None:
    descriptor = PatternDescriptor.rich()
    descriptor.to_json(tmp_path / "d.json")
    assert PatternDescriptor.from_json(tmp_path / "d.json") == descriptor
    with pytest.raises(ValueError, match="probes"):
        PatternDescriptor(probes=("muon",))


def test_element_fractions() -> None:
    fractions = element_fractions(["Fe2O3", "NaCl"])
    names = composition_names()
    assert fractions[0, names.index("frac_Fe")] == pytest.approx(0.4)
    assert fractions[0, names.index("frac_O")] == pytest.approx(0.6)
    assert fractions[1].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Xx9"):
        element_fractions(["Xx9"])
