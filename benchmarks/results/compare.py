"""Print the side-by-side table of the README: every model of a task on the same test split.

Usage: python benchmarks/results/compare.py RUNS_DIR

Reads the run folders of run_baselines.sh (``TASK_gbt_FEATURES``) and any PointNet run folder of the same
task in RUNS_DIR, checks that they share one test split (the fingerprint of its material ids), and prints
one row per task: test metric with 95% bootstrap interval, and the validation score that chose the
model's rounds or epoch (never the test split).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from crystalgenome.data import TASKS

COLUMNS = {
    "gbt_pattern": "pattern summary + trees (baseline)",
    "gbt_composition": "composition + trees (chemistry)",
    "gbt_both": "pattern + composition + trees",
    "gbt_rich": "rich pattern descriptors + trees (structure only)",
    "pointnet": "PointNet, lattice frame (structure only)",
}


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def test_fingerprint(run: Path) -> str:
    test = _json(run / "splits.json").get("test", [])
    return hashlib.sha256("\n".join(sorted(test)).encode()).hexdigest()[:12]


def validation_score(run: Path) -> float | None:
    if (run / "boosted.json").is_file():
        return float(_json(run / "boosted.json")["selection"]["valid"])
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []
    rows = [json.loads(line) for line in lines if line]
    for key in ("val_roc_auc", "val_accuracy"):
        if rows and key in rows[0]:
            return max(float(row[key]) for row in rows)
    return None


def cell(run: Path | None, metric: str) -> str:
    if run is None or not (run / "evaluation" / "metrics.json").is_file():
        return "—"
    entry = _json(run / "evaluation" / "metrics.json")[metric]
    low, high = entry["ci95"]
    valid = validation_score(run)
    shown = f"{entry['value']:.3f} [{low:.3f}, {high:.3f}]"
    return shown + (f" (val {valid:.3f})" if valid is not None else "")


def runs_of(runs: Path, task: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for run in sorted(runs.iterdir()):
        dataset = _json(run / "dataset.json")
        if dataset.get("task") != task or not (run / "evaluation" / "metrics.json").is_file():
            continue
        key = run.name.removeprefix(f"{task}_") if "_gbt_" in run.name else "pointnet"
        found.setdefault(key, run)
    return found


def main() -> None:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/results")
    print("| task | metric | test n | " + " | ".join(COLUMNS.values()) + " |")
    print("|" + " --- |" * (3 + len(COLUMNS)))
    for task in TASKS:
        found = runs_of(runs, task)
        if not found:
            continue
        fingerprints = {test_fingerprint(run) for run in found.values()}
        if len(fingerprints) != 1:
            raise SystemExit(f"{task}: the runs are not on one test split ({sorted(fingerprints)})")
        first = next(iter(found.values()))
        metric = "roc_auc" if len(_json(first / "dataset.json")["class_names"]) == 2 else "accuracy"
        size = _json(first / "dataset.json")["split_sizes"]["test"]
        cells = [cell(found.get(key), metric) for key in COLUMNS]
        print(f"| {task} | {metric} | {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
