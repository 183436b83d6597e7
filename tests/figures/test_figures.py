"""Figures are written as valid PNGs; evaluate() writes metrics.json, predictions and all figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crystalgenome.figures import (
    evaluate,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_pattern_3d,
    plot_precision_recall,
    plot_roc,
    read_metrics_rows,
)
from crystalgenome.model import ModelConfig
from crystalgenome.training import TrainConfig, train
from crystalgenome.training.metrics import SCALAR_METRICS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path, min_bytes: int = 5_000) -> None:
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > min_bytes, path
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert image[..., :3].std() > 0.01  # not a blank canvas


def _scores(num_classes: int, n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) + 2 * np.eye(num_classes)[labels]
    probabilities = np.exp(logits)
    return labels, probabilities / probabilities.sum(1, keepdims=True)


@pytest.mark.parametrize("num_classes", [2, 4])
def test_curves(tmp_path: Path, num_classes: int) -> None:
    labels, probabilities = _scores(num_classes)
    names = [f"class {k}" for k in range(num_classes)]
    _assert_png(plot_roc(labels, probabilities, names, tmp_path / "roc.png"))
    _assert_png(plot_precision_recall(labels, probabilities, names, tmp_path / "pr.png"))
    counts = np.bincount(labels * num_classes + probabilities.argmax(1), minlength=num_classes**2).reshape(
        num_classes, -1
    )
    _assert_png(plot_confusion_matrix(counts, names, tmp_path / "cm.png"))


def test_learning_curves_and_pattern(tmp_path: Path) -> None:
    rows = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "val_loss": 1.2 / e,
            "train_accuracy": 0.5 + e / 20,
            "val_accuracy": 0.5 + e / 25,
            "best": e == 4,
        }
        for e in range(1, 6)
    ]
    _assert_png(plot_learning_curves(rows, tmp_path / "learning.png"))
    rng = np.random.default_rng(0)
    cloud = np.concatenate([rng.normal(size=(343, 3)), 10 ** rng.uniform(-7, 0, size=(343, 1))], axis=1)
    mask = np.ones(343, dtype=bool)
    mask[300:] = False
    _assert_png(plot_pattern_3d(cloud, tmp_path / "pattern.png", mask=mask, title="test"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A 3-epoch run on synthetic clouds whose label is the sign of the mean intensity pattern."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(90, 30, 4)).astype(np.float32)
    points[..., 3] = 10 ** rng.uniform(-6, 0, size=(90, 30))
    labels = (points[..., 3].mean(1) > np.median(points[..., 3].mean(1))).astype(np.int64)
    split = np.array(["train"] * 60 + ["val"] * 15 + ["test"] * 15)
    out = tmp_path_factory.mktemp("figures") / "run"
    config = TrainConfig(epochs=3, batch_size=16, test_time_rotations=2, val_rotations=1, num_threads=1)
    train(
        points,
        None,
        labels,
        split,
        ["low", "high"],
        config=config,
        model_config=ModelConfig(point_widths=(8, 16), head_widths=(8,)),
        out_dir=out,
        progress=False,
    )
    return out, points[75:], labels[75:]


def test_evaluate_writes_metrics_predictions_and_figures(tiny_run, tmp_path: Path) -> None:
    run_dir, points, labels = tiny_run
    ids = [f"m-{i}" for i in range(len(labels))]
    metrics = evaluate(run_dir, points, None, labels, ids, out_dir=tmp_path / "eval", bootstrap=200)
    stored = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert stored == json.loads(json.dumps(metrics))
    for name in SCALAR_METRICS:
        assert set(stored[name]) >= {"value", "low", "high", "ci95"}
    assert stored["n"] == len(labels) and stored["class_names"] == ["low", "high"]
    assert (
        0.0 <= stored["rotation_invariance"]["value"] <= 1.0
        and stored["rotation_invariance"]["rotations"] == 20
    )
    assert np.sum(stored["confusion_matrix"]["counts"]) == len(labels)
    for figure in ("roc", "precision_recall", "confusion_matrix", "learning_curves", "pattern_3d"):
        _assert_png(Path(stored["figures"][figure]))
    predictions = (tmp_path / "eval" / "predictions.csv").read_text().splitlines()
    assert predictions[0].startswith("id,true,predicted") and len(predictions) == 1 + len(labels)
    assert predictions[1].split(",")[0] == "m-0"
    assert len(read_metrics_rows(run_dir / "metrics.csv")) == 3
