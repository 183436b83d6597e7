"""``crystalgenome train``, ``evaluate`` and ``predict``: thin wrappers over crystalgenome.workflows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from crystalgenome.cli.common import emit, fail, reports_errors
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

THRESHOLD_FIELDS = {
    "metal": "insulator_gap",
    "bulk_modulus": "bulk_modulus",
    "shear_modulus": "shear_modulus",
    "stability": "stability",
}


def thresholds_for(task: str, threshold: float | None) -> Any:
    from crystalgenome.data import LabelThresholds

    if threshold is None:
        return LabelThresholds()
    if task not in THRESHOLD_FIELDS:
        raise ValueError(f"--threshold applies to {', '.join(THRESHOLD_FIELDS)}, not {task}")
    return LabelThresholds(**{THRESHOLD_FIELDS[task]: threshold})


def headline(metrics: dict) -> dict:
    """The scalar metrics (value and 95% interval) of a metrics.json."""
    return {name: entry for name, entry in metrics.items() if isinstance(entry, dict) and "ci95" in entry}


@with_diffraction_options("radiation", "max_miller", "cell")
def train(
    data: DataOption,
    task: TaskOption,
    out: Path = typer.Option(..., "--out", help="Run folder (resumed when it already holds this run)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs (default: the default's)."),
    seed: int = typer.Option(0, "--seed", help="Seed of weights, data order, augmentation and split."),
    split_seed: int | None = typer.Option(
        None,
        "--split-seed",
        help="Seed of the split alone (default: --seed); fix it to train ensemble members.",
    ),
    threshold: ThresholdOption = None,
    split: SplitOption = "random",
    labels: LabelsOption = None,
    model: str | None = typer.Option(
        None,
        "--model",
        help="lattice_symmetry, lattice_contrasts, lattice, default, authors or a ModelConfig JSON "
        "(default: lattice_symmetry for crystal_system/crystal_family/trigonal_hexagonal, else lattice).",
    ),
    config: Path | None = typer.Option(None, "--config", help="TrainConfig JSON (options override it)."),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    lr: float | None = typer.Option(None, "--lr", help="Initial learning rate."),
    class_weighting: ClassWeightingOption = None,
    limit: LimitOption = None,
    threads: int | None = typer.Option(None, "--threads", help="Torch CPU threads (default: the config's)."),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda or auto (default: the config's)."),
    precision: str | None = typer.Option(
        None,
        "--precision",
        help="Training arithmetic: auto (bfloat16 on CPUs with native bfloat16, else float32), float32 "
        "or bfloat16 (default: the config's).",
    ),
    workers: WorkersOption = 2,
    diffraction: dict[str, Any] | None = None,
    progress: ProgressOption = True,
) -> None:
    """Train a PointNet classifier for TASK on SOURCE and evaluate it on the held-out test split.

    Under torchrun, the processes train one model data-parallel (DDP); see docs/distributed.md.
    """
    _train(dict(locals()))


@reports_errors
def _train(options: dict[str, Any]) -> None:
    from crystalgenome.training import TrainConfig
    from crystalgenome.training.distributed import distributed_session, is_main
    from crystalgenome.workflows import task_defaults, train_task

    defaults = task_defaults(options["task"])
    model = options["model"] or defaults.model
    train_config = (
        TrainConfig.from_json(options["config"]) if options["config"] else defaults.train_config(model)
    )
    overrides = {name: options[name] for name in ("epochs", "batch_size", "lr", "class_weighting")}
    overrides["num_threads"] = options["threads"]
    overrides["device"] = options["device"]
    overrides["precision"] = options["precision"]
    overrides = {name: value for name, value in overrides.items() if value is not None}
    train_config = train_config.replace(seed=options["seed"], **overrides)
    settings = defaults.settings(**diffraction_options(options["diffraction"]))
    with distributed_session(train_config.device) as distributed:  # under torchrun: one rank of DDP
        result, metrics = train_task(
            options["data"],
            options["task"],
            options["out"],
            train_config=train_config,
            model_config=model,
            settings=settings,
            thresholds=thresholds_for(options["task"], options["threshold"]),
            split=options["split"],
            split_seed=options["split_seed"],
            labels=options["labels"],
            limit=options["limit"],
            workers=options["workers"],
            progress=options["progress"],
            distributed=distributed,
        )
    if not is_main(distributed):
        return
    summary: dict[str, Any] = {"run_dir": str(result.run_dir), "best_epoch": result.best_epoch}
    summary["selection_metric"] = result.selection_metric
    if metrics is not None:
        summary["test"] = headline(metrics)
        summary["evaluation"] = str(Path(options["out"]) / "evaluation")
    typer.echo(json.dumps(summary, indent=2))


def evaluate(
    run_dirs: list[Path] = typer.Argument(
        ..., help="A run folder made by `crystalgenome train`; several are evaluated as one ensemble."
    ),
    data: list[Path] | None = typer.Option(
        None, "--data", help="Labelled data (default: the run's test split)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Metrics and figures folder (default RUN_DIR/evaluation)."
    ),
    labels: LabelsOption = None,
    progress: ProgressOption = True,
) -> None:
    """Metrics with bootstrap 95% intervals, rotation invariance, and figures (ROC, PR, confusion, curves).

    Several RUN_DIRs (one task, trained on one split, e.g. seeds with a fixed --split-seed) are evaluated as
    an ensemble that averages their class probabilities.
    """
    _evaluate(run_dirs, data, out, labels, progress)


@reports_errors
def _evaluate(
    run_dirs: list[Path], data: list[Path] | None, out: Path | None, labels: Path | None, progress: bool
) -> None:
    from crystalgenome.workflows import evaluate_task

    metrics = evaluate_task(run_dirs, data or None, out_dir=out, labels=labels, progress=progress)
    summary = {"metrics": headline(metrics), "rotation_invariance": metrics.get("rotation_invariance")}
    summary["figures"] = metrics.get("figures")
    typer.echo(json.dumps(summary, indent=2))


def predict(
    model: str = typer.Argument(
        ...,
        help="A run folder (train or baseline) or a shipped model's task name (see `crystalgenome models`).",
    ),
    paths: list[Path] = typer.Argument(None, help="Structure files or folders of them."),
    all_models: bool = typer.Option(
        False, "--all", help="Run every shipped model; MODEL is then read as the first PATH."
    ),
    output_format: str = typer.Option("table", "--format", help="table or json."),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
    rotations: int | None = typer.Option(
        None, "--rotations", help="Test-time rotations (default: the run's)."
    ),
) -> None:
    """Classify structure files with a trained run or a shipped model (batched; bad files are reported
    on stderr and never cost the others)."""
    if output_format not in ("table", "json"):
        raise fail(f"--format must be table or json, got {output_format!r}")
    if all_models:
        _predict_all([Path(model), *(paths or [])], output_format, out)
    elif not paths:
        raise fail("give MODEL and at least one PATH (or --all PATH...)")
    else:
        _predict(model, paths, output_format, out, rotations)


def _report(errors: list, predicted: int) -> None:
    for error in errors:
        print(f"crystalgenome: skipped {error}", file=sys.stderr)
    if errors and not predicted:
        raise fail(f"none of the {len(errors)} structures could be predicted")


@reports_errors
def _predict(
    model: str, paths: list[Path], output_format: str, out: Path | None, rotations: int | None
) -> None:
    from crystalgenome.errors import one_line
    from crystalgenome.workflows import predict_files
    from crystalgenome.workflows.models import resolve_model_dir

    result = predict_files(resolve_model_dir(model), paths, rotations=rotations)
    if output_format == "json":
        emit(json.dumps(result.predictions, indent=1), out)
    else:
        lines = [
            f"{one_line(p['file'])}\t{p['label']}\t{p['probabilities'][p['label']]:.3f}"
            for p in result.predictions
        ]
        emit("\n".join(["file\tlabel\tprobability", *lines]), out)
    _report(result.errors, len(result.predictions))


@reports_errors
def _predict_all(paths: list[Path], output_format: str, out: Path | None) -> None:
    from crystalgenome.errors import one_line
    from crystalgenome.workflows.models import predict_all

    results, errors = predict_all(paths)
    if output_format == "json":
        emit(json.dumps(results, indent=1), out)
    else:
        names = sorted({name for result in results for name in result["predictions"]})
        lines = [
            "\t".join(
                [
                    one_line(result["file"]),
                    *(result["predictions"].get(n, {}).get("label", "-") for n in names),
                ]
            )
            for result in results
        ]
        emit("\n".join(["\t".join(["file", *names]), *lines]), out)
    _report(errors, len(results))


def models(
    name: str | None = typer.Argument(None, help="A shipped model's task name: print its model card."),
    output_format: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """List the models shipped with the package and their test metrics, or print one model's card."""
    _models(name, output_format)


@reports_errors
def _models(name: str | None, output_format: str) -> None:
    from crystalgenome.workflows.models import headline_metrics, model_card, shipped_models

    if name is not None:
        typer.echo(model_card(name))
        return
    rows = [headline_metrics(model) for model in shipped_models()]
    if output_format == "json":
        typer.echo(json.dumps(rows, indent=1))
        return
    lines = ["task\tmodel\ttest metric [95% CI]\ttest size"]
    for row in rows:
        metric = row["metric"]
        entry = row.get(metric)
        low, high = ("?", "?") if entry is None else entry["ci95"]
        shown = "-" if entry is None else f"{metric} {entry['value']:.3f} [{low:.3f}, {high:.3f}]"
        lines.append(f"{row['model']}\t{row['kind']}\t{shown}\t{row['test_size']}")
    typer.echo("\n".join(lines))
