"""Training loop: Adam + cosine schedule, model selection on validation, early stopping, exact resume.

The run folder's files are written by :mod:`crystalgenome.training.run`, checkpoints in the format of
:mod:`crystalgenome.training.checkpoint`; devices and RNG state live in
:mod:`crystalgenome.training.devices` and :mod:`crystalgenome.training.rng`.

Speed on CPU comes from keeping the normalised inputs in memory as one tensor, batching by indexing
it, rotating a batch with one batched matmul, and running the per-point layers as (B·P, C) matrix
products (see :mod:`crystalgenome.model.pointnet`). No DataLoader, no per-sample Python. A model with
``friedel_half`` gets the half-clouds (half the points); a lattice-frame model gets each structure's
standard frame computed once, before the first epoch; freed activations are reused, not unmapped
(:func:`~crystalgenome.training.cpu.keep_freed_memory`); on CPUs with bfloat16 instructions the steps
run in bfloat16 mixed precision (``TrainConfig.precision``) and Adam is torch's fused kernel.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn.functional import cross_entropy

from crystalgenome.model import (
    ModelConfig,
    PointNet,
    count_parameters,
    lattice_inputs,
    resolve_model_config,
)
from crystalgenome.training.augment import augment_batch
from crystalgenome.training.checkpoint import (
    BEST_FILE,
    LAST_FILE,
    check_identity,
    checkpoint_content,
    load_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from crystalgenome.training.config import SPLITS, TrainConfig
from crystalgenome.training.cpu import keep_freed_memory
from crystalgenome.training.devices import autocast, resolve_device, resolve_precision
from crystalgenome.training.inputs import Normalisation, half_cloud_tensors, to_tensors
from crystalgenome.training.metrics import classification_metrics, selection_score
from crystalgenome.training.predict import model_probabilities, rotation_invariance
from crystalgenome.training.rng import seed_everything
from crystalgenome.training.run import write_metrics_tables, write_run_start, write_summary

if TYPE_CHECKING:
    from crystalgenome.training.distributed import DistributedContext

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` returns. ``model`` holds the best-epoch weights, in eval mode."""

    run_dir: Path
    model: nn.Module
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
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()[:16]


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """Balanced loss weights n / (K · n_k); classes absent from training get weight 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


# ----------------------------------------------------------------------------- loop


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW; the fused kernel (one pass per parameter, ~4× less optimiser time on CPU than
    the per-tensor loop, the same update) wherever torch has one for the parameters."""
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    parameters = list(model.parameters())
    fused = all(p.dtype.is_floating_point and p.device.type in ("cpu", "cuda") for p in parameters)
    return kind(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=fused or None)


def _make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.epochs, eta_min=config.min_lr
        )
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _progress(iterable: Any, *, enabled: bool, **kwargs: Any) -> Any:
    """A tqdm progress bar over ``iterable`` (or over ``total`` steps when ``iterable`` is None)."""
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
    distributed: DistributedContext | None = None,
    cell: torch.Tensor | None = None,
) -> dict[str, float]:
    """One pass over the training split in a random order; returns mean loss, accuracy, samples/s.

    With ``cell`` (n, 6), ``inputs`` are a lattice-frame model's precomputed inputs
    (:func:`~crystalgenome.model.lattice_inputs`): they are not augmented, rotations and point order
    being exact no-ops for such a model. With ``distributed``, every rank draws the same global batches
    and rotations (the same ``generator`` state) and trains on its slice of each; the returned numbers
    are over all ranks. Forward passes run in ``config.precision`` (bfloat16 autocast where it resolves
    so, :func:`~crystalgenome.training.devices.resolve_precision`); the loss is taken in float32.
    """
    model.train()
    device = inputs.device
    precision = resolve_precision(config.precision, device)
    order = train_index[torch.randperm(train_index.numel(), generator=generator)]
    batches = list(order.split(config.batch_size))
    if len(batches) > 1 and batches[-1].numel() < config.batch_size:
        batches.pop()  # a tiny last batch makes BatchNorm statistics noisy
    augment = "train" in config.augment and cell is None
    order_invariant = bool(getattr(getattr(model, "module", model), "order_invariant", False))
    loss_sum, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for batch in _progress(batches, enabled=progress, desc=description, leave=False, unit="batch"):
        index = batch.to(device)
        points, point_mask, target = inputs[index], mask[index], labels[index]
        batch_cell = None if cell is None else cell[index]
        if augment:
            points, point_mask = augment_batch(
                points,
                point_mask,
                generator=generator,
                max_angle_degrees=config.rotation_range,
                permute=config.permute,
                order_invariant=order_invariant,
            )
        if distributed is not None:
            points, point_mask, target = distributed.shard(points, point_mask, target)
            batch_cell = None if batch_cell is None else distributed.shard(batch_cell)[0]
        extra = {} if batch_cell is None else {"cell": batch_cell}
        with autocast(device, precision):
            logits = model(points, point_mask, **extra).float()
        loss = cross_entropy(logits, target, weight=loss_weights, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * target.numel()
        correct += int((logits.argmax(dim=1) == target).sum())
        seen += target.numel()
    elapsed = time.perf_counter() - start
    if distributed is not None:
        loss_sum, correct, seen = distributed.sum(loss_sum, correct, seen)
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
    row = {
        "val_loss": float(-np.log(clipped).mean()),
        "val_accuracy": float((probabilities.argmax(1) == labels).mean()),
    }
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
        model,
        inputs,
        mask,
        rotations=config.test_time_rotations,
        seed=config.seed,
        batch_size=config.eval_batch_size,
    )
    metrics = classification_metrics(labels, probabilities, class_names, seed=config.seed)
    metrics["test_time_rotations"] = config.test_time_rotations
    if invariance:
        fraction, flags = rotation_invariance(model, inputs, mask, batch_size=config.eval_batch_size)
        metrics["rotation_invariance"] = {
            "value": fraction,
            "rotations": 20,
            "structures": int(np.isfinite(flags).sum()),
        }
    return metrics


