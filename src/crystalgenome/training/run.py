"""A trained run loaded back from its folder, and prediction from raw point clouds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from crystalgenome.model import ModelConfig, PointNet
from crystalgenome.training.config import TrainConfig
from crystalgenome.training.inputs import Normalisation, check_inputs, resolve_normalisation
from crystalgenome.training.predict import DEFAULT_BATCH, model_probabilities
from crystalgenome.training.trainer import load_checkpoint, resolve_device


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
