"""Seeding and the saved state of every random number generator a run draws from, for exact resume."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (weights and dropout)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds code that uses the global RNG
    torch.manual_seed(seed)


def rng_state(data_generator: torch.Generator) -> dict[str, Any]:
    """The states of torch's, numpy's and python's global RNGs and of the run's data generator
    (checkpoint-safe: tensors and plain lists)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 - the global RNG
    return {
        "torch": torch.get_rng_state(),
        "data": data_generator.get_state(),
        "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any], data_generator: torch.Generator) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))  # noqa: NPY002
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