@dataclass
class _Data:
    """Normalised inputs on the training device (Friedel halves for a half-cloud model), labels and
    split indices; for a lattice-frame model also its precomputed inputs and cells (training batches)."""

    inputs: torch.Tensor
    mask: torch.Tensor
    labels: np.ndarray
    label_tensor: torch.Tensor
    splits: dict[str, np.ndarray]
    framed: torch.Tensor | None = None
    cell: torch.Tensor | None = None

    def part(self, name: str) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        index = self.splits[name]
        return self.inputs[index], self.mask[index], self.labels[index]


@dataclass
class _Session:
    """The mutable state of a run: what last.pt saves and restores."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "epoch": 0,
            "history": [],
            "best_epoch": 0,
            "best_score": float("-inf"),
            "stale": 0,
            "finished": False,
        }
    )
    distributed: DistributedContext | None = None
    wrapped: nn.Module | None = None  # the model in DistributedDataParallel, when distributed

    def checkpoint(self, identity: dict[str, Any], *, full: bool) -> dict[str, Any]:
        """best.pt content (weights + identity + metrics), or last.pt content when ``full``."""
        if not full:
            return checkpoint_content(identity, self.model, self.state)
        return checkpoint_content(
            identity, self.model, self.state,
            optimizer=self.optimizer, scheduler=self.scheduler, generator=self.generator,
        )  # fmt: skip

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.state = restore_checkpoint(
            checkpoint, self.model, self.optimizer, self.scheduler, self.generator
        )


FRAME_CHUNK = 4096
"""Structures per step when precomputing lattice frames (bounds the float64 temporaries)."""


@torch.no_grad()
def precompute_frames(inputs: torch.Tensor, chunk: int = FRAME_CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`~crystalgenome.model.lattice_inputs` of every normalised cloud, in chunks: (n, P, C − 3)
    inputs in the standard frame and (n, 6) cells, the same as a lattice-frame model computes per batch."""
    framed = inputs.new_empty((*inputs.shape[:2], inputs.shape[2] - 3))  # filled in place: no second copy
    cell = inputs.new_zeros((inputs.shape[0], 6))
    for start in range(0, inputs.shape[0], chunk):
        framed[start : start + chunk], cell[start : start + chunk] = lattice_inputs(
            inputs[start : start + chunk]
        )
    return framed, cell


def _prepare_data(
    points: np.ndarray,
    mask: np.ndarray | None,
    labels: np.ndarray,
    split: np.ndarray | Mapping[str, Sequence[int]],
    model_config: ModelConfig,
    normalisation: Normalisation,
    device: torch.device,
) -> _Data:
    labels = np.asarray(labels, dtype=np.int64)
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= model_config.num_classes:
        raise ValueError("labels must be class indices into class_names")
    if model_config.friedel_half:  # built chunk by chunk (never the full-width inputs of every structure)
        inputs, input_mask = half_cloud_tensors(
            points, mask, normalisation, miller_channels=model_config.needs_hkl, device=device
        )
    else:
        inputs, input_mask = to_tensors(points, mask, normalisation, device)
    data = _Data(
        inputs, input_mask, labels, torch.from_numpy(labels).to(device), split_indices(split, labels.size)
    )
    if model_config.needs_hkl:
        data.framed, data.cell = precompute_frames(inputs)
    return data


