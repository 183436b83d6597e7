"""Reproducibility records: package versions, data fingerprints, run metadata."""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from crystalgenome import __version__

TRACKED_PACKAGES = (
    "numpy",
    "scipy",
    "torch",
    "pymatgen",
    "moyopy",
    "spglib",
    "scikit-learn",
    "h5py",
    "pandas",
    "ray",
)


def package_versions(packages: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that change results (``"absent"`` if not installed)."""
    versions = {"crystalgenome": __version__, "python": sys.version.split()[0]}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def fingerprint_strings(items: Iterable[str]) -> str:
    """Order-sensitive SHA-256 (16 hex digits) of a sequence of strings, e.g. material ids."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def fingerprint_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 (16 hex digits) of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def run_metadata(
    config: dict[str, Any], *, seed: int | None = None, data_fingerprint: str | None = None
) -> dict:
    """Everything needed to reproduce a run: config, seed, versions, data fingerprint, host, time."""
    return {
        "config": config,
        "seed": seed,
        "data_fingerprint": data_fingerprint,
        "versions": package_versions(),
        "platform": platform.platform(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
    }
