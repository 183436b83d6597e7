"""One ablation study on disk: its settings, its shared data and split, and the execution of one run.

A study folder holds::

    study.json            spec, model config, class names, material ids and labels, feature stores, provenance
    split.json            the one train/valid/test split of every run
    stores/<radiation>/   feature stores of the (subset of the) sources, one per radiation
    variants/<key>.json   what a data variant's preparation produced (stores of another radiation, cells)
    inputs/cells.pkl      standardised cells (the starting point of positional noise)
    runs/<perturbation>/seed-<k>/
        result.json       the run's outcome (written atomically when it ends, ok or failed)
        error.txt         the traceback of a failed run
        train/ or fc/     the training run folder (last.pt: a killed run resumes from there)
        noisy_inputs.npz  the run's noisy copy of the data (positional noise only)
    results.csv, report.md, ablation.png
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.ablation.data import (
    StudyData,
    choose_subsets,
    featurize_sources,
    load_cells,
    load_store_variant,
    noisy_clouds,
    save_cells,
    split_names,
    standardised_cells,
)
from crystalgenome.ablation.perturbations import Perturbation, PointClouds
from crystalgenome.data import LabelThresholds, open_source, task_class_names
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.utils.atomic import atomic_path, atomic_write_json, atomic_write_text
from crystalgenome.utils.provenance import run_metadata

logger = logging.getLogger(__name__)

STUDY_FILE = "study.json"
SPLIT_FILE = "split.json"
RESULT_FILE = "result.json"
CELLS_KEY = "cells"
METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "average_precision")
"""Test metrics kept in each run's result (with their bootstrap 95% intervals)."""


@dataclass(frozen=True)
class StudySpec:
    """What every run of a study shares (a study folder holds one spec; perturbations and seeds may grow).

    Attributes:
        data: source paths (folders/files any format the data layer reads, or feature stores), joined
            by material id.
        task: one of ``crystalgenome.data.TASKS`` (e.g. ``"metal"``, ``"bulk_modulus"``).
        epochs: training epochs of every run.
        limit: a seeded random subset of this many labelled structures (None: all).
        seed: seed of the subset and of the random 70/15/15 split.
        model: PointNet architecture: a packaged name (``"default"``, ``"authors"``) or a JSON path.
        batch_size: training mini-batch size.
        test_time_rotations: fixed rotations averaged at test time (rotation_* runs use none).
        val_rotations: the same for the validation score of model selection.
        max_miller: N of the Miller box of the feature stores.
    """

    data: tuple[str, ...]
    task: str
    epochs: int = 15
    limit: int | None = None
    seed: int = 0
    model: str = "default"
    batch_size: int = 64
    test_time_rotations: int = 8
    val_rotations: int = 4
    max_miller: int = 3

    def __post_init__(self) -> None:
        data = (self.data,) if isinstance(self.data, str | Path) else tuple(self.data)
        if not data:
            raise ValueError("give at least one data source")
        object.__setattr__(self, "data", tuple(str(Path(p).expanduser().resolve()) for p in data))
        task_class_names(self.task)  # unknown task → ValueError
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be >= 1 and batch_size >= 2")
        if self.limit is not None and self.limit < 10:
            raise ValueError(f"limit must be at least 10 structures, got {self.limit}")
        model_path = Path(self.model).expanduser()
        if model_path.suffix == ".json":
            object.__setattr__(self, "model", str(model_path.resolve()))

    def settings(self, radiation: str) -> DiffractionSettings:
        """Diffraction settings of the feature stores of ``radiation``."""
        return DiffractionSettings(radiation=radiation, max_miller=self.max_miller)  # type: ignore[arg-type]

    def train_config(self, perturbation: Perturbation, seed: int) -> Any:
        """The TrainConfig of one run (one torch thread each: runs execute in parallel)."""
        from crystalgenome.training import TrainConfig

        rotations = (
            self.test_time_rotations
            if perturbation.test_time_rotations is None
            else perturbation.test_time_rotations
        )
        val_rotations = self.val_rotations if perturbation.test_time_rotations is None else rotations
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=int(seed),
            rotation_range=180.0 if perturbation.rotation_range is None else perturbation.rotation_range,
            test_time_rotations=rotations,
            val_rotations=val_rotations,
            early_stopping_patience=None,
            num_threads=1,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["data"] = list(self.data)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudySpec:
        return cls(**{**data, "data": tuple(data["data"])})


