"""Gradient-boosted tree models on descriptors: what ``crystalgenome baseline`` does, and the shipped
property models.

Feature sets (:data:`FEATURE_SETS`):

- ``pattern``: the ~70-number rotation-invariant summary of the X-ray pattern (radial profile,
  origin, density, cell shape) — the baseline every model is compared to;
- ``composition``: element fractions only — the chemistry reference;
- ``both``: the two together;
- ``rich``: every probe (X-ray, neutron, unit scatterers) with profiles, the reflections nearest the
  origin, statistics and cell contrasts — structure only, read from the patterns.

Runs use the same data, labels and split as the PointNet of the task (``train``'s defaults: the
X-ray store with the task's default cell, the same split seed), and write a run folder
(``dataset.json``, ``splits.json``, ``boosted.json``, ``trees.npz``, ``evaluation/``) that
``evaluate``, ``predict`` and :func:`crystalgenome.load_model` read like any other run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.boosting import BoostConfig, TreeEnsemble, fit_boosted
from crystalgenome.data import LabelThresholds, Source
from crystalgenome.descriptors import PatternClouds, PatternDescriptor, composition_names, element_fractions
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.diffraction.clouds import INTENSITY, MILLER
from crystalgenome.store.dataset import TaskDataset, load_task_dataset
from crystalgenome.training import Evaluation, classification_metrics, write_evaluation
from crystalgenome.utils.atomic import atomic_write_json
from crystalgenome.utils.provenance import run_metadata
from crystalgenome.workflows.defaults import task_defaults
from crystalgenome.workflows.tasks import DATASET_FILE, dataset_record

BOOSTED_FILE = "boosted.json"
"""A boosted run's model record: feature set, descriptor, boosting config, selected rounds."""

TREES_FILE = "trees.npz"
"""A boosted run's trees (:class:`~crystalgenome.boosting.TreeEnsemble` arrays)."""

FEATURE_SETS: tuple[str, ...] = ("pattern", "composition", "both", "rich")


