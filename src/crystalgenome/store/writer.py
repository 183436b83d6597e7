"""Featurize a source into a store: plan shards, skip finished ones, stream the rest to workers.

Crash safety rests on one rule: a shard file exists only once it is complete (its bytes are
written to a temporary file, fsynced, then renamed into place), and it records the settings
fingerprint and the fingerprint of the ids it covers. A restarted run recomputes exactly the
shards without such a file; finished shards are neither recomputed nor rewritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.store.executors import Backend, run_shards
from crystalgenome.store.layout import (
    FORMAT_VERSION,
    LABELS_NAME,
    LOCK_NAME,
    MANIFEST_NAME,
    SHARDS_DIR,
    SKIPPED_NAME,
    STORE_FORMAT,
    ShardSpec,
    StoreError,
    fsync_directory,
    plan_shards,
    read_manifest,
    shard_file_name,
    write_manifest,
)
from crystalgenome.store.shard import ShardResult, ShardTask, shard_identity
from crystalgenome.utils.atomic import atomic_path, atomic_write_text
from crystalgenome.utils.provenance import fingerprint_strings, run_metadata

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from crystalgenome.data import Source

DEFAULT_SHARD_SIZE = 512
"""Structures per shard: small enough to balance two workers, large enough to keep files few."""


@dataclass(frozen=True)
class FeaturizeReport:
    """What a featurize run did.

    Attributes:
        store: the store directory.
        num_structures: ids planned (after ``limit``).
        num_featurized: structures with a pattern in the store.
        skipped: (material_id, reason) of every structure that could not be featurized.
        shards_computed: shards computed by this run.
        shards_reused: finished shards found from an earlier run and kept as they were.
        seconds: wall time of this run, s.
        resumed: structures already in finished shards when this run started (0: a fresh store).
    """

    store: Path
    num_structures: int
    num_featurized: int
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    shards_computed: int = 0
    shards_reused: int = 0
    seconds: float = 0.0
    resumed: int = 0


def featurize(
    source: Source,
    out: str | Path,
    *,
    settings: DiffractionSettings | None = None,
    backend: Backend | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    limit: int | None = None,
    progress: bool = True,
) -> FeaturizeReport:
    """Featurize ``source`` into the store at ``out``, resuming an interrupted run there.

    Args:
        source: a ``crystalgenome.data.Source``.
        out: store directory (created; an existing store must have the same settings and source).
        settings: diffraction settings (default ``DiffractionSettings()``).
        backend: where shards run (default: this process).
        shard_size: structures per shard; part of the plan, so it must match when resuming.
        limit: featurize only the first ``limit`` ids of the source.
        progress: show a tqdm progress bar on stderr.

    Raises:
        StoreError: ``out`` holds a store made with other settings, another source or shard size,
            or more structures than ``limit`` selects (finished shards are never deleted), or is a
            non-empty folder that is not a store.
    """
    started = time.perf_counter()
    settings = settings or DiffractionSettings()
    backend = backend or Backend()
    store = Path(out)
    ids = _selected_ids(source, limit)
    plan = plan_shards(ids, shard_size)
    header = _manifest_header(source, settings, shard_size, ids, limit)
    with _exclusive(store):
        _prepare_store(store, header, plan)
        pending = [spec for spec in plan if not _is_finished(store, spec, header["settings_fingerprint"])]
        done = sum(len(spec.ids) for spec in plan) - sum(len(spec.ids) for spec in pending)
        computed = skipped_now = 0
        with _progress_bar(len(ids), done, enabled=progress) as bar:
            for result in run_shards(_stream_tasks(source, pending, settings), backend):
                _write_shard(store, result)
                computed += 1
                skipped_now += len(result.skipped)
                bar.update(result.num_featurized + len(result.skipped))
                bar.set_postfix(skipped=skipped_now, refresh=False)
        skipped, num_featurized = _finalize(store, source, header, plan)
    return FeaturizeReport(
        store=store,
        num_structures=len(ids),
        num_featurized=num_featurized,
        skipped=skipped,
        shards_computed=computed,
        shards_reused=len(plan) - len(pending),
        seconds=time.perf_counter() - started,
        resumed=done,
    )


@contextlib.contextmanager
def _exclusive(store: Path) -> Iterator[None]:
    """Hold an exclusive lock on the store for the whole run (released by the kernel even on SIGKILL).

    Raises:
        StoreError: when the folder exists and is not a store, or another run holds the lock.
    """
    if store.exists() and not (store / MANIFEST_NAME).exists() and not _is_empty_folder(store):
        raise StoreError(f"{store}: exists and is not a feature store; choose a new or empty --out folder")
    store.mkdir(parents=True, exist_ok=True)
    with (store / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"{store}: another featurize run is writing to this store") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _selected_ids(source: Source, limit: int | None) -> list[str]:
    ids = list(source.ids())
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        ids = ids[:limit]
    if len(set(ids)) != len(ids):
        raise StoreError(f"{source.path}: the source lists some material ids more than once")
    return ids


def _manifest_header(
    source: Source, settings: DiffractionSettings, shard_size: int, ids: list[str], limit: int | None
) -> dict[str, Any]:
    """The part of the manifest that identifies what the store holds (compared when resuming)."""
    source_info = {
        "name": source.name,
        "type": type(source).__name__,
        "path": str(source.path),
        "fingerprint": source.fingerprint(),
        "count": len(source),
    }
    return {
        "format": STORE_FORMAT,
        "format_version": FORMAT_VERSION,
        "settings": settings.to_dict(),
        "settings_fingerprint": settings.fingerprint(),
        "source": source_info,
        "shard_size": shard_size,
        "limit": limit,
        "num_structures": len(ids),
        "ids_fingerprint": fingerprint_strings(ids),
        "provenance": run_metadata(
            {"settings": settings.to_dict(), "shard_size": shard_size, "limit": limit, "source": source_info},
            data_fingerprint=source_info["fingerprint"],
        ),
    }


def _is_empty_folder(path: Path) -> bool:
    """True for a folder holding nothing but (perhaps) the lock file of a run killed before it began."""
    return path.is_dir() and all(entry.name == LOCK_NAME for entry in path.iterdir())


def _prepare_store(store: Path, header: dict[str, Any], plan: list[ShardSpec]) -> None:
    """Check that an existing store may be continued, record the run, drop stale temporary files."""
    if (store / MANIFEST_NAME).exists():
        existing = read_manifest(store)
        _check_compatible(store, existing, header)
        _check_nothing_lost(store, existing, header, plan)
    write_manifest(store, {**header, "status": "in_progress", "shards": [spec.to_dict() for spec in plan]})
    shards = store / SHARDS_DIR
    shards.mkdir(exist_ok=True)
    for leftover in shards.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _check_compatible(store: Path, existing: dict[str, Any], header: dict[str, Any]) -> None:
    if existing["settings_fingerprint"] != header["settings_fingerprint"]:
        raise StoreError(
            f"{store}: this store holds patterns made with other diffraction settings "
            f"(fingerprint {existing['settings_fingerprint']}: {_settings_text(existing['settings'])}); "
            f"requested {header['settings_fingerprint']}: {_settings_text(header['settings'])}. "
            "Featurize into another --out folder"
        )
    if existing["source"]["fingerprint"] != header["source"]["fingerprint"]:
        raise StoreError(
            f"{store}: this store was made from another source ({existing['source']['path']}, fingerprint "
            f"{existing['source']['fingerprint']}); featurize into another --out folder"
        )
    if existing["shard_size"] != header["shard_size"]:
        raise StoreError(
            f"{store}: this store uses --shard-size {existing['shard_size']}, not {header['shard_size']}; "
            "resume with the same shard size or featurize into another --out folder"
        )


def _check_nothing_lost(
    store: Path, existing: dict[str, Any], header: dict[str, Any], plan: list[ShardSpec]
) -> None:
    """Refuse a run whose plan leaves out structures of finished shards (a smaller ``limit``): their
    shards would be deleted or overwritten. Growing a store is fine (a last, shorter shard is redone)."""
    import h5py

    wanted = {material_id for spec in plan for material_id in spec.ids}
    left_out: list[str] = []
    for path in sorted((store / SHARDS_DIR).glob("shard-*.h5")):
        identity = shard_identity(path)
        if identity is None or identity[0] != header["settings_fingerprint"]:
            continue  # not a finished shard of these settings: nothing to keep
        with h5py.File(path, "r") as handle:
            covered = [*handle["ids"].asstr()[:], *handle["skipped_ids"].asstr()[:]]
        left_out.extend(material_id for material_id in covered if material_id not in wanted)
    if left_out:
        held = existing.get("num_structures", "more")
        raise StoreError(
            f"{store}: finished shards hold {len(left_out)} structures that --limit {header['limit']} leaves "
            f"out (e.g. {', '.join(left_out[:3])}); running would delete them. Resume with --limit {held} or "
            "more (or no --limit), or featurize into another --out folder"
        )


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items())


def _is_finished(store: Path, spec: ShardSpec, settings_fingerprint: str) -> bool:
    """True when the shard's file exists, is readable, and covers exactly these ids with these settings."""
    path = store / SHARDS_DIR / spec.file_name
    return path.is_file() and shard_identity(path) == (settings_fingerprint, spec.ids_fingerprint)


