"""half_cloud_tensors builds, chunk by chunk, exactly the tensors of friedel_half(to_tensors(...))."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalgenome.model import friedel_half
from crystalgenome.training.inputs import NORMALISATIONS, half_cloud_tensors, to_tensors
from crystalgenome.training.trainer import precompute_frames


def _clouds(
    count: int, width: int, *, symmetric: list[bool], seed: int = 0, full: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Raw (g, I, h, k, l) clouds, zero-padded with a prefix mask: Friedel pairs plus the origin where
    ``symmetric``, an even number of unpaired points elsewhere (kept whole by friedel_half); every
    cloud spans three dimensions. ``full``: unpaired clouds fill the whole width."""
    rng = np.random.default_rng(seed)
    points = np.zeros((count, width, 7), dtype=np.float32)
    mask = np.zeros((count, width), dtype=bool)
    axes = np.eye(3, dtype=np.int64)
    for row in range(count):
        candidates = rng.permutation([v for v in np.ndindex(7, 7, 7) if v > (3, 3, 3)])[:, ::-1] - 3
        candidates = candidates[np.any(candidates != 0, axis=1)]
        if symmetric[row]:
            half = np.unique(
                np.concatenate([axes, candidates[: rng.integers(1, (width - 7) // 2 + 1)]]), axis=0
            )
            hkl = np.concatenate([[[0, 0, 0]], half, -half])
            intensity = np.concatenate([[5.0], *[rng.random(len(half))] * 2])
        else:
            size = width if full else 2 * int(rng.integers(2, width // 2 + 1))
            hkl = np.concatenate([axes, candidates[: size - 3]])[:size]
            intensity = rng.random(len(hkl))
        n = len(hkl)
        points[row, :n, :3] = hkl @ rng.normal(size=(3, 3))
        points[row, :n, 3] = intensity
        points[row, :n, 4:] = hkl
        mask[row, :n] = True
    return points, mask


def _reference(points: np.ndarray, mask: np.ndarray, miller: bool) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, input_mask = to_tensors(points, mask, NORMALISATIONS["authors"])
    return friedel_half(inputs, input_mask, miller_channels=miller)


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
@pytest.mark.parametrize("miller", [True, False])
def test_equals_friedel_half_of_the_whole(chunk: int, miller: bool) -> None:
    symmetric = [True, True, False, True, False, False, False, True, True, True, False]
    points, mask = _clouds(len(symmetric), 21, symmetric=symmetric)
    if not miller:
        points = points[..., :4].copy()
    expected, expected_mask = _reference(points, mask, miller)
    inputs, inputs_mask = half_cloud_tensors(
        points, mask, NORMALISATIONS["authors"], miller_channels=miller, chunk=chunk
    )
    assert expected.shape[1] < points.shape[1], "some clouds were halved"
    torch.testing.assert_close(inputs, expected, rtol=0, atol=0)
    assert torch.equal(inputs_mask, expected_mask)


def test_clouds_that_are_all_kept_whole_come_back_unchanged() -> None:
    points, mask = _clouds(5, 12, symmetric=[False] * 5, seed=4, full=True)
    expected, expected_mask = _reference(points, mask, True)
    inputs, inputs_mask = half_cloud_tensors(
        points, mask, NORMALISATIONS["authors"], miller_channels=True, chunk=2
    )
    assert expected.shape[1] == 12
    torch.testing.assert_close(inputs, expected, rtol=0, atol=0)
    assert torch.equal(inputs_mask, expected_mask)


def test_precomputed_frames_are_filled_in_place_alike() -> None:
    symmetric = [True] * 6 + [False] * 3
    points, mask = _clouds(len(symmetric), 15, symmetric=symmetric, seed=2)
    inputs, _ = half_cloud_tensors(points, mask, NORMALISATIONS["authors"], miller_channels=True)
    from crystalgenome.model import lattice_inputs

    framed, cell = precompute_frames(inputs, chunk=4)
    expected_framed, expected_cell = lattice_inputs(inputs)
    torch.testing.assert_close(framed, expected_framed)
    torch.testing.assert_close(cell, expected_cell)
    empty_framed, empty_cell = precompute_frames(inputs[:0])
    assert empty_framed.shape == (0, inputs.shape[1], 4) and empty_cell.shape == (0, 6)
