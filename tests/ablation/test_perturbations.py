"""Each perturbation of the input on real diffraction patterns: what it keeps, what it destroys."""

from __future__ import annotations

import numpy as np
import pytest

from crystalgenome.ablation import PERTURBATIONS, PointClouds, get_perturbation, resolve_perturbations
from crystalgenome.ablation.data import displace_atoms, noisy_clouds
from crystalgenome.ablation.perturbations import BINARY_THRESHOLD
from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
from crystalgenome.structures import Cell


def _structures() -> dict[str, Cell]:
    from pymatgen.core import Lattice, Structure

    made = {
        "Si": Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]),
        "NaCl": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "CsCl": Structure.from_spacegroup(
            "Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "Mg": Structure.from_spacegroup(
            "P6_3/mmc", Lattice.hexagonal(3.21, 5.21), ["Mg"], [[1 / 3, 2 / 3, 0.25]]
        ),
        "TiO2": Structure.from_spacegroup(
            "P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]
        ),
    }
    return {name: Cell.from_structure(structure) for name, structure in made.items()}


@pytest.fixture(scope="module")
def cells() -> dict[str, Cell]:
    return _structures()


@pytest.fixture(scope="module")
def clouds(cells: dict[str, Cell]) -> PointClouds:
    """Real X-ray patterns (primitive cells, Miller box N = 3) of five structures, repeated to 40 samples."""
    calculator = DiffractionCalculator(DiffractionSettings())
    patterns = [calculator.compute(cell, name=name) for name, cell in cells.items()] * 8
    return PointClouds(
        points=np.stack([p.point_cloud(np.float32) for p in patterns]),
        mask=np.ones((len(patterns), 343), dtype=bool),
        hkl=np.stack([p.hkl for p in patterns]).astype(np.int16),
    )


def _apply(name: str, clouds: PointClouds, seed: int = 0) -> PointClouds:
    return get_perturbation(name).apply(clouds, seed)


def test_table_and_names() -> None:
    expected = [
        *("baseline", "intensity_scaled", "intensity_binary", "no_intensity", "miller_1", "miller_2"),
        *("lattice_4", "lattice_3", "rotation_0", "rotation_30", "rotation_180", "neutron", "chemistry_free"),
        *("positional_noise_0.05", "positional_noise_0.1", "dropout_0.1", "dropout_0.3", "fc_hkl"),
        "fc_hkl_permuted",
    ]
    assert list(PERTURBATIONS) == expected
    assert [p.name for p in resolve_perturbations("all")] == expected
    assert [p.name for p in resolve_perturbations("miller_1, dropout_0.5,miller_1")] == [
        "baseline",
        "miller_1",
        "dropout_0.5",
    ]
    assert get_perturbation("rotation_45").rotation_range == 45.0
    assert get_perturbation("rotation_45").test_time_rotations == 0
    assert get_perturbation("positional_noise_0.2").positional_noise == pytest.approx(0.2)
    assert get_perturbation("chemistry_free").radiation == "unit"
    assert get_perturbation("neutron").radiation == "neutron"
    assert get_perturbation("fc_hkl_permuted").model == "fc"
    for bad in ("nonsense", "dropout_1.5", "rotation_200", "miller_x"):
        with pytest.raises(ValueError, match="perturbation"):
            get_perturbation(bad)


def test_baseline_is_identity(clouds: PointClouds) -> None:
    assert _apply("baseline", clouds) is clouds


def test_intensity_scaled_one_random_factor_per_sample(clouds: PointClouds) -> None:
    scaled = _apply("intensity_scaled", clouds)
    np.testing.assert_array_equal(scaled.points[..., :3], clouds.points[..., :3])
    positive = clouds.points[..., 3] > 1e-12
    ratio = np.where(positive, scaled.points[..., 3] / np.where(positive, clouds.points[..., 3], 1), np.nan)
    factors = np.nanmedian(ratio, axis=1)
    np.testing.assert_allclose(np.nanmax(ratio, axis=1), factors, rtol=1e-5)  # one factor per sample
    np.testing.assert_allclose(np.nanmin(ratio, axis=1), factors, rtol=1e-5)
    assert np.log10(factors).max() - np.log10(factors).min() > 2.0  # spread over decades
    assert np.all(np.abs(np.log10(factors)) <= 3.0 + 1e-6)
    np.testing.assert_array_equal(
        _apply("intensity_scaled", clouds, 0).points, scaled.points
    )  # fixed per run
    assert not np.array_equal(_apply("intensity_scaled", clouds, 1).points, scaled.points)  # fresh per seed


def test_intensity_binary_keeps_only_absences(clouds: PointClouds) -> None:
    binary = _apply("intensity_binary", clouds)
    values = binary.points[..., 3]
    assert set(np.unique(values)) == {0.0, 1.0}
    relative = clouds.points[..., 3] / clouds.points[..., 3].max(axis=1, keepdims=True)
    np.testing.assert_array_equal(values == 1.0, relative > BINARY_THRESHOLD)
    si = 0  # diamond: the d-glide forbids reflections (e.g. conventional (200), (222)) in any cell
    assert (values[si] == 0).sum() > 10
    cscl = 2  # primitive cubic with two different atoms: no systematic absence at all
    assert np.all(values[cscl] == 1)
    np.testing.assert_array_equal(binary.points[..., :3], clouds.points[..., :3])


def test_no_intensity_zeroes_the_channel(clouds: PointClouds) -> None:
    stripped = _apply("no_intensity", clouds)
    assert np.all(stripped.points[..., 3] == 0)
    np.testing.assert_array_equal(stripped.points[..., :3], clouds.points[..., :3])
    np.testing.assert_array_equal(stripped.mask, clouds.mask)


