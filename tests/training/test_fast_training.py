"""Training on half-clouds and precomputed lattice frames: the same training as on full clouds with a
frame per batch, and a run that predicts full clouds as its half-clouds."""

from __future__ import annotations

import numpy as np
import torch

from crystalgenome.model import ModelConfig, PointNet, friedel_half
from crystalgenome.training import TrainConfig, load_run, predict_proba, train
from crystalgenome.training.inputs import NORMALISATIONS
from crystalgenome.training.trainer import precompute_frames, train_one_epoch


def _clouds(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(count, 343, 7) raw Friedel-symmetric clouds (g in Å⁻¹, I, hkl) whose intensities depend on the
    cell's anisotropy, and binary labels of that anisotropy."""
    rng = np.random.default_rng(seed)
    axis = np.arange(-3, 4)
    hkl = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    stretch = rng.uniform(0.7, 1.4, count)
    bases = 0.2 * np.eye(3) * np.stack([np.ones(count), np.ones(count), stretch], axis=1)[:, None, :]
    g = np.einsum("pk,nkj->npj", hkl, bases + rng.normal(0, 0.01, (count, 3, 3)))
    intensity = np.exp(-np.linalg.norm(g, axis=-1, keepdims=True) * 3) * rng.uniform(0.5, 1.5, (count, 1, 1))
    intensity = (intensity + intensity[:, ::-1]) / 2
    points = np.concatenate([g, intensity, np.broadcast_to(hkl, g.shape)], axis=-1).astype(np.float32)
    return points, (stretch > 1.0).astype(np.int64)


def test_precomputed_frames_train_like_per_batch_frames() -> None:
    """One epoch of a lattice model from precomputed frames ends with the weights of the epoch that
    computes the frame in every batch."""
    points, labels = _clouds(96)
    inputs = torch.from_numpy(NORMALISATIONS["authors"].apply(points))
    mask = torch.ones(inputs.shape[:2], dtype=torch.bool)
    config = TrainConfig.default_for("lattice").replace(batch_size=32)
    model_config = ModelConfig.packaged("lattice").replace(friedel_half=False)
    framed, cell = precompute_frames(inputs)
    states = []
    for kwargs, data in (({}, inputs), ({"cell": cell}, framed)):
        torch.manual_seed(0)
        model = PointNet(model_config)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        train_one_epoch(
            model, optimizer, data, mask, torch.from_numpy(labels), torch.arange(96), config=config,
            generator=torch.Generator().manual_seed(0), loss_weights=None, **kwargs,
        )  # fmt: skip
        states.append(model.state_dict())
    for name, value in states[0].items():
        torch.testing.assert_close(states[1][name], value, rtol=1e-5, atol=1e-6)


def test_half_cloud_run_predicts_full_clouds_as_half_clouds(tmp_path) -> None:
    """A run trained on half-clouds predicts (on half-clouds) what its model gives the full clouds."""
    points, labels = _clouds(120, seed=1)
    split = np.array(["train"] * 80 + ["val"] * 20 + ["test"] * 20)
    config = TrainConfig.default_for("lattice_symmetry").replace(epochs=2, batch_size=16, num_threads=1)
    model_config = ModelConfig.packaged("lattice_symmetry").replace(friedel_half=True)
    train(points, None, labels, split, ["short", "long"], config=config, model_config=model_config,
          out_dir=tmp_path / "run", progress=False)  # fmt: skip
    run = load_run(tmp_path / "run")
    assert run.model_config.friedel_half
    predicted = predict_proba(run, points)  # fed the half-clouds
    with torch.no_grad():
        direct = torch.softmax(run.model(torch.from_numpy(run.normalisation.apply(points))), dim=1)
    np.testing.assert_allclose(predicted, direct.numpy(), atol=1e-5)
    half, half_mask = friedel_half(torch.from_numpy(points), None, miller_channels=True)
    assert half.shape[1] == 172
    np.testing.assert_allclose(predict_proba(run, half.numpy(), half_mask.numpy()), predicted, atol=1e-6)
