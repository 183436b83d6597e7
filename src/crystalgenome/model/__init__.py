"""Stage 4: the PointNet classifier (PyTorch). Knows nothing about files or datasets.

``PointNet(ModelConfig.packaged("default"))`` maps point clouds (B, P, 4) with a padding mask (B, P)
to class logits (B, num_classes).
"""

from __future__ import annotations

from crystalgenome.model.config import PACKAGED_CONFIGS, ModelConfig, resolve_model_config
from crystalgenome.model.pointnet import (
    ClassifierHead,
    PointFeatures,
    PointNet,
    SelfAttention,
    SharedMLP,
    TNet,
    build_model,
    count_parameters,
    pack_rows,
    unpack_rows,
)

__all__ = [
    "PACKAGED_CONFIGS",
    "ClassifierHead",
    "ModelConfig",
    "PointFeatures",
    "PointNet",
    "SelfAttention",
    "SharedMLP",
    "TNet",
    "build_model",
    "count_parameters",
    "pack_rows",
    "resolve_model_config",
    "unpack_rows",
]
