"""Model configuration: a small frozen dataclass that round-trips through JSON.

Two configurations ship as package data in ``crystalgenome/model/configs/``:
``authors.json`` (the published deepKNet PointNet) and ``default.json`` (ours: the best accuracy we
found within the 2-core speed goal). Load them with ``ModelConfig.packaged("authors")``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar

from crystalgenome.utils.config import JsonConfig

PACKAGED_CONFIGS = ("authors", "default")
"""Names of the configurations shipped in ``crystalgenome/model/configs/``."""


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Architecture of a :class:`~crystalgenome.model.PointNet` classifier.

    Attributes:
        in_channels: features per point; 4 = (g_x, g_y, g_z, intensity), the first three being coordinates.
        num_classes: number of output classes (training sets it from the class names).
        point_widths: output widths of the shared per-point layers (Linear → BatchNorm → ReLU).
        head_widths: hidden widths of the fully connected head (Linear → BatchNorm → ReLU → Dropout).
        dropout: dropout probability in the head.
        relu_before_pool: apply ReLU after the last per-point layer (the authors do; PointNet does not).
        tnet: learn a 3×3 transform of the coordinates first (the T-Net of PointNet).
        tnet_widths: per-point widths of the T-Net.
        attention_layers: self-attention blocks on the per-point features before pooling.
        attention_heads: heads per attention block (must divide ``point_widths[-1]``).
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

    def __post_init__(self) -> None:
        for name in ("point_widths", "head_widths", "tnet_widths"):
            object.__setattr__(self, name, tuple(int(width) for width in getattr(self, name)))
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
        """A configuration shipped with the package: ``"authors"`` or ``"default"``."""
        if name not in PACKAGED_CONFIGS:
            raise ValueError(f"unknown packaged config {name!r}; choose from {', '.join(PACKAGED_CONFIGS)}")
        text = (
            resources.files("crystalgenome.model")
            .joinpath("configs", f"{name}.json")
            .read_text(encoding="utf-8")
        )
        return cls.from_dict(json.loads(text))


def resolve_model_config(spec: ModelConfig | str | Path | None) -> ModelConfig:
    """A ModelConfig from an instance, a packaged name (``"authors"``), a JSON path, or None (default)."""
    if spec is None:
        return ModelConfig.packaged("default")
    if isinstance(spec, ModelConfig):
        return spec
    if isinstance(spec, str) and spec in PACKAGED_CONFIGS:
        return ModelConfig.packaged(spec)
    return ModelConfig.from_json(spec)
