"""predict_files: batched and parallel prediction equals one file at a time; bad files fail alone;
runs saved before Friedel half-clouds existed load and predict as before."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from crystalgenome.data import RawRecord
from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.model import ModelConfig, PointNet
from crystalgenome.store import featurize_record
from crystalgenome.training import Run, TrainConfig, load_run
from crystalgenome.training.predict import model_probabilities
from crystalgenome.workflows.predict import predict_files

CLASSES = ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"]
SETTINGS = DiffractionSettings(cell="conventional")


def _run_folder(folder: Path, config: ModelConfig, *, old_format: bool = False) -> Path:
    """A run folder (best.pt, dataset.json) with a freshly initialised model whose BatchNorm layers have
    non-trivial statistics; ``old_format`` saves it as runs were saved before ``friedel_half``."""
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    model = PointNet(config)
    with torch.no_grad():
        model.train()(torch.randn(32, 343, config.in_channels).clamp(-1, 1).abs() + 0.1)
    model_dict = config.to_dict()
    if old_format:
        del model_dict["friedel_half"]
    train_config = TrainConfig.default_for(config)
    torch.save(
        {
            "format": 1,
            "model_config": model_dict,
            "train_config": train_config.to_dict(),
            "normalisation": train_config.normalisation_spec().to_dict(),
            "class_names": CLASSES,
            "epoch": 1,
            "metrics": {},
            "model_state": model.state_dict(),
        },
        folder / "best.pt",
    )
    (folder / "dataset.json").write_text(json.dumps({"diffraction": SETTINGS.to_dict()}))
    return folder


@pytest.fixture(scope="module")
def cif_folder(cgcnn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 real CIFs, an unparsable one and an empty one in the middle of the sorted order."""
    folder = tmp_path_factory.mktemp("cifs")
    with tarfile.open(cgcnn_dir / "cifs.tar.gz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".cif"):
                (folder / f"s{len(list(folder.iterdir())):02d}.cif").write_bytes(
                    archive.extractfile(member).read()
                )
            if len(list(folder.iterdir())) == 30:
                break
    (folder / "s10b-broken.cif").write_text("data_x\nnot a structure\n")
    (folder / "s20b-empty.cif").write_text("")
    return folder


@pytest.fixture(scope="module")
def half_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = ModelConfig.packaged("lattice_symmetry").replace(num_classes=len(CLASSES), friedel_half=True)
    return _run_folder(tmp_path_factory.mktemp("runs") / "half", config)


def _by_file(predictions: list[dict]) -> dict[str, dict[str, float]]:
    return {prediction["file"]: prediction["probabilities"] for prediction in predictions}


def _assert_same(found: list[dict], expected: list[dict]) -> None:
    assert [p["file"] for p in found] == [p["file"] for p in expected]
    for name, probabilities in _by_file(expected).items():
        assert _by_file(found)[name] == pytest.approx(probabilities, abs=1e-5)


def test_batches_and_workers_give_the_one_at_a_time_predictions(half_run: Path, cif_folder: Path) -> None:
    one_by_one = predict_files(half_run, [cif_folder], batch_files=1, workers=1)
    assert len(one_by_one.predictions) == 30
    assert [Path(error.name).name for error in one_by_one.errors] == ["s10b-broken.cif", "s20b-empty.cif"]
    assert "empty" in one_by_one.errors[1].reason
    for batch_files, workers in ((8, 1), (8, 2), (512, 1)):
        result = predict_files(half_run, [cif_folder], batch_files=batch_files, workers=workers)
        _assert_same(result.predictions, one_by_one.predictions)
        assert [str(e) for e in result.errors] == [str(e) for e in one_by_one.errors]


def test_a_structure_the_model_cannot_read_fails_alone(
    half_run: Path, cif_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the model raises on one structure of a batch, that batch is predicted file by file."""
    expected = predict_files(half_run, [cif_folder], batch_files=8, workers=1).predictions
    poisoned = cif_folder / "s05.cif"
    poison = featurize_record(RawRecord(str(poisoned), poisoned.read_text(), "cif"), SETTINGS).points
    original = Run.predict_proba

    def fussy(self: Run, points: np.ndarray, mask: np.ndarray | None = None, **kwargs: object) -> np.ndarray:
        if any(np.array_equal(cloud[: len(poison), :4], poison) for cloud in points):
            raise ValueError("this one cannot be read")
        return original(self, points, mask, **kwargs)

    monkeypatch.setattr(Run, "predict_proba", fussy)
    result = predict_files(half_run, [cif_folder], batch_files=8, workers=1)
    assert [Path(error.name).name for error in result.errors] == [
        "s05.cif",
        "s10b-broken.cif",
        "s20b-empty.cif",
    ]
    assert "this one cannot be read" in result.errors[0].reason
    _assert_same(result.predictions, [p for p in expected if p["file"] != str(poisoned)])


def test_runs_saved_before_half_clouds_predict_full_clouds(tmp_path: Path, cif_folder: Path) -> None:
    """An old checkpoint (no ``friedel_half`` key) loads as a full-cloud model with the same weights,
    and predict_files gives exactly what that model gives on the full clouds."""
    config = ModelConfig.packaged("lattice").replace(num_classes=len(CLASSES), friedel_half=False)
    run_dir = _run_folder(tmp_path / "old", config, old_format=True)
    run = load_run(run_dir)
    assert not run.model_config.friedel_half
    files = sorted(cif_folder.glob("s0*.cif"))
    predictions = predict_files(run_dir, files).predictions
    clouds = []
    for path in files:
        features = featurize_record(RawRecord(str(path), path.read_text(), "cif"), SETTINGS)
        clouds.append(np.concatenate([features.points, features.hkl], axis=1))
    inputs = torch.from_numpy(run.normalisation.apply(np.stack(clouds)))
    direct = model_probabilities(run.model, inputs, torch.ones(inputs.shape[:2], dtype=torch.bool))
    for prediction, row in zip(predictions, direct, strict=True):
        assert list(prediction["probabilities"].values()) == pytest.approx(row.tolist(), abs=1e-6)
