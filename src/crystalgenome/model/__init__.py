"""Stage 4: the PointNet classifier (PyTorch). Knows nothing about files or datasets.

``PointNet(ModelConfig.packaged("default"))`` maps point clouds (B, P, 4) with a padding mask (B, P)
to class logits (B, num_classes). ``ModelConfig.packaged("lattice")`` reads (B, P, 7) clouds whose last
three channels are the Miller indices, in each lattice's standard frame (exactly rotation invariant).
"""

from __future__ import annotations

from crystalgenome.model.config import PACKAGED_CONFIGS, ModelConfig, resolve_model_config
from crystalgenome.model.friedel import friedel_half
from crystalgenome.model.pointnet import PointNet, count_parameters, lattice_inputs

__all__ = [
    "PACKAGED_CONFIGS",
    "ModelConfig",
    "PointNet",
    "count_parameters",
    "friedel_half",
    "lattice_inputs",
    "resolve_model_config",
]
