"""Classify users' structure files with a trained run: what ``crystalgenome predict`` does.

Files are read as raw records and featurized exactly as ``featurize`` does it (fast CIF reader,
standardisation and the batched diffraction engine, with the run's own diffraction settings from its
``dataset.json``), then predicted in batches with the run's test-time rotation averaging (Friedel
half-clouds for a model that reads them). With many files, batches go to worker processes (at most
two per worker in flight, so memory stays bounded whatever the number of files) that each load the
run once and send back only the predictions. A file that cannot be read, diffracted or predicted is
reported with its reason; the others are still predicted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.data import RawRecord
from crystalgenome.data.sources.folder import record_format
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.diffraction.clouds import PointClouds
from crystalgenome.errors import StructureError
from crystalgenome.store.shard import StructureFeatures, featurize_records
from crystalgenome.structures.io import entry_problem, find_structure_files
from crystalgenome.training import Run, load_run
from crystalgenome.workflows.tasks import read_dataset_record

BATCH_FILES = 512
"""Files diffracted and predicted per batch (bounds memory for any number of files)."""

PARALLEL_BATCHES = 2
"""With ``workers=None``, batches go to worker processes from this many batches on."""


@dataclass
class PredictionResult:
    """Predictions (one dict per structure, input order) and the files that failed."""

    predictions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[StructureError] = field(default_factory=list)


@dataclass(frozen=True)
class _BatchResult:
    predictions: list[dict[str, Any]]
    errors: list[tuple[str, str]]  # (file, reason): StructureError itself does not pickle


def collect_structure_files(paths: Iterable[str | Path]) -> list[Path]:
    """The structure files named by ``paths``: files as given, folders scanned recursively (sorted).

    Entries named like structure files that are no readable file (folders, broken links, link loops)
    are listed too: reading them reports why (see ``find_structure_files``)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(find_structure_files(path))
        else:
            files.append(path)
    return files


def file_record(path: Path) -> RawRecord:
    """The file as a raw record named by its path (an unreadable file becomes a record with an error)."""
    name, fmt = str(path), record_format(path) or "cif"
    problem = entry_problem(path)  # folders, broken links, link loops: the reason a user can act on
    if problem is not None:
        return RawRecord(name, "", fmt, error=problem)
    try:
        if path.stat().st_size == 0:
            return RawRecord(name, "", fmt, error="file is empty")
        return RawRecord(name, path.read_text(encoding="utf-8", errors="replace"), fmt)
    except FileNotFoundError:
        return RawRecord(name, "", fmt, error="no such file")
    except OSError as error:
        return RawRecord(name, "", fmt, error=f"cannot be read ({error.strerror or error})")


