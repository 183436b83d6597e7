"""The checkpoint format of a run: ``best.pt`` (best-epoch weights, identity, metrics) and ``last.pt``
(everything needed to resume: also optimiser, scheduler, RNG states and the loop's state).

A checkpoint is a dict of tensors and plain values saved with :func:`torch.save` and read back with
``weights_only`` loading. Its *identity* (train and model config, normalisation, class names, data
fingerprint, and for a custom model its class and architecture) says which run it belongs to: a run
resumes only from a ``last.pt`` of the same identity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from crystalgenome.training.rng import rng_state, set_rng_state
from crystalgenome.utils.atomic import atomic_path

CHECKPOINT_FORMAT = 1
BEST_FILE = "best.pt"
LAST_FILE = "last.pt"


def checkpoint_content(
    identity: dict[str, Any],
    model: nn.Module,
    loop_state: dict[str, Any],
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """best.pt content (weights + identity + the last epoch's metrics), or last.pt content when the
    optimiser, scheduler and data generator are given."""
    data = identity | {
        "format": CHECKPOINT_FORMAT,
        "epoch": loop_state["epoch"],
        "metrics": loop_state["history"][-1],
        "model_state": {key: value.detach().cpu() for key, value in model.state_dict().items()},
    }
    if optimizer is not None and scheduler is not None and generator is not None:
        data |= {
            "optimizer_state": optimizer.state_dict(),
            "scheduler_state": scheduler.state_dict(),
            "rng": rng_state(generator),
            "state": loop_state,
        }
    return data


def restore_checkpoint(
    checkpoint: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Load a last.pt into the model, optimiser, scheduler and RNGs; returns the loop's state."""
    model.load_state_dict(checkpoint["model_state"])
    optimizer.load_state_dict(checkpoint["optimizer_state"])
    scheduler.load_state_dict(checkpoint["scheduler_state"])
    set_rng_state(checkpoint["rng"], generator)
    return checkpoint["state"]


def check_identity(checkpoint: dict[str, Any], identity: dict[str, Any], run_dir: Path) -> None:
    """Raise ValueError unless ``checkpoint`` belongs to the run of ``identity``."""
    for key, value in identity.items():
        if checkpoint.get(key) != value:
            what = _differences(key, checkpoint.get(key), value)
            raise ValueError(f"{run_dir} holds a different run ({what} differs); choose another folder")


def _differences(key: str, saved: Any, value: Any) -> str:
    """``key``, or the fields of ``key`` that differ when both are dicts (e.g. ``train_config.lr``)."""
    if not (isinstance(saved, dict) and isinstance(value, dict)):
        return key
    fields = sorted(name for name in saved.keys() | value.keys() if saved.get(name) != value.get(name))
    return ", ".join(f"{key}.{name}" for name in fields)


def save_checkpoint(data: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically."""
    with atomic_path(path) as temporary:
        torch.save(data, temporary)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by :func:`~crystalgenome.training.train` (tensors on CPU; safe
    ``weights_only`` loading)."""
    return torch.load(path, map_location="cpu", weights_only=True)
