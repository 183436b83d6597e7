"""The inputs of an ablation study: one labelled sample set and one split, in several data variants.

A study uses the same material ids, labels and split for every run. Its data variants are the
feature stores of one radiation (``xray``, ``neutron``, ``unit``), featurized from the same sources,
and point clouds of cells with displaced atoms (positional noise), computed here from the
standardised cells. Every variant is aligned to the study's ids; a structure a variant could not
featurize is left out of that variant's runs (and counted).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.ablation.perturbations import PointClouds
from crystalgenome.data import LabelThresholds, Source, open_source, training_labels
from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
from crystalgenome.errors import StructureError
from crystalgenome.structures import Cell
from crystalgenome.utils.atomic import atomic_path
from crystalgenome.utils.provenance import fingerprint_strings

if TYPE_CHECKING:
    import pandas as pd

    from crystalgenome.data import RawRecord

logger = logging.getLogger(__name__)

SPLIT_NAMES = {"train": "train", "valid": "val", "test": "test"}
"""Split part names of ``crystalgenome.data.Split`` → the names ``crystalgenome.training.train`` uses."""


class SubsetSource(Source):
    """Some ids of another source (same structures and labels), e.g. a random subset for a quick study."""

    def __init__(self, *, base: Source, ids: Sequence[str]) -> None:
        self.base = base
        self._ids = [str(i) for i in ids]
        self.name = f"{base.name}-subset"
        self.path = base.path

    def ids(self) -> list[str]:
        return list(self._ids)

    def labels(self) -> pd.DataFrame:
        return self.base.labels().reindex(self._ids)

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord]:
        return self.base.iter_raw(self._ids if ids is None else ids)

    def fingerprint(self) -> str:
        return fingerprint_strings([self.base.fingerprint(), *self._ids])


def labelled_ids(source: Source, task: str, thresholds: LabelThresholds) -> list[str]:
    """Ids of ``source`` with a label for ``task`` from its property table alone.

    Symmetry tasks need the space group, known only after featurizing: then every id counts.
    """
    table = source.labels()
    try:
        labels = training_labels(task, table, thresholds=thresholds)
    except ValueError:
        return [str(i) for i in table.index]
    return [str(i) for i in labels.dropna().index]


def choose_subsets(
    sources: Sequence[Source], task: str, *, thresholds: LabelThresholds, limit: int, seed: int
) -> list[list[str]]:
    """A seeded random subset of ``limit`` labelled structures of the joined sources, as ids per source.

    Sources are joined by material id (the first occurrence wins, as in ``load_task_dataset``); each
    source's chosen ids keep their source order.
    """
    candidates: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, source in enumerate(sources):
        for material_id in labelled_ids(source, task, thresholds):
            if material_id not in seen:
                seen.add(material_id)
                candidates.append((index, material_id))
    picked = np.arange(len(candidates))
    if limit < len(candidates):
        picked = np.sort(np.random.default_rng(seed).choice(len(candidates), size=limit, replace=False))
    subsets: list[list[str]] = [[] for _ in sources]
    for position in picked:
        index, material_id = candidates[int(position)]
        subsets[index].append(material_id)
    return subsets


def featurize_sources(
    data: Sequence[str | Path],
    settings: DiffractionSettings,
    *,
    subsets: Sequence[Sequence[str]] | None,
    folder: Path,
    workers: int = 1,
    progress: bool = False,
) -> list[str]:
    """Feature stores of ``data`` with ``settings``: whole sources (cached, shared with other commands
    through ``load_task_dataset``'s cache) or, with ``subsets``, only those ids, in ``folder``."""
    from crystalgenome.store import Backend, featurize
    from crystalgenome.store.dataset import ensure_store

    if subsets is None:
        return [str(ensure_store(path, settings, workers=workers, progress=progress).path) for path in data]
    paths = []
    for index, (path, ids) in enumerate(zip(data, subsets, strict=True)):
        if not ids:
            continue
        source = SubsetSource(base=open_source(path), ids=ids)
        out = folder / f"{index}-{source.base.name}"
        featurize(source, out, settings=settings, backend=Backend(workers=max(1, workers)), progress=progress)
        paths.append(str(out))
    return paths


@dataclass(frozen=True)
class StudyData:
    """The aligned inputs of one run, before its perturbation.

    Attributes:
        ids: material ids (the study's, minus those this variant lacks).
        labels: (n,) class indices.
        split: (n,) ``"train"``, ``"val"`` or ``"test"``.
        clouds: raw point clouds with their hkl.
        missing: study samples this variant could not featurize (left out of the run).
    """

    ids: list[str]
    labels: np.ndarray
    split: np.ndarray
    clouds: PointClouds
    missing: int = 0

    def take(self, index: np.ndarray) -> StudyData:
        return replace(
            self,
            ids=[self.ids[i] for i in index],
            labels=self.labels[index],
            split=self.split[index],
            clouds=self.clouds.take(index),
        )


def split_names(ids: Sequence[str], split_path: str | Path) -> np.ndarray:
    """Per-sample split names (``train``/``val``/``test``; ``""`` for ids in no part) from a split JSON."""
    from crystalgenome.data import Split

    part = Split.load(split_path).part_of()
    return np.array([SPLIT_NAMES.get(part.get(material_id, ""), "") for material_id in ids], dtype=object)


def load_store_variant(
    stores: Sequence[str | Path],
    task: str,
    *,
    thresholds: LabelThresholds,
    study_ids: Sequence[str],
    study_labels: np.ndarray,
    split_path: str | Path,
) -> StudyData:
    """Points, hkl and labels of ``study_ids`` from the feature stores of one variant."""
    from crystalgenome.store import FeatureStore
    from crystalgenome.store.dataset import load_task_dataset

    dataset = load_task_dataset(
        [Path(s) for s in stores], task, thresholds=thresholds, split=split_path, progress=False
    )
    position = {material_id: row for row, material_id in enumerate(dataset.ids)}
    present = np.array(
        [i for i, material_id in enumerate(study_ids) if material_id in position], dtype=np.int64
    )
    rows = np.array([position[study_ids[i]] for i in present], dtype=np.int64)
    labels = dataset.labels[rows]
    if not np.array_equal(labels, np.asarray(study_labels)[present]):
        raise ValueError("the labels of this data variant differ from the study's: were the sources changed?")
    ids = [study_ids[i] for i in present]
    hkl = np.zeros((len(ids), dataset.points.shape[1], 3), dtype=np.int16)
    pending = dict(zip(ids, range(len(ids)), strict=True))
    for path in stores:  # the first store holding an id is the one load_task_dataset read it from
        store = FeatureStore.open(path)
        found = [material_id for material_id in pending if material_id in store]
        if found:
            part, _ = store.load_hkl(found)
            hkl[[pending.pop(material_id) for material_id in found], : part.shape[1]] = part
    clouds = PointClouds(points=dataset.points[rows], mask=dataset.mask[rows], hkl=hkl)
    return StudyData(
        ids=ids,
        labels=labels,
        split=split_names(ids, split_path),
        clouds=clouds,
        missing=len(study_ids) - len(ids),
    )


# ----------------------------------------------------------------------------- positional noise


def standardised_cells(
    data: Sequence[str | Path], ids: Sequence[str], settings: DiffractionSettings
) -> list[Cell | None]:
    """The cells the engine diffracts (standardised as ``settings`` say) of ``ids``, in that order.

    Each id is read from the first source that has it; None where a structure cannot be prepared.
    """
    calculator = DiffractionCalculator(settings)
    wanted = {material_id: index for index, material_id in enumerate(ids)}
    cells: list[Cell | None] = [None] * len(ids)
    for path in data:
        source = open_source(path)
        here = [material_id for material_id in source.ids() if material_id in wanted]
        for record in source.iter_raw(here):
            index = wanted.pop(record.material_id)
            try:
                cells[index] = calculator.prepare_cell(record.to_cell(), record.material_id)[0]
            except StructureError as error:
                logger.warning("positional noise: %s", error)
    return cells


def save_cells(cells: list[Cell | None], path: Path) -> None:
    """Pickle ``cells`` atomically (a study-local cache; written and read by this package only)."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(pickle.dumps(cells, protocol=pickle.HIGHEST_PROTOCOL))


def load_cells(path: Path) -> list[Cell | None]:
    return pickle.loads(path.read_bytes())  # a cache this package wrote itself


def displace_atoms(cell: Cell, sigma: float, rng: np.random.Generator) -> Cell:
    """``cell`` with every atom moved by a Gaussian displacement, σ Å per Cartesian component."""
    displacement = rng.normal(0.0, sigma, size=(cell.num_sites, 3))
    fractional = displacement @ np.linalg.inv(cell.lattice)  # Cartesian rows = fractional rows @ lattice
    return replace(cell, frac_coords=cell.frac_coords + fractional)


def noisy_clouds(
    cells: Sequence[Cell | None],
    *,
    sigma: float,
    seed: int,
    settings: DiffractionSettings,
    width: int,
) -> tuple[PointClouds, np.ndarray]:
    """Point clouds of ``cells`` with displaced atoms (seeded), and which cells gave one.

    The displaced cell is diffracted as it is (no new standardisation, which would symmetrise the
    noise away) and without the overlapping-atoms check (two atoms may come close; physics is fine).
    """
    calculator = DiffractionCalculator(replace(settings, cell="input", min_distance=0.0))
    rng = np.random.default_rng([int(seed), round(sigma * 1e6)])
    points = np.zeros((len(cells), width, 4), dtype=np.float32)
    hkl = np.zeros((len(cells), width, 3), dtype=np.int16)
    mask = np.zeros((len(cells), width), dtype=bool)
    for index, cell in enumerate(cells):
        if cell is None:
            continue
        displaced = displace_atoms(cell, sigma, rng)
        try:
            pattern = calculator.compute(displaced, name=f"sample {index}")
        except StructureError as error:
            logger.warning("positional noise: %s", error)
            continue
        count = len(pattern.hkl)
        if count > width:
            raise ValueError(f"sample {index}: {count} points, more than the study's {width}")
        points[index, :count] = pattern.point_cloud(np.float32)
        hkl[index, :count] = pattern.hkl
        mask[index, :count] = True
    return PointClouds(points=points, mask=mask, hkl=hkl), mask.any(axis=1)
