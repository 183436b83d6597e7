"""The contrast of the paper's ablations: a fully connected network on the ordered hkl list.

Each sample is its P points (g_x, g_y, g_z, I), normalised like the PointNet's inputs, flattened in
the stored order — lexicographic (h, k, l), so input slot j is always the same reflection — into one
vector of 4P numbers. With the order permuted per sample (``fc_hkl_permuted``) a slot no longer
names a reflection. There is no rotation augmentation: the network is not rotation invariant, so
it is trained and tested in the stored orientation (the cells' own Cartesian frame).

It is trained by :func:`crystalgenome.training.train` itself (``model=`` a factory of
:class:`HklMLP`), so everything that matters for a fair comparison is the PointNet's: Adam, cosine
schedule, the same epochs, batch size and seed, the best epoch chosen on the validation split by the
same score (ROC-AUC for binary tasks, accuracy otherwise), test metrics over the whole split with
bootstrap intervals; a killed run resumes from ``last.pt``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from crystalgenome.model import ModelConfig
from crystalgenome.training import TrainConfig, train


@dataclass(frozen=True)
class FCConfig:
    """Widths of the fully connected network: 4P → hidden... → classes, with BatchNorm, ReLU, dropout."""

    hidden: tuple[int, ...] = (512, 128)
    dropout: float = 0.2


class HklMLP(nn.Module):
    """Fully connected classifier of flattened point clouds (B, P, C) → logits (B, K)."""

    def __init__(
        self, *, num_points: int, in_channels: int = 4, num_classes: int = 2, config: FCConfig = FCConfig()
    ) -> None:
        super().__init__()
        widths = [num_points * in_channels, *config.hidden]
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [
                nn.Linear(width_in, width_out),
                nn.BatchNorm1d(width_out),
                nn.ReLU(inplace=True),
                nn.Dropout(config.dropout),
            ]
        layers.append(nn.Linear(widths[-1], num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, points: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of (B, P, C) clouds; ``mask`` is unused (padding points are zeros in their slots)."""
        return self.layers(points.flatten(1))


def train_fc(
    points: np.ndarray,
    mask: np.ndarray,
    labels: np.ndarray,
    split: np.ndarray | Mapping[str, Sequence[int]],
    class_names: Sequence[str],
    *,
    config: TrainConfig,
    out_dir: str | Path,
    fc_config: FCConfig = FCConfig(),
    data_fingerprint: str = "",
) -> dict[str, Any]:
    """Train :class:`HklMLP` on raw clouds (n, P, 4) with :func:`~crystalgenome.training.train` and
    return its summary.

    ``config`` supplies epochs, batch size, learning rate, schedule, seed, threads and normalisation;
    its rotation settings and early stopping are ignored (no rotations: the network is not rotation
    invariant). The summary holds ``test`` and ``val`` metrics (as
    :func:`~crystalgenome.training.classification_metrics` returns them), ``best_epoch``,
    ``epochs_run`` and ``history``.
    """
    config = config.replace(augment=(), test_time_rotations=0, val_rotations=0, early_stopping_patience=None)

    def make(model_config: ModelConfig) -> HklMLP:
        return HklMLP(
            num_points=points.shape[1],
            in_channels=model_config.in_channels,
            num_classes=model_config.num_classes,
            config=fc_config,
        )

    result = train(
        points, mask, labels, split, class_names, config=config, out_dir=out_dir, model=make,
        data_fingerprint=data_fingerprint or None, progress=False,
    )  # fmt: skip
    return {
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "history": result.history,
        "val": result.val_metrics,
        "test": result.test_metrics,
    }
