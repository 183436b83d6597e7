"""Train a task on a dataset and evaluate a run: what ``crystalgenome train`` and ``evaluate`` do."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.data import LabelThresholds, Source
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.figures import evaluate
from crystalgenome.model import ModelConfig
from crystalgenome.store.dataset import TaskDataset, load_task_dataset
from crystalgenome.training import Run, TrainConfig, TrainResult, load_ensemble, train
from crystalgenome.training.distributed import DistributedContext, is_main, main_first
from crystalgenome.utils.atomic import atomic_write_json
from crystalgenome.workflows.defaults import task_defaults

DATASET_FILE = "dataset.json"
"""What a run was trained on (data, task, thresholds, diffraction settings, split); in the run folder."""


def _split_names(dataset: TaskDataset) -> np.ndarray:
    part = {**dict.fromkeys(dataset.split.train, "train"), **dict.fromkeys(dataset.split.valid, "val")}
    part.update(dict.fromkeys(dataset.split.test, "test"))
    return np.array([part.get(material_id, "unused") for material_id in dataset.ids])


def dataset_record(
    dataset: TaskDataset,
    data: Sequence[str | Path],
    *,
    settings: DiffractionSettings,
    thresholds: LabelThresholds,
    split: str | Path,
    seed: int,
    labels: str | Path | None,
    limit: int | None,
) -> dict[str, Any]:
    return {
        "data": [str(Path(getattr(path, "path", path)).resolve()) for path in data],
        "task": dataset.task,
        "class_names": dataset.class_names,
        "class_counts": dataset.class_counts(),
        "thresholds": asdict(thresholds),
        "diffraction": settings.to_dict(),
        "split": str(split),
        "split_seed": seed,
        "split_sizes": {
            "train": len(dataset.split.train),
            "val": len(dataset.split.valid),
            "test": len(dataset.split.test),
        },
        "labels": None if labels is None else str(Path(labels).resolve()),
        "limit": limit,
        "stores": [str(path) for path in dataset.stores],
        "data_fingerprint": dataset.fingerprint,
    }


def train_task(
    data: str | Path | Source | Sequence[str | Path | Source],
    task: str,
    out_dir: str | Path,
    *,
    train_config: TrainConfig | None = None,
    model_config: ModelConfig | str | Path | None = None,
    settings: DiffractionSettings | None = None,
    thresholds: LabelThresholds | None = None,
    split: str | Path = "random",
    split_seed: int | None = None,
    labels: str | Path | None = None,
    limit: int | None = None,
    workers: int = 2,
    progress: bool = True,
    evaluate_test: bool = True,
    distributed: DistributedContext | None = None,
) -> tuple[TrainResult, dict[str, Any] | None]:
    """Featurize (once, cached) ``data``, train ``task`` and evaluate the best epoch on the test split.

    Unset ``train_config``, ``model_config`` and ``settings`` take the task's defaults
    (:func:`~crystalgenome.workflows.defaults.task_defaults`), exactly as ``crystalgenome train`` does.

    The run folder gets ``dataset.json`` (what the run was trained on) next to the training files,
    and ``evaluation/`` (metrics with 95% intervals, predictions, figures) when ``evaluate_test``.
    Returns the training result and the test metrics (None without a test split or evaluation).
    With ``distributed`` (under torchrun), rank 0 featurizes first, trains with the other ranks and
    alone writes and evaluates the run; the other ranks return None metrics.
    """
    paths = [data] if isinstance(data, str | Path | Source) else list(data)
    defaults = task_defaults(task)
    model_config = defaults.model_config(model_config)
    train_config = train_config or defaults.train_config(model_config)
    settings = settings or defaults.settings()
    thresholds = thresholds or LabelThresholds()
    seed = train_config.seed if split_seed is None else split_seed
    progress = progress and is_main(distributed)
    with main_first(distributed):  # rank 0 fills the feature cache, then the others read it
        dataset = load_task_dataset(
            paths, task, settings=settings, thresholds=thresholds, split=split, seed=seed,
            labels=labels, workers=workers, limit=limit, progress=progress, with_hkl=model_config.needs_hkl,
        )  # fmt: skip
    store_settings = _store_settings(dataset)
    record = dataset_record(
        dataset,
        paths,
        settings=store_settings,
        thresholds=thresholds,
        split=split,
        seed=seed,
        labels=labels,
        limit=limit,
    )
    out_dir = Path(out_dir)
    if is_main(distributed):
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out_dir / DATASET_FILE, record)
    result = train(
        dataset.points, dataset.mask, dataset.labels, _split_names(dataset), dataset.class_names,
        config=train_config, model_config=model_config, out_dir=out_dir, ids=dataset.ids,
        data_fingerprint=dataset.fingerprint, progress=progress, distributed=distributed,
    )  # fmt: skip
    metrics = None
    if evaluate_test and dataset.split.test and is_main(distributed):
        metrics = _evaluate_ids(out_dir, dataset, dataset.split.test, out_dir / "evaluation")
    return result, metrics


def _store_settings(dataset: TaskDataset) -> DiffractionSettings:
    from crystalgenome.store import FeatureStore

    return FeatureStore.open(dataset.stores[0]).settings


def _evaluate_ids(run: Path | Run, dataset: TaskDataset, ids: Sequence[str], out_dir: Path) -> dict[str, Any]:
    position = {material_id: i for i, material_id in enumerate(dataset.ids)}
    rows = np.array([position[material_id] for material_id in ids], dtype=np.int64)
    return evaluate(
        run,
        dataset.points[rows],
        dataset.mask[rows],
        dataset.labels[rows],
        [dataset.ids[i] for i in rows],
        out_dir=out_dir,
    )


def read_dataset_record(run_dir: str | Path) -> dict[str, Any]:
    """The ``dataset.json`` of a run folder."""
    path = Path(run_dir) / DATASET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {DATASET_FILE}; was this run made by `crystalgenome train`?")
    return json.loads(path.read_text(encoding="utf-8"))


def evaluate_task(
    run_dir: str | Path | Sequence[str | Path],
    data: str | Path | Sequence[str | Path] | None = None,
    *,
    out_dir: str | Path | None = None,
    labels: str | Path | None = None,
    workers: int = 2,
    progress: bool = True,
) -> dict[str, Any]:
    """Metrics and figures of a run, or of an ensemble of runs: on the test split, or on other data.

    With ``data`` None or the data the run was trained on, the run's test split is used; with other
    data, every structure of it that has a label for the run's task. Several run folders are evaluated
    as one ensemble (mean class probabilities; see :func:`crystalgenome.training.load_ensemble`): they
    must be of the same task, and none may have trained or selected its epoch on the first run's test
    structures. Output: ``out_dir`` (default the first run's ``evaluation``, ``evaluation_other`` or
    ``evaluation_ensemble``).
    """
    run_dirs = [Path(run_dir)] if isinstance(run_dir, str | Path) else [Path(path) for path in run_dir]
    record = read_dataset_record(run_dirs[0])
    recorded = record["data"]
    paths = recorded if data is None else ([data] if isinstance(data, str | Path) else list(data))
    same = sorted(str(Path(p).resolve()) for p in paths) == sorted(recorded)
    test_ids = _run_split(run_dirs[0])["test"]
    _check_ensemble(run_dirs, record, test_ids if same else [])
    run = load_ensemble(run_dirs)
    dataset = load_task_dataset(
        paths, record["task"], settings=DiffractionSettings.from_dict(record["diffraction"]),
        thresholds=LabelThresholds(**record["thresholds"]), split="random",
        labels=labels if labels is not None else (record["labels"] if same else None),
        workers=workers, limit=record["limit"] if same else None, progress=progress,
        with_hkl=run.model_config.needs_hkl,
    )  # fmt: skip
    if run.class_names != dataset.class_names:
        raise ValueError(
            f"{run_dirs[0]}: class names {run.class_names} differ from the data's {dataset.class_names}"
        )
    present = set(dataset.ids)
    ids = [material_id for material_id in test_ids if material_id in present] if same else dataset.ids
    if not ids:
        raise ValueError(f"no labelled structure to evaluate {run_dirs[0]} on")
    default_name = (
        "evaluation_ensemble" if len(run_dirs) > 1 else "evaluation" if same else "evaluation_other"
    )
    target = Path(out_dir) if out_dir is not None else run_dirs[0] / default_name
    return _evaluate_ids(run, dataset, ids, target)


def _run_split(run_dir: Path) -> dict[str, list[str]]:
    return json.loads((run_dir / "splits.json").read_text(encoding="utf-8"))


def _check_ensemble(run_dirs: Sequence[Path], record: dict[str, Any], test_ids: Sequence[str]) -> None:
    """Members of the first run's task and diffraction settings, whose training and validation splits
    avoid the evaluated test structures."""
    held_out = set(test_ids)
    for member in run_dirs[1:]:
        member_record = read_dataset_record(member)
        if member_record["task"] != record["task"]:
            raise ValueError(
                f"{member}: trained for {member_record['task']}, not {record['task']} (one task per ensemble)"
            )
        if member_record["diffraction"] != record["diffraction"]:
            raise ValueError(f"{member}: trained on other diffraction settings than {run_dirs[0]}")
        split = _run_split(member)
        seen = held_out.intersection(split["train"]) | held_out.intersection(split["val"])
        if seen:
            raise ValueError(
                f"{member}: {len(seen)} of the test structures of {run_dirs[0]} are in its training or "
                "validation split; train ensemble members on one split (--split-seed)"
            )
