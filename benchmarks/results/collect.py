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


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _model(config: dict) -> str:
    model = config["model_config"]
    if model.get("frame") == "lattice":
        frame = "lattice frame" + (" + contrasts" if model.get("cell_contrasts") else "")
        frame += " + mirror" if model.get("mirror_contrast") else ""
    else:
        frame = "rotation-augmented"
    return f"{frame} {'-'.join(map(str, model['point_widths']))}"


def row(run: Path, evaluation: str = "evaluation") -> str:
    """The table row of ``run/<evaluation>/metrics.json``: a run, or an ensemble (``evaluation_ensemble``)."""
    metrics = _json(run / evaluation / "metrics.json")
    dataset = _json(run / "dataset.json")
    config = _json(run / "config.json")
    summary = _json(run / "summary.json")
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
    train_config = config["train_config"]
    if train_config.get("class_weighting", "none") != "none":
        also.append(f"{train_config['class_weighting']} class weights")
    members = [Path(member) for member in metrics.get("members", [run])]
    configs = [_json(member / "config.json") for member in members]
    seeds = ",".join(str(member["train_config"]["seed"]) for member in configs)
    model = _model(config) if len(members) == 1 else f"ensemble of {len(members)} × {_model(config)}"
    best = summary.get("best_epoch", "?") if len(members) == 1 else "each member's best"
    diffraction = dataset["diffraction"]
    return (
        f"| {task} | {data} | {diffraction['cell']} cell, N={diffraction['max_miller']} | {model} "
        f"| {dataset['split']} {dataset['split_sizes']['train']}/{dataset['split_sizes']['val']}/"
        f"{dataset['split_sizes']['test']} | {seeds} "
        f"| {name} **{entry['value']:.3f}** [{low:.3f}, {high:.3f}] (goal ≥ {GOALS[task]}) "
        f"| {'; '.join(also)} "
        f"| epochs {train_config['epochs']}, best {best} | `{run.name}` |"
    )


def _rows(run: Path) -> list[str]:
    return [
        row(run, name)
        for name in ("evaluation", "evaluation_ensemble")
        if (run / name / "metrics.json").is_file()
    ]


def main() -> None:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/results")
    finished = sorted(run for run in runs.iterdir() if (run / "evaluation" / "metrics.json").is_file())
    columns = (
        "task | data | input | model | split (train/val/test) | seed | test metric [95% CI] | also "
        "| training | run"
    )
    print(f"| {columns} |")
    print("|" + " --- |" * len(columns.split("|")))
    for task in HEADLINE:
        lines = [
            line for run in finished if _json(run / "dataset.json")["task"] == task for line in _rows(run)
        ]
        for line in lines or [f"| {task} | (not run) |" + " |" * 8]:
            print(line)


if __name__ == "__main__":
    main()
