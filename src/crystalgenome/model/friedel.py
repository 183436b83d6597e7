"""Friedel half-clouds: I(h) = I(−h), so one point of each ± pair (and the origin) carries everything.

A model with ``friedel_half`` reads every point as its *canonical* representative, ±g chosen so that
the first non-zero of (x, y, z) is positive (:func:`canonical_signs`). Its per-point features are then
the same for g and −g, and because max-pooling ignores repeated points, its output is the same for the
full cloud, for the canonical half (:func:`friedel_half`), and for any other choice of one point per
pair: the half only saves work (about half the points).
"""

from __future__ import annotations

import torch


def canonical_signs(coordinates: torch.Tensor) -> torch.Tensor:
    """(..., 3) vectors flipped to ±v so that the first non-zero component is positive (0 stays 0)."""
    x, y, z = coordinates.unbind(-1)
    flip = (x < 0) | ((x == 0) & ((y < 0) | ((y == 0) & (z < 0))))
    return torch.where(flip.unsqueeze(-1), -coordinates, coordinates)


def is_canonical(vectors: torch.Tensor) -> torch.Tensor:
    """(..., 3) → (...) bool: the vector equals its canonical representative (the origin included)."""
    x, y, z = vectors.unbind(-1)
    return (x > 0) | ((x == 0) & ((y > 0) | ((y == 0) & (z >= 0))))


def friedel_half(
    points: torch.Tensor, mask: torch.Tensor | None, *, miller_channels: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The canonical half of each cloud, its points moved to the front and the width trimmed.

    A point is kept when its Miller indices (the last three channels, with ``miller_channels``;
    exact integers) or else its coordinates (the first three) are canonical. A cloud that is not
    Friedel-symmetric in that sense (kept ≠ (real + 1)/2, e.g. an odd point set or coordinates
    whose mates are not exact negatives) is kept whole, so no pair is ever lost. Applying the
    function to its own output changes nothing.

    Args:
        points: (B, P, C) clouds.
        mask: (B, P) bool, True = real point (None = all real).
        miller_channels: choose the half by the Miller indices in the last three channels.

    Returns:
        (B, P', C) points and (B, P') mask, P' = the largest number of points kept.
    """
    real = torch.ones(points.shape[:2], dtype=torch.bool, device=points.device) if mask is None else mask
    keep = is_canonical(points[..., -3:] if miller_channels else points[..., :3]) & real
    kept, total = keep.sum(dim=1), real.sum(dim=1)
    keep |= (2 * kept - 1 != total).unsqueeze(1) & real
    if bool(keep.all()):
        return points, real
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    width = int(keep.sum(dim=1).max())
    order = order[:, :width]
    halved = points.gather(1, order.unsqueeze(-1).expand(-1, -1, points.shape[-1]))
    halved_mask = keep.gather(1, order)
    return torch.where(halved_mask.unsqueeze(-1), halved, 0.0), halved_mask
