"""Print the README results table (markdown) from the run folders of run_all.sh.

Usage: python benchmarks/results/collect.py RUNS_DIR

One row per finished run folder in RUNS_DIR (any name), grouped by task in the order below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HEADLINE = {
    "crystal_system": "accuracy",
    "metal": "roc_auc",
    "bulk_modulus": "roc_auc",
    "shear_modulus": "roc_auc",
    "stability": "roc_auc",
}
GOALS = {
    "crystal_system": 0.99,
    "metal": 0.95,
    "bulk_modulus": 0.96,
    "shear_modulus": 0.94,
    "stability": 0.85,
}


def row(run: Path) -> str | None:
    metrics_path = run / "evaluation" / "metrics.json"
    if not metrics_path.is_file():
        return None
    metrics = json.loads(metrics_path.read_text())
    dataset = json.loads((run / "dataset.json").read_text())
    config = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    task = dataset["task"]
    name = HEADLINE[task]
    entry = metrics[name]
    low, high = entry["ci95"]
    data = " + ".join(Path(p).name for p in dataset["data"])
    if dataset.get("labels"):
        data += f" (+ {Path(dataset['labels']).parent.name})"
    also = [] if name == "accuracy" else [f"accuracy {metrics['accuracy']['value']:.3f}"]
    also.append(f"balanced acc. {metrics['balanced_accuracy']['value']:.3f}")
    also.append(f"rotation invariance {metrics['rotation_invariance']['value']:.3f}")
    extra = "; ".join(also)
    train_config = config["train_config"]
    epochs, seed = train_config["epochs"], train_config["seed"]
    if train_config.get("class_weighting", "none") != "none":
        extra += f"; {train_config['class_weighting']} class weights"
    diffraction = dataset["diffraction"]
    model = config["model_config"]
    frame = "lattice frame" if model.get("frame") == "lattice" else "rotation-augmented"
    widths = "-".join(map(str, model["point_widths"]))
    return (
        f"| {task} | {data} | {diffraction['cell']} cell, N={diffraction['max_miller']} | {frame} {widths} "
        f"| {dataset['split']} {dataset['split_sizes']['train']}/{dataset['split_sizes']['val']}/"
        f"{dataset['split_sizes']['test']} | {seed} "
        f"| {name} **{entry['value']:.3f}** [{low:.3f}, {high:.3f}] (goal ≥ {GOALS[task]}) | {extra} "
        f"| epochs {epochs}, best {summary.get('best_epoch', '?')} |"
    )


def _task(run: Path) -> str:
    return json.loads((run / "dataset.json").read_text())["task"]


def main() -> None:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/results")
    finished = [run for run in sorted(runs.iterdir()) if (run / "evaluation" / "metrics.json").is_file()]
    columns = (
        "task | data | input | model | split (train/val/test) | seed | test metric [95% CI] | also | training"
    )
    print(f"| {columns} |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for task in HEADLINE:
        lines = [row(run) for run in finished if _task(run) == task]
        for line in lines or [f"| {task} | (not run) | | | | | | | |"]:
            print(line)


if __name__ == "__main__":
    main()