# ----------------------------------------------------------------------------- the study folder


def _write_json(path: Path, data: Any) -> None:
    atomic_write_json(path, data, indent=1, default=str)


def load_plan(study_dir: str | Path) -> dict[str, Any]:
    """The content of ``study.json``."""
    path = Path(study_dir) / STUDY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{study_dir}: no {STUDY_FILE}; is it an ablation study folder?")
    return json.loads(path.read_text(encoding="utf-8"))


def _resolved_model(spec: StudySpec) -> dict[str, Any]:
    from crystalgenome.model import resolve_model_config

    config = resolve_model_config(spec.model)
    if config.needs_hkl:
        raise ValueError(
            f"model {spec.model!r} reads clouds in their lattice frame (Miller indices as channels); "
            "ablations perturb 4-channel clouds: use an input-frame model (default, authors)"
        )
    return config.to_dict()


def prepare_study(
    spec: StudySpec,
    study_dir: str | Path,
    *,
    workers: int = 2,
    progress: bool = True,
    command: str | None = None,
) -> dict[str, Any]:
    """Create the study folder (X-ray feature stores, split, ``study.json``) or check it holds ``spec``.

    Raises:
        ValueError: the folder holds a study with other settings.
    """
    from crystalgenome.store.dataset import load_task_dataset

    study_dir = Path(study_dir)
    model_config = _resolved_model(spec)
    if (study_dir / STUDY_FILE).is_file():
        plan = load_plan(study_dir)
        if plan["spec"] != spec.to_dict() or plan["model_config"] != model_config:
            differing = sorted(k for k, v in spec.to_dict().items() if plan["spec"].get(k) != v)
            raise ValueError(
                f"{study_dir} holds a study with other settings "
                f"({', '.join(differing) or 'model config'} differ); use another --out folder"
            )
        return plan
    thresholds = LabelThresholds()
    subsets = None
    if spec.limit is not None:
        sources = [open_source(path) for path in spec.data]
        subsets = choose_subsets(sources, spec.task, thresholds=thresholds, limit=spec.limit, seed=spec.seed)
    stores = featurize_sources(
        spec.data, spec.settings("xray"), subsets=subsets, folder=study_dir / "stores" / "xray",
        workers=workers, progress=progress,
    )  # fmt: skip
    dataset = load_task_dataset(
        [Path(s) for s in stores],
        spec.task,
        thresholds=thresholds,
        split="random",
        seed=spec.seed,
        progress=False,
    )
    dataset.split.save(study_dir / SPLIT_FILE)
    plan = {
        "spec": spec.to_dict(),
        "model_config": model_config,
        "task": spec.task,
        "class_names": dataset.class_names,
        "ids": dataset.ids,
        "labels": dataset.labels.tolist(),
        "width": int(dataset.points.shape[1]),
        "subsets": subsets,
        "stores": {"xray": stores},
        "data_fingerprint": dataset.fingerprint,
        "split_sizes": {part: len(getattr(dataset.split, part)) for part in ("train", "valid", "test")},
        "class_counts": dataset.class_counts(),
        "thresholds": dataclasses.asdict(thresholds),
        "metadata": run_metadata(spec.to_dict(), seed=spec.seed, data_fingerprint=dataset.fingerprint),
    }
    if command:
        plan["metadata"]["command"] = command
    _write_json(study_dir / STUDY_FILE, plan)
    logger.info("study %s: %d structures, split %s", study_dir, len(dataset), plan["split_sizes"])
    return plan


def variant_key(perturbation: Perturbation) -> str | None:
    """The data preparation a perturbation's runs wait for (None: the study's X-ray stores)."""
    if perturbation.positional_noise > 0:
        return CELLS_KEY
    return None if perturbation.radiation == "xray" else perturbation.radiation