@pytest.mark.parametrize(
    ("name", "count", "bound"), [("miller_1", 27, 1), ("miller_2", 125, 2), ("miller_3", 343, 3)]
)
def test_miller_subsets(clouds: PointClouds, name: str, count: int, bound: int) -> None:
    subset = _apply(name, clouds)
    assert subset.points.shape == (len(clouds), count, 4)
    assert subset.mask.all()
    assert np.abs(subset.hkl).max() == bound
    # every kept point is the original reflection with the same hkl, in the same (lexicographic) order
    original = {tuple(h): i for i, h in enumerate(clouds.hkl[0])}
    columns = [original[tuple(h)] for h in subset.hkl[0]]
    np.testing.assert_array_equal(subset.points, clouds.points[:, columns])
    assert columns == sorted(columns)


def test_miller_beyond_the_data_fails(clouds: PointClouds) -> None:
    with pytest.raises(ValueError, match="Miller box only reaches N = 3"):
        _apply("miller_4", clouds)


def test_lattice_only_sets(clouds: PointClouds, cells: dict[str, Cell]) -> None:
    four = _apply("lattice_4", clouds)
    three = _apply("lattice_3", clouds)
    assert four.points.shape[1] == 4 and three.points.shape[1] == 3
    assert {tuple(h) for h in four.hkl[0]} == {(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)}
    assert {tuple(h) for h in three.hkl[0]} == {(1, 0, 0), (0, 1, 0), (0, 0, 1)}
    # the three points are the reciprocal basis vectors a*, b*, c* of the diffracted cell
    calculator = DiffractionCalculator(DiffractionSettings())
    reciprocal = calculator.prepare_cell(cells["TiO2"], "TiO2")[0].reciprocal
    tio2 = 4
    np.testing.assert_allclose(
        three.points[tio2, :, :3] @ np.linalg.inv(reciprocal), three.hkl[tio2], atol=1e-5
    )


def test_chemistry_free_drops_the_origin(clouds: PointClouds) -> None:
    free = _apply("chemistry_free", clouds)
    assert free.points.shape[1] == 342
    assert not np.any(np.all(free.hkl == 0, axis=2))
    kept = ~np.all(clouds.hkl == 0, axis=2)
    np.testing.assert_array_equal(free.points, clouds.points[kept].reshape(len(clouds), 342, 4))


def test_dropout_removes_a_fraction_via_the_mask(clouds: PointClouds) -> None:
    dropped = _apply("dropout_0.3", clouds)
    assert dropped.points.shape == clouds.points.shape
    assert abs((~dropped.mask).mean() - 0.3) < 0.02
    assert np.all(dropped.points[~dropped.mask] == 0)
    np.testing.assert_array_equal(dropped.points[dropped.mask], clouds.points[dropped.mask])
    # the missing points differ between samples and between seeds, but not between calls of one run
    assert not np.array_equal(dropped.mask[0], dropped.mask[5])
    np.testing.assert_array_equal(_apply("dropout_0.3", clouds, 0).mask, dropped.mask)
    assert not np.array_equal(_apply("dropout_0.3", clouds, 1).mask, dropped.mask)
    almost_all = _apply("dropout_0.999", clouds)
    assert almost_all.mask.any(axis=1).all()  # every cloud keeps at least one point


def test_permuted_order_keeps_each_cloud(clouds: PointClouds) -> None:
    permuted = _apply("fc_hkl_permuted", clouds)
    assert not np.array_equal(permuted.hkl[0], permuted.hkl[5])  # samples 0 and 5 are the same structure
    for sample in (0, 7):
        order = np.lexsort(permuted.hkl[sample].T[::-1])
        np.testing.assert_array_equal(permuted.hkl[sample][order], clouds.hkl[sample])
        np.testing.assert_array_equal(permuted.points[sample][order], clouds.points[sample])


def test_positional_noise_without_noise_reproduces_the_engine(cells: dict[str, Cell]) -> None:
    settings = DiffractionSettings()
    calculator = DiffractionCalculator(settings)
    standard = [calculator.prepare_cell(cell, name)[0] for name, cell in cells.items()]
    exact, ok = noisy_clouds(standard, sigma=0.0, seed=0, settings=settings, width=343)
    assert ok.all()
    expected = np.stack(
        [calculator.compute(cell, name).point_cloud(np.float32) for name, cell in cells.items()]
    )
    np.testing.assert_allclose(exact.points, expected, rtol=1e-5, atol=1e-12)
    noisy, _ = noisy_clouds(standard, sigma=0.1, seed=0, settings=settings, width=343)
    np.testing.assert_allclose(
        noisy.points[..., :3], expected[..., :3], rtol=1e-6
    )  # the lattice is unchanged
    intensity_change = np.abs(noisy.points[..., 3] - expected[..., 3]) / expected[..., 3].max(
        axis=1, keepdims=True
    )
    assert intensity_change.max() > 1e-3  # the structure factors are not
    again, _ = noisy_clouds(standard, sigma=0.1, seed=0, settings=settings, width=343)
    np.testing.assert_array_equal(again.points, noisy.points)


def test_displacements_have_the_requested_size(cells: dict[str, Cell]) -> None:
    cell = cells["NaCl"]
    big = Cell(lattice=cell.lattice * 1.0, frac_coords=np.tile(cell.frac_coords, (2000, 1)),
               types=np.tile(cell.types, 2000), compositions=cell.compositions)  # fmt: skip
    moved = displace_atoms(big, 0.05, np.random.default_rng(0))
    cartesian = (moved.frac_coords - big.frac_coords) @ big.lattice
    assert cartesian.std(axis=0) == pytest.approx([0.05] * 3, rel=0.05)
    assert abs(cartesian.mean()) < 0.005
