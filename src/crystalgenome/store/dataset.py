"""From a data path and a task to the arrays a model trains on.

``load_task_dataset(["../shared/data/mp_cgcnn_mtcgcnn"], "metal")`` opens each path (a feature store,
or a dataset folder/file in any format the data layer reads, which is featurized once into a cached
store under :func:`~crystalgenome.utils.paths.cache_dir` and reused afterwards), applies the task's
label rules and filters, and returns points, mask, labels, ids and a split. Several paths are
joined (the first occurrence of a material id wins), e.g. the two elasticity sets together.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.data import (
    LabelThresholds,
    Source,
    Split,
    authors_split,
    grouped_split,
    open_source,
    random_split,
    task_class_names,
    training_labels,
)
from crystalgenome.data.sources.joined import merge_labels, read_label_table
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.diffraction.clouds import BASE_CHANNELS, MILLER_CHANNELS
from crystalgenome.store.executors import Backend
from crystalgenome.store.layout import StoreError, is_store
from crystalgenome.store.reader import FeatureStore
from crystalgenome.store.writer import featurize
from crystalgenome.utils.paths import cache_dir
from crystalgenome.utils.provenance import fingerprint_file

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

SPLIT_KINDS = ("random", "grouped")
"""Split kinds made on the fly; a path to a split JSON or to an authors' split CSV also works."""


@dataclass
class TaskDataset:
    """Everything a training run needs, in memory.

    Attributes:
        task: one of :data:`crystalgenome.data.TASKS`.
        class_names: class index → name (binary tasks: index 1 is the positive class).
        ids: material ids, aligned with ``points``, ``mask``, ``labels``.
        points: (n, P, 4) raw (g_x, g_y, g_z in Å⁻¹, I = |F|²/V²), or (n, P, 7) with the Miller
            indices (h, k, l) appended when loaded ``with_hkl``.
        mask: (n, P) True on real points.
        labels: (n,) class indices.
        split: train/valid/test material ids.
        stores: the feature stores the data came from.
        fingerprint: hash of the stores' settings and ids, recorded with every run.
        formulas: reduced formula per id (for grouped splits and reports).
    """

    task: str
    class_names: list[str]
    ids: list[str]
    points: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    split: Split
    stores: list[Path] = field(default_factory=list)
    fingerprint: str = ""
    formulas: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(count) for name, count in zip(self.class_names, counts, strict=True)}


def ensure_store(
    data: str | Path | Source,
    settings: DiffractionSettings | None = None,
    *,
    workers: int = 2,
    limit: int | None = None,
    progress: bool = True,
) -> FeatureStore:
    """A feature store for ``data``: the store itself, or a cached store featurized from the source
    (a path in any supported format, or a :class:`~crystalgenome.data.Source` object).

    Raises:
        StoreError: ``data`` is a store whose diffraction settings differ from ``settings``.
    """
    if not isinstance(data, Source) and is_store(data):
        store = FeatureStore.open(data)
        if settings is not None and store.settings.fingerprint() != settings.fingerprint():
            raise StoreError(
                f"{data}: the store was made with other diffraction settings ({store.settings.to_dict()}); "
                "featurize the source again with the settings you want"
            )
        return store
    settings = settings or DiffractionSettings()
    source = data if isinstance(data, Source) else open_source(data)
    key = f"{source.name}|{source.fingerprint()}|{settings.fingerprint()}|{limit}"
    path = cache_dir("stores") / f"{source.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    backend = Backend(workers=max(1, workers))
    report = featurize(source, path, settings=settings, backend=backend, limit=limit, progress=progress)
    if report.shards_computed:
        logger.info("featurized %s into %s (%d skipped)", data, path, len(report.skipped))
    return FeatureStore.open(path)


def _make_split(kind: str | Path, ids: list[str], formulas: list[str], seed: int) -> Split:
    if str(kind) == "random":
        return random_split(ids, seed=seed)
    if str(kind) == "grouped":
        return grouped_split(ids, formulas, seed=seed)
    path = Path(kind)
    if not path.is_file():
        raise ValueError(
            f"unknown split {kind!r}: use random, grouped, a split JSON or an authors' split CSV"
        )
    if path.suffix.lower() == ".csv":
        return authors_split(path, ids)
    split = Split.load(path)
    present = set(ids)
    return Split(
        [i for i in split.train if i in present],
        [i for i in split.valid if i in present],
        [i for i in split.test if i in present],
        info={**split.info, "restricted_to_labelled": True},
    )


