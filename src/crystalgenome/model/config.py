"""Model configuration: a small frozen dataclass that round-trips through JSON.

Two configurations ship as package data in ``crystalgenome/model/configs/``:
``authors.json`` (the published deepKNet PointNet), ``default.json`` (ours: the best accuracy we
found within the 2-core speed goal), ``lattice.json`` (the default widths reading each cloud in its
lattice's standard frame, with the cell shape given to the head), ``lattice_contrasts.json`` (the
same plus the cell's closeness to special metrics) and ``lattice_symmetry.json`` (the same plus the
mirror contrast, the crystal-system model). Load them with ``ModelConfig.packaged("authors")``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal

from crystalgenome.utils.config import JsonConfig

PACKAGED_CONFIGS = ("authors", "default", "lattice", "lattice_contrasts", "lattice_symmetry")
"""Names of the configurations shipped in ``crystalgenome/model/configs/``."""

FRAMES = ("input", "lattice")
"""Coordinate frames a PointNet can read its clouds in (see :attr:`ModelConfig.frame`)."""


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Architecture of a :class:`~crystalgenome.model.PointNet` classifier.

    Attributes:
        in_channels: features per point; 4 = (g_x, g_y, g_z, intensity), the first three being coordinates;
            with ``frame="lattice"`` the last three are the Miller indices (h, k, l) of each point.
        num_classes: number of output classes (training sets it from the class names).
        point_widths: output widths of the shared per-point layers (Linear → BatchNorm → ReLU).
        head_widths: hidden widths of the fully connected head (Linear → BatchNorm → ReLU → Dropout).
        dropout: dropout probability in the head.
        relu_before_pool: apply ReLU after the last per-point layer (the authors do; PointNet does not).
        tnet: learn a 3×3 transform of the coordinates first (the T-Net of PointNet).
        tnet_widths: per-point widths of the T-Net.
        attention_layers: self-attention blocks on the per-point features before pooling.
        attention_heads: heads per attention block (must divide ``point_widths[-1]``).
        frame: ``"input"``: use the coordinates as given (rotation invariance is learned from augmentation);
            ``"lattice"``: first express every cloud in its own lattice's standard orientation (real-space a
            along x, b in the xy plane), found from the points' (h, k, l) and g by least squares, so the
            network is exactly invariant to any rotation of its input (see :func:`standard_frame`).
        cell_features: with ``frame="lattice"``, also give the head the cell's shape (ln a, ln b, ln c,
            cos α, cos β, cos γ, from the same fit) next to the pooled point features.
        cell_contrasts: with ``cell_features``, also give the head how close each ratio of cell lengths
            is to 1 and each angle to 90° and to 60°/120° (:func:`cell_contrasts`): special metrics
            (a = b, β = 90°, γ = 120°) stand out on a log scale instead of hiding in small differences.
        mirror_contrast: with ``frame="lattice"``, also pool the cloud mirrored through the frame's xy
            (ab) plane and give the head |pooled − pooled mirror|: a learned test of that mirror, which
            with Friedel's law is a twofold axis along z — present in hexagonal Laue classes (6/m,
            6/mmm), absent in trigonal ones (−3, −3m). Doubles the per-point work.
        friedel_half: read every point as the canonical one of ±g (I(h) = I(−h), Friedel's law), so
            that the model gives the same output for the full cloud and for one point of each ± pair
            plus the origin; training and prediction then feed it the half cloud, about half the work
            (see :mod:`crystalgenome.model.friedel`). False in runs saved before it existed.
    """

    config_kind: ClassVar[str] = "model config"

    in_channels: int = 4
    num_classes: int = 2
    point_widths: tuple[int, ...] = (64, 128, 128)
    head_widths: tuple[int, ...] = (128,)
    dropout: float = 0.2
    relu_before_pool: bool = False
    tnet: bool = False
    tnet_widths: tuple[int, ...] = (64, 128, 256)
    attention_layers: int = 0
    attention_heads: int = 4
    frame: Literal["input", "lattice"] = "input"
    cell_features: bool = False
    cell_contrasts: bool = False
    mirror_contrast: bool = False
    friedel_half: bool = False

    def __post_init__(self) -> None:
        for name in ("point_widths", "head_widths", "tnet_widths"):
            object.__setattr__(self, name, tuple(int(width) for width in getattr(self, name)))
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {self.frame!r}")
        if self.frame == "lattice" and self.in_channels < 7:
            raise ValueError(
                "frame='lattice' needs 7+ input channels: g_x, g_y, g_z, intensity, ..., h, k, l"
            )
        if self.cell_features and self.frame != "lattice":
            raise ValueError("cell_features needs frame='lattice'")
        if self.cell_contrasts and not self.cell_features:
            raise ValueError("cell_contrasts needs cell_features")
        if self.mirror_contrast and self.frame != "lattice":
            raise ValueError("mirror_contrast needs frame='lattice'")
        if self.in_channels < 3 and self.tnet:
            raise ValueError("a T-Net needs at least 3 coordinate channels")
        if not self.point_widths:
            raise ValueError("point_widths must name at least one layer")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.attention_layers and self.point_widths[-1] % self.attention_heads:
            raise ValueError("attention_heads must divide the last point width")

    @classmethod
    def packaged(cls, name: str = "default") -> ModelConfig:
        """A configuration shipped with the package: one of :data:`PACKAGED_CONFIGS`."""
        if name not in PACKAGED_CONFIGS:
            raise ValueError(f"unknown packaged config {name!r}; choose from {', '.join(PACKAGED_CONFIGS)}")
        text = (
            resources.files("crystalgenome.model")
            .joinpath("configs", f"{name}.json")
            .read_text(encoding="utf-8")
        )
        return cls.from_dict(json.loads(text))

    @property
    def needs_hkl(self) -> bool:
        """True when each point must carry its Miller indices as its last three channels."""
        return self.frame == "lattice"

    @property
    def point_channels(self) -> int:
        """Channels per point the shared MLP reads (the Miller indices are consumed by the frame)."""
        return self.in_channels - 3 if self.needs_hkl else self.in_channels


def resolve_model_config(spec: ModelConfig | str | Path | None) -> ModelConfig:
    """A ModelConfig from an instance, a packaged name (``"authors"``), a JSON path, or None (default)."""
    if spec is None:
        return ModelConfig.packaged("default")
    if isinstance(spec, ModelConfig):
        return spec
    if isinstance(spec, str) and spec in PACKAGED_CONFIGS:
        return ModelConfig.packaged(spec)
    return ModelConfig.from_json(spec)
