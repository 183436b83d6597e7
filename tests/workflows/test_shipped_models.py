"""The models shipped with the package: listed, documented, and predicting offline by task name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import crystalgenome
from crystalgenome.data import TASKS, task_class_names
from crystalgenome.workflows.models import PRETRAINED_DIR, headline_metrics, shipped_models
from tests.conftest import bundled_structures
from tests.workflows.test_learning_cli import run


@pytest.fixture(scope="module")
def cif_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cifs")
    for name, structure in sorted(bundled_structures().items())[:6]:
        structure.to(filename=str(folder / f"{name}.cif"))
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a 0\n")
    return folder


def test_every_task_ships_a_small_model_with_a_card() -> None:
    assert shipped_models() == sorted(TASKS)  # every task, each with its own card
    total = sum(path.stat().st_size for path in PRETRAINED_DIR.rglob("*") if path.is_file())
    assert total < 8 * 2**20, f"shipped models take {total / 2**20:.1f} MiB"
    for task in TASKS:
        card = (PRETRAINED_DIR / task / "MODEL_CARD.md").read_text()
        metrics = json.loads((PRETRAINED_DIR / task / "evaluation" / "metrics.json").read_text())
        name = "roc_auc" if len(task_class_names(task)) == 2 else "accuracy"
        assert f"{metrics[name]['value']:.3f}" in card  # the card shows the measured figure
        assert "CC BY 4.0" in card and "pattern summary" in card and "crystalgenome " in card
        assert "Test split" in card and "validation" in card
        record = json.loads((PRETRAINED_DIR / task / "dataset.json").read_text())
        assert not any("/" in path for path in record["data"])  # no path of the training machine


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def test_shipped_files_name_no_folder_of_the_training_machine() -> None:
    absolute = re.compile(r"(^|[\s=])/[A-Za-z]")
    for path in PRETRAINED_DIR.rglob("*.json"):
        leaked = [text for text in _strings(json.loads(path.read_text())) if absolute.search(text)]
        assert not leaked, f"{path.relative_to(PRETRAINED_DIR)}: {leaked[:2]}"


def test_models_lists_headline_metrics_and_prints_a_card() -> None:
    listing = run("models", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert [row["model"] for row in rows] == sorted(TASKS)
    assert all(("roc_auc" in row) or ("accuracy" in row) for row in rows)
    # the headline metric is the one model selection uses: accuracy for multi-class tasks
    assert {row["model"]: row["metric"] for row in rows}["crystal_system"] == "accuracy"
    table = run("models")
    system_line = next(line for line in table.stdout.splitlines() if line.startswith("crystal_system\t"))
    assert "\taccuracy 0.9" in system_line
    card = run("models", "metal")
    assert card.returncode == 0 and card.stdout.startswith("# crystalgenome shipped model: `metal`")
    unknown = run("models", "band_gap")
    assert unknown.returncode != 0 and "band_gap" in unknown.stderr and len(unknown.stderr.splitlines()) == 1


@pytest.mark.parametrize("task", ["metal", "crystal_system"])
def test_predict_by_task_name_keeps_the_json_contract(task: str, cif_folder: Path) -> None:
    result = run("predict", task, cif_folder, "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "broken.cif" in result.stderr
    predictions = json.loads(result.stdout)
    assert len(predictions) == 6
    for prediction in predictions:
        assert set(prediction) == {"file", "label", "probabilities"}
        assert set(prediction["probabilities"]) == set(task_class_names(task))
        assert prediction["label"] == max(prediction["probabilities"], key=prediction["probabilities"].get)


def test_predict_all_runs_every_shipped_model_once_per_file(cif_folder: Path) -> None:
    result = run("predict", "--all", cif_folder, "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    assert len(rows) == 6
    single = json.loads(run("predict", "bulk_modulus", cif_folder, "--format", "json").stdout)
    by_file = {row["file"]: row for row in single}
    for row in rows:
        assert set(row["predictions"]) == set(TASKS)
        assert row["predictions"]["bulk_modulus"]["probabilities"] == pytest.approx(
            by_file[row["file"]]["probabilities"]
        )


def test_python_api_takes_structures() -> None:
    structure = next(iter(bundled_structures().values()))
    model = crystalgenome.load_model("shear_modulus")
    (prediction,) = model.predict([structure])
    assert prediction["label"] in ("low", "high")
    assert headline_metrics("shear_modulus")["task"] == "shear_modulus"
