"""The lattice frame: clouds read in their lattice's standard orientation, exactly rotation invariant."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice
from scipy.spatial.transform import Rotation

from crystalgenome.model import ModelConfig, PointNet
from crystalgenome.model.pointnet import cell_contrasts, standard_frame

LATTICES = {
    "triclinic": Lattice.from_parameters(4.1, 5.3, 7.2, 81.0, 97.0, 112.0),
    "monoclinic": Lattice.from_parameters(5.0, 6.1, 8.4, 90.0, 104.5, 90.0),
    "hexagonal": Lattice.hexagonal(3.2, 5.2),
    "cubic": Lattice.cubic(4.05),
}


def _miller_box(max_index: int = 3) -> np.ndarray:
    axis = np.arange(-max_index, max_index + 1)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def _cloud(lattice: Lattice, rotation: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 343, 3) g (Å⁻¹, crystallographic, optionally rotated) and the Miller indices, float64."""
    hkl = _miller_box()
    g = hkl @ lattice.reciprocal_lattice_crystallographic.matrix
    if rotation is not None:
        g = g @ rotation.T
    return torch.from_numpy(g)[None], torch.from_numpy(hkl).double()[None]


def _index(hkl: tuple[int, int, int]) -> int:
    return int(np.flatnonzero((_miller_box() == hkl).all(axis=1))[0])


@pytest.mark.parametrize("name", sorted(LATTICES))
def test_cell_shape_matches_pymatgen_lattice_parameters(name: str) -> None:
    lattice = LATTICES[name]
    _, cell = standard_frame(*_cloud(lattice, Rotation.random(random_state=3).as_matrix()))
    np.testing.assert_allclose(cell[0, :3].exp().numpy(), lattice.abc, rtol=1e-10)
    np.testing.assert_allclose(cell[0, 3:].numpy(), np.cos(np.radians(lattice.angles)), atol=1e-10)


