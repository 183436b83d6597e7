"""The run folder: writing its files while training, loading a trained run back (or several as one
ensemble), and prediction from raw point clouds.

A run folder holds::

    config.json      train + model config, normalisation, class names
    metadata.json    run_metadata(): versions, seed, data fingerprint, platform, command
    splits.json      material ids of each split
    metrics.csv      one row per epoch (also metrics.jsonl), rewritten atomically each epoch
    last.pt          everything needed to resume (see :mod:`crystalgenome.training.checkpoint`)
    best.pt          weights of the best validation epoch, with config, class names, metrics
    summary.json     best epoch, validation and test metrics with bootstrap intervals
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from crystalgenome.model import ModelConfig, PointNet
from crystalgenome.training.checkpoint import load_checkpoint
from crystalgenome.training.config import TrainConfig
from crystalgenome.training.devices import resolve_device
from crystalgenome.training.inputs import Normalisation, check_inputs, resolve_normalisation
from crystalgenome.training.predict import DEFAULT_BATCH, model_probabilities
from crystalgenome.utils.atomic import atomic_write_json, atomic_write_text
from crystalgenome.utils.provenance import run_metadata

SUMMARY_FILE = "summary.json"


def write_run_start(
    run_dir: Path, identity: dict[str, Any], *, extra: dict[str, Any], splits: Mapping[str, list[str]]
) -> None:
    """The static files of a new run folder: config.json (``identity`` without the data fingerprint),
    metadata.json (:func:`~crystalgenome.utils.provenance.run_metadata` plus ``extra``) and splits.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    static = {key: value for key, value in identity.items() if key != "data_fingerprint"}
    _write_json(run_dir / "config.json", static)
    seed = identity["train_config"]["seed"]
    metadata = run_metadata(identity, seed=seed, data_fingerprint=identity["data_fingerprint"])
    _write_json(run_dir / "metadata.json", metadata | extra)
    _write_json(run_dir / "splits.json", dict(splits))


