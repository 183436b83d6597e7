"""Training on real diffraction patterns: beats a trivial baseline, rotation augmentation works, exact resume,
run folder contents, prediction API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from crystalgenome.model import ModelConfig
from crystalgenome.training import TrainConfig, load_checkpoint, load_run, predict_proba, train
from crystalgenome.training.devices import resolve_precision
from crystalgenome.training.predict import model_probabilities
from crystalgenome.training.trainer import class_weights, split_indices

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

TINY = ModelConfig(point_widths=(16, 32, 64), head_widths=(32,))
TIMING_COLUMNS = {"seconds", "train_samples_per_s"}


def _random_split(n: int, fractions: tuple[float, float], seed: int) -> np.ndarray:
    """Per-sample split names: ``fractions`` = (val, test), the rest train."""
    order = np.random.default_rng(seed).permutation(n)
    split = np.full(n, "train", dtype=object)
    n_val, n_test = int(fractions[0] * n), int(fractions[1] * n)
    split[order[:n_val]] = "val"
    split[order[n_val : n_val + n_test]] = "test"
    return split


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_metal_classifier_beats_majority_baseline(real_patterns, tmp_path: Path, precision: str) -> None:
    """In float32 and in bfloat16 mixed precision alike (bfloat16 runs on any CPU, emulated where the
    hardware lacks it)."""
    points, labels, ids = real_patterns.metal_task()
    split = _random_split(labels.size, (0.15, 0.3), seed=0)
    config = TrainConfig(
        epochs=10,
        batch_size=32,
        lr=3e-3,
        seed=0,
        class_weighting="balanced",
        test_time_rotations=4,
        val_rotations=2,
        num_threads=1,
        precision=precision,
    )
    result = train(
        points,
        None,
        labels,
        split,
        ["metal", "insulator"],
        config=config,
        model_config=TINY,
        out_dir=tmp_path / "run",
        ids=ids,
        progress=False,
    )
    test = result.test_metrics
    # The majority-class baseline scores ROC-AUC 0.5 and an average precision equal to the prevalence.
    prevalence = labels[split == "test"].mean()
    assert test["roc_auc"]["value"] >= 0.7
    assert test["roc_auc"]["low"] > 0.55  # the whole 95% interval is above chance
    assert test["average_precision"]["value"] >= 1.5 * prevalence


def test_rotation_augmentation_raises_rotation_invariance(real_patterns, tmp_path: Path) -> None:
    """Without augmentation a model learns the standard orientation of the cells and its predictions
    change under rotation; with uniform random rotations they mostly do not."""
    points, labels = real_patterns.points, real_patterns.crystal_system
    split = _random_split(labels.size, (0.0, 0.3), seed=1)
    fractions = {}
    for augment in (("train",), ()):
        config = TrainConfig(
            epochs=15, batch_size=32, lr=3e-3, seed=0, augment=augment, test_time_rotations=0, num_threads=1
        )
        result = train(
            points,
            None,
            labels,
            split,
            [str(k) for k in range(7)],
            config=config,
            model_config=TINY,
            out_dir=tmp_path / f"run_{bool(augment)}",
            progress=False,
        )
        fractions[bool(augment)] = result.test_metrics["rotation_invariance"]["value"]
    assert fractions[True] >= fractions[False] + 0.2, fractions
    assert fractions[True] >= 2 * fractions[False], fractions


# ----------------------------------------------------------------------------- a small run, shared


SMALL = ModelConfig(point_widths=(8, 16), head_widths=(8,), dropout=0.3)


def _small_inputs(real_patterns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    points, labels, ids = real_patterns.metal_task()
    points, labels, ids = points[:120], labels[:120], ids[:120]
    # Pad every cloud to 350 points and drop a few real points of some clouds: exercises the masks.
    mask = np.ones((points.shape[0], 350), dtype=bool)
    mask[:, 343:] = False
    mask[::3, 300:343] = False
    padded = np.zeros((points.shape[0], 350, 4), dtype=np.float32)
    padded[:, :343] = points
    padded[~mask] = 0.0
    return padded, mask, labels, ids, ["metal", "insulator"]


SMALL_CONFIG = TrainConfig(
    epochs=4, batch_size=16, seed=3, val_rotations=2, test_time_rotations=2, num_threads=1
)


@pytest.fixture(scope="module")
def small_run(real_patterns, tmp_path_factory: pytest.TempPathFactory):
    points, mask, labels, ids, names = _small_inputs(real_patterns)
    split = _random_split(labels.size, (0.25, 0.25), seed=2)
    out = tmp_path_factory.mktemp("small") / "run"
    result = train(
        points,
        mask,
        labels,
        split,
        names,
        config=SMALL_CONFIG,
        model_config=SMALL,
        out_dir=out,
        ids=ids,
        data_fingerprint="test-fingerprint",
        progress=False,
    )
    return result, (points, mask, labels, ids, names, split)


class _CrashError(Exception):
    pass


def test_resume_reproduces_uninterrupted_run(small_run, tmp_path: Path) -> None:
    uninterrupted, (points, mask, labels, ids, names, split) = small_run
    out = tmp_path / "interrupted"

    def crash_after_two(row: dict) -> None:
        if row["epoch"] == 2:
            raise _CrashError

    kwargs = {
        "config": SMALL_CONFIG,
        "model_config": SMALL,
        "out_dir": out,
        "ids": ids,
        "data_fingerprint": "test-fingerprint",
        "progress": False,
    }
    with pytest.raises(_CrashError):
        train(points, mask, labels, split, names, on_epoch_end=crash_after_two, **kwargs)
    assert load_checkpoint(out / "last.pt")["epoch"] == 2
    resumed = train(points, mask, labels, split, names, **kwargs)

    strip = lambda rows: [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]  # noqa: E731
    assert len(resumed.history) == SMALL_CONFIG.epochs
    assert strip(resumed.history) == strip(uninterrupted.history)
    for name in ("last.pt", "best.pt"):
        a = load_checkpoint(uninterrupted.run_dir / name)["model_state"]
        b = load_checkpoint(out / name)["model_state"]
        assert all(torch.equal(a[key], b[key]) for key in a), name
    assert resumed.test_metrics == uninterrupted.test_metrics
    # A finished run resumes to the same result without training again.
    again = train(points, mask, labels, split, names, **kwargs)
    assert strip(again.history) == strip(uninterrupted.history)


def test_resume_refuses_a_different_run(small_run) -> None:
    result, (points, mask, labels, _, names, split) = small_run
    with pytest.raises(ValueError, match=r"different run \(train_config.lr differs\)"):
        train(
            points,
            mask,
            labels,
            split,
            names,
            config=SMALL_CONFIG.replace(lr=0.5),
            model_config=SMALL,
            out_dir=result.run_dir,
            data_fingerprint="test-fingerprint",
            progress=False,
        )
    with pytest.raises(FileExistsError):
        train(
            points,
            mask,
            labels,
            split,
            names,
            config=SMALL_CONFIG,
            model_config=SMALL,
            out_dir=result.run_dir,
            data_fingerprint="test-fingerprint",
            resume=False,
            progress=False,
        )


def test_run_folder_contents(small_run) -> None:
    result, (_, _, _, ids, names, split) = small_run
    run_dir = result.run_dir
    config = json.loads((run_dir / "config.json").read_text())
    assert config["class_names"] == names and config["model_config"]["point_widths"] == [8, 16]
    assert config["normalisation"]["coordinate_scale"] == 5.0
    metadata = json.loads((run_dir / "metadata.json").read_text())
    assert metadata["seed"] == 3 and metadata["data_fingerprint"] == "test-fingerprint"
    assert "torch" in metadata["versions"]
    expected = resolve_precision(SMALL_CONFIG.precision, torch.device("cpu"))
    assert metadata["precision"] == str(expected).removeprefix("torch.")
    splits = json.loads((run_dir / "splits.json").read_text())
    assert splits["val"] == [ids[i] for i in np.flatnonzero(split == "val")]
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(lines) == 1 + SMALL_CONFIG.epochs and "val_roc_auc" in lines[0]
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == SMALL_CONFIG.epochs
    best = load_checkpoint(run_dir / "best.pt")
    assert best["class_names"] == names and best["epoch"] == result.best_epoch
    assert best["metrics"]["val_roc_auc"] == pytest.approx(result.best_score)
    assert best["metrics"]["best"] is True and best["normalisation"]["intensity"] == "log_shift"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_epoch"] == result.best_epoch and summary["selection_metric"] == "roc_auc"
    assert summary["test"]["n"] == int(np.sum(split == "test"))
    assert 0.0 <= summary["test"]["rotation_invariance"]["value"] <= 1.0
    # The best epoch is the one with the highest validation ROC-AUC.
    scores = [row["val_roc_auc"] for row in result.history]
    assert result.best_epoch == int(np.argmax(scores)) + 1


def test_load_run_and_predict(small_run) -> None:
    result, (points, mask, _, _, names, _) = small_run
    run = load_run(result.run_dir)
    assert run.class_names == names and run.epoch == result.best_epoch
    probabilities = predict_proba(run, points[:20], mask[:20])
    assert probabilities.shape == (20, 2)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-6)
    # Deterministic, independent of batching, equal to the trained model's, and from a path too.
    np.testing.assert_allclose(
        predict_proba(run, points[:20], mask[:20], batch_size=7), probabilities, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        predict_proba(result.run_dir, points[:20], mask[:20]), probabilities, rtol=1e-6
    )
    inputs = torch.from_numpy(run.normalisation.apply(points[:20], mask[:20]))
    direct = model_probabilities(
        result.model, inputs, torch.from_numpy(mask[:20]), rotations=2, seed=SMALL_CONFIG.seed
    )
    np.testing.assert_allclose(direct, probabilities, rtol=1e-5, atol=1e-7)
    # Test-time rotation averaging changes the numbers (the model is not exactly rotation invariant).
    assert not np.allclose(predict_proba(run, points[:20], mask[:20], rotations=0), probabilities)


def test_early_stopping(real_patterns, tmp_path: Path) -> None:
    points, mask, labels, _, names = _small_inputs(real_patterns)
    split = _random_split(labels.size, (0.25, 0.0), seed=2)
    config = SMALL_CONFIG.replace(epochs=40, early_stopping_patience=2, lr=3e-2)
    result = train(
        points,
        mask,
        labels,
        split,
        names,
        config=config,
        model_config=SMALL,
        out_dir=tmp_path / "run",
        progress=False,
    )
    assert result.stopped_early and len(result.history) < 40
    assert len(result.history) == result.best_epoch + 2
    assert not any(row["best"] for row in result.history[result.best_epoch :])


def test_class_weights_and_splits() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(weights.numpy(), [4 / 9, 4 / 3, 0.0], rtol=1e-6)
    by_name = split_indices(np.array(["train", "val", "train", "test", "other"]), 5)
    assert by_name["train"].tolist() == [0, 2] and by_name["test"].tolist() == [3]
    assert split_indices({"train": [1, 2]}, 5)["val"].size == 0
    with pytest.raises(ValueError):
        split_indices(np.array(["val", "test"]), 2)


def test_default_settings_follow_the_models_frame() -> None:
    """Rotation augmentation and test-time rotations only for models that must learn invariance."""
    learned = TrainConfig.default_for("default")
    assert learned == TrainConfig() and learned.augment == ("train",) and learned.test_time_rotations > 0
    built_in = TrainConfig.default_for("lattice")
    assert (built_in.augment, built_in.test_time_rotations, built_in.validation_rotations) == ((), 0, 0)
    defaults = TrainConfig()
    restored = built_in.replace(
        augment=defaults.augment,
        test_time_rotations=defaults.test_time_rotations,
        val_rotations=defaults.val_rotations,
    )
    assert restored == defaults  # nothing else differs
