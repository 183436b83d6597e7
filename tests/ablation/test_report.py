"""The study's tables from run results: mean ± std over seeds, Δ against baseline, failures, gaps."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from crystalgenome.ablation import (
    StudySpec,
    get_perturbation,
    resolve_perturbations,
    task_metrics,
    write_report,
)
from crystalgenome.ablation.study import write_result

PLAN = {
    "spec": {"data": ["/data/x"], "task": "metal", "epochs": 3, "limit": 100, "seed": 0, "model": "default",
             "batch_size": 64, "test_time_rotations": 8, "val_rotations": 4, "max_miller": 3},
    "model_config": {"point_widths": [32, 64], "head_widths": [32]},
    "task": "metal",
    "class_names": ["insulator", "metal"],
    "ids": [f"mp-{i}" for i in range(100)],
    "split_sizes": {"train": 70, "valid": 15, "test": 15},
    "class_counts": {"insulator": 60, "metal": 40},
    "thresholds": {"metal_gap": 1e-6},
    "data_fingerprint": "abc",
    "metadata": {"command": "crystalgenome ablate --task metal", "versions": {"crystalgenome": "0"}},
}  # fmt: skip


def _record(name: str, seed: int, auc: float | None, status: str = "ok") -> dict:
    metrics = (
        {}
        if auc is None
        else {"roc_auc": auc, "accuracy": auc - 0.1, "balanced_accuracy": auc - 0.2, "f1": 0.5}
    )
    return {"perturbation": name, "seed": seed, "status": status, "metrics": metrics, "seconds": 1.0,
            "error": "" if status == "ok" else "ValueError: broken", "n_test": 15}  # fmt: skip


def test_table_statistics_and_failures(tmp_path: Path) -> None:
    chosen = resolve_perturbations("miller_1,no_intensity,dropout_0.3")
    results = {
        "baseline": [0.90, 0.86, 0.88],
        "miller_1": [0.70, 0.74, 0.72],
        "no_intensity": [0.80, None, 0.84],
    }
    for name, values in results.items():
        for seed, value in enumerate(values):
            write_result(tmp_path, _record(name, seed, value, "ok" if value is not None else "failed"))
    report = write_report(tmp_path, PLAN, chosen, [0, 1, 2]).read_text()

    with (tmp_path / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    order = [(r["perturbation"], r["seed"]) for r in rows][:4]
    assert order == [("baseline", "0"), ("baseline", "1"), ("baseline", "2"), ("miller_1", "0")]
    assert list(rows[0])[:8] == ["perturbation", "seed", "roc_auc", "accuracy", "balanced_accuracy", "f1",
                                 "status", "seconds"]  # fmt: skip
    assert {r["status"] for r in rows if r["perturbation"] == "dropout_0.3"} == {"pending"}
    failed = next(r for r in rows if r["perturbation"] == "no_intensity" and r["seed"] == "1")
    assert (
        failed["status"] == "failed" and failed["error"] == "ValueError: broken" and failed["roc_auc"] == ""
    )

    miller_mean, baseline_mean = np.mean([0.70, 0.74, 0.72]), np.mean([0.90, 0.86, 0.88])
    assert (
        f"| `baseline` | 3 | {baseline_mean:.3f} ± {np.std([0.90, 0.86, 0.88], ddof=1):.3f} | — |" in report
    )
    assert f"| `miller_1` | 3 | {miller_mean:.3f} ± 0.020 | {miller_mean - baseline_mean:+.3f} |" in report
    assert "| `no_intensity` | 2 (1 failed) | 0.820 ± 0.028 | -0.060 |" in report
    assert "| `dropout_0.3` | 0 (3 pending) | – | – |" in report
    assert "**Status: PARTIAL** — 8 of 12 runs finished, 1 failed, 3 pending." in report
    assert "- `no_intensity` seed 1: ValueError: broken" in report
    assert "crystalgenome ablate --task metal" in report
    assert (tmp_path / "ablation.png").stat().st_size > 1000


def test_metric_columns_follow_the_task() -> None:
    assert task_metrics(2) == ("roc_auc", "accuracy", "balanced_accuracy", "f1")
    assert task_metrics(7) == ("accuracy", "balanced_accuracy")


def test_train_config_of_each_kind_of_run(tmp_path: Path) -> None:
    spec = StudySpec(data=(str(tmp_path),), task="metal", epochs=4, test_time_rotations=6, val_rotations=3)
    baseline = spec.train_config(get_perturbation("baseline"), 2)
    assert (baseline.epochs, baseline.seed, baseline.num_threads) == (4, 2, 1)
    assert (baseline.rotation_range, baseline.test_time_rotations, baseline.val_rotations) == (180.0, 6, 3)
    rotation = spec.train_config(get_perturbation("rotation_30"), 0)
    assert (rotation.rotation_range, rotation.test_time_rotations, rotation.val_rotations) == (30.0, 0, 0)
    assert StudySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ValueError, match="task"):
        StudySpec(data=(str(tmp_path),), task="colour")
