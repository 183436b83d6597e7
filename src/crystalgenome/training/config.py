"""Training configuration: one frozen dataclass, saved with every run (config.json, checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from crystalgenome.model import ModelConfig, resolve_model_config
from crystalgenome.training.devices import PRECISIONS, Precision
from crystalgenome.training.inputs import Normalisation, resolve_normalisation
from crystalgenome.utils.config import JsonConfig

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """How a model is trained and evaluated.

    Attributes:
        epochs: maximum number of epochs.
        batch_size: training mini-batch size (the last incomplete batch of an epoch is dropped).
        lr: initial learning rate of Adam.
        weight_decay: L2 penalty (``adam``) or decoupled weight decay (``adamw``).
        optimizer: ``"adam"`` or ``"adamw"``.
        scheduler: ``"cosine"`` (annealing to ``min_lr`` over ``epochs``) or ``"constant"``.
        min_lr: final learning rate of the cosine schedule.
        seed: seeds weights, data order, augmentation and dropout.
        class_weighting: ``"none"`` or ``"balanced"`` (loss weights n / (K · n_k) from the training split).
        label_smoothing: cross-entropy label smoothing.
        early_stopping_patience: stop after this many epochs without a better validation score (None: never).
        augment: splits whose samples get a fresh random rotation (and permutation) each time they are drawn.
        permute: also shuffle the order of the points when augmenting.
        rotation_range: largest augmentation rotation angle, degrees (180 = uniform over all rotations).
        test_time_rotations: R fixed random rotations whose class probabilities are averaged when
            evaluating and predicting (0 = predict the inputs as given).
        val_rotations: R used for the validation score during training (None: ``test_time_rotations``).
        normalisation: preset name (``"authors"``, ``"preprint"``) or a dict of :class:`Normalisation` fields.
        num_threads: torch CPU threads (None: leave torch's setting).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (cuda when available).
        precision: training steps' arithmetic: ``"float32"``, ``"bfloat16"`` (mixed precision: matrix
            products and activations in bfloat16, weights, optimiser and loss in float32) or ``"auto"``
            (bfloat16 on a CPU with native bfloat16 instructions, else float32; see
            :func:`~crystalgenome.training.devices.resolve_precision`). Evaluation and prediction
            always compute in float32.
        eval_batch_size: structures per forward pass when predicting.
    """

    config_kind: ClassVar[str] = "train config"

    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: Literal["adam", "adamw"] = "adam"
    scheduler: Literal["cosine", "constant"] = "cosine"
    min_lr: float = 0.0
    seed: int = 0
    class_weighting: Literal["none", "balanced"] = "none"
    label_smoothing: float = 0.0
    early_stopping_patience: int | None = 20
    augment: tuple[str, ...] = ("train",)
    permute: bool = True
    rotation_range: float = 180.0
    test_time_rotations: int = 8
    val_rotations: int | None = 4
    normalisation: str | dict[str, Any] = "authors"
    num_threads: int | None = 2
    device: str = "cpu"
    precision: Precision = "auto"
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        object.__setattr__(self, "augment", tuple(self.augment))
        unknown = sorted(set(self.augment) - set(SPLITS))
        if unknown:
            raise ValueError(f"augment names unknown splits: {unknown}; use {SPLITS}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be >= 1 and batch_size >= 2")
        if self.optimizer not in ("adam", "adamw") or self.scheduler not in ("cosine", "constant"):
            raise ValueError(f"unknown optimizer/scheduler {self.optimizer!r}/{self.scheduler!r}")
        if self.class_weighting not in ("none", "balanced"):
            raise ValueError(f"class_weighting must be 'none' or 'balanced', got {self.class_weighting!r}")
        if not 0.0 <= self.rotation_range <= 180.0:
            raise ValueError(f"rotation_range must be in [0, 180] degrees, got {self.rotation_range}")
        resolve_normalisation(self.normalisation)  # fail early on a bad name
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def validation_rotations(self) -> int:
        return self.test_time_rotations if self.val_rotations is None else self.val_rotations

    def normalisation_spec(self) -> Normalisation:
        return resolve_normalisation(self.normalisation)

    @classmethod
    def default_for(cls, model_config: ModelConfig | str | Path | None) -> TrainConfig:
        """The default settings for a model: those above, except that a model that is rotation
        invariant by construction (``frame="lattice"``) gets no rotation augmentation and no
        test-time rotations, which would only cost time."""
        if resolve_model_config(model_config).needs_hkl:
            return cls(augment=(), test_time_rotations=0, val_rotations=0)
        return cls()