def prepare_variant(study_dir: str | Path, key: str) -> str:
    """Prepare data variant ``key`` (``"neutron"``, ``"unit"``: feature stores; ``"cells"``: the
    standardised cells) once per study; returns the path of ``variants/<key>.json``."""
    study_dir = Path(study_dir)
    record_path = study_dir / "variants" / f"{key}.json"
    if record_path.is_file():
        return str(record_path)
    plan = load_plan(study_dir)
    spec = StudySpec.from_dict(plan["spec"])
    if key == CELLS_KEY:
        path = study_dir / "inputs" / "cells.pkl"
        cells = standardised_cells(spec.data, plan["ids"], spec.settings("xray"))
        save_cells(cells, path)
        record: dict[str, Any] = {"cells": str(path), "missing": sum(cell is None for cell in cells)}
    else:
        stores = featurize_sources(
            spec.data,
            spec.settings(key),
            subsets=plan["subsets"],
            folder=study_dir / "stores" / key,
            workers=1,
        )
        record = {"stores": stores}
    _write_json(record_path, record)
    return str(record_path)


def run_folder(study_dir: str | Path, perturbation: str, seed: int) -> Path:
    return Path(study_dir) / "runs" / perturbation / f"seed-{seed}"


def read_result(study_dir: str | Path, perturbation: str, seed: int) -> dict[str, Any] | None:
    """The finished (ok or failed) result of a run, or None when it has not finished."""
    path = run_folder(study_dir, perturbation, seed) / RESULT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_result(study_dir: str | Path, record: dict[str, Any]) -> None:
    _write_json(run_folder(study_dir, record["perturbation"], record["seed"]) / RESULT_FILE, record)


# ----------------------------------------------------------------------------- one run