@dataclass(frozen=True)
class FeatureSpec:
    """Which descriptors a boosted model reads: a pattern descriptor, element fractions, or both."""

    name: str
    pattern: PatternDescriptor | None
    composition: bool

    @classmethod
    def named(cls, name: str) -> FeatureSpec:
        if name not in FEATURE_SETS:
            raise ValueError(f"unknown feature set {name!r}; choose from {', '.join(FEATURE_SETS)}")
        pattern = {"pattern": PatternDescriptor.baseline(), "both": PatternDescriptor.baseline()}
        pattern["rich"] = PatternDescriptor.rich()
        return cls(name, pattern.get(name), name in ("composition", "both"))

    @property
    def probes(self) -> tuple[str, ...]:
        return self.pattern.required_probes if self.pattern is not None else ()

    def names(self) -> list[str]:
        names = self.pattern.names() if self.pattern is not None else []
        return names + (composition_names() if self.composition else [])

    def compute(self, clouds: PatternClouds | None, formulas: Sequence[str]) -> np.ndarray:
        """(n, len(names())) descriptor rows."""
        parts = []
        if self.pattern is not None:
            if clouds is None:
                raise ValueError(f"feature set {self.name!r} needs diffraction patterns")
            parts.append(self.pattern.compute(clouds))
        if self.composition:
            parts.append(element_fractions(formulas))
        return np.concatenate(parts, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pattern": None if self.pattern is None else self.pattern.to_dict(),
            "composition": self.composition,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        pattern = None if data["pattern"] is None else PatternDescriptor.from_dict(data["pattern"])
        return cls(data["name"], pattern, bool(data["composition"]))


def load_probe_clouds(
    data: str | Path | Source | Sequence[str | Path | Source],
    task: str,
    probes: Sequence[str],
    *,
    settings: DiffractionSettings,
    **options: Any,
) -> tuple[TaskDataset, PatternClouds | None]:
    """The task's dataset under ``settings`` (X-ray: its ids, labels and split are the PointNet's) and,
    when ``probes`` is not empty, its clouds under each probe (same structures and reflections).

    A structure that another probe could not diffract (e.g. an element without a neutron scattering
    length) keeps its row, with NaN intensities under that probe. ``options`` go to
    :func:`~crystalgenome.store.dataset.load_task_dataset`.
    """
    base = load_task_dataset(data, task, settings=settings, with_hkl=True, **options)
    if not probes:
        return base, None
    points = {}
    for probe in probes:
        if probe == settings.radiation:
            points[probe] = base.points
            continue
        other = load_task_dataset(
            data, task, settings=replace(settings, radiation=probe), with_hkl=True, **options
        )
        points[probe] = _aligned(base, other, probe)
    return base, PatternClouds(points, base.mask)


def _aligned(base: TaskDataset, other: TaskDataset, probe: str) -> np.ndarray:
    """``other``'s clouds in ``base``'s row order; NaN intensities for structures it lacks."""
    cloud = base.points.copy()
    cloud[..., INTENSITY] = np.nan
    row_of = {material_id: row for row, material_id in enumerate(other.ids)}
    pairs = [(row, row_of[i]) for row, i in enumerate(base.ids) if i in row_of]
    if pairs:
        mine, theirs = (np.asarray(side) for side in zip(*pairs, strict=True))
        width = min(base.points.shape[1], other.points.shape[1])
        if not np.array_equal(other.points[theirs, :width, MILLER], base.points[mine, :width, MILLER]):
            raise ValueError(f"the {probe} patterns hold other reflections than the X-ray ones")
        cloud[mine, :width] = other.points[theirs, :width]
    return cloud


def _rows(dataset: TaskDataset, ids: Sequence[str]) -> np.ndarray:
    position = {material_id: row for row, material_id in enumerate(dataset.ids)}
    return np.asarray([position[material_id] for material_id in ids], dtype=np.int64)


def train_boosted_task(
    data: str | Path | Source | Sequence[str | Path | Source],
    task: str,
    out_dir: str | Path,
    *,
    features: str = "pattern",
    config: BoostConfig | None = None,
    settings: DiffractionSettings | None = None,
    thresholds: LabelThresholds | None = None,
    split: str | Path = "random",
    split_seed: int = 0,
    labels: str | Path | None = None,
    limit: int | None = None,
    workers: int = 2,
    progress: bool = True,
) -> dict[str, Any]:
    """Fit a boosted model of ``features`` for ``task``; evaluate it once on the test split.

    The split is the one ``crystalgenome train`` makes for the same data, task and split seed, so
    the metrics stand beside the PointNet's on the same test structures. Returns the test metrics.
    """
    spec = FeatureSpec.named(features)
    config = config or BoostConfig()
    paths = [data] if isinstance(data, str | Path | Source) else list(data)
    settings = settings or task_defaults(task).settings()
    thresholds = thresholds or LabelThresholds()
    dataset, clouds = load_probe_clouds(
        paths, task, spec.probes, settings=settings, thresholds=thresholds, split=split,
        seed=split_seed, labels=labels, workers=workers, limit=limit, progress=progress,
    )  # fmt: skip
    rows = spec.compute(clouds, dataset.formulas)
    train_rows, valid_rows = _rows(dataset, dataset.split.train), _rows(dataset, dataset.split.valid)
    result = fit_boosted(
        rows, dataset.labels, train_rows, valid_rows, num_classes=len(dataset.class_names), config=config
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = dataset_record(
        dataset, paths, settings=settings, thresholds=thresholds, split=split, seed=split_seed,
        labels=labels, limit=limit,
    )  # fmt: skip
    atomic_write_json(out_dir / DATASET_FILE, record)
    splits = {"train": dataset.split.train, "val": dataset.split.valid, "test": dataset.split.test}
    atomic_write_json(out_dir / "splits.json", splits, indent=None)
    result.ensemble.save(out_dir / TREES_FILE)
    model_record = {
        "kind": "boosted",
        "features": spec.to_dict(),
        "feature_names": spec.names(),
        "class_names": dataset.class_names,
        "boost": config.to_dict(),
        "rounds": result.rounds,
        "selection": {"metric": result.metric, "valid": result.best_score, "history": result.history},
        **run_metadata(config.to_dict(), seed=config.seed, data_fingerprint=dataset.fingerprint),
    }
    atomic_write_json(out_dir / BOOSTED_FILE, model_record, default=str)
    test_rows = _rows(dataset, dataset.split.test)
    return write_boosted_evaluation(
        result.ensemble, rows[test_rows], dataset.labels[test_rows], dataset.class_names,
        [dataset.ids[row] for row in test_rows], out_dir / "evaluation", run_dir=out_dir,
    )  # fmt: skip


def write_boosted_evaluation(
    ensemble: TreeEnsemble,
    rows: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    ids: list[str],
    out_dir: Path,
    *,
    run_dir: Path,
) -> dict[str, Any]:
    """metrics.json (95% bootstrap intervals) and predictions.csv of ``ensemble`` on labelled rows."""
    probabilities = ensemble.predict_proba(rows)
    metrics = classification_metrics(labels, probabilities, class_names)
    metrics["rotation_invariance"] = {"value": 1.0, "rotations": 0, "by_construction": True}
    metrics["run_dir"] = str(run_dir)
    metrics["model"] = "boosted"
    invariant = np.ones(len(labels), dtype=bool)
    write_evaluation(Evaluation(metrics, labels, probabilities, ids, invariant, class_names), out_dir)
    return metrics


def is_boosted_run(run_dir: str | Path) -> bool:
    """True for a run folder written by :func:`train_boosted_task`."""
    return (Path(run_dir) / BOOSTED_FILE).is_file()


@dataclass
class BoostedRun:
    """A loaded boosted run: its trees, feature spec, class names and diffraction settings."""

    run_dir: Path
    ensemble: TreeEnsemble
    spec: FeatureSpec
    class_names: list[str]
    settings: DiffractionSettings
    record: dict[str, Any]

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.ensemble.predict_proba(rows)


def load_boosted_run(run_dir: str | Path) -> BoostedRun:
    """Read a boosted run folder (no pickle)."""
    from crystalgenome.workflows.tasks import read_dataset_record

    run_dir = Path(run_dir)
    record = json.loads((run_dir / BOOSTED_FILE).read_text(encoding="utf-8"))
    spec = FeatureSpec.from_dict(record["features"])
    ensemble = TreeEnsemble.load(run_dir / TREES_FILE)
    if ensemble.num_features > len(spec.names()):
        raise ValueError(f"{run_dir}: the trees read more features than the run's feature set has")
    settings = DiffractionSettings.from_dict(read_dataset_record(run_dir)["diffraction"])
    return BoostedRun(run_dir, ensemble, spec, list(record["class_names"]), settings, record)
