"""`crystalgenome baseline` on real data: a complete run folder on the PointNet's split, and predictions
from structure files that equal the evaluation's (the same descriptors through both paths)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from crystalgenome.data import open_source
from crystalgenome.workflows.boosted import FeatureSpec, load_boosted_run
from crystalgenome.workflows.models import load_model
from tests.workflows.test_learning_cli import run

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def rich_run(cgcnn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Structure-only trees (every probe) for metal vs insulator on the first 500 mp_cgcnn structures."""
    out = tmp_path_factory.mktemp("boosted") / "metal_rich"
    result = run(
        "baseline", "--data", cgcnn_dir, "--task", "metal", "--features", "rich", "--limit", "500",
        "--max-rounds", "60", "--out", out, "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["features"] == "rich" and "roc_auc" in summary["test"]
    return out


def test_run_folder_is_complete_and_on_the_pointnets_split(rich_run: Path, cgcnn_dir: Path) -> None:
    for name in ("dataset.json", "splits.json", "boosted.json", "trees.npz", "evaluation/metrics.json"):
        assert (rich_run / name).is_file(), name
    from crystalgenome.store.dataset import load_task_dataset

    expected = load_task_dataset(cgcnn_dir, "metal", limit=500, progress=False).split
    splits = json.loads((rich_run / "splits.json").read_text())
    assert splits["test"] == expected.test and splits["train"] == expected.train
    metrics = json.loads((rich_run / "evaluation" / "metrics.json").read_text())
    assert metrics["n"] == len(splits["test"])
    low, high = metrics["roc_auc"]["ci95"]
    assert low <= metrics["roc_auc"]["value"] <= high
    record = json.loads((rich_run / "boosted.json").read_text())
    assert record["features"]["name"] == "rich"
    assert len(record["feature_names"]) == len(FeatureSpec.named("rich").names())
    assert {"versions", "data_fingerprint", "seed", "config"} <= set(record)
    assert 1 <= record["rounds"] <= 60


def test_predicting_files_reproduces_the_evaluation(rich_run: Path, cgcnn_dir: Path, tmp_path: Path) -> None:
    with (rich_run / "evaluation" / "predictions.csv").open() as handle:
        evaluated = {row["id"]: float(row["p_metal"]) for row in csv.DictReader(handle)}
    chosen = sorted(evaluated)[:20]
    folder = tmp_path / "cifs"
    folder.mkdir()
    for record in open_source(cgcnn_dir).iter_raw(chosen):
        (folder / f"{record.material_id}.cif").write_text(record.payload)
    (folder / "zero_cell.cif").write_text("data_x\n_cell_length_a 0\n")
    result = run("predict", rich_run, folder, "--format", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "zero_cell.cif" in result.stderr
    predictions = json.loads(result.stdout)
    assert len(predictions) == len(chosen)
    for prediction in predictions:
        assert set(prediction) == {"file", "label", "probabilities"}
        material_id = Path(prediction["file"]).stem
        assert prediction["probabilities"]["metal"] == pytest.approx(evaluated[material_id], abs=1e-5)


def test_load_model_predicts_structures_and_atoms(rich_run: Path, cgcnn_dir: Path) -> None:
    from pymatgen.io.ase import AseAtomsAdaptor

    record = next(iter(open_source(cgcnn_dir).iter_raw()))
    structure = record.to_structure()
    model = load_model(rich_run)
    assert model.kind == "boosted" and model.task == "metal"
    first, second = model.predict([structure, AseAtomsAdaptor.get_atoms(structure)])
    assert first["label"] in ("metal", "insulator")
    np.testing.assert_allclose(
        list(first["probabilities"].values()), list(second["probabilities"].values()), atol=1e-6
    )
    with pytest.raises(Exception, match="not a structure"):
        model.predict([42])
    assert model.predict([42, structure], raise_errors=False)[0]["file"].startswith("#1")


def test_the_trees_load_without_the_training_data(rich_run: Path) -> None:
    loaded = load_boosted_run(rich_run)
    assert loaded.class_names == ["insulator", "metal"]
    assert loaded.ensemble.num_features <= len(loaded.spec.names())
