"""Which torch device a run uses, and in which precision its training steps compute."""

from __future__ import annotations

import contextlib
from typing import Literal, get_args

import torch

Precision = Literal["auto", "float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` (or ``"cuda:1"``, ...) as a device; ``"auto"`` is cuda when available."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` is a CPU that multiplies bfloat16 matrices in hardware: AVX512-BF16 or AMX
    instructions (oneDNN kernels, about 2.4× float32 on the PointNet's shapes)."""
    if device.type != "cpu":
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The dtype of a training step's matrix products and activations.

    ``"float32"`` and ``"bfloat16"`` as named; ``"auto"`` is bfloat16 on a CPU that computes it in
    hardware (:func:`native_bfloat16`) and float32 elsewhere (GPUs included: measured on CPUs only).
    Weights, optimiser state, BatchNorm statistics and the loss stay float32 in every case.
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose from {', '.join(PRECISIONS)}")
    if name == "auto":
        return torch.bfloat16 if native_bfloat16(device) else torch.float32
    return torch.bfloat16 if name == "bfloat16" else torch.float32


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Mixed precision for a forward pass: matrix products in ``dtype`` (bfloat16), float32 weights
    (autocast); a no-op context for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
