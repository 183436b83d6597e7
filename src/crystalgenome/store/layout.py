"""Where things live inside a store directory, and its manifest.

A store is a directory::

    STORE/
      manifest.json            settings + fingerprints, source, shard plan, provenance, status
      shards/shard-000000.h5   one HDF5 file per shard (written whole, then renamed into place)
      labels.csv               the source's property table for the featurized ids
      skipped.csv              material_id, reason of every structure that could not be featurized
      .lock                    held (flock) by the featurize run writing the store
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystalgenome.errors import CrystalGenomeError
from crystalgenome.utils.atomic import atomic_write_json
from crystalgenome.utils.provenance import fingerprint_strings

STORE_FORMAT = "crystalgenome-feature-store"
"""Value of ``manifest["format"]``: how a directory is recognised as a feature store."""

FORMAT_VERSION = 1
"""Bumped whenever the shard layout changes; stores of another version are refused."""

MANIFEST_NAME = "manifest.json"
SHARDS_DIR = "shards"
LABELS_NAME = "labels.csv"
SKIPPED_NAME = "skipped.csv"
LOCK_NAME = ".lock"


class StoreError(CrystalGenomeError):
    """A feature store is missing, incomplete, or incompatible with the requested run."""


@dataclass(frozen=True)
class ShardSpec:
    """One shard of the plan: a contiguous slice of the id order.

    Attributes:
        index: position of the shard in the plan (its file name).
        ids: the material ids the shard covers, in source order.
    """

    index: int
    ids: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return shard_file_name(self.index)

    @property
    def ids_fingerprint(self) -> str:
        """Fingerprint of the shard's ids: a finished shard file must carry the same one."""
        return fingerprint_strings(self.ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": f"{SHARDS_DIR}/{self.file_name}",
            "count": len(self.ids),
            "ids_fingerprint": self.ids_fingerprint,
        }


def shard_file_name(index: int) -> str:
    return f"shard-{index:06d}.h5"


def plan_shards(ids: list[str], shard_size: int) -> list[ShardSpec]:
    """Cut the id order into consecutive shards of ``shard_size`` ids (the last may be shorter).

    The plan depends only on the ids and the shard size, so a restarted run finds the same shards.
    """
    if shard_size < 1:
        raise ValueError(f"shard size must be >= 1, got {shard_size}")
    return [
        ShardSpec(index=i, ids=tuple(ids[start : start + shard_size]))
        for i, start in enumerate(range(0, len(ids), shard_size))
    ]


def is_store(path: str | Path) -> bool:
    """True when ``path`` is a directory holding a feature-store manifest."""
    manifest = Path(path) / MANIFEST_NAME
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("format") == STORE_FORMAT
    except (OSError, ValueError):
        return False


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the store at ``path``.

    Raises:
        StoreError: when there is no readable manifest of this format and version.
    """
    manifest_path = Path(path) / MANIFEST_NAME
    if not manifest_path.is_file():
        raise StoreError(f"{path}: not a feature store (no {MANIFEST_NAME})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise StoreError(f"{manifest_path}: unreadable manifest ({error})") from None
    if manifest.get("format") != STORE_FORMAT:
        raise StoreError(f"{path}: {MANIFEST_NAME} is not a crystalgenome feature-store manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StoreError(
            f"{path}: store format version {manifest.get('format_version')} is not supported "
            f"(this crystalgenome reads version {FORMAT_VERSION}); featurize again into a new folder"
        )
    return manifest


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically."""
    atomic_write_json(Path(path) / MANIFEST_NAME, manifest)


def fsync_directory(path: str | Path) -> None:
    """Flush a directory entry (the rename of a finished shard) to disk; a no-op where unsupported."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
