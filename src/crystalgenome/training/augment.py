"""Augmentation: exactly uniform random rotations in SO(3) and random permutations of the points.

Uniform (Haar) rotations come from uniform unit quaternions (normalised 4D Gaussians): proper
(det = +1) and uniform by construction, unlike the QR of a Gaussian matrix without sign correction.
A restricted range draws rotations of angle ω ≤ ω_max with the Haar density of ω,
(1 − cos ω)/π, by inverting its CDF (ω − sin ω)/π; ω_max = 180° gives the full uniform distribution.
"""

from __future__ import annotations

import math

import torch


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """(n, 4) unit quaternions (w, x, y, z) → (n, 3, 3) rotation matrices."""
    w, x, y, z = quaternion.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).view(-1, 3, 3)  # fmt: skip


def axis_angle_to_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """(n, 3) unit axes and (n,) angles (radians) → (n, 3, 3) rotation matrices (Rodrigues)."""
    half = angle / 2
    return quaternion_to_matrix(torch.cat([torch.cos(half)[:, None], torch.sin(half)[:, None] * axis], dim=1))


def _haar_angles(count: int, max_angle: float, generator: torch.Generator | None) -> torch.Tensor:
    """Angles ω ∈ [0, max_angle] with density ∝ 1 − cos ω, by bisection on the CDF (float64)."""
    target = torch.rand(count, generator=generator, dtype=torch.float64) * (max_angle - math.sin(max_angle))
    low = torch.zeros(count, dtype=torch.float64)
    high = torch.full((count,), max_angle, dtype=torch.float64)
    for _ in range(60):  # 60 halvings of [0, π] reach float64 resolution
        middle = (low + high) / 2
        below = middle - torch.sin(middle) < target
        low = torch.where(below, middle, low)
        high = torch.where(below, high, middle)
    return (low + high) / 2


def random_rotations(
    count: int,
    *,
    generator: torch.Generator | None = None,
    max_angle_degrees: float = 180.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """(count, 3, 3) random proper rotations, uniform on SO(3) when ``max_angle_degrees`` = 180.

    Args:
        count: number of rotations.
        generator: torch random generator (seeded for reproducibility).
        max_angle_degrees: largest rotation angle; below 180 the distribution is the uniform one
            conditioned on ω ≤ max angle (a random axis, ω with the Haar density).
        dtype: dtype of the result.
    """
    if not 0.0 <= max_angle_degrees <= 180.0:
        raise ValueError(f"max_angle_degrees must be in [0, 180], got {max_angle_degrees}")
    if max_angle_degrees >= 180.0:
        quaternion = torch.randn(count, 4, generator=generator, dtype=torch.float64)
        matrices = quaternion_to_matrix(quaternion / quaternion.norm(dim=1, keepdim=True))
    else:
        axis = torch.randn(count, 3, generator=generator, dtype=torch.float64)
        axis = axis / axis.norm(dim=1, keepdim=True)
        matrices = axis_angle_to_matrix(axis, _haar_angles(count, math.radians(max_angle_degrees), generator))
    return matrices.to(dtype)


def rotation_angles(matrices: torch.Tensor) -> torch.Tensor:
    """(n,) rotation angles ω ∈ [0, π] of (n, 3, 3) rotation matrices: cos ω = (tr R − 1)/2."""
    trace = matrices.diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.arccos(((trace - 1) / 2).clamp(-1.0, 1.0))


def rotate(points: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Rotate the coordinates (first 3 channels) of (B, P, C) clouds by (B, 3, 3) or (3, 3) matrices.

    Rows are row vectors: g' = g Rᵀ. Padded zero points stay zero; other channels are unchanged.
    """
    if rotations.dim() == 2:
        coordinates = points[..., :3] @ rotations.T
    else:
        coordinates = torch.bmm(points[..., :3], rotations.transpose(1, 2))
    return torch.cat([coordinates, points[..., 3:]], dim=-1)


def permute_points(
    points: torch.Tensor, mask: torch.Tensor, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """An independent random permutation of the points of each cloud (mask permuted alongside)."""
    order = torch.rand(mask.shape, generator=generator).argsort(dim=1).to(mask.device)
    return points.gather(1, order[..., None].expand_as(points)), mask.gather(1, order)


def augment_batch(
    points: torch.Tensor,
    mask: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    max_angle_degrees: float = 180.0,
    permute: bool = True,
    order_invariant: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random rotation per cloud (one batched matmul) and, optionally, a random point order.

    With ``order_invariant`` (the model's output does not depend on the order of the points, as a
    PointNet's does not, up to float rounding) a permutation is drawn but not applied: the generator
    advances exactly as if it were, so later batches are the same, and the sort and gathers are saved.
    """
    rotations = random_rotations(points.shape[0], generator=generator, max_angle_degrees=max_angle_degrees)
    points = rotate(points, rotations.to(points.device, points.dtype))
    if permute and order_invariant:
        torch.rand(mask.shape, generator=generator)  # the draw of permute_points, not applied
    elif permute:
        points, mask = permute_points(points, mask, generator=generator)
    return points, mask