def load_task_dataset(
    data: str | Path | Source | Sequence[str | Path | Source],
    task: str,
    *,
    settings: DiffractionSettings | None = None,
    thresholds: LabelThresholds | None = None,
    split: str | Path = "random",
    seed: int = 0,
    labels: str | Path | None = None,
    workers: int = 2,
    limit: int | None = None,
    progress: bool = True,
    with_hkl: bool = False,
) -> TaskDataset:
    """Points, labels and split of ``task`` on ``data`` (one path or several, joined by material id).

    Args:
        data: feature store(s) or dataset folder(s)/file(s) of any supported format.
        task: one of ``crystalgenome.data.TASKS``.
        settings: diffraction settings for sources (stores keep their own; a mismatch is an error).
        thresholds: label thresholds (the published code's defaults when None).
        split: ``"random"`` (seeded 70/15/15), ``"grouped"`` (reduced formulas never on two sides),
            a saved split JSON, or an authors' split CSV (``deepKNet_splits``).
        seed: seed of the split.
        labels: an extra label table (CSV with a ``material_id`` column) joined by material id onto
            every store's labels, the data's own values winning (e.g. e_above_hull onto mp_cgcnn).
        limit: use only the first ``limit`` structures of each source (for quick runs; a store is
            used whole).
        with_hkl: append each point's Miller indices as channels 5–7 (for ``frame="lattice"`` models).
    """
    import pandas as pd

    paths = [data] if isinstance(data, str | Path | Source) else list(data)
    thresholds = thresholds or LabelThresholds()
    extra = None if labels is None else read_label_table(labels)
    frames, stores = [], []
    for path in paths:
        store = ensure_store(path, settings, workers=workers, limit=limit, progress=progress)
        table = store.labels() if extra is None else merge_labels(store.labels(), extra)
        symmetry = table[["space_group_number", "is_ordered"]].assign(error="")
        series = training_labels(task, table, symmetry=symmetry, thresholds=thresholds).dropna()
        frame = pd.DataFrame({"label": series.astype(int), "formula": table.loc[series.index, "formula"]})
        frame["store"] = len(stores)
        frames.append(frame)
        stores.append(store)
    table = pd.concat(frames)
    table = table[~table.index.duplicated(keep="first")]
    if table.empty:
        raise ValueError(f"no structure in {', '.join(map(str, paths))} has a label for task {task!r}")
    ids = [str(i) for i in table.index]
    points, mask = _load_points(stores, table, with_hkl=with_hkl)
    formulas = table["formula"].astype(str).tolist()
    label_table = "" if labels is None else fingerprint_file(labels)
    parts = [*(store.fingerprint() for store in stores), label_table, task, repr(thresholds), *ids]
    fingerprint = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return TaskDataset(
        task=task,
        class_names=list(task_class_names(task)),
        ids=ids,
        points=points,
        mask=mask,
        labels=table["label"].to_numpy(dtype=np.int64).copy(),
        split=_make_split(split, ids, formulas, seed),
        stores=[s.path for s in stores],
        fingerprint=fingerprint,
        formulas=formulas,
    )


def _load_points(
    stores: list[FeatureStore], table: pd.DataFrame, *, with_hkl: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Points (and Miller indices) and mask of every row of ``table`` (column ``store`` says which
    store), padded alike; each store writes straight into the result, shard by shard."""
    width = max(store.max_num_points for store in stores)
    channels = MILLER_CHANNELS if with_hkl else BASE_CHANNELS
    points = np.zeros((len(table), width, channels), dtype=np.float32)
    mask = np.zeros((len(table), width), dtype=bool)
    positions = np.arange(len(table))
    for index, store in enumerate(stores):
        chosen = (table["store"] == index).to_numpy()
        if chosen.any():
            store.read_into(points, mask, list(map(str, table.index[chosen])), at=positions[chosen])
    return points, mask