def _default_fingerprint(points: np.ndarray, mask: np.ndarray | None, data: _Data) -> str:
    split_code = np.zeros(data.labels.size, dtype=np.int8)
    for code, name in enumerate(SPLITS, start=1):
        split_code[data.splits[name]] = code
    mask_array = np.asarray(mask) if mask is not None else np.ones(1)
    return fingerprint_arrays(np.asarray(points), mask_array, data.labels, split_code)


def _start_or_resume(
    session: _Session, run_dir: Path, identity: dict[str, Any], ids: list[str], data: _Data, *, resume: bool
) -> None:
    """Restore last.pt (checking it is the same run), or create the run folder's static files.

    With ``session.distributed``, every rank restores last.pt and only rank 0 writes files.
    """
    last_path = run_dir / LAST_FILE
    if last_path.exists():
        if not resume:
            raise FileExistsError(f"{run_dir} already holds a run; resume it or choose another folder")
        checkpoint = load_checkpoint(last_path)
        check_identity(checkpoint, identity, run_dir)
        session.restore(checkpoint)
        logger.info("resuming %s after epoch %d", run_dir, session.state["epoch"])  # cli.common shows it
        return
    if session.distributed is not None and not session.distributed.is_main:
        return
    device = next(session.model.parameters()).device
    precision = resolve_precision(identity["train_config"]["precision"], device)
    extra = {
        "num_parameters": count_parameters(session.model),
        "device": str(device),
        "precision": str(precision).removeprefix("torch."),
        "num_samples": int(data.labels.size),
    }
    if session.distributed is not None:
        extra["distributed"] = session.distributed.describe()
    splits = {name: [ids[i] for i in data.splits[name]] for name in SPLITS}
    write_run_start(run_dir, identity, extra=extra, splits=splits)


def _epoch(
    session: _Session, data: _Data, config: TrainConfig, loss_weights: torch.Tensor | None, progress: bool
) -> dict[str, Any]:
    """Train one epoch, validate, update the best/early-stopping state; returns the metrics row."""
    state, epoch = session.state, session.state["epoch"] + 1
    started = time.perf_counter()
    row: dict[str, Any] = {"epoch": epoch, "lr": session.optimizer.param_groups[0]["lr"]}
    row |= train_one_epoch(
        session.model if session.wrapped is None else session.wrapped,
        session.optimizer,
        data.inputs if data.framed is None else data.framed,
        data.mask,
        data.label_tensor,
        torch.from_numpy(data.splits["train"]),
        config=config,
        cell=data.cell,
        generator=session.generator,
        loss_weights=loss_weights,
        progress=progress,
        description=f"epoch {epoch}",
        distributed=session.distributed,
    )
    session.scheduler.step()
    has_val = data.splits["val"].size > 0
    score = row["train_accuracy"]
    validates = has_val and (session.distributed is None or session.distributed.is_main)
    if validates:  # a distributed run gets rank 0's numbers below
        val_row, score = _validation_row(
            session.model, *data.part("val"), config.validation_rotations, config
        )
        row |= val_row
    improved = score > state["best_score"] or not has_val
    if improved:
        state |= {"best_epoch": epoch, "best_score": score, "stale": 0}
    else:
        state["stale"] += 1
    row |= {"best": improved, "seconds": time.perf_counter() - started}
    state["history"].append(row)
    state["epoch"] = epoch
    patience = config.early_stopping_patience
    stop_early = has_val and patience is not None and state["stale"] >= patience
    state["finished"] = epoch >= config.epochs or stop_early
    if session.distributed is not None:  # rank 0's validation, best epoch and early-stopping decision
        session.state, row = session.distributed.broadcast((state, row))
    return row


def build_model(
    model: nn.Module | Callable[[ModelConfig], nn.Module] | None, model_config: ModelConfig
) -> nn.Module:
    """The network :func:`train` trains: ``PointNet(model_config)`` when ``model`` is None, else
    ``model`` itself or what the factory ``model`` makes of ``model_config``."""
    if model is None:
        return PointNet(model_config)
    if isinstance(model, nn.Module):
        return model
    return model(model_config)


