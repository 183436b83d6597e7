"""PointNet for diffraction point clouds, with padding masks.

Read top to bottom: :func:`standard_frame` (optional: each cloud in its lattice's standard orientation;
:func:`lattice_inputs` applies it to a cloud, once per structure when training) → :class:`SharedMLP`
(the per-point layers) → :class:`PointFeatures` (shared MLP, optional self-attention, masked
max-pool) → :class:`TNet` (a learned 3×3 transform of the coordinates) → :class:`ClassifierHead` →
:class:`PointNet` (the classifier composed of the above). With ``friedel_half`` the network reads each
point as the canonical one of ±g (:mod:`crystalgenome.model.friedel`).

Shapes: ``points`` (B, P, C) float, ``mask`` (B, P) bool with True = real point (None = all real).
The per-point layers run on the real points only, packed as rows (N, C): padded points never enter
BatchNorm statistics, never win the max-pool, and so never change the output. When every point is
real, packing is a free reshape of (B, P, C) to (B·P, C), which also makes the 1×1 convolutions plain
matrix products (faster on CPU than Conv1d).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from crystalgenome.model.config import ModelConfig
from crystalgenome.model.friedel import canonical_signs

CELL_FEATURES = 6
"""Cell-shape features given to the head with ``cell_features``: ln a, ln b, ln c, cos α, cos β, cos γ."""

CELL_CONTRASTS = 9
"""Extra head features with ``cell_contrasts`` (see :func:`cell_contrasts`)."""

CONTRAST_FLOOR = 1e-4
"""ε of :func:`cell_contrasts`: differences below it all look alike (exact equality)."""


def pack_rows(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(B, P, C) → (N, C): the real points as rows (all B·P when ``mask`` is None)."""
    return x.reshape(-1, x.shape[-1]) if mask is None else x[mask]


def unpack_rows(rows: torch.Tensor, mask: torch.Tensor | None, batch: int, fill: float) -> torch.Tensor:
    """(N, C) → (B, P, C), padded points set to ``fill``; inverse of :func:`pack_rows`."""
    if mask is None:
        return rows.view(batch, -1, rows.shape[-1])
    dense = rows.new_full((*mask.shape, rows.shape[-1]), fill)
    dense[mask] = rows
    return dense


