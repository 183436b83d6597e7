"""A small ablation study end to end on real data through a local Ray with 2 workers (via the CLI).

One study (metal vs insulator, 200 random mp_cgcnn structures, 2 epochs, a small PointNet) covers the
three kinds of data variant (X-ray stores, another radiation's stores, cells for positional noise),
the fully connected contrast, and a run that fails (``miller_4`` on N = 3 data). Then the same command
again: finished runs are skipped, the failed one runs again, a run whose result was lost resumes from
its checkpoint instead of training again.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crystalgenome.cli.app import app

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

PERTURBATIONS = (
    "miller_1",
    "chemistry_free",
    "positional_noise_0.1",
    "fc_hkl",
    "miller_4",
)
RUNS = ("baseline", *PERTURBATIONS)


@pytest.fixture(scope="module")
def study(cgcnn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the study once (and shut Ray down after the module)."""
    folder = tmp_path_factory.mktemp("ablation")
    model = folder / "tiny_pointnet.json"
    model.write_text(json.dumps({"point_widths": [32, 64], "head_widths": [32]}))
    arguments = [
        "ablate", "--data", str(cgcnn_dir), "--task", "metal", "--out", str(folder / "study"),
        "--perturbations", ",".join(PERTURBATIONS), "--seeds", "1", "--epochs", "2", "--limit", "200",
        "--model", str(model), "--test-time-rotations", "2", "--val-rotations", "1", "--workers", "2",
        "--no-progress",
    ]  # fmt: skip
    first = CliRunner().invoke(app, arguments)
    yield {"dir": folder / "study", "arguments": arguments, "first": first}
    import ray

    if ray.is_initialized():
        ray.shutdown()


def _rows(study_dir: Path) -> dict[str, dict[str, str]]:
    with (study_dir / "results.csv").open() as handle:
        return {row["perturbation"]: row for row in csv.DictReader(handle)}


def _result(study_dir: Path, name: str) -> dict:
    return json.loads((study_dir / "runs" / name / "seed-0" / "result.json").read_text())


def test_results_table(study: dict) -> None:
    assert study["first"].exit_code == 1, study["first"].output  # one run failed: reported, exit status 1
    assert "6 runs executed, 0 already finished, 1 failed" in study["first"].output
    rows = _rows(study["dir"])
    assert list(rows) == list(RUNS)
    for name in RUNS:
        row = rows[name]
        assert row["seed"] == "0"
        if name == "miller_4":
            assert row["status"] == "failed"
            assert "Miller box only reaches N = 3" in row["error"]
            assert row["roc_auc"] == ""
            continue
        assert row["status"] == "ok", row
        for metric in ("roc_auc", "accuracy", "balanced_accuracy", "f1"):
            assert 0.0 <= float(row[metric]) <= 1.0
        assert float(row["seconds"]) > 0
        assert int(row["n_test"]) == 30  # 15% of 200, the same test split for every run
    assert float(rows["miller_1"]["mean_points"]) == 27
    assert float(rows["chemistry_free"]["mean_points"]) == 342
    assert float(rows["baseline"]["mean_points"]) == 343


def test_one_split_for_every_run(study: dict) -> None:
    split = json.loads((study["dir"] / "split.json").read_text())
    assert len(split["train"]) + len(split["valid"]) + len(split["test"]) == 200
    for name in ("baseline", "miller_1", "chemistry_free", "positional_noise_0.1"):
        used = json.loads((study["dir"] / "runs" / name / "seed-0" / "train" / "splits.json").read_text())
        for part, name_there in (("train", "train"), ("val", "valid"), ("test", "test")):
            assert sorted(used[part]) == sorted(split[name_there])
    # the chemistry-free and noisy inputs really are other data: unit form factors, displaced atoms
    variants = {path.stem for path in (study["dir"] / "variants").glob("*.json")}
    assert variants == {"unit", "cells"}
    noisy = study["dir"] / "runs" / "positional_noise_0.1" / "seed-0" / "noisy_inputs.npz"
    assert noisy.is_file()


def test_report(study: dict) -> None:
    report = (study["dir"] / "report.md").read_text()
    assert "finished with failures" in report
    assert "5 of 6 runs finished, 1 failed" in report
    for name in RUNS:
        assert f"| `{name}` |" in report
    assert "`crystalgenome ablate --data " in report  # the command, every option spelled out
    assert "--epochs 2 --limit 200 --seed 0" in report
    assert "train 140, validation 30, test 30" in report
    assert "![ROC-AUC per perturbation](ablation.png)" in report
    assert "`miller_4` seed 0: ValueError: miller_4: the data's Miller box only reaches N = 3" in report
    baseline_auc = float(_rows(study["dir"])["baseline"]["roc_auc"])
    miller_auc = float(_rows(study["dir"])["miller_1"]["roc_auc"])
    assert f"| `miller_1` | 1 | {miller_auc:.3f} | {miller_auc - baseline_auc:+.3f} |" in report
    assert (study["dir"] / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_skips_finished_runs_and_resumes(study: dict) -> None:
    study_dir = study["dir"]
    before = {name: _result(study_dir, name) for name in RUNS}
    failed_path = study_dir / "runs" / "miller_4" / "seed-0" / "result.json"
    failed_mtime = failed_path.stat().st_mtime_ns
    # a run whose result was lost (killed after its last epoch) resumes from last.pt, not from scratch
    last = study_dir / "runs" / "baseline" / "seed-0" / "train" / "last.pt"
    last_mtime = last.stat().st_mtime_ns
    (study_dir / "runs" / "baseline" / "seed-0" / "result.json").unlink()
    second = CliRunner().invoke(app, study["arguments"])
    assert second.exit_code == 1, second.output
    assert "2 runs executed, 4 already finished, 1 failed" in second.output
    after = {name: _result(study_dir, name) for name in RUNS}
    for name in ("miller_1", "chemistry_free", "positional_noise_0.1", "fc_hkl"):
        assert after[name] == before[name]  # untouched
    assert after["miller_4"]["status"] == "failed"
    assert failed_path.stat().st_mtime_ns > failed_mtime  # a failed run is tried again
    assert after["baseline"]["metrics"] == before["baseline"]["metrics"]
    assert last.stat().st_mtime_ns == last_mtime  # no epoch was trained again
    assert len(_rows(study_dir)) == len(RUNS)


def test_other_settings_in_the_same_folder_are_refused(study: dict) -> None:
    arguments = list(study["arguments"])
    arguments[arguments.index("--epochs") + 1] = "3"
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert "holds a study with other settings (epochs differ)" in result.output


def test_lattice_frame_models_are_refused(cgcnn_dir: Path, tmp_path: Path) -> None:
    arguments = [
        "ablate", "--data", str(cgcnn_dir), "--task", "metal", "--out", str(tmp_path / "study"),
        "--perturbations", "miller_1", "--epochs", "1", "--limit", "50", "--model", "lattice",
        "--no-progress",
    ]  # fmt: skip
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert "lattice frame" in result.output and "input-frame model" in result.output