def _study_arrays(plan: dict[str, Any], study_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids = list(plan["ids"])
    return ids, np.asarray(plan["labels"], dtype=np.int64), split_names(ids, study_dir / SPLIT_FILE)


def _noisy_data(plan: dict[str, Any], study_dir: Path, perturbation: Perturbation, seed: int) -> StudyData:
    """The study's samples diffracted from cells with displaced atoms (cached per run, for resuming)."""
    spec = StudySpec.from_dict(plan["spec"])
    ids, labels, split = _study_arrays(plan, study_dir)
    cache = run_folder(study_dir, perturbation.name, seed) / "noisy_inputs.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            clouds = PointClouds(points=stored["points"], mask=stored["mask"], hkl=stored["hkl"])
            ok = stored["ok"]
    else:
        record = json.loads((study_dir / "variants" / f"{CELLS_KEY}.json").read_text(encoding="utf-8"))
        cells = load_cells(Path(record["cells"]))
        clouds, ok = noisy_clouds(
            cells, sigma=perturbation.positional_noise, seed=seed,
            settings=spec.settings(perturbation.radiation), width=int(plan["width"]),
        )  # fmt: skip
        with atomic_path(cache) as temporary, temporary.open("wb") as handle:
            np.savez(handle, points=clouds.points, mask=clouds.mask, hkl=clouds.hkl, ok=ok)
    data = StudyData(ids=ids, labels=labels, split=split, clouds=clouds)
    return dataclasses.replace(data.take(np.flatnonzero(ok)), missing=int((~ok).sum()))


def load_run_data(
    plan: dict[str, Any], study_dir: str | Path, perturbation: Perturbation, seed: int
) -> StudyData:
    """The unperturbed inputs a perturbation's run starts from (its radiation, its noisy copy)."""
    study_dir = Path(study_dir)
    if perturbation.positional_noise > 0:
        return _noisy_data(plan, study_dir, perturbation, seed)
    if perturbation.radiation == "xray":
        stores = plan["stores"]["xray"]
    else:
        record = json.loads(
            (study_dir / "variants" / f"{perturbation.radiation}.json").read_text(encoding="utf-8")
        )
        stores = record["stores"]
    ids, labels, _ = _study_arrays(plan, study_dir)
    return load_store_variant(
        stores, plan["task"], thresholds=LabelThresholds(**plan["thresholds"]), study_ids=ids,
        study_labels=labels, split_path=study_dir / SPLIT_FILE,
    )  # fmt: skip


def _metric_values(metrics: dict[str, Any] | None) -> tuple[dict[str, float | None], dict[str, list]]:
    if not metrics:
        return {}, {}
    values = {name: metrics[name]["value"] for name in METRICS if name in metrics}
    intervals = {name: [metrics[name]["low"], metrics[name]["high"]] for name in METRICS if name in metrics}
    return values, intervals


def _train_run(
    plan: dict[str, Any], run_dir: Path, perturbation: Perturbation, seed: int, data: StudyData
) -> dict[str, Any]:
    from crystalgenome.model import ModelConfig
    from crystalgenome.training import fingerprint_arrays, train

    spec = StudySpec.from_dict(plan["spec"])
    clouds = perturbation.apply(data.clouds, seed)
    config = spec.train_config(perturbation, seed)
    class_names = plan["class_names"]
    split_code = np.searchsorted(np.array(["test", "train", "val"]), data.split.astype(str))
    fingerprint = fingerprint_arrays(clouds.points, clouds.mask, data.labels, split_code)
    if perturbation.model == "fc":
        from crystalgenome.ablation.fcnet import train_fc

        summary = train_fc(clouds.points, clouds.mask, data.labels, data.split, class_names, config=config,
                           out_dir=run_dir / "fc", data_fingerprint=fingerprint)  # fmt: skip
        test, best_epoch, epochs_run = summary["test"], summary["best_epoch"], summary["epochs_run"]
    else:
        result = train(
            clouds.points, clouds.mask, data.labels, data.split, class_names, config=config,
            model_config=ModelConfig.from_dict(plan["model_config"]), out_dir=run_dir / "train", ids=data.ids,
            data_fingerprint=fingerprint, resume=True, progress=False,
        )  # fmt: skip
        test, best_epoch, epochs_run = result.test_metrics, result.best_epoch, len(result.history)
    values, intervals = _metric_values(test)
    return {
        "metrics": values,
        "intervals": intervals,
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        "num_points": int(clouds.mask.shape[1]),
        "mean_real_points": float(clouds.mask.sum(axis=1).mean()),
        "n_train": int((data.split == "train").sum()),
        "n_val": int((data.split == "val").sum()),
        "n_test": int((data.split == "test").sum()),
        "missing": data.missing,
        "train_config": config.to_dict(),
    }


def execute_run(
    study_dir: str | Path, perturbation: Perturbation, seed: int, *_prepared: str
) -> dict[str, Any]:
    """Train and evaluate one (perturbation, seed) run; write and return its ``result.json`` record.

    Never raises for a failure of the run itself: the record then has status ``failed``, the error,
    and ``error.txt`` the traceback. ``_prepared`` are the data variants the run waited for (Ray
    passes their paths once they are ready).
    """
    started = time.perf_counter()
    study_dir = Path(study_dir)
    run_dir = run_folder(study_dir, perturbation.name, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "perturbation": perturbation.name,
        "seed": int(seed),
        "status": "ok",
        "error": "",
        "description": perturbation.description,
        "model": perturbation.model,
    }
    try:
        plan = load_plan(study_dir)
        data = load_run_data(plan, study_dir, perturbation, seed)
        record |= _train_run(plan, run_dir, perturbation, seed, data)
    except Exception as error:
        record |= {"status": "failed", "error": f"{type(error).__name__}: {error}".splitlines()[0]}
        atomic_write_text(run_dir / "error.txt", traceback.format_exc())
        logger.warning("run %s seed %d failed: %s", perturbation.name, seed, record["error"])
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_result(study_dir, record)
    return record


def failed_record(perturbation: Perturbation, seed: int, error: BaseException | str) -> dict[str, Any]:
    """The record of a run that failed outside :func:`execute_run` (its worker died, its data failed)."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return {
        "perturbation": perturbation.name,
        "seed": int(seed),
        "status": "failed",
        "error": message.strip().splitlines()[-1] if message.strip() else "unknown error",
        "description": perturbation.description,
        "model": perturbation.model,
        "seconds": 0.0,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
