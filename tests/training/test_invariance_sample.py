"""The rotation-invariance check looks at a bounded, seeded subset of a large set of structures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from crystalgenome.model import ModelConfig, PointNet
from crystalgenome.training.evaluation import Evaluation, write_evaluation
from crystalgenome.training.predict import invariance_sample, rotation_invariance

TINY = ModelConfig(point_widths=(8, 16), head_widths=(8,), friedel_half=False)


class SignOfX(torch.nn.Module):
    """Class 0 when the points' x coordinates sum to more than 0: far from rotation invariant."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        total = (points[..., 0] * mask).sum(dim=1) * self.scale
        return torch.stack([total, -total], dim=1)


def _inputs(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(count, 12, 4, generator=generator)
    return points, torch.ones(count, 12, dtype=torch.bool)


def test_sample_is_everything_below_the_cap_and_seeded_above() -> None:
    np.testing.assert_array_equal(invariance_sample(7, 10, seed=1), np.arange(7))
    np.testing.assert_array_equal(invariance_sample(7, None, seed=1), np.arange(7))
    chosen = invariance_sample(1000, 50, seed=1)
    assert chosen.size == 50 and np.unique(chosen).size == 50 and np.all(np.diff(chosen) > 0)
    np.testing.assert_array_equal(chosen, invariance_sample(1000, 50, seed=1))
    assert not np.array_equal(chosen, invariance_sample(1000, 50, seed=2))


def test_subset_check_equals_checking_the_subset_alone() -> None:
    model = SignOfX()
    inputs, mask = _inputs(40)
    fraction, flags = rotation_invariance(model, inputs, mask, rotations=1, sample=15)
    chosen = invariance_sample(40, 15, seed=12345)
    assert np.isfinite(flags).sum() == 15 and np.isfinite(flags[chosen]).all()
    alone, alone_flags = rotation_invariance(
        model, inputs[torch.from_numpy(chosen)], mask[torch.from_numpy(chosen)], rotations=1, sample=None
    )
    np.testing.assert_array_equal(flags[chosen], alone_flags)
    assert fraction == alone == float(alone_flags.mean())
    assert 0.0 < fraction < 1.0 and 0 < np.nansum(flags) < 15, "some checked structures change class"


def test_small_sets_are_checked_whole() -> None:
    torch.manual_seed(0)
    model = PointNet(TINY).eval()
    inputs, mask = _inputs(9)
    fraction, flags = rotation_invariance(model, inputs, mask, rotations=3)
    assert np.isfinite(flags).all() and set(np.unique(flags)) <= {0.0, 1.0}
    assert fraction == float(flags.mean())


def test_unchecked_structures_have_an_empty_flag_in_predictions(tmp_path: Path) -> None:
    evaluation = Evaluation(
        metrics={},
        labels=np.array([0, 1, 1]),
        probabilities=np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]),
        ids=["a", "b", "c"],
        rotation_invariant=np.array([1.0, np.nan, 0.0]),
        class_names=["no", "yes"],
    )
    write_evaluation(evaluation, tmp_path)
    with (tmp_path / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["rotation_invariant"] for row in rows] == ["True", "", "False"]