@pytest.mark.parametrize("name", sorted(LATTICES))
def test_standard_orientation_a_along_x_b_in_xy_plane(name: str) -> None:
    """a ∥ x and b ⊥ z mean b* ⊥ x (b*·a = 0) and c* ∥ z (c* ⊥ a, b); |g| is preserved."""
    coordinates, hkl = _cloud(LATTICES[name], Rotation.random(random_state=5).as_matrix())
    standard, _ = standard_frame(coordinates, hkl)
    b_star, c_star = standard[0, _index((0, 1, 0))], standard[0, _index((0, 0, 1))]
    assert abs(float(b_star[0])) < 1e-12
    assert abs(float(c_star[0])) < 1e-12 and abs(float(c_star[1])) < 1e-12 and float(c_star[2]) > 0
    torch.testing.assert_close(standard.norm(dim=-1), coordinates.norm(dim=-1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_exactly_invariant_to_rotations_and_reflections(seed: int) -> None:
    lattice = LATTICES["triclinic"]
    reference, _ = standard_frame(*_cloud(lattice))
    rotation = Rotation.random(random_state=seed).as_matrix()
    for matrix in (rotation, -rotation):  # a proper rotation, then an improper one
        transformed, _ = standard_frame(*_cloud(lattice, matrix))
        torch.testing.assert_close(transformed, reference, rtol=0, atol=1e-12)


def test_padded_points_add_nothing() -> None:
    coordinates, hkl = _cloud(LATTICES["monoclinic"])
    padded = (torch.cat([coordinates, torch.zeros(1, 20, 3)], 1), torch.cat([hkl, torch.zeros(1, 20, 3)], 1))
    standard, cell = standard_frame(*padded)
    expected, expected_cell = standard_frame(coordinates, hkl)
    torch.testing.assert_close(standard[:, :343], expected)
    torch.testing.assert_close(cell, expected_cell)
    assert torch.all(standard[:, 343:] == 0)


def test_rank_deficient_miller_indices_are_an_error() -> None:
    hkl = torch.tensor([[[1.0, 0, 0], [2, 0, 0], [0, 1, 0]]])
    with pytest.raises(ValueError, match="span three dimensions"):
        standard_frame(torch.randn(1, 3, 3), hkl)


def _pointnet_inputs(rotation: np.ndarray | None) -> torch.Tensor:
    """Two clouds (7 channels: g, intensity, h, k, l), float32 as the network receives them."""
    clouds = []
    for index, name in enumerate(("hexagonal", "triclinic")):
        coordinates, hkl = _cloud(LATTICES[name], rotation)
        intensity = torch.rand(1, hkl.shape[1], 1, generator=torch.Generator().manual_seed(index))
        clouds.append(torch.cat([coordinates / 5, intensity.double(), hkl], dim=-1))
    return torch.cat(clouds).float()


@pytest.mark.parametrize(("contrasts", "mirror"), [(False, False), (True, False), (True, True)])
def test_lattice_pointnet_is_exactly_rotation_invariant(contrasts: bool, mirror: bool) -> None:
    torch.manual_seed(0)
    config = ModelConfig.packaged("lattice").replace(
        num_classes=7, cell_contrasts=contrasts, mirror_contrast=mirror
    )
    model = PointNet(config).eval()
    expected = model(_pointnet_inputs(None))
    for seed in range(3):
        rotated = model(_pointnet_inputs(Rotation.random(random_state=seed).as_matrix()))
        torch.testing.assert_close(rotated, expected, rtol=1e-4, atol=1e-5)
    default = PointNet(ModelConfig.packaged("default").replace(num_classes=7)).eval()
    plain, turned = (
        default(_pointnet_inputs(r)[..., :4]) for r in (None, Rotation.random(random_state=0).as_matrix())
    )
    assert not torch.allclose(plain, turned, atol=1e-3)  # the input-frame model is not invariant


def test_cell_contrasts_mark_special_metrics() -> None:
    """Equal lengths, 90° and 120° angles give ≈ −1; a general triclinic cell stays well above."""
    cells = []
    for lattice in (Lattice.tetragonal(3.9, 6.1), LATTICES["hexagonal"], LATTICES["triclinic"]):
        _, cell = standard_frame(*_cloud(lattice, Rotation.random(random_state=7).as_matrix()))
        cells.append(cell)
    tetragonal, hexagonal, triclinic = cell_contrasts(torch.cat(cells))
    exact = -0.99
    assert tetragonal[0] < exact and (tetragonal[3:6] < exact).all()  # a = b; α = β = γ = 90°
    assert tetragonal[1] > -0.3 and tetragonal[2] > -0.3  # b ≠ c, a ≠ c
    assert hexagonal[0] < exact and hexagonal[3] < exact and hexagonal[4] < exact and hexagonal[8] < exact
    assert (triclinic > -0.6).all()


def _hexagonal_cloud(intensity: torch.Tensor) -> torch.Tensor:
    coordinates, hkl = _cloud(LATTICES["hexagonal"], Rotation.random(random_state=2).as_matrix())
    return torch.cat([coordinates / 5, intensity[None, :, None].double(), hkl], dim=-1).float()


@pytest.mark.parametrize("half", [False, True])
def test_mirror_contrast_is_zero_exactly_for_mirror_symmetric_patterns(half: bool) -> None:
    """The mirror through the lattice frame's ab plane maps (h, k, l) to (h, k, −l) for a hexagonal cell.
    A half-cloud model assumes Friedel's law, so its asymmetric pattern obeys it (I(h) = I(−h))."""
    torch.manual_seed(0)
    model = PointNet(ModelConfig.packaged("lattice").replace(mirror_contrast=True, friedel_half=half)).eval()
    hkl = torch.from_numpy(_miller_box())
    symmetric = (hkl[:, 0] ** 2 + hkl[:, 1] ** 2 + 0.5 * hkl[:, 2] ** 2 + 1).reciprocal().float()
    breaks = hkl[:, 0] * hkl[:, 2] > 0 if half else (hkl[:, 2] > 0) * (hkl[:, 0] != 0)
    asymmetric = symmetric * (1 + 0.5 * breaks)
    width = model.config.point_widths[-1]
    captured = {}
    model.head.register_forward_pre_hook(lambda _, args: captured.update(pooled=args[0]))
    model(torch.cat([_hexagonal_cloud(symmetric), _hexagonal_cloud(asymmetric)]))
    difference = captured["pooled"][:, width : 2 * width]
    assert difference[0].abs().max() < 1e-5
    assert difference[1].abs().max() > 1e-3


def test_inputs_without_miller_indices_are_refused() -> None:
    model = PointNet(ModelConfig.packaged("lattice")).eval()
    with pytest.raises(ValueError, match=r"reads 7 channels per point .*Miller indices.*got 4"):
        model(torch.randn(2, 10, 4))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="7\\+ input channels"):
        ModelConfig(frame="lattice", in_channels=4)
    with pytest.raises(ValueError, match="cell_features"):
        ModelConfig(cell_features=True)
    with pytest.raises(ValueError, match="frame"):
        ModelConfig(frame="crystal")
    with pytest.raises(ValueError, match="mirror_contrast needs frame='lattice'"):
        ModelConfig(mirror_contrast=True)
    with pytest.raises(ValueError, match="cell_contrasts needs cell_features"):
        ModelConfig(frame="lattice", in_channels=7, cell_contrasts=True)
    config = ModelConfig.packaged("lattice")
    assert (config.needs_hkl, config.point_channels, config.cell_features) == (True, 4, True)
    assert (ModelConfig().needs_hkl, ModelConfig().point_channels) == (False, 4)
