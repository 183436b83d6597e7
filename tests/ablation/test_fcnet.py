"""The fully connected contrast network: it reads slots of the hkl-ordered list, and resumes from last.pt."""

from __future__ import annotations

import numpy as np

from crystalgenome.ablation.fcnet import train_fc
from crystalgenome.ablation.perturbations import PointClouds, permute_order
from crystalgenome.training import TrainConfig


def _data(count: int = 400, width: int = 27) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clouds whose class is whether the reflection in slot 5 is strong (a fact tied to one hkl)."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(count, width, 4)).astype(np.float32)
    points[..., 3] = 10.0 ** rng.uniform(-4, 0, size=(count, width))
    labels = rng.integers(0, 2, size=count)
    points[:, 5, 3] = np.where(labels == 1, 1.0, 1e-5)
    split = np.array(["train"] * (count - 160) + ["val"] * 80 + ["test"] * 80)
    return points, labels, split


def test_fc_reads_the_ordered_list_and_permutation_hides_it(tmp_path) -> None:
    points, labels, split = _data()
    mask = np.ones(points.shape[:2], dtype=bool)
    config = TrainConfig(epochs=5, batch_size=32, num_threads=1, seed=0)
    ordered = train_fc(points, mask, labels, split, ["a", "b"], config=config, out_dir=tmp_path / "ordered")
    assert ordered["test"]["roc_auc"]["value"] > 0.95
    assert ordered["epochs_run"] == 5 and 1 <= ordered["best_epoch"] <= 5
    clouds = PointClouds(points=points, mask=mask, hkl=np.zeros((*points.shape[:2], 3), dtype=np.int16))
    shuffled = permute_order(clouds, np.random.default_rng(1))
    hidden = train_fc(
        shuffled.points, mask, labels, split, ["a", "b"], config=config, out_dir=tmp_path / "permuted"
    )
    assert hidden["test"]["roc_auc"]["value"] < 0.8


def test_fc_resumes_from_its_checkpoint(tmp_path) -> None:
    points, labels, split = _data(count=300, width=8)
    mask = np.ones(points.shape[:2], dtype=bool)
    config = TrainConfig(epochs=2, batch_size=32, num_threads=1, seed=3)
    first = train_fc(points, mask, labels, split, ["a", "b"], config=config, out_dir=tmp_path / "run")
    last = tmp_path / "run" / "last.pt"
    stamp = last.stat().st_mtime_ns
    again = train_fc(points, mask, labels, split, ["a", "b"], config=config, out_dir=tmp_path / "run")
    assert again["test"] == first["test"]
    assert last.stat().st_mtime_ns == stamp  # finished: nothing trained again
