"""``crystalgenome demo``: the whole pipeline on the built-in data, in a few minutes on 2 cores.

Builds the built-in dataset (structures shipped in installed packages plus symmetry-generated
crystals, labelled only with what symmetry analysis gives), featurizes it, trains a crystal-system
classifier, evaluates it on a held-out test split and writes a markdown report with figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from crystalgenome.training import TrainConfig
from crystalgenome.utils.atomic import atomic_write_text
from crystalgenome.utils.provenance import package_versions
from crystalgenome.workflows.defaults import task_defaults
from crystalgenome.workflows.tasks import read_dataset_record, train_task

DEMO_TASK = "crystal_system"
DEMO_DEFAULTS = task_defaults(DEMO_TASK)
DEMO_SETTINGS = DEMO_DEFAULTS.settings(max_miller=3)
"""Conventional cells: their reciprocal lattice shows the crystal system's metric directly."""


DEMO_MODEL = DEMO_DEFAULTS.model
"""The packaged model of the demo, ``train``'s default for the task: each pattern read in its lattice's
standard frame (exactly rotation invariant, so no rotation augmentation or test-time rotations)."""


def demo_train_config(*, epochs: int, seed: int, model: str = DEMO_MODEL) -> TrainConfig:
    """Training settings of the demo: ``train``'s defaults for ``model``, small and fast (at most 4
    test-time rotations). One torch thread: about as fast as two on an idle 2-core machine for this
    model, and far faster on a busy one."""
    config = DEMO_DEFAULTS.train_config(model)
    return config.replace(
        epochs=epochs,
        seed=seed,
        batch_size=32,
        early_stopping_patience=None,
        test_time_rotations=min(config.test_time_rotations, 4),
        num_threads=1,
    )


def _format_metric(entry: dict[str, Any]) -> str:
    low, high = entry["ci95"]
    return f"{entry['value']:.3f} [{low:.3f}, {high:.3f}]"


def write_report(out_dir: Path, metrics: dict[str, Any], *, seconds: float, command: str) -> Path:
    """report.md in ``out_dir`` from a finished demo run."""
    run_dir = out_dir / "run"
    record = read_dataset_record(run_dir)
    summary = (
        json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        if (run_dir / "summary.json").is_file()
        else {}
    )
    figures = {name: Path(path).relative_to(out_dir) for name, path in metrics.get("figures", {}).items()}
    rows = [
        f"| {name} | {_format_metric(entry)} |"
        for name, entry in metrics.items()
        if isinstance(entry, dict) and "value" in entry and "ci95" in entry and entry["value"] is not None
    ]
    counts = "\n".join(f"| {name} | {count} |" for name, count in record["class_counts"].items())
    images = "\n\n".join(
        f"### {name.replace('_', ' ')}\n\n![{name}]({path})" for name, path in figures.items()
    )
    versions = ", ".join(f"{name} {version}" for name, version in package_versions().items())
    text = f"""# crystalgenome demo: crystal system from the 3D diffraction pattern

Command: `{command}` — finished in {seconds:.0f} s.

## Data
The built-in dataset (see `crystalgenome.data.builtin` and its BUILTIN.md): structures shipped inside
installed packages plus crystals generated with a symmetry tool, labelled only with their crystal
system from symmetry analysis (moyopy, symprec {record["diffraction"]["symprec"]} Å). No property labels.

| class | structures |
| --- | --- |
{counts}

Split {record["split"]} (seed {record["split_seed"]}): {record["split_sizes"]}.
Diffraction: {record["diffraction"]["radiation"]}, {record["diffraction"]["cell"]} cell, Miller box
N = {record["diffraction"]["max_miller"]}.

## Test metrics (best validation epoch {summary.get("best_epoch", "?")}, 95% bootstrap intervals)

| metric | value [95% CI] |
| --- | --- |
{chr(10).join(rows)}

Rotation invariance (predicted class unchanged under {metrics["rotation_invariance"]["rotations"]} random
rotations): {metrics["rotation_invariance"]["value"]:.3f}.

## Figures

{images}

## Files
- run folder: `run/` (config.json, metadata.json with versions and data fingerprint, metrics.csv, best.pt)
- evaluation: `run/evaluation/` (metrics.json, predictions.csv, figures)

Versions: {versions}.
"""
    path = out_dir / "report.md"
    atomic_write_text(path, text)
    return path


def run_demo(
    out_dir: str | Path, *, epochs: int = 25, seed: int = 0, model: str = DEMO_MODEL, progress: bool = True
) -> Path:
    """Run the demo into ``out_dir`` and return the path of its report (``model``: a packaged name)."""
    from crystalgenome.data import builtin_source

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = builtin_source(seed=seed, progress=progress)
    config = demo_train_config(epochs=epochs, seed=seed, model=model)
    _, metrics = train_task(
        source, DEMO_TASK, out_dir / "run", train_config=config, model_config=model, settings=DEMO_SETTINGS,
        progress=progress,
    )  # fmt: skip
    if metrics is None:
        raise RuntimeError("the demo's test split is empty")
    command = f"crystalgenome demo --out {out_dir} --epochs {epochs} --seed {seed} --model {model}"
    return write_report(out_dir, metrics, seconds=time.perf_counter() - started, command=command)
