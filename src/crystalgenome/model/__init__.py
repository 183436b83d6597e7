"""Stage 4: the PointNet classifier (PyTorch). Knows nothing about files or datasets.

``PointNet(ModelConfig.packaged("default"))`` maps point clouds (B, P, 4) with a padding mask (B, P)
to class logits (B, num_classes). ``ModelConfig.packaged("lattice")`` reads (B, P, 7) clouds whose last
three channels are the Miller indices, in each lattice's standard frame (exactly rotation invariant).
"""

from __future__ import annotations

from crystalgenome.model.config import FRAMES, PACKAGED_CONFIGS, ModelConfig, resolve_model_config
from crystalgenome.model.friedel import canonical_signs, friedel_half, is_canonical
from crystalgenome.model.pointnet import (
    ClassifierHead,
    PointFeatures,
    PointNet,
    SelfAttention,
    SharedMLP,
    TNet,
    build_model,
    cell_contrasts,
    count_parameters,
    lattice_inputs,
    pack_rows,
    standard_frame,
    unpack_rows,
)

__all__ = [
    "FRAMES",
    "PACKAGED_CONFIGS",
    "ClassifierHead",
    "ModelConfig",
    "PointFeatures",
    "PointNet",
    "SelfAttention",
    "SharedMLP",
    "TNet",
    "build_model",
    "canonical_signs",
    "cell_contrasts",
    "count_parameters",
    "friedel_half",
    "is_canonical",
    "lattice_inputs",
    "pack_rows",
    "resolve_model_config",
    "standard_frame",
    "unpack_rows",
]
