"""Friedel half-clouds: a half-cloud model gives the full cloud's prediction from half the points;
lattice frames computed once equal those computed per batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalgenome.model import ModelConfig, PointNet, friedel_half, lattice_inputs
from crystalgenome.model.friedel import canonical_signs, is_canonical
from crystalgenome.training.trainer import precompute_frames

TIGHT = {"rtol": 1e-5, "atol": 1e-6}
BOX = 3


def _miller_box(max_index: int = BOX) -> np.ndarray:
    """(M, 3) Miller indices, Friedel-ordered like the engine's patterns: row M−1−i = −row i."""
    axis = np.arange(-max_index, max_index + 1)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def _clouds(count: int, seed: int = 0) -> torch.Tensor:
    """(count, 343, 7) Friedel-symmetric normalised clouds: g of random lattices, I(h) = I(−h), hkl."""
    rng = np.random.default_rng(seed)
    hkl = _miller_box()
    bases = rng.uniform(0.1, 0.3, (count, 3, 1)) * (np.eye(3) + rng.normal(0, 0.25, (count, 3, 3)))
    g = np.einsum("pk,nkj->npj", hkl, bases)
    intensity = rng.uniform(0, 1, (count, hkl.shape[0], 1))
    intensity = (intensity + intensity[:, ::-1]) / 2
    clouds = np.concatenate([g, intensity, np.broadcast_to(hkl, g.shape)], axis=-1)
    return torch.from_numpy(clouds).float()


def _random_members(clouds: torch.Tensor, seed: int) -> torch.Tensor:
    """One point of each ± pair chosen at random (and the origin), in a random order: a half that is
    not the canonical one."""
    generator = torch.Generator().manual_seed(seed)
    count = clouds.shape[1]
    half = count // 2
    take_mate = torch.rand(clouds.shape[0], half, generator=generator) < 0.5
    first = torch.arange(half).expand(clouds.shape[0], -1)
    rows = torch.where(take_mate, count - 1 - first, first)
    rows = torch.cat([rows, torch.full((clouds.shape[0], 1), half)], dim=1)
    order = torch.rand(rows.shape, generator=generator).argsort(dim=1)
    rows = rows.gather(1, order)
    return clouds.gather(1, rows.unsqueeze(-1).expand(-1, -1, clouds.shape[-1]))


def _trained(config: ModelConfig, clouds: torch.Tensor) -> PointNet:
    """A model with non-trivial BatchNorm statistics (training-mode passes on half-clouds), in eval mode."""
    torch.manual_seed(0)
    model = PointNet(config)
    half, mask = friedel_half(clouds, None, miller_channels=config.needs_hkl)
    width = config.in_channels
    with torch.no_grad():
        for _ in range(3):
            model(half[..., :width], mask)
    return model.eval()


CONFIGS = {
    "default": ModelConfig.packaged("default").replace(num_classes=5),
    "lattice": ModelConfig.packaged("lattice").replace(num_classes=5),
    "lattice_symmetry": ModelConfig.packaged("lattice_symmetry").replace(num_classes=5),
    "tnet": ModelConfig(
        point_widths=(16, 32), head_widths=(16,), tnet=True, tnet_widths=(8, 16), num_classes=5
    ),
}


def test_canonical_signs_pick_one_of_each_pair() -> None:
    vectors = torch.tensor([[1.0, -2, 3], [0, -1, 5], [0, 0, -2], [0, 0, 0], [-0.5, 4, 4]])
    canonical = canonical_signs(vectors)
    torch.testing.assert_close(
        canonical, torch.tensor([[1.0, -2, 3], [0, 1, -5], [0, 0, 2], [0, 0, 0], [0.5, -4, -4]])
    )
    torch.testing.assert_close(canonical_signs(-vectors), canonical)
    assert is_canonical(canonical).all()
    assert is_canonical(-canonical).tolist() == [False, False, False, True, False]


@pytest.mark.parametrize("miller", [True, False])
def test_friedel_half_keeps_one_point_per_pair_and_the_origin(miller: bool) -> None:
    """Chosen by Miller indices or by g (the Miller channels then only ride along to check)."""
    clouds = _clouds(4)
    half, mask = friedel_half(clouds, None, miller_channels=miller)
    assert half.shape[1] == 172 and bool(mask.all())
    every = set(map(tuple, _miller_box().tolist()))
    for kept in half[..., -3:].round().int():
        chosen = set(map(tuple, kept.tolist()))
        assert len(chosen) == 172 and (0, 0, 0) in chosen
        assert chosen | set(map(tuple, (-kept).tolist())) == every
    again, _ = friedel_half(half, mask, miller_channels=miller)
    torch.testing.assert_close(again, half, rtol=0, atol=0)


def test_friedel_half_of_padded_and_asymmetric_clouds() -> None:
    """Clouds with different numbers of real points are halved each; a cloud that is not
    Friedel-symmetric (an odd point removed) is kept whole, so no pair is lost."""
    clouds = _clouds(3)
    mask = torch.ones(clouds.shape[:2], dtype=torch.bool)
    clouds[1, :50] = 0  # 25 pairs out: both members of rows i and 342 − i for i < 25 ...
    clouds[1, -50:] = 0
    mask[1, :50] = mask[1, -50:] = False
    mask[2, 0] = False  # ... but here the mate of row 342 has gone
    clouds[2, 0] = 0
    half, half_mask = friedel_half(clouds, mask, miller_channels=True)
    assert half_mask.sum(dim=1).tolist() == [172, 122, 342]
    assert torch.all(half[~half_mask] == 0)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_half_cloud_model_predicts_the_full_cloud(name: str) -> None:
    """Full cloud, canonical half and a random choice of pair members give the same output."""
    config = CONFIGS[name].replace(friedel_half=True)
    clouds = _clouds(6, seed=1)[..., : config.in_channels]
    model = _trained(config, _clouds(16, seed=2))
    expected = model(clouds)
    half, mask = friedel_half(clouds, None, miller_channels=config.needs_hkl)
    torch.testing.assert_close(model(half, mask), expected, **TIGHT)
    for seed in range(3):
        torch.testing.assert_close(model(_random_members(clouds, seed)), expected, **TIGHT)


@pytest.mark.parametrize("name", ["default", "lattice"])
def test_full_cloud_model_needs_the_full_cloud(name: str) -> None:
    """Without ``friedel_half`` the halves differ: the canonical reading is what makes halving lossless."""
    config = CONFIGS[name].replace(friedel_half=False)
    clouds = _clouds(6, seed=1)[..., : config.in_channels]
    model = _trained(config, _clouds(16, seed=2))
    outputs = [model(_random_members(clouds, seed)) for seed in range(2)]
    assert not torch.allclose(outputs[0], outputs[1], **TIGHT)


def test_precomputed_frames_equal_per_batch_frames() -> None:
    """precompute_frames (once, in chunks) gives what the model computes per batch, and the model
    gives the same logits from either."""
    clouds = _clouds(40, seed=3)
    clouds[..., :3] /= 5
    framed, cell = precompute_frames(clouds, chunk=16)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        batch = torch.randperm(40, generator=generator)[:8]
        per_batch, per_batch_cell = lattice_inputs(clouds[batch])
        torch.testing.assert_close(framed[batch], per_batch, rtol=0, atol=0)
        torch.testing.assert_close(cell[batch], per_batch_cell, rtol=0, atol=0)
    model = _trained(CONFIGS["lattice_symmetry"], clouds)
    torch.testing.assert_close(model(framed, cell=cell), model(clouds), rtol=0, atol=0)
    with pytest.raises(ValueError, match="reads 4 channels"):
        model(clouds, cell=cell)