def standard_frame(coordinates: torch.Tensor, hkl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each cloud in its lattice's standard orientation, and the cell's shape.

    The reciprocal basis B* (rows a*, b*, c*) is the least-squares solution of g = (h, k, l) B* over the
    cloud's points (exact for an undistorted pattern; padded points, all zero, add nothing). With the
    real-space metric G = (B* B*ᵀ)⁻¹ = L Lᵀ (Cholesky), the returned coordinates are (h, k, l) L⁻ᵀ: the
    reciprocal lattice of the same cell with a along x and b in the xy plane. They depend on the
    lattice only through G, so they are exactly invariant to any rotation (or reflection) of the input.

    Args:
        coordinates: (B, P, 3) g, any units and orientation (the network's normalised inputs).
        hkl: (B, P, 3) Miller indices of the points (zero for padded points).

    Returns:
        (B, P, 3) coordinates in the standard frame, same units as the input, and (B, 6) cell shape
        (ln a, ln b, ln c, cos α, cos β, cos γ), lengths in the inverse of the input's units.

    Raises:
        ValueError: a cloud's Miller indices do not span three dimensions.
    """
    hkl64 = hkl.double()
    normal = hkl64.transpose(1, 2) @ hkl64  # (B, 3, 3)
    if bool((torch.linalg.matrix_rank(normal) < 3).any()):
        raise ValueError("frame='lattice' needs clouds whose Miller indices span three dimensions")
    reciprocal = torch.linalg.solve(normal, hkl64.transpose(1, 2) @ coordinates.double())
    metric = torch.linalg.inv(reciprocal @ reciprocal.transpose(1, 2))
    lower = torch.linalg.cholesky(metric)
    standard = torch.linalg.solve_triangular(lower, hkl64.transpose(1, 2), upper=False).transpose(1, 2)
    lengths = metric.diagonal(dim1=1, dim2=2).sqrt()
    cosines = torch.stack(
        [
            metric[:, 1, 2] / (lengths[:, 1] * lengths[:, 2]),
            metric[:, 0, 2] / (lengths[:, 0] * lengths[:, 2]),
            metric[:, 0, 1] / (lengths[:, 0] * lengths[:, 1]),
        ],
        dim=1,
    )
    cell = torch.cat([lengths.log(), cosines], dim=1)
    return standard.to(coordinates.dtype), cell.to(coordinates.dtype)


def lattice_inputs(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, P, C) clouds (g, other channels, h, k, l) → (B, P, C − 3) clouds in their standard frame (the
    Miller channels dropped) and the (B, 6) cell shape: what a lattice-frame PointNet reads (see
    :func:`standard_frame`). Rotation invariant, so it can be computed once per structure."""
    coordinates, cell = standard_frame(points[..., :3], points[..., -3:])
    return torch.cat([coordinates, points[..., 3:-3]], dim=-1), cell


def cell_contrasts(cell: torch.Tensor) -> torch.Tensor:
    """(B, 6) cell shape (ln a, ln b, ln c, cos α, cos β, cos γ) → (B, 9) closeness to special metrics.

    For x in (ln a/b, ln b/c, ln a/c) [equal lengths], (cos α, cos β, cos γ) [90°] and
    (|cos α| − ½, |cos β| − ½, |cos γ| − ½) [60° or 120°]: ln(|x| + ε) / ln(1/ε), about −1 for an exact
    match and about 0 far from it (ε = :data:`CONTRAST_FLOOR`).
    """
    lengths, cosines = cell[:, :3], cell[:, 3:]
    ratios = torch.stack(
        [lengths[:, 0] - lengths[:, 1], lengths[:, 1] - lengths[:, 2], lengths[:, 0] - lengths[:, 2]], dim=1
    )
    differences = torch.cat([ratios, cosines, cosines.abs() - 0.5], dim=1)
    return torch.log(differences.abs() + CONTRAST_FLOOR) / math.log(1.0 / CONTRAST_FLOOR)


class _MaxOverPoints(torch.autograd.Function):
    """max over dim 1 of (B, P, C). Forward uses ``amax`` (vectorised over C, several times faster on
    CPU than ``max`` with indices); backward sends the gradient to the points holding the maximum."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        values = x.amax(dim=1)
        ctx.save_for_backward(x, values)
        return values

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        x, values = ctx.saved_tensors
        dtype = x.dtype
        if dtype in (torch.bfloat16, torch.float16):  # mixed precision: ~2.5× slower in bf16 on CPU
            x, values, grad = x.float(), values.float(), grad.float()
        # 1 where x equals the maximum, else 0: sign(x − max) + 1, since x − max ≤ 0 is zero exactly
        # when x = max. The same as (x == max) * grad (every tied point gets the gradient), in
        # arithmetic kernels that run several times faster on CPU than a comparison and a bool product.
        return (x - values.unsqueeze(1)).sign_().add_(1).mul_(grad.unsqueeze(1)).to(dtype)


def max_over_points(x: torch.Tensor) -> torch.Tensor:
    """(B, P, C) → (B, C), the symmetric function that makes PointNet permutation invariant."""
    return _MaxOverPoints.apply(x)


NARROW_INPUT = 16
"""A :class:`RowLinear` with at most this many input channels computes its weight gradient as xᵀ · grad."""


class RowLinear(nn.Linear):
    """``nn.Linear`` on rows (N, C), the same parameters and result.

    With few input channels (at most :data:`NARROW_INPUT`, e.g. a PointNet's first layer) the product
    is taken with a contiguous copy of the transposed weight, so that autograd forms the weight
    gradient as xᵀ · grad, (C_in × N) · (N × C_out), instead of gradᵀ · x: on CPU about 3× faster for
    C_in = 4, N = 11,000 (the other shapes gain nothing).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_features > NARROW_INPUT or x.dim() != 2:
            return super().forward(x)
        weight = self.weight.t().contiguous()
        return x @ weight if self.bias is None else torch.addmm(self.bias, x, weight)


class SharedMLP(nn.Sequential):
    """Per-point layers Linear → BatchNorm → ReLU on rows (N, C): PointNet's 1×1 convolutions.

    Args:
        widths: input width then the output width of each layer, e.g. (4, 64, 128, 256).
        final_relu: apply ReLU after the last layer too.
    """

    def __init__(self, widths: Sequence[int], *, final_relu: bool = True) -> None:
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(pairwise(widths)):
            layers += [RowLinear(width_in, width_out, bias=False), nn.BatchNorm1d(width_out)]
            if final_relu or index < len(widths) - 2:
                layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class SelfAttention(nn.Module):
    """Pre-norm transformer block over the points of each cloud; padded points are never attended to."""

    def __init__(self, width: int, *, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.feed_forward = nn.Sequential(nn.Linear(width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, P, C), mask (B, P) → (B, P, C)."""
        padding = None if mask is None else ~mask
        h = self.norm1(x)
        x = x + self.attention(h, h, h, key_padding_mask=padding, need_weights=False)[0]
        return x + self.feed_forward(self.norm2(x))


class PointFeatures(nn.Module):
    """Shared per-point MLP, optional self-attention, max-pool over the real points: (B, P, C) → (B, D)."""

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        *,
        final_relu: bool = True,
        attention_layers: int = 0,
        attention_heads: int = 4,
    ) -> None:
        super().__init__()
        self.mlp = SharedMLP((in_channels, *widths), final_relu=final_relu)
        self.attention = nn.ModuleList(
            SelfAttention(widths[-1], heads=attention_heads) for _ in range(attention_layers)
        )
        self.out_width = widths[-1]

    def forward(self, points: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        batch = points.shape[0]
        rows = self.mlp(pack_rows(points, mask))
        if len(self.attention):
            dense = unpack_rows(rows, mask, batch, 0.0)
            for block in self.attention:
                dense = block(dense, mask)
            rows = pack_rows(dense, mask)
        return max_over_points(unpack_rows(rows, mask, batch, -math.inf))


class ClassifierHead(nn.Sequential):
    """Fully connected Linear → BatchNorm → ReLU → Dropout layers, then a Linear layer to class logits."""

    def __init__(self, widths: Sequence[int], num_outputs: int, *, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = []
        for width_in, width_out in pairwise(widths):
            layers += [
                nn.Linear(width_in, width_out, bias=False),
                nn.BatchNorm1d(width_out),
                nn.ReLU(inplace=True),
            ]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(widths[-1], num_outputs))
        super().__init__(*layers)


class TNet(nn.Module):
    """Predicts one 3×3 matrix per cloud from its coordinates (the spatial transformer of PointNet).

    Starts as the identity: the last layer is zero-initialised and the identity is added to it.
    """

    def __init__(self, widths: Sequence[int] = (64, 128, 256)) -> None:
        super().__init__()
        self.features = PointFeatures(3, widths)
        self.head = ClassifierHead((widths[-1], widths[-1] // 2), 9)
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, coordinates: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """coordinates (B, P, 3) → (B, 3, 3)."""
        matrix = self.head(self.features(coordinates, mask)).view(-1, 3, 3)
        return matrix + torch.eye(3, dtype=matrix.dtype, device=matrix.device)


class PointNet(nn.Module):
    """PointNet classifier: [standard frame] → [T-Net] → shared per-point MLP → [self-attention] →
    max-pool → [+ cell shape] → FC head → logits.

    Outputs unnormalised class logits (train with cross-entropy; ``softmax`` gives probabilities).
    Exactly invariant to the order of the points and to padding (up to float rounding); with
    ``frame="lattice"`` also to rotations of the coordinates.
    """

    order_invariant = True
    """The output does not depend on the order of the points (up to float rounding): training draws
    but does not apply random point orders (:func:`~crystalgenome.training.augment.augment_batch`)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        cfg = self.config
        self.tnet = TNet(cfg.tnet_widths) if cfg.tnet else None
        self.features = PointFeatures(
            cfg.point_channels,
            cfg.point_widths,
            final_relu=cfg.relu_before_pool,
            attention_layers=cfg.attention_layers,
            attention_heads=cfg.attention_heads,
        )
        pooled_width = (
            cfg.point_widths[-1] * (2 if cfg.mirror_contrast else 1)
            + (CELL_FEATURES if cfg.cell_features else 0)
            + (CELL_CONTRASTS if cfg.cell_contrasts else 0)
        )
        self.head = ClassifierHead((pooled_width, *cfg.head_widths), cfg.num_classes, dropout=cfg.dropout)

    def forward(
        self, points: torch.Tensor, mask: torch.Tensor | None = None, *, cell: torch.Tensor | None = None
    ) -> torch.Tensor:
        """points (B, P, C), mask (B, P) bool or None → logits (B, num_classes).

        A lattice-frame model given ``cell`` (B, 6) takes ``points`` already in the standard frame, as
        :func:`lattice_inputs` returns them (``point_channels`` wide): a training set's frames are then
        computed once instead of in every batch of every epoch.
        """
        self._check_channels(points, framed=cell is not None)
        if mask is not None and bool(mask.all()):
            mask = None  # fast path: no packing needed
        if self.config.needs_hkl and cell is None:
            points, cell = lattice_inputs(points)
        points = self._canonical(points)
        if self.tnet is not None:
            transform = self.tnet(points[..., :3], mask)
            points = self._canonical(
                torch.cat([torch.bmm(points[..., :3], transform), points[..., 3:]], dim=-1)
            )
        if self.config.mirror_contrast:
            pooled = self._pool_with_mirror(points, mask)
        else:
            pooled = self.features(points, mask)
        if self.config.cell_features:
            pooled = torch.cat([pooled, cell], dim=1)
        if self.config.cell_contrasts:
            pooled = torch.cat([pooled, cell_contrasts(cell)], dim=1)
        return self.head(pooled)

    def _check_channels(self, points: torch.Tensor, *, framed: bool) -> None:
        cfg = self.config
        if framed and not cfg.needs_hkl:
            raise ValueError("only a lattice-frame model takes a precomputed cell")
        expected = cfg.point_channels if framed else cfg.in_channels
        if points.shape[-1] != expected:
            hint = " (g, intensity, h, k, l: load the Miller indices)" if cfg.needs_hkl and not framed else ""
            raise ValueError(f"the model reads {expected} channels per point{hint}, got {points.shape[-1]}")

    def _canonical(self, points: torch.Tensor) -> torch.Tensor:
        """With ``friedel_half``, every point's coordinates as the canonical one of ±g (see
        :mod:`crystalgenome.model.friedel`); otherwise the points unchanged."""
        if not self.config.friedel_half:
            return points
        return torch.cat([canonical_signs(points[..., :3]), points[..., 3:]], dim=-1)

    def _pool_with_mirror(self, points: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Pooled features of the cloud and |difference| to those of its mirror image through the xy
        plane (one pass over both): zero where the pattern has that mirror symmetry."""
        mirrored = self._canonical(torch.cat([points[..., :2], -points[..., 2:3], points[..., 3:]], dim=-1))
        both_mask = None if mask is None else torch.cat([mask, mask])
        both = self.features(torch.cat([points, mirrored]), both_mask)
        pooled, pooled_mirror = both.chunk(2)
        return torch.cat([pooled, (pooled - pooled_mirror).abs()], dim=1)


def build_model(config: ModelConfig | None = None) -> PointNet:
    """A freshly initialised :class:`PointNet` for ``config`` (the packaged default when None)."""
    return PointNet(config or ModelConfig.packaged("default"))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
