"""Which torch device a run uses."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` (or ``"cuda:1"``, ...) as a device; ``"auto"`` is cuda when available."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