def _stream_tasks(
    source: Source, pending: list[ShardSpec], settings: DiffractionSettings
) -> Iterator[ShardTask]:
    """Stream the raw records of the pending shards once, cut into one task per shard."""
    if not pending:
        return
    shard_of = {material_id: position for position, spec in enumerate(pending) for material_id in spec.ids}
    position, records = 0, []
    for record in source.iter_raw([material_id for spec in pending for material_id in spec.ids]):
        where = shard_of.get(record.material_id)
        if where is None:
            continue
        while where > position:
            yield ShardTask(
                index=pending[position].index,
                ids=pending[position].ids,
                records=tuple(records),
                settings=settings,
            )
            position, records = position + 1, []
        records.append(record)
    for spec in pending[position:]:
        yield ShardTask(index=spec.index, ids=spec.ids, records=tuple(records), settings=settings)
        records = []


def _write_shard(store: Path, result: ShardResult) -> None:
    """Write a finished shard: temporary file, fsync, rename (the rename is the proof of completion)."""
    folder = store / SHARDS_DIR
    with atomic_path(folder / shard_file_name(result.index)) as temporary, temporary.open("wb") as handle:
        handle.write(result.image)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_directory(folder)


def _progress_bar(total: int, done: int, *, enabled: bool) -> tqdm:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=done, disable=not enabled, unit="structure", desc="featurize", smoothing=0.1
    )


