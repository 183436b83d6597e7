"""Classify users' structure files with a trained run: what ``crystalgenome predict`` does.

Files are parsed and diffracted with the run's own diffraction settings (from its ``dataset.json``),
in batches, then predicted in batches with the run's test-time rotation averaging. A file that cannot
be read or diffracted is reported with its reason; the others are still predicted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crystalgenome.diffraction import DiffractionCalculator
from crystalgenome.errors import StructureError
from crystalgenome.store import settings_from_dict
from crystalgenome.structures import Cell, read_structure
from crystalgenome.structures.io import find_structure_files
from crystalgenome.training import load_run
from crystalgenome.workflows.tasks import read_dataset_record

BATCH_FILES = 512
"""Files diffracted and predicted per batch (bounds memory for thousands of files)."""


@dataclass
class PredictionResult:
    """Predictions (one dict per structure, input order) and the files that failed."""

    predictions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[StructureError] = field(default_factory=list)


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


def _read_cell(path: Path) -> Cell:
    """Fast path for pymatgen-style P1 CIFs (crystalgenome.data), else pymatgen."""
    if path.suffix.lower() == ".cif" and path.is_file() and path.stat().st_size > 0:
        from crystalgenome.data.fastparse import read_p1_cif

        try:
            cell = read_p1_cif(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError):
            cell = None
        if cell is not None:
            return cell
    return Cell.from_structure(read_structure(path))


def _batches(items: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def predict_files(
    run_dir: str | Path,
    paths: Iterable[str | Path],
    *,
    rotations: int | None = None,
    batch_files: int = BATCH_FILES,
) -> PredictionResult:
    """Predict every structure file under ``paths`` with the run in ``run_dir``.

    Each prediction is ``{"file", "label", "probabilities": {class_name: p}}``; class names are the
    data layer's (e.g. ``metal``/``insulator``, lower-case crystal systems).
    """
    from crystalgenome.workflows.boosted import is_boosted_run

    if is_boosted_run(run_dir):
        from crystalgenome.workflows.models import predict_model_files

        return PredictionResult(*predict_model_files(run_dir, paths, batch_files=batch_files))
    run = load_run(run_dir)
    settings = settings_from_dict(read_dataset_record(run_dir)["diffraction"])
    calculator = DiffractionCalculator(settings)
    result = PredictionResult()
    for batch in _batches(collect_structure_files(paths), batch_files):
        clouds, names = [], []
        for path in batch:
            try:
                pattern = calculator.compute(_read_cell(path), name=str(path))
            except StructureError as error:
                result.errors.append(error)
                continue
            cloud = pattern.point_cloud()
            if run.model_config.needs_hkl:
                cloud = np.concatenate([cloud, np.asarray(pattern.hkl, dtype=cloud.dtype)], axis=1)
            clouds.append(cloud)
            names.append(str(path))
        if not clouds:
            continue
        width = max(cloud.shape[0] for cloud in clouds)
        points = np.zeros((len(clouds), width, clouds[0].shape[1]), dtype=np.float32)
        mask = np.zeros((len(clouds), width), dtype=bool)
        for row, cloud in enumerate(clouds):
            points[row, : cloud.shape[0]] = cloud
            mask[row, : cloud.shape[0]] = True
        probabilities = run.predict_proba(points, mask, rotations=rotations)
        for name, row in zip(names, probabilities, strict=True):
            result.predictions.append(
                {
                    "file": name,
                    "label": run.class_names[int(row.argmax())],
                    "probabilities": {c: float(p) for c, p in zip(run.class_names, row, strict=True)},
                }
            )
    return result
