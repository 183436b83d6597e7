"""The contrast of the paper's ablations: a fully connected network on the ordered hkl list.

Each sample is its P points (g_x, g_y, g_z, I), normalised like the PointNet's inputs, flattened in
the stored order — lexicographic (h, k, l), so input slot j is always the same reflection — into one
vector of 4P numbers. With the order permuted per sample (``fc_hkl_permuted``) a slot no longer
names a reflection. There is no rotation augmentation: the network is not rotation invariant, so
it is trained and tested in the stored orientation (the cells' own Cartesian frame).

Training mirrors :func:`crystalgenome.training.train` where it matters for a fair comparison: Adam,
cosine schedule, the same epochs, batch size and seed, the best epoch chosen on the validation
split by the same score (ROC-AUC for binary tasks, accuracy otherwise), test metrics over the whole
split with bootstrap intervals; a killed run resumes from ``last.pt``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from crystalgenome.training import TrainConfig, classification_metrics, selection_score
from crystalgenome.utils.atomic import atomic_path, atomic_write_text
from crystalgenome.utils.provenance import run_metadata


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

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.layers(points.flatten(1))


@torch.no_grad()
def _probabilities(model: nn.Module, inputs: torch.Tensor, batch_size: int) -> np.ndarray:
    model.eval()
    chunks = [
        torch.softmax(model(inputs[i : i + batch_size]), dim=1) for i in range(0, len(inputs), batch_size)
    ]
    return torch.cat(chunks).double().numpy() if chunks else np.empty((0, 0))


def _save(state: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


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
    """Train :class:`HklMLP` on raw clouds (n, P, 4) and return ``summary.json``'s content.

    ``config`` supplies epochs, batch size, learning rate, schedule, seed, threads and normalisation;
    its rotation settings are ignored. The summary holds ``test`` and ``val`` metrics (as
    :func:`~crystalgenome.training.classification_metrics` returns them), ``best_epoch`` and ``epochs_run``.
    """
    from crystalgenome.training.trainer import split_indices

    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    labels = np.asarray(labels, dtype=np.int64)
    parts = split_indices(split, labels.size)
    normalised = config.normalisation_spec().apply(points, mask)
    inputs = torch.from_numpy(normalised)
    targets = torch.from_numpy(labels)
    identity = {
        "train_config": config.to_dict(),
        "fc_config": asdict(fc_config),
        "class_names": list(class_names),
        "data_fingerprint": data_fingerprint,
        "shape": list(points.shape),
    }

    torch.manual_seed(config.seed)
    model = HklMLP(
        num_points=points.shape[1],
        in_channels=points.shape[2],
        num_classes=len(class_names),
        config=fc_config,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=config.min_lr
    )
    generator = torch.Generator().manual_seed(config.seed)
    state: dict[str, Any] = {
        "epoch": 0,
        "best_epoch": 0,
        "best_score": float("-inf"),
        "best_model": None,
        "history": [],
    }
    last = run_dir / "last.pt"
    if last.exists():
        checkpoint = torch.load(last, map_location="cpu", weights_only=True)
        if checkpoint["identity"] != identity:
            raise ValueError(f"{run_dir} holds a different fc run; choose another folder")
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        generator.set_state(checkpoint["generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        state = checkpoint["state"]
    else:
        metadata = run_metadata(identity, seed=config.seed, data_fingerprint=data_fingerprint)
        atomic_write_text(run_dir / "metadata.json", json.dumps(metadata, indent=2, default=str) + "\n")

    train_index = torch.from_numpy(parts["train"])
    val_labels = labels[parts["val"]]
    for epoch in range(state["epoch"], config.epochs):
        model.train()
        order = train_index[torch.randperm(train_index.numel(), generator=generator)]
        batches = list(order.split(config.batch_size))
        if len(batches) > 1 and batches[-1].numel() < config.batch_size:
            batches.pop()  # BatchNorm needs more than one sample
        for batch in batches:
            loss = functional.cross_entropy(model(inputs[batch]), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        _, score = selection_score(
            val_labels, _probabilities(model, inputs[parts["val"]], config.eval_batch_size)
        )
        if score > state["best_score"] or state["best_model"] is None:
            best_model = {key: value.detach().clone() for key, value in model.state_dict().items()}
            state |= {"best_epoch": epoch + 1, "best_score": score, "best_model": best_model}
        state["history"].append({"epoch": epoch + 1, "val_score": score, "loss": loss.item()})
        state["epoch"] = epoch + 1
        _save({"identity": identity, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
               "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
               "torch_rng": torch.get_rng_state(), "state": state}, last)  # fmt: skip

    model.load_state_dict(state["best_model"])
    summary: dict[str, Any] = {
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "history": state["history"],
    }
    for name in ("val", "test"):
        index = parts[name]
        probabilities = _probabilities(model, inputs[index], config.eval_batch_size)
        summary[name] = (
            classification_metrics(labels[index], probabilities, list(class_names), seed=config.seed)
            if index.size
            else None
        )
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary
