"""Rotation sampler: proper, exactly uniform on SO(3) (statistical tests, fixed seeds); permutations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from crystalgenome.training.augment import (
    augment_batch,
    permute_points,
    random_rotations,
    rotate,
    rotation_angles,
)

N = 20_000


@pytest.fixture(scope="module")
def rotations() -> torch.Tensor:
    return random_rotations(N, generator=torch.Generator().manual_seed(7), dtype=torch.float64)


def test_proper_orthogonal(rotations: torch.Tensor) -> None:
    identity = torch.eye(3, dtype=torch.float64).expand(N, 3, 3)
    assert torch.allclose(rotations @ rotations.transpose(1, 2), identity, atol=1e-12)
    assert torch.allclose(torch.linalg.det(rotations), torch.ones(N, dtype=torch.float64), atol=1e-12)


def test_angle_follows_haar_density(rotations: torch.Tensor) -> None:
    """The rotation angle ω of a uniform rotation has density (1 − cos ω)/π, CDF (ω − sin ω)/π."""
    angles = rotation_angles(rotations).numpy()
    result = stats.kstest(angles, lambda w: (w - np.sin(w)) / np.pi)
    assert result.pvalue > 0.01
    # A sampler with uniform angles (a classic mistake) is rejected by the same test.
    wrong = np.random.default_rng(0).uniform(0, np.pi, N)
    assert stats.kstest(wrong, lambda w: (w - np.sin(w)) / np.pi).pvalue < 1e-6
    # So is the QR of a Gaussian matrix without sign correction (the authors' sampler).
    q, _ = torch.linalg.qr(
        torch.randn(N, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    )
    qr_angles = rotation_angles(
        q * torch.linalg.det(q)[:, None, None]
    ).numpy()  # made proper, still not uniform
    assert stats.kstest(qr_angles, lambda w: (w - np.sin(w)) / np.pi).pvalue < 1e-6


def test_mean_rotation_is_zero(rotations: torch.Tensor) -> None:
    """E[R] = 0 for the Haar measure; each entry has variance 1/3, so the standard error is 1/sqrt(3N)."""
    mean = rotations.mean(dim=0)
    assert mean.abs().max() < 5 / math.sqrt(3 * N)
    assert torch.allclose(
        (rotations**2).mean(dim=0), torch.full((3, 3), 1 / 3, dtype=torch.float64), atol=0.02
    )


def test_rotated_vector_is_uniform_on_sphere(rotations: torch.Tensor) -> None:
    """R e_z is uniform on the sphere: its z component is uniform on [-1, 1] and its azimuth uniform."""
    v = rotations[:, :, 2].numpy()
    assert stats.kstest(v[:, 2], stats.uniform(loc=-1, scale=2).cdf).pvalue > 0.01
    azimuth = np.arctan2(v[:, 1], v[:, 0])
    assert stats.kstest(azimuth, stats.uniform(loc=-np.pi, scale=2 * np.pi).cdf).pvalue > 0.01


def test_restricted_range() -> None:
    limited = random_rotations(
        N, generator=torch.Generator().manual_seed(1), max_angle_degrees=30.0, dtype=torch.float64
    )
    angles = rotation_angles(limited).numpy()
    top = math.radians(30.0)
    assert angles.max() <= top + 1e-9
    assert torch.allclose(torch.linalg.det(limited), torch.ones(N, dtype=torch.float64), atol=1e-12)
    # Haar density conditioned on ω <= top.
    cdf = lambda w: (w - np.sin(w)) / (top - np.sin(top))  # noqa: E731
    assert stats.kstest(angles, cdf).pvalue > 0.01
    assert torch.allclose(random_rotations(4, max_angle_degrees=0.0), torch.eye(3).expand(4, 3, 3), atol=1e-6)


def test_seeded_and_reproducible() -> None:
    a = random_rotations(5, generator=torch.Generator().manual_seed(3))
    b = random_rotations(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, random_rotations(5, generator=torch.Generator().manual_seed(4)))


def test_rotate_keeps_intensity_norms_and_padding() -> None:
    points = torch.randn(3, 10, 4)
    points[:, 7:] = 0.0
    rotated = rotate(points, random_rotations(3, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(rotated[..., 3], points[..., 3])
    assert torch.allclose(rotated[..., :3].norm(dim=-1), points[..., :3].norm(dim=-1), atol=1e-5)
    assert torch.equal(rotated[:, 7:], torch.zeros(3, 3, 4))
    one = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90° about z
    assert torch.allclose(
        rotate(torch.tensor([[[1.0, 0.0, 0.0, 5.0]]]), one), torch.tensor([[[0.0, 1.0, 0.0, 5.0]]])
    )


def test_permutation_moves_mask_with_points() -> None:
    points = torch.arange(2 * 6 * 4, dtype=torch.float32).view(2, 6, 4)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    shuffled, shuffled_mask = permute_points(points, mask, generator=torch.Generator().manual_seed(0))
    for i in range(2):
        assert sorted(map(tuple, shuffled[i][shuffled_mask[i]].tolist())) == sorted(
            map(tuple, points[i][mask[i]].tolist())
        )
    assert not torch.equal(shuffled, points)


def test_augment_batch_shapes() -> None:
    points, mask = torch.randn(4, 9, 4), torch.ones(4, 9, dtype=torch.bool)
    out, out_mask = augment_batch(points, mask, generator=torch.Generator().manual_seed(0))
    assert out.shape == points.shape and out_mask.shape == mask.shape


def test_order_invariant_draws_the_permutation_without_applying_it() -> None:
    """order_invariant: the same rotation, points in their original order, the generator advanced as
    by a permutation; a PointNet's loss and gradients are those of the permuted batch up to rounding."""
    from crystalgenome.model import ModelConfig, PointNet

    torch.manual_seed(0)
    points, mask = torch.randn(6, 30, 4), torch.ones(6, 30, dtype=torch.bool)
    mask[2, 25:] = False
    points[~mask] = 0.0
    permuted_generator, kept_generator = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    permuted = augment_batch(points, mask, generator=permuted_generator)
    kept = augment_batch(points, mask, generator=kept_generator, order_invariant=True)
    assert torch.equal(kept[1], mask)
    assert torch.equal(permuted_generator.get_state(), kept_generator.get_state())
    assert torch.equal(
        kept[0], augment_batch(points, mask, generator=torch.Generator().manual_seed(3), permute=False)[0]
    )
    model = PointNet(ModelConfig(num_classes=3, dropout=0.0)).double()
    assert model.order_invariant
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    grads = []
    for batch_points, batch_mask in (permuted, kept):
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch_points.double(), batch_mask), labels)
        loss.backward()
        grads.append((loss.detach(), [parameter.grad.clone() for parameter in model.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for first, second in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(first, second)