def _qualified_name(module: nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


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
    distributed: DistributedContext | None = None,
    model: nn.Module | Callable[[ModelConfig], nn.Module] | None = None,
) -> TrainResult:
    """Train a classifier (a PointNet unless ``model`` says otherwise) and write a run folder (see the
    module docstring).

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
        distributed: train data-parallel across the ranks of a process group (see
            :mod:`crystalgenome.training.distributed`); call on every rank with the same arguments.
            Only rank 0 writes ``out_dir``; every rank returns the same result.
        model: the network to train instead of ``PointNet(model_config)``: an ``nn.Module`` called as
            ``model(points, mask)`` on normalised (B, P, C) clouds and returning (B, K) logits, or a
            factory called with the resolved model config (after seeding, so its weights are seeded).
            ``model_config`` then only says how inputs are prepared (Friedel halves, lattice frames);
            it defaults to the plain :class:`~crystalgenome.model.ModelConfig` (neither). The run
            records the model's class and architecture (``repr``), and resumes only the same one.
    """
    config = config or TrainConfig()
    class_names = [str(name) for name in class_names]
    if model is not None and model_config is None:
        model_config = ModelConfig()
    model_config = resolve_model_config(model_config).replace(
        num_classes=len(class_names), in_channels=int(np.asarray(points).shape[-1])
    )
    normalisation = config.normalisation_spec()
    run_dir = Path(out_dir)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    if device.type == "cpu":
        keep_freed_memory()
    if distributed is not None:
        distributed.check_batch_size(config.batch_size)
        device = distributed.rank_device(device)
        progress = progress and distributed.is_main
    writes = distributed is None or distributed.is_main
    data = _prepare_data(points, mask, labels, split, model_config, normalisation, device)
    ids = [str(item) for item in (ids if ids is not None else range(data.labels.size))]
    identity = {
        "train_config": config.to_dict(),
        "model_config": model_config.to_dict(),
        "normalisation": normalisation.to_dict(),
        "class_names": class_names,
        "data_fingerprint": data_fingerprint or _default_fingerprint(points, mask, data),
    }

    seed_everything(config.seed)
    network = build_model(model, model_config)
    if model is not None:
        identity["model"] = {"class": _qualified_name(network), "architecture": repr(network)}
    network = network.to(device)
    optimizer = _make_optimizer(network, config)
    session = _Session(
        network, optimizer, _make_scheduler(optimizer, config), torch.Generator().manual_seed(config.seed)
    )
    session.distributed = distributed
    train_labels = data.labels[data.splits["train"]]
    loss_weights = (
        class_weights(train_labels, len(class_names)).to(device)
        if config.class_weighting == "balanced"
        else None
    )
    _start_or_resume(session, run_dir, identity, ids, data, resume=resume)
    if distributed is not None:
        session.wrapped = distributed.wrap(network)

    bar = _progress(
        None,
        enabled=progress,
        desc="epochs",
        unit="epoch",
        total=config.epochs,
        initial=session.state["epoch"],
    )
    while not session.state["finished"] and session.state["epoch"] < config.epochs:
        row = _epoch(session, data, config, loss_weights, progress)
        if writes:
            if row["best"]:
                save_checkpoint(session.checkpoint(identity, full=False), run_dir / BEST_FILE)
            save_checkpoint(session.checkpoint(identity, full=True), run_dir / LAST_FILE)
            write_metrics_tables(run_dir, session.state["history"])
        logger.info(
            "epoch %d: %s",
            row["epoch"],
            {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()},
        )
        if progress:
            bar.update(1)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", score=f"{session.state['best_score']:.4f}")
        if on_epoch_end is not None:
            on_epoch_end(row)
    if progress:
        bar.close()
    if distributed is not None:
        distributed.barrier()  # rank 0 has written best.pt
    return _finish(run_dir, session, data, class_names, normalisation, config)


def _finish(
    run_dir: Path,
    session: _Session,
    data: _Data,
    class_names: list[str],
    normalisation: Normalisation,
    config: TrainConfig,
) -> TrainResult:
    """Load the best weights, evaluate validation and test splits, write summary.json."""
    model, state = session.model, session.state
    model.load_state_dict(load_checkpoint(run_dir / BEST_FILE)["model_state"])
    model.eval()
    writes = session.distributed is None or session.distributed.is_main
    results = {
        name: _split_metrics(model, *data.part(name), class_names, config, invariance=name == "test")
        if data.splits[name].size and writes
        else None
        for name in ("val", "test")
    }
    if session.distributed is not None:  # rank 0 evaluated
        results = session.distributed.broadcast(results)
    has_val = data.splits["val"].size > 0
    stopped_early = state["epoch"] < config.epochs
    summary = {
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "stopped_early": stopped_early,
        "selection_metric": ("roc_auc" if len(class_names) == 2 else "accuracy")
        if has_val
        else "train_accuracy",
        "best_val_score": state["best_score"],
        "val": results["val"],
        "test": results["test"],
    }
    if writes:
        write_summary(run_dir, summary)
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