def _clouds(run: Run, features: Sequence[StructureFeatures]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded (n, P, 4) raw points, or (n, P, 7) with the Miller indices, and the (n, P) mask."""
    clouds = PointClouds.stack(
        ((item.points, item.hkl) for item in features), with_hkl=run.model_config.needs_hkl
    )
    return clouds.packed(), clouds.mask


def _prediction(run: Run, name: str, probabilities: np.ndarray) -> dict[str, Any]:
    return {
        "file": name,
        "label": run.class_names[int(probabilities.argmax())],
        "probabilities": {c: float(p) for c, p in zip(run.class_names, probabilities, strict=True)},
    }


def _predict_features(
    run: Run, features: Sequence[StructureFeatures], rotations: int | None
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Predictions of featurized structures in one batch; if the batch fails, one at a time, so that
    one structure the model cannot read (e.g. Miller indices spanning a plane) fails alone."""
    try:
        points, mask = _clouds(run, features)
        probabilities = run.predict_proba(points, mask, rotations=rotations)
        return [_prediction(run, f.material_id, p) for f, p in zip(features, probabilities, strict=True)], []
    except Exception:
        if len(features) == 1:
            raise
    predictions, errors = [], []
    for item in features:
        try:
            found, _ = _predict_features(run, [item], rotations)
            predictions += found
        except Exception as error:
            errors.append((item.material_id, f"cannot be predicted ({type(error).__name__}: {error})"))
    return predictions, errors


def load_for_prediction(run_dir: str | Path) -> tuple[Run, DiffractionSettings]:
    """The run in ``run_dir`` and the diffraction settings its data was made with."""
    return load_run(run_dir), DiffractionSettings.from_dict(read_dataset_record(run_dir)["diffraction"])


def predict_batch(
    run: Run, settings: DiffractionSettings, paths: Sequence[str], rotations: int | None
) -> _BatchResult:
    """Read, featurize and predict one batch of files, in input order (errors as (file, reason))."""
    records = [file_record(Path(path)) for path in paths]
    outcomes = featurize_records(records, settings)
    features = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    errors = [(r.material_id, o) for r, o in zip(records, outcomes, strict=True) if isinstance(o, str)]
    predictions: list[dict[str, Any]] = []
    if features:
        predictions, failed = _predict_features(run, features, rotations)
        errors += failed
    order = {path: index for index, path in enumerate(paths)}
    errors.sort(key=lambda error: order[error[0]])
    return _BatchResult(predictions, errors)


_worker_run: list[tuple[Run, DiffractionSettings]] = []  # the run, loaded once per worker process


def _start_worker(run_dir: str) -> None:
    import torch

    torch.set_num_threads(1)  # the workers share the CPUs
    _worker_run.append(load_for_prediction(run_dir))


def _worker_batch(paths: Sequence[str], rotations: int | None) -> _BatchResult:
    return predict_batch(*_worker_run[0], paths, rotations)


def _batch_results(
    run_dir: str | Path, batches: Iterator[tuple[str, ...]], rotations: int | None, workers: int
) -> Iterator[_BatchResult]:
    """:func:`predict_batch` of every batch, in order: in this process, or in ``workers`` processes
    (one torch thread each) with at most ``2 × workers`` batches in flight."""
    if workers == 1:
        loaded = load_for_prediction(run_dir)
        yield from (predict_batch(*loaded, paths, rotations) for paths in batches)
        return
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(str(run_dir),)) as pool:
        pending: list[Future[_BatchResult]] = [
            pool.submit(_worker_batch, paths, rotations) for paths in islice(batches, 2 * workers)
        ]
        while pending:
            result = pending.pop(0).result()
            pending += [pool.submit(_worker_batch, paths, rotations) for paths in islice(batches, 1)]
            yield result


def default_workers(num_files: int, batch_files: int = BATCH_FILES) -> int:
    """Worker processes for ``num_files`` files: the CPUs available to this process from
    :data:`PARALLEL_BATCHES` batches on, else 1 (starting workers costs more than it saves)."""
    if num_files < PARALLEL_BATCHES * batch_files:
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def predict_files(
    run_dir: str | Path,
    paths: Iterable[str | Path],
    *,
    rotations: int | None = None,
    batch_files: int = BATCH_FILES,
    workers: int | None = None,
    progress: bool | None = None,
) -> PredictionResult:
    """Predict every structure file under ``paths`` with the run in ``run_dir``.

    Each prediction is ``{"file", "label", "probabilities": {class_name: p}}``; class names are the
    data layer's (e.g. ``metal``/``insulator``, lower-case crystal systems).

    Args:
        run_dir: a training run folder.
        paths: structure files, or folders scanned recursively.
        rotations: test-time rotations (default: the run's).
        batch_files: files featurized and predicted together.
        workers: processes (default: :func:`default_workers`).
        progress: a progress bar on stderr (default: from two batches of files on).
    """
    from tqdm.auto import tqdm

    from crystalgenome.workflows.boosted import is_boosted_run

    if is_boosted_run(run_dir):
        from crystalgenome.workflows.models import predict_model_files

        return PredictionResult(*predict_model_files(run_dir, paths, batch_files=batch_files))

    files = collect_structure_files(paths)
    workers = default_workers(len(files), batch_files) if workers is None else max(1, workers)
    if workers > 1:
        load_for_prediction(run_dir)  # a folder that is not a run fails here, not in every worker
    batches = (
        tuple(map(str, files[start : start + batch_files])) for start in range(0, len(files), batch_files)
    )
    show = len(files) >= 2 * batch_files if progress is None else progress
    result = PredictionResult()
    with tqdm(total=len(files), disable=not show, unit="file", desc="predict", smoothing=0.1) as bar:
        for outcome in _batch_results(run_dir, batches, rotations, workers):
            result.predictions += outcome.predictions
            result.errors += [StructureError(name, reason) for name, reason in outcome.errors]
            bar.update(len(outcome.predictions) + len(outcome.errors))
    return result
