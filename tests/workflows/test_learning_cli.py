"""The train / evaluate / predict CLI contract end to end, on small real data."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

EXE = [sys.executable, "-m", "crystalgenome"]


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EXE, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def metal_run(cgcnn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A metal-vs-insulator run on the first 400 labelled mp_cgcnn structures (3 epochs)."""
    out = tmp_path_factory.mktemp("runs") / "metal"
    result = run(
        "train", "--data", cgcnn_dir, "--task", "metal", "--out", out, "--epochs", "3", "--limit", "400",
        "--seed", "1", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["run_dir"] == str(out)
    assert {"accuracy", "roc_auc", "balanced_accuracy", "f1"} <= set(summary["test"])
    return out


def test_train_writes_a_complete_run_folder(metal_run: Path) -> None:
    for name in (
        "config.json",
        "metadata.json",
        "metrics.csv",
        "best.pt",
        "last.pt",
        "splits.json",
        "dataset.json",
    ):
        assert (metal_run / name).is_file(), name
    dataset = json.loads((metal_run / "dataset.json").read_text())
    assert dataset["task"] == "metal"
    assert dataset["class_names"] == ["insulator", "metal"]
    assert dataset["thresholds"]["insulator_gap"] == 0.05
    assert dataset["diffraction"]["max_miller"] == 3
    metadata = json.loads((metal_run / "metadata.json").read_text())
    assert metadata["seed"] == 1
    assert metadata["data_fingerprint"] == dataset["data_fingerprint"]
    assert "torch" in metadata["versions"]
    for figure in (
        "roc.png",
        "precision_recall.png",
        "confusion_matrix.png",
        "learning_curves.png",
        "pattern_3d.png",
    ):
        assert (metal_run / "evaluation" / figure).stat().st_size > 1000, figure


def test_train_without_options_uses_the_task_defaults(metal_run: Path) -> None:
    """metal: the lattice model on primitive cells, no rotation augmentation or test-time rotations."""
    config = json.loads((metal_run / "config.json").read_text())
    assert config["model_config"]["frame"] == "lattice" and not config["model_config"]["cell_contrasts"]
    assert config["train_config"]["augment"] == [] and config["train_config"]["test_time_rotations"] == 0
    assert json.loads((metal_run / "dataset.json").read_text())["diffraction"]["cell"] == "primitive"


def test_evaluate_on_the_test_split(metal_run: Path, tmp_path: Path) -> None:
    result = run("evaluate", metal_run, "--out", tmp_path / "eval", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    test_ids = json.loads((metal_run / "splits.json").read_text())["test"]
    assert metrics["n"] == len(test_ids)
    assert 0.0 <= metrics["rotation_invariance"]["value"] <= 1.0
    low, high = metrics["roc_auc"]["ci95"]
    assert low <= metrics["roc_auc"]["value"] <= high


def test_predict_json_contract(metal_run: Path, cgcnn_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cifs"
    folder.mkdir()
    with tarfile.open(cgcnn_dir / "cifs.tar.gz") as archive:
        for index, member in enumerate(archive):
            if member.isfile() and index % 50 == 3:
                (folder / Path(member.name).name).write_bytes(archive.extractfile(member).read())
            if len(list(folder.iterdir())) >= 25:
                break
    (folder / "broken.cif").write_text("not a cif\n")
    single = next(p for p in sorted(folder.iterdir()) if p.name != "broken.cif")
    result = run("predict", metal_run, folder, single, "--format", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    predictions = json.loads(result.stdout)
    assert len(predictions) == 26
    assert "broken.cif" in result.stderr
    for prediction in predictions:
        assert set(prediction) == {"file", "label", "probabilities"}
        assert set(prediction["probabilities"]) == {"metal", "insulator"}
        assert prediction["label"] == max(prediction["probabilities"], key=prediction["probabilities"].get)
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert predictions[-1]["file"] == str(single)


def test_train_errors_are_one_line(tmp_path: Path) -> None:
    result = run("train", "--data", tmp_path / "missing", "--task", "metal", "--out", tmp_path / "run")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "missing" in result.stderr


def _train_member(cgcnn_dir: Path, out: Path, *extra: str) -> Path:
    result = run(
        "train", "--data", cgcnn_dir, "--task", "metal", "--out", out, "--epochs", "2", "--limit", "400",
        "--no-progress", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_ensemble_of_runs_on_one_split(metal_run: Path, cgcnn_dir: Path, tmp_path: Path) -> None:
    from crystalgenome.store.dataset import load_task_dataset
    from crystalgenome.training import load_ensemble, load_run, predict_proba

    member = _train_member(cgcnn_dir, tmp_path / "member", "--seed", "2", "--split-seed", "1")
    assert json.loads((member / "splits.json").read_text()) == json.loads(
        (metal_run / "splits.json").read_text()
    )
    result = run("evaluate", metal_run, member, "--out", tmp_path / "ensemble", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "ensemble" / "metrics.json").read_text())
    assert metrics["members"] == [str(metal_run), str(member)]
    assert metrics["n"] == len(json.loads((metal_run / "splits.json").read_text())["test"])

    dataset = load_task_dataset([cgcnn_dir], "metal", limit=400, seed=1, progress=False, with_hkl=True)
    points, mask = dataset.points[:50], dataset.mask[:50]
    mean = np.mean(
        [predict_proba(load_run(path), points, mask, rotations=0) for path in (metal_run, member)], 0
    )
    ensemble = predict_proba(load_ensemble([metal_run, member]), points, mask, rotations=0)
    np.testing.assert_allclose(ensemble, mean, rtol=1e-5, atol=1e-6)


def test_ensemble_refuses_members_that_saw_the_test_split(
    metal_run: Path, cgcnn_dir: Path, tmp_path: Path
) -> None:
    member = _train_member(cgcnn_dir, tmp_path / "other_split", "--seed", "3")
    result = run("evaluate", metal_run, member, "--out", tmp_path / "ensemble", "--no-progress")
    assert result.returncode != 0
    assert "--split-seed" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_ensemble_refuses_members_with_other_diffraction_settings(
    metal_run: Path, cgcnn_dir: Path, tmp_path: Path
) -> None:
    member = _train_member(
        cgcnn_dir, tmp_path / "conventional", "--seed", "2", "--split-seed", "1", "--cell", "conventional"
    )
    result = run("evaluate", metal_run, member, "--out", tmp_path / "ensemble", "--no-progress")
    assert result.returncode != 0
    assert "other diffraction settings" in result.stderr
