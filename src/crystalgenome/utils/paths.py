"""Where data and caches live. Nothing here is an absolute path baked into the code."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "CRYSTALGENOME_DATA_DIR"
"""Environment variable naming the folder of shared real datasets (e.g. ``../shared/data``)."""

CACHE_ENV = "CRYSTALGENOME_CACHE_DIR"
"""Environment variable overriding the cache folder (default ``~/.cache/crystalgenome``)."""


def shared_data_dir() -> Path | None:
    """The shared datasets folder from ``$CRYSTALGENOME_DATA_DIR``, or None when unset/missing."""
    value = os.environ.get(DATA_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_dir() else None


def cache_dir(*parts: str) -> Path:
    """A (created) folder under the user cache: ``$CRYSTALGENOME_CACHE_DIR`` or ``~/.cache/crystalgenome``."""
    override = os.environ.get(CACHE_ENV)
    root = (
        Path(override)
        if override
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crystalgenome"
    )
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