def write_metrics_tables(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """metrics.csv and metrics.jsonl with one row per epoch (atomic rewrites)."""
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(run_dir / "metrics.csv", buffer.getvalue())
    atomic_write_text(run_dir / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    """summary.json: best epoch, validation and test metrics."""
    _write_json(run_dir / SUMMARY_FILE, summary)


def _write_json(path: Path, data: Any) -> None:
    atomic_write_json(path, data, default=str)


@dataclass
class Run:
    """The best checkpoint of a run folder, ready to predict (model in eval mode)."""

    run_dir: Path
    model: PointNet
    model_config: ModelConfig
    train_config: TrainConfig
    normalisation: Normalisation
    class_names: list[str]
    epoch: int
    metrics: dict[str, Any]

    def predict_proba(self, points: np.ndarray, mask: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """(n, K) class probabilities of raw point clouds; see :func:`predict_proba`."""
        return predict_proba(self, points, mask, **kwargs)


def load_run(run_dir: str | Path, *, checkpoint: str = "best.pt", device: str | None = None) -> Run:
    """Load a run folder written by :func:`~crystalgenome.training.train` (its best epoch by default)."""
    run_dir = Path(run_dir)
    path = run_dir / checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"no {checkpoint} in {run_dir}: is it a training run folder?")
    data = load_checkpoint(path)
    model_config = ModelConfig.from_dict(data["model_config"])
    train_config = TrainConfig.from_dict(data["train_config"])
    model = PointNet(model_config)
    model.load_state_dict(data["model_state"])
    model.to(resolve_device(device or ("auto" if train_config.device != "cpu" else "cpu"))).eval()
    return Run(
        run_dir=run_dir,
        model=model,
        model_config=model_config,
        train_config=train_config,
        normalisation=Normalisation.from_dict(data["normalisation"]),
        class_names=list(data["class_names"]),
        epoch=int(data["epoch"]),
        metrics=dict(data["metrics"]),
    )


class EnsembleModel(nn.Module):
    """Several classifiers as one: returns the log of their mean class probabilities (so a softmax of the
    output is the ensemble's probability). A member reads the first ``in_channels`` of the inputs, so
    lattice-frame members (7 channels) and input-frame members (4) can be mixed."""

    def __init__(self, members: Sequence[PointNet]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, points: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        probabilities = torch.stack(
            [
                torch.softmax(member(points[..., : member.config.in_channels], mask).double(), dim=1)
                for member in self.members
            ]
        )
        return probabilities.mean(dim=0).log().to(points.dtype)


def load_ensemble(run_dirs: Sequence[str | Path], *, device: str | None = None) -> Run:
    """Several runs of one task as a single :class:`Run` whose probabilities are the members' mean.

    The members must share class names and input normalisation. The ensemble reads the inputs of its
    widest member (Miller indices included when any member needs them) and averages over the largest
    number of test-time rotations of its members. ``run_dir`` is the first member's folder.

    Raises:
        ValueError: the runs disagree on class names or normalisation.
    """
    runs = [load_run(path, device=device) for path in run_dirs]
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    for run in runs[1:]:
        if run.class_names != first.class_names:
            raise ValueError(f"{run.run_dir}: class names {run.class_names} differ from {first.class_names}")
        if run.normalisation != first.normalisation:
            raise ValueError(f"{run.run_dir}: input normalisation differs from {first.run_dir}'s")
    widest = max(runs, key=lambda run: run.model_config.in_channels)
    rotations = max(run.train_config.test_time_rotations for run in runs)
    return Run(
        run_dir=first.run_dir,
        model=EnsembleModel([run.model for run in runs]).eval(),
        model_config=widest.model_config,
        train_config=first.train_config.replace(test_time_rotations=rotations),
        normalisation=first.normalisation,
        class_names=first.class_names,
        epoch=first.epoch,
        metrics={"members": [str(run.run_dir) for run in runs]},
    )


def predict_proba(
    run_or_model: Run | str | Path | nn.Module,
    points: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    rotations: int | None = None,
    normalisation: Normalisation | str | None = None,
    seed: int | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """(n, K) class probabilities of raw point clouds, averaged over ``rotations`` fixed rotations.

    Args:
        run_or_model: a :class:`Run`, a run folder, or a bare model (then inputs use ``normalisation``,
            default the authors').
        points: (n, P, 4) raw points (g in Å⁻¹, I = |F|²/V²); mask: (n, P) bool (None = all real).
        rotations: test-time rotations R (default: the run's ``test_time_rotations``; 0 for a bare model).
        normalisation: overrides the run's normalisation.
        seed: seed of the fixed rotations (default: the run's seed, else 0).
        batch_size: structures per forward pass; inputs are normalised chunk by chunk (low memory).
    """
    if isinstance(run_or_model, str | Path):
        run_or_model = load_run(run_or_model)
    if isinstance(run_or_model, Run):
        model = run_or_model.model
        normalisation = resolve_normalisation(normalisation or run_or_model.normalisation)
        rotations = run_or_model.train_config.test_time_rotations if rotations is None else rotations
        seed = run_or_model.train_config.seed if seed is None else seed
    else:
        model = run_or_model
        normalisation = resolve_normalisation(normalisation)
        rotations = rotations or 0
        seed = seed or 0
    mask = check_inputs(points, mask)
    chunks = []
    for start in range(0, len(points), batch_size):
        part = slice(start, start + batch_size)
        inputs = torch.from_numpy(normalisation.apply(points[part], mask[part]))
        chunks.append(
            model_probabilities(
                model,
                inputs,
                torch.from_numpy(mask[part]),
                rotations=rotations,
                seed=seed,
                batch_size=batch_size,
            )
        )
    return np.concatenate(chunks) if chunks else np.empty((0, len(getattr(run_or_model, "class_names", []))))
