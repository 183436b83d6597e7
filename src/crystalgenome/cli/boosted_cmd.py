"""``crystalgenome baseline``: gradient-boosted trees on descriptors, on the PointNet's split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from crystalgenome.cli.common import reports_errors
from crystalgenome.cli.options import (
    ClassWeightingOption,
    DataOption,
    LabelsOption,
    LimitOption,
    ProgressOption,
    SplitOption,
    TaskOption,
    ThresholdOption,
    WorkersOption,
    diffraction_options,
    with_diffraction_options,
)
from crystalgenome.cli.train_cmd import headline, thresholds_for


@with_diffraction_options("cell")
def baseline(
    data: DataOption,
    task: TaskOption,
    out: Path = typer.Option(..., "--out", help="Run folder."),
    features: str = typer.Option(
        "pattern",
        "--features",
        help="pattern (X-ray radial profile, origin, density, cell shape), composition (element "
        "fractions), both, or rich (every probe: profiles, reflections, Patterson, contrasts).",
    ),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the split (the PointNet's --seed)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the trees' feature subsampling."),
    threshold: ThresholdOption = None,
    split: SplitOption = "random",
    labels: LabelsOption = None,
    config: Path | None = typer.Option(None, "--config", help="BoostConfig JSON (options override it)."),
    max_rounds: int | None = typer.Option(None, "--max-rounds", help="Boosting rounds fitted."),
    class_weighting: ClassWeightingOption = None,
    limit: LimitOption = None,
    workers: WorkersOption = 2,
    diffraction: dict[str, Any] | None = None,
    progress: ProgressOption = True,
) -> None:
    """Train a gradient-boosted tree model on pattern descriptors or composition for TASK, on the same
    split as `crystalgenome train`, and evaluate it on the test split (metrics.json with 95% intervals)."""
    _baseline(dict(locals()))


@reports_errors
def _baseline(options: dict[str, Any]) -> None:
    from crystalgenome.boosting import BoostConfig
    from crystalgenome.workflows import task_defaults
    from crystalgenome.workflows.boosted import train_boosted_task

    boost = BoostConfig.from_json(options["config"]) if options["config"] else BoostConfig()
    overrides = {"max_rounds": options["max_rounds"], "class_weighting": options["class_weighting"]}
    boost = boost.replace(seed=options["seed"], **{k: v for k, v in overrides.items() if v is not None})
    metrics = train_boosted_task(
        options["data"],
        options["task"],
        options["out"],
        features=options["features"],
        config=boost,
        settings=task_defaults(options["task"]).settings(**diffraction_options(options["diffraction"])),
        thresholds=thresholds_for(options["task"], options["threshold"]),
        split=options["split"],
        split_seed=options["split_seed"],
        labels=options["labels"],
        limit=options["limit"],
        workers=options["workers"],
        progress=options["progress"],
    )
    summary = {"run_dir": str(options["out"]), "features": options["features"], "test": headline(metrics)}
    typer.echo(json.dumps(summary, indent=2))