def _finalize(
    store: Path, source: Source, header: dict[str, Any], plan: list[ShardSpec]
) -> tuple[tuple[tuple[str, str], ...], int]:
    """Write labels.csv, skipped.csv and the completed manifest; remove shards outside the plan."""
    import h5py
    import pandas as pd

    ids: list[str] = []
    skipped: list[tuple[str, str]] = []
    width = 0
    for spec in plan:
        with h5py.File(store / SHARDS_DIR / spec.file_name, "r") as handle:
            ids.extend(handle["ids"].asstr()[:].tolist())
            skipped.extend(
                zip(handle["skipped_ids"].asstr()[:], handle["skipped_reasons"].asstr()[:], strict=True)
            )
            width = max(width, int(handle["points"].shape[1]))
    planned = {spec.file_name for spec in plan}
    for stale in (store / SHARDS_DIR).glob("shard-*.h5"):
        if stale.name not in planned:
            stale.unlink()
    labels = source.labels().reindex(pd.Index(ids, name="material_id"))
    labels.index.name = "material_id"
    atomic_write_text(store / LABELS_NAME, labels.to_csv())
    skipped_table = pd.DataFrame(skipped, columns=["material_id", "reason"])
    atomic_write_text(store / SKIPPED_NAME, skipped_table.to_csv(index=False))
    write_manifest(
        store,
        {
            **header,
            "status": "complete",
            "shards": [spec.to_dict() for spec in plan],
            "num_featurized": len(ids),
            "num_skipped": len(skipped),
            "max_num_points": width,
            "store_fingerprint": fingerprint_strings(
                [header["settings_fingerprint"], header["source"]["fingerprint"], *ids]
            ),
        },
    )
    return tuple(skipped), len(ids)
