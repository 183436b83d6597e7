"""Batched prediction with test-time rotation averaging, and the rotation-invariance fraction.

Test-time rotations are R fixed random rotations (seeded, the same for every structure), so the
result of a prediction never depends on chance or on how the inputs are batched.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from crystalgenome.model import PointNet, friedel_half
from crystalgenome.training.augment import random_rotations, rotate

DEFAULT_BATCH = 1024
"""Structures per forward pass in prediction."""


def fixed_rotations(count: int, seed: int = 0) -> torch.Tensor:
    """(count, 3, 3) uniform random rotations from a fixed seed (the test-time rotations)."""
    return random_rotations(count, generator=torch.Generator().manual_seed(seed))


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def half_cloud_inputs(model: nn.Module) -> tuple[bool, bool]:
    """(whether ``model`` may be fed Friedel half-clouds, whether to choose them by Miller indices):
    True when every PointNet in it has ``friedel_half`` (an ensemble, a wrapped model)."""
    nets = [module for module in model.modules() if isinstance(module, PointNet)]
    half = bool(nets) and all(net.config.friedel_half for net in nets)
    return half, any(net.config.needs_hkl for net in nets)


def halve_for(
    model: nn.Module, inputs: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Friedel half of normalised clouds when ``model`` reads half-clouds (same output, half the
    work), else the clouds unchanged. Choose the half before rotating: it is defined in the given frame."""
    half, miller = half_cloud_inputs(model)
    return friedel_half(inputs, mask, miller_channels=miller) if half else (inputs, mask)


@torch.no_grad()
def model_logits(
    model: nn.Module,
    inputs: torch.Tensor,
    mask: torch.Tensor,
    *,
    rotation: torch.Tensor | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> torch.Tensor:
    """(n, K) logits of normalised ``inputs`` (n, P, C), optionally all rotated by one (3, 3) matrix.

    The model is put in eval mode (and restored afterwards). A model that reads Friedel half-clouds
    gets the half of each chunk (:func:`halve_for`).
    """
    was_training = model.training
    model.eval()
    device = _model_device(model)
    outputs = []
    for start in range(0, inputs.shape[0], batch_size):
        chunk, chunk_mask = halve_for(
            model, inputs[start : start + batch_size].to(device), mask[start : start + batch_size].to(device)
        )
        if rotation is not None:
            chunk = rotate(chunk, rotation.to(device, chunk.dtype))
        outputs.append(model(chunk, chunk_mask).float().cpu())
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0)


def model_probabilities(
    model: nn.Module,
    inputs: torch.Tensor,
    mask: torch.Tensor,
    *,
    rotations: int = 0,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """(n, K) class probabilities of normalised inputs, averaged over ``rotations`` fixed rotations.

    ``rotations`` = 0 predicts the inputs as given (one pass).
    """
    if rotations <= 0:
        return torch.softmax(model_logits(model, inputs, mask, batch_size=batch_size), dim=1).numpy()
    total = None
    for rotation in fixed_rotations(rotations, seed):
        logits = model_logits(model, inputs, mask, rotation=rotation, batch_size=batch_size)
        probabilities = torch.softmax(logits.double(), dim=1)
        total = probabilities if total is None else total + probabilities
    return (total / rotations).numpy()


INVARIANCE_SAMPLE = 5000
"""Most structures :func:`rotation_invariance` checks: a larger set is represented by a seeded random
subset of this size. The check costs ``rotations`` + 1 forward passes per structure; on the 45k test
structures of a 300k-structure store, all of them would take several times longer than a training epoch."""


def invariance_sample(count: int, sample: int | None, seed: int) -> np.ndarray:
    """Sorted positions of the structures a rotation-invariance check looks at: all ``count`` when
    ``sample`` is None or not smaller, else a seeded random subset of ``sample``."""
    if sample is None or count <= sample:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=sample, replace=False))


def rotation_invariance(
    model: nn.Module,
    inputs: torch.Tensor,
    mask: torch.Tensor,
    *,
    rotations: int = 20,
    seed: int = 12345,
    batch_size: int = DEFAULT_BATCH,
    sample: int | None = INVARIANCE_SAMPLE,
) -> tuple[float, np.ndarray]:
    """Fraction of structures whose predicted class is the same as given and under ``rotations`` rotations.

    With more than ``sample`` structures, a seeded random subset of ``sample`` of them is checked
    (:func:`invariance_sample`; None checks all).

    Returns the fraction and a per-structure float array: 1.0 = unchanged under all rotations,
    0.0 = changed, NaN = not in the checked subset.
    """
    count = inputs.shape[0]
    chosen = invariance_sample(count, sample, seed)
    if chosen.size < count:
        index = torch.from_numpy(chosen)
        inputs, mask = inputs[index], mask[index]
    reference = model_logits(model, inputs, mask, batch_size=batch_size).argmax(dim=1)
    unchanged = torch.ones_like(reference, dtype=torch.bool)
    for rotation in fixed_rotations(rotations, seed):
        predicted = model_logits(model, inputs, mask, rotation=rotation, batch_size=batch_size).argmax(dim=1)
        unchanged &= predicted == reference
    flags = np.full(count, np.nan)
    flags[chosen] = unchanged.numpy()
    return (float(unchanged.double().mean()) if chosen.size else float("nan")), flags
