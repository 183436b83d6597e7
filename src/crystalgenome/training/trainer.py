"""Training loop: Adam + cosine schedule, model selection on validation, early stopping, exact resume.

A run folder holds::

    config.json      train + model config, normalisation, class names
    metadata.json    run_metadata(): versions, seed, data fingerprint, platform, command
    splits.json      material ids of each split
    metrics.csv      one row per epoch (also metrics.jsonl), rewritten atomically each epoch
    last.pt          everything needed to resume (weights, optimiser, scheduler, RNG states, history)
    best.pt          weights of the best validation epoch, with config, class names, metrics
    summary.json     best epoch, validation and test metrics with bootstrap intervals

Speed on CPU comes from keeping the normalised inputs in memory as one tensor, batching by indexing
it, rotating a batch with one batched matmul, and running the per-point layers as (B·P, C) matrix
products (see :mod:`crystalgenome.model.pointnet`). No DataLoader, no per-sample Python.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crystalgenome.model import ModelConfig, PointNet, count_parameters, resolve_model_config
from crystalgenome.training.augment import augment_batch
from crystalgenome.training.config import SPLITS, TrainConfig
from crystalgenome.training.inputs import Normalisation, to_tensors
from crystalgenome.training.metrics import classification_metrics, selection_score
from crystalgenome.training.predict import model_probabilities, rotation_invariance
from crystalgenome.utils.atomic import atomic_path, atomic_write_text
from crystalgenome.utils.provenance import run_metadata

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


@dataclass
class TrainResult:
    """What :func:`train` returns. ``model`` holds the best-epoch weights, in eval mode."""

    run_dir: Path
    model: PointNet
    class_names: list[str]
    normalisation: Normalisation
    best_epoch: int
    selection_metric: str
    best_score: float
    history: list[dict[str, Any]]
    val_metrics: dict[str, Any] | None = None
    test_metrics: dict[str, Any] | None = None
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- inputs


def split_indices(split: np.ndarray | Mapping[str, Sequence[int]], num_samples: int) -> dict[str, np.ndarray]:
    """Index arrays of the train/val/test splits, from per-sample names or a {name: indices} mapping."""
    if isinstance(split, Mapping):
        result = {name: np.asarray(split.get(name, []), dtype=np.int64) for name in SPLITS}
    else:
        names = np.asarray(split).astype(str)
        if names.shape != (num_samples,):
            raise ValueError(f"split must name a split for each of the {num_samples} samples")
        result = {name: np.flatnonzero(names == name) for name in SPLITS}
    if result["train"].size == 0:
        raise ValueError("the training split is empty")
    return result


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """SHA-256 (16 hex digits) of the bytes, shapes and dtypes of some arrays."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """Balanced loss weights n / (K · n_k); classes absent from training get weight 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


# ----------------------------------------------------------------------------- RNG state


def _rng_state(data_generator: torch.Generator) -> dict[str, Any]:
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "data": data_generator.get_state(),
        "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }


def _set_rng_state(state: dict[str, Any], data_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (weights and dropout)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- files


def _save_torch(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as temporary:
        torch.save(obj, temporary)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by :func:`train` (tensors on CPU; safe ``weights_only`` loading)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def _write_metrics_tables(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """metrics.csv and metrics.jsonl with one row per epoch (atomic rewrites)."""
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(run_dir / "metrics.csv", buffer.getvalue())
    atomic_write_text(run_dir / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


# ----------------------------------------------------------------------------- loop


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.min_lr)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _progress(iterable: Any, *, enabled: bool, **kwargs: Any) -> Any:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
    train_index: torch.Tensor,
    *,
    config: TrainConfig,
    generator: torch.Generator,
    loss_weights: torch.Tensor | None,
    progress: bool = False,
    description: str = "train",
) -> dict[str, float]:
    """One pass over the training split in a random order; returns mean loss, accuracy, samples/s."""
    model.train()
    device = inputs.device
    order = train_index[torch.randperm(train_index.numel(), generator=generator)]
    batches = list(order.split(config.batch_size))
    if len(batches) > 1 and batches[-1].numel() < config.batch_size:
        batches.pop()  # a tiny last batch makes BatchNorm statistics noisy
    augment = "train" in config.augment
    loss_sum, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for batch in _progress(batches, enabled=progress, desc=description, leave=False, unit="batch"):
        index = batch.to(device)
        points, point_mask, target = inputs[index], mask[index], labels[index]
        if augment:
            points, point_mask = augment_batch(
                points, point_mask, generator=generator, max_angle_degrees=config.rotation_range, permute=config.permute
            )
        logits = model(points, point_mask)
        loss = F.cross_entropy(logits, target, weight=loss_weights, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * target.numel()
        correct += int((logits.argmax(dim=1) == target).sum())
        seen += target.numel()
    elapsed = time.perf_counter() - start
    return {
        "train_loss": loss_sum / max(seen, 1),
        "train_accuracy": correct / max(seen, 1),
        "train_samples_per_s": seen / elapsed if elapsed > 0 else float("nan"),
    }


def _validation_row(
    model: nn.Module,
    inputs: torch.Tensor,
    mask: torch.Tensor,
    labels: np.ndarray,
    rotations: int,
    config: TrainConfig,
) -> tuple[dict[str, float], float]:
    probabilities = model_probabilities(
        model, inputs, mask, rotations=rotations, seed=config.seed, batch_size=config.eval_batch_size
    )
    clipped = np.clip(probabilities[np.arange(labels.size), labels], 1e-12, 1.0)
    metric, score = selection_score(labels, probabilities)
    row = {"val_loss": float(-np.log(clipped).mean()), "val_accuracy": float((probabilities.argmax(1) == labels).mean())}
    row[f"val_{metric}"] = score
    return row, score


def _split_metrics(
    model: nn.Module,
    inputs: torch.Tensor,
    mask: torch.Tensor,
    labels: np.ndarray,
    class_names: list[str],
    config: TrainConfig,
    *,
    invariance: bool,
) -> dict[str, Any]:
    probabilities = model_probabilities(
        model, inputs, mask, rotations=config.test_time_rotations, seed=config.seed, batch_size=config.eval_batch_size
    )
    metrics = classification_metrics(labels, probabilities, class_names, seed=config.seed)
    metrics["test_time_rotations"] = config.test_time_rotations
    if invariance:
        fraction, _ = rotation_invariance(model, inputs, mask, batch_size=config.eval_batch_size)
        metrics["rotation_invariance"] = {"value": fraction, "rotations": 20}
    return metrics


def train(
    points: np.ndarray,
    mask: np.ndarray | None,
    labels: np.ndarray,
    split: np.ndarray | Mapping[str, Sequence[int]],
    class_names: Sequence[str],
    *,
    config: TrainConfig | None = None,
    model_config: ModelConfig | str | Path | None = None,
    out_dir: str | Path,
    ids: Sequence[str] | None = None,
    data_fingerprint: str | None = None,
    resume: bool = True,
    progress: bool = True,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a PointNet classifier and write a run folder (see the module docstring).

    Args:
        points: (n, P, 4) raw point clouds (g in Å⁻¹, I = |F|²/V²); padded points are zeros.
        mask: (n, P) bool, True = real point (None: all real).
        labels: (n,) class indices into ``class_names``.
        split: per-sample split names ("train", "val", "test"; others ignored) or {name: indices}.
        class_names: names of the classes, in label order.
        config: training settings (defaults: :class:`TrainConfig`).
        model_config: architecture: a ModelConfig, a packaged name ("default", "authors") or a JSON path;
            ``num_classes`` is set from ``class_names``.
        out_dir: run folder (created).
        ids: material ids (for splits.json); default: sample indices.
        data_fingerprint: recorded in the metadata; default: a hash of points, mask, labels and split.
        resume: continue from ``out_dir/last.pt`` when present (it must be the same run); when False an
            existing run folder is an error.
        progress: show tqdm progress bars.
        on_epoch_end: called with each epoch's metrics row after the checkpoints are written.
    """
    config = config or TrainConfig()
    class_names = [str(name) for name in class_names]
    model_config = resolve_model_config(model_config).replace(
        num_classes=len(class_names), in_channels=int(np.asarray(points).shape[-1])
    )
    normalisation = config.normalisation_spec()
    run_dir = Path(out_dir)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= len(class_names):
        raise ValueError("labels must be class indices into class_names")
    splits = split_indices(split, labels.size)
    ids = [str(item) for item in (ids if ids is not None else range(labels.size))]
    if data_fingerprint is None:
        split_code = np.zeros(labels.size, dtype=np.int8)
        for code, name in enumerate(SPLITS, start=1):
            split_code[splits[name]] = code
        data_fingerprint = fingerprint_arrays(np.asarray(points), np.asarray(mask) if mask is not None else np.ones(1), labels, split_code)

    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    inputs, input_mask = to_tensors(points, mask, normalisation, device)
    label_tensor = torch.from_numpy(labels).to(device)
    train_index = torch.from_numpy(splits["train"])
    has_val = splits["val"].size > 0

    seed_everything(config.seed)
    model = PointNet(model_config).to(device)
    optimizer = _make_optimizer(model, config)
    scheduler = _make_scheduler(optimizer, config)
    generator = torch.Generator().manual_seed(config.seed)
    loss_weights = class_weights(labels[splits["train"]], len(class_names)).to(device) if config.class_weighting == "balanced" else None
    identity = {
        "train_config": config.to_dict(),
        "model_config": model_config.to_dict(),
        "normalisation": normalisation.to_dict(),
        "class_names": class_names,
        "data_fingerprint": data_fingerprint,
    }

    state = {"epoch": 0, "history": [], "best_epoch": 0, "best_score": float("-inf"), "stale": 0, "finished": False}
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if last_path.exists():
        if not resume:
            raise FileExistsError(f"{run_dir} already holds a run; resume it or choose another folder")
        checkpoint = load_checkpoint(last_path)
        for key in identity:
            if checkpoint[key] != identity[key]:
                raise ValueError(f"{run_dir} holds a different run ({key} differs); choose another folder")
        model.load_state_dict(checkpoint["model_state"])
        optimizer.load_state_dict(checkpoint["optimizer_state"])
        scheduler.load_state_dict(checkpoint["scheduler_state"])
        _set_rng_state(checkpoint["rng"], generator)
        state = checkpoint["state"]
        logger.info("resuming %s after epoch %d", run_dir, state["epoch"])
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(run_dir / "config.json", {key: value for key, value in identity.items() if key != "data_fingerprint"})
        _write_json(run_dir / "metadata.json", run_metadata(identity, seed=config.seed, data_fingerprint=data_fingerprint)
                    | {"num_parameters": count_parameters(model), "device": str(device), "num_samples": labels.size})
        _write_json(run_dir / "splits.json", {name: [ids[i] for i in splits[name]] for name in SPLITS})

    val_inputs, val_mask = inputs[splits["val"]], input_mask[splits["val"]]
    epochs = _progress(range(state["epoch"], config.epochs), enabled=progress, desc="epochs", unit="epoch",
                       initial=state["epoch"], total=config.epochs)
    for epoch in epochs:
        if state["finished"]:
            break
        started = time.perf_counter()
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        row |= train_one_epoch(
            model, optimizer, inputs, input_mask, label_tensor, train_index, config=config, generator=generator,
            loss_weights=loss_weights, progress=progress, description=f"epoch {epoch + 1}",
        )  # fmt: skip
        scheduler.step()
        score = row["train_accuracy"]
        if has_val:
            val_row, score = _validation_row(model, val_inputs, val_mask, labels[splits["val"]], config.validation_rotations, config)
            row |= val_row
        improved = score > state["best_score"] or not has_val
        if improved:
            state |= {"best_epoch": epoch + 1, "best_score": score, "stale": 0}
        else:
            state["stale"] += 1
        row |= {"best": improved, "seconds": time.perf_counter() - started}
        state["history"].append(row)
        state["epoch"] = epoch + 1
        patience = config.early_stopping_patience
        state["finished"] = state["epoch"] >= config.epochs or (has_val and patience is not None and state["stale"] >= patience)
        common = identity | {"format": CHECKPOINT_FORMAT, "epoch": epoch + 1, "metrics": row,
                             "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()}}  # fmt: skip
        if improved:
            _save_torch(common, best_path)
        _save_torch(
            common | {"optimizer_state": optimizer.state_dict(), "scheduler_state": scheduler.state_dict(),
                      "rng": _rng_state(generator), "state": state},
            last_path,
        )  # fmt: skip
        _write_metrics_tables(run_dir, state["history"])
        logger.info("epoch %d: %s", epoch + 1, {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
        if progress and hasattr(epochs, "set_postfix"):
            epochs.set_postfix(loss=f"{row['train_loss']:.3f}", val=f"{score:.4f}")
        if on_epoch_end is not None:
            on_epoch_end(row)

    return _finish(run_dir, model, inputs, input_mask, labels, splits, class_names, normalisation, config, state)


def _finish(
    run_dir: Path,
    model: PointNet,
    inputs: torch.Tensor,
    mask: torch.Tensor,
    labels: np.ndarray,
    splits: dict[str, np.ndarray],
    class_names: list[str],
    normalisation: Normalisation,
    config: TrainConfig,
    state: dict[str, Any],
) -> TrainResult:
    """Load the best weights, evaluate validation and test splits, write summary.json."""
    model.load_state_dict(load_checkpoint(run_dir / "best.pt")["model_state"])
    model.eval()
    results: dict[str, dict[str, Any] | None] = {}
    for name in ("val", "test"):
        index = splits[name]
        results[name] = (
            _split_metrics(model, inputs[index], mask[index], labels[index], class_names, config, invariance=name == "test")
            if index.size
            else None
        )
    metric = "roc_auc" if len(class_names) == 2 else "accuracy"
    stopped_early = state["epoch"] < config.epochs
    summary = {
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "stopped_early": stopped_early,
        "selection_metric": metric if splits["val"].size else "train_accuracy",
        "best_val_score": state["best_score"],
        "val": results["val"],
        "test": results["test"],
    }
    _write_json(run_dir / "summary.json", summary)
    return TrainResult(
        run_dir=run_dir,
        model=model,
        class_names=class_names,
        normalisation=normalisation,
        best_epoch=state["best_epoch"],
        selection_metric=summary["selection_metric"],
        best_score=state["best_score"],
        history=state["history"],
        val_metrics=results["val"],
        test_metrics=results["test"],
        stopped_early=stopped_early,
    )
