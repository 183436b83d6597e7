"""Read a finished feature store: ids, labels with symmetry metadata, and point clouds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.store.layout import LABELS_NAME, SKIPPED_NAME, StoreError, read_manifest
from crystalgenome.structures import CRYSTAL_SYSTEMS

if TYPE_CHECKING:
    import pandas as pd

METADATA_COLUMNS = (
    "space_group_number",
    "crystal_system",
    "is_ordered",
    "num_sites",
    "formula",
    "num_points",
)
"""Per-structure columns the store adds to the source's labels."""


_MASK_CHUNK = 65536
"""Structures per step when writing a mask (bounds the temporaries of :meth:`FeatureStore.read_into`)."""


@dataclass(frozen=True)
class _Shard:
    path: Path
    start: int  # position of the shard's first structure in the store order
    count: int


class FeatureStore:
    """A finished feature store, opened read-only.

    Example::

        store = FeatureStore.open("stores/mp_cgcnn")
        points, mask = store.load_points()      # (n, P, 4) float32, (n, P) bool
        labels = store.labels()                  # properties + space_group_number, crystal_system, ...
        store.read_into(big, big_mask, ids, at=rows)  # into rows of preallocated arrays, shard by shard
    """

    def __init__(self, *, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self._shards: list[_Shard] = []
        ids: list[str] = []
        counts: list[np.ndarray] = []
        import h5py

        for entry in manifest["shards"]:
            shard_path = path / entry["file"]
            try:
                with h5py.File(shard_path, "r") as handle:
                    shard_ids = handle["ids"].asstr()[:].tolist()
                    counts.append(handle["num_points"][...].astype(np.int64))
            except (OSError, KeyError) as error:
                raise StoreError(f"{shard_path}: unreadable shard ({error})") from None
            self._shards.append(_Shard(path=shard_path, start=len(ids), count=len(shard_ids)))
            ids.extend(shard_ids)
        self._ids = ids
        self._num_points = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
        self._position = {material_id: row for row, material_id in enumerate(ids)}

    @classmethod
    def open(cls, path: str | Path) -> FeatureStore:
        """Open the store at ``path``.

        Raises:
            StoreError: when it is not a store or its featurize run has not finished.
        """
        path = Path(path)
        manifest = read_manifest(path)
        if manifest.get("status") != "complete":
            done = sum((path / entry["file"]).is_file() for entry in manifest["shards"])
            raise StoreError(
                f"{path}: store is incomplete ({done} of {len(manifest['shards'])} shards written); "
                "run `crystalgenome featurize` again with the same arguments to finish it"
            )
        return cls(path=path, manifest=manifest)

    @property
    def ids(self) -> list[str]:
        """Material ids of the featurized structures, in source order."""
        return list(self._ids)

    @cached_property
    def settings(self) -> DiffractionSettings:
        """The diffraction settings every pattern of the store was computed with."""
        return DiffractionSettings.from_dict(self.manifest["settings"])

    @property
    def source(self) -> dict[str, Any]:
        """Name, type, path, fingerprint and count of the source the store was made from."""
        return dict(self.manifest["source"])

    @property
    def max_num_points(self) -> int:
        """P: the largest number of points of one structure (the padded width of :meth:`load_points`)."""
        return int(self.manifest["max_num_points"])

    def fingerprint(self) -> str:
        """Fingerprint of the content: settings, source and featurized ids."""
        return str(self.manifest["store_fingerprint"])

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, material_id: object) -> bool:
        return material_id in self._position

    def __repr__(self) -> str:
        fingerprint = self.manifest["settings_fingerprint"]
        return f"FeatureStore({str(self.path)!r}, {len(self)} structures, settings {fingerprint})"

    def skipped(self) -> pd.DataFrame:
        """Structures that could not be featurized: columns ``material_id``, ``reason``."""
        import pandas as pd

        return pd.read_csv(self.path / SKIPPED_NAME, dtype=str, keep_default_na=False)

    def metadata(self) -> pd.DataFrame:
        """Per-structure metadata indexed by material id: :data:`METADATA_COLUMNS`."""
        import pandas as pd

        columns: dict[str, list[np.ndarray]] = {name: [] for name in METADATA_COLUMNS}
        for shard in self._shards:
            data = _read_datasets(
                shard.path, ("space_group_number", "crystal_system", "is_ordered", "num_sites")
            )
            data["crystal_system"] = np.asarray(CRYSTAL_SYSTEMS, dtype=object)[
                data["crystal_system"].astype(int)
            ]
            data["formula"] = _read_text(shard.path, "formula")
            data["num_points"] = self._num_points[shard.start : shard.start + shard.count]
            for name in METADATA_COLUMNS:
                columns[name].append(data[name])
        table = pd.DataFrame(
            {name: np.concatenate(parts) if parts else np.array([]) for name, parts in columns.items()},
            index=pd.Index(self._ids, name="material_id"),
        )
        return table.astype(
            {"space_group_number": "int64", "is_ordered": bool, "num_sites": "int64", "num_points": "int64"}
        )

    def symmetry(self) -> pd.DataFrame:
        """The store's symmetry in the layout of ``crystalgenome.data.symmetry_table`` (columns
        ``space_group_number`` Int64, ``crystal_system``, ``is_ordered``, ``error`` = ""), so that
        ``training_labels(task, store.labels(), symmetry=store.symmetry())`` works on a store."""
        table = self.metadata()[["space_group_number", "crystal_system", "is_ordered"]].copy()
        table["space_group_number"] = table["space_group_number"].astype("Int64")
        table["error"] = ""
        return table

    def labels(self) -> pd.DataFrame:
        """The source's property table for the store's ids, with the metadata columns joined.

        A source column that shares a metadata column's name (e.g. a ``formula`` column) is kept
        as ``source_<name>``.
        """
        import pandas as pd

        properties = pd.read_csv(self.path / LABELS_NAME, index_col="material_id", dtype={"material_id": str})
        properties = properties.rename(columns={c: f"source_{c}" for c in METADATA_COLUMNS})
        return properties.reindex(pd.Index(self._ids, name="material_id")).join(self.metadata())

    def rows(self, ids: Iterable[str] | None = None) -> np.ndarray:
        """Positions in the store order of ``ids`` (all when None).

        Raises:
            KeyError: naming the first id that is not in the store.
        """
        if ids is None:
            return np.arange(len(self._ids))
        try:
            return np.array([self._position[material_id] for material_id in ids], dtype=np.int64)
        except KeyError as error:
            raise KeyError(
                f"{error.args[0]} is not in the store {self.path} (skipped or never featurized)"
            ) from None

    def load_points(self, ids: Iterable[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Raw point clouds and their mask, in the order of ``ids`` (store order when None).

        Returns:
            points: (n, P, 4) float32 of (g_x, g_y, g_z in Å⁻¹, I = |F|²/V²), zero-padded;
            mask: (n, P) bool, True on real points (all True for a Miller box).
        """
        rows = self.rows(ids)
        points = self._gather("points", rows, np.float32, 4)
        return points, self._mask(rows)

    def load_hkl(self, ids: Iterable[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Miller indices (n, P, 3) int16 (zero-padded) and the mask of :meth:`load_points`."""
        rows = self.rows(ids)
        return self._gather("hkl", rows, np.int16, 3), self._mask(rows)

    def read_into(
        self,
        out: np.ndarray,
        mask: np.ndarray | None = None,
        ids: Iterable[str] | None = None,
        *,
        at: np.ndarray | None = None,
    ) -> None:
        """Write the point clouds of ``ids`` (all when None) straight into rows ``at`` of a preallocated
        array, one shard at a time: no (n, P, 4) array of the whole selection is ever made.

        Args:
            out: (N, width, C) array, float32 usually; ``width`` ≥ :attr:`max_num_points`. Channels 0–3
                get the points; with C = 7, channels 4–6 get the Miller indices (h, k, l). Entries past
                a structure's points are left as they are (allocate ``out`` with ``np.zeros``).
            mask: optional (N, width) bool array: its rows ``at`` are set True on real points, False after.
            ids: material ids (store order when None).
            at: (len(ids),) rows of ``out`` to write (default 0, 1, ...).

        Raises:
            KeyError: naming the first id that is not in the store.
            ValueError: ``out`` or ``mask`` has the wrong shape.
        """
        rows = self.rows(ids)
        at = np.arange(rows.size) if at is None else np.asarray(at, dtype=np.int64)
        if at.shape != rows.shape:
            raise ValueError(f"{at.size} target rows for {rows.size} structures")
        channels = out.shape[-1] if out.ndim == 3 else 0
        if channels not in (4, 7) or out.shape[1] < self.max_num_points:
            raise ValueError(f"out must have shape (N, >= {self.max_num_points}, 4 or 7), got {out.shape}")
        if mask is not None:
            if mask.shape != out.shape[:2]:
                raise ValueError(f"mask shape {mask.shape} does not match out {out.shape[:2]}")
            counts = self._num_points[rows]
            for start in range(0, rows.size, _MASK_CHUNK):  # bounded (chunk, width) temporaries
                part = slice(start, start + _MASK_CHUNK)
                mask[at[part]] = np.arange(mask.shape[1])[None, :] < counts[part, None]
        names = ("points", "hkl") if channels == 7 else ("points",)
        for shard, positions, targets in self._by_shard(rows):
            data = _read_datasets(shard.path, names)
            width = data["points"].shape[1]
            destination = at[targets]
            out[destination, :width, :4] = data["points"][positions]
            if channels == 7:
                out[destination, :width, 4:] = data["hkl"][positions]

    def load_lattices(self, ids: Iterable[str] | None = None) -> np.ndarray:
        """(n, 3, 3) direct lattices (rows, Å) of the cells that were diffracted."""
        rows = self.rows(ids)
        out = np.empty((rows.size, 3, 3))
        for shard, positions, targets in self._by_shard(rows):
            out[targets] = _read_datasets(shard.path, ("lattice",))["lattice"][positions]
        return out

    def num_points(self, ids: Iterable[str] | None = None) -> np.ndarray:
        """(n,) number of real points of each structure."""
        return self._num_points[self.rows(ids)]

    def _mask(self, rows: np.ndarray) -> np.ndarray:
        return np.arange(self.max_num_points)[None, :] < self._num_points[rows][:, None]

    def _by_shard(self, rows: np.ndarray) -> Iterable[tuple[_Shard, np.ndarray, np.ndarray]]:
        """For each shard touched by ``rows``: (shard, positions inside it, positions in the output)."""
        starts = np.array([shard.start for shard in self._shards], dtype=np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        for index in np.unique(which):
            targets = np.flatnonzero(which == index)
            shard = self._shards[int(index)]
            yield shard, rows[targets] - shard.start, targets

    def _gather(self, name: str, rows: np.ndarray, dtype: type, channels: int) -> np.ndarray:
        """(len(rows), P, channels) rows of dataset ``name``; whole shards are read straight into place."""
        import h5py

        out = np.zeros((rows.size, self.max_num_points, channels), dtype=dtype)
        for shard, positions, targets in self._by_shard(rows):
            with h5py.File(shard.path, "r") as handle:
                dataset = handle[name]
                width = dataset.shape[1]
                if _is_whole_shard(positions, targets, shard.count):
                    selection = np.s_[int(targets[0]) : int(targets[0]) + shard.count, :width]
                    if dataset.dtype == dtype:
                        dataset.read_direct(out, dest_sel=selection)
                    else:
                        out[selection] = dataset[...]
                else:
                    out[targets, :width] = dataset[...][positions]
        return out


def _is_whole_shard(positions: np.ndarray, targets: np.ndarray, count: int) -> bool:
    """True when a shard's rows are all wanted, in order, at consecutive output positions."""
    return (
        positions.size == count
        and count > 0
        and bool(np.all(positions == np.arange(count)))
        and bool(np.all(np.diff(targets) == 1))
    )


def _read_datasets(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as handle:
        return {name: handle[name][...] for name in names}


def _read_text(path: Path, name: str) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as handle:
        return np.asarray(handle[name].asstr()[...], dtype=object)
