"""``crystalgenome ablate``: input-ablation study, one model per (perturbation, seed), in parallel on Ray."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer

from crystalgenome.cli.common import reports_errors

TASK_HELP = (
    "metal, bulk_modulus, shear_modulus, stability, crystal_system, crystal_family, trigonal_hexagonal"
)


def ablate(
    data: list[Path] = typer.Option(..., "--data", help="Dataset or feature store; repeat to join several."),
    task: str = typer.Option(..., "--task", help=TASK_HELP),
    out: Path = typer.Option(
        ..., "--out", help="Study folder (re-running finishes it; finished runs are skipped)."
    ),
    perturbations: str = typer.Option(
        "all", "--perturbations", help="'all' or a comma-separated list (baseline is always added)."
    ),
    seeds: int = typer.Option(3, "--seeds", min=1, help="Seeds 0..K-1 of every perturbation."),
    epochs: int = typer.Option(15, "--epochs", min=1, help="Training epochs of every run."),
    limit: int | None = typer.Option(
        None, "--limit", min=10, help="A seeded random subset of N labelled structures (default: all)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the subset and of the one random 70/15/15 split."),
    model: str = typer.Option("default", "--model", help="PointNet: default, authors or a ModelConfig JSON."),
    batch_size: int = typer.Option(64, "--batch-size", min=2),
    test_time_rotations: int = typer.Option(
        8, "--test-time-rotations", min=0, help="Rotations averaged at test time."
    ),
    val_rotations: int = typer.Option(
        4, "--val-rotations", min=0, help="Rotations averaged for model selection."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Existing Ray cluster ('auto', 'ray://host:10001'); default: a local Ray."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="CPUs of the local Ray = runs in parallel."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
) -> None:
    """Train and evaluate one model per (perturbation, seed) on one split; write results.csv and report.md.

    Perturbations of the input ('all', in this order): baseline, intensity_scaled, intensity_binary,
    no_intensity, miller_1, miller_2, lattice_4, lattice_3, rotation_0, rotation_30, rotation_180, neutron,
    chemistry_free, positional_noise_0.05, positional_noise_0.1, dropout_0.1, dropout_0.3, fc_hkl,
    fc_hkl_permuted; the families miller_N, rotation_DEG, positional_noise_SIGMA and
    dropout_FRACTION take other values too. A failed run is reported in results.csv and
    report.md and does not stop the others; the exit status is 1 when some run failed.
    """
    _ablate(dict(locals()))


OPTION_ORDER = (
    "task", "out", "perturbations", "seeds", "epochs", "limit", "seed", "model", "batch_size",
    "test_time_rotations", "val_rotations", "workers", "ray_address",
)  # fmt: skip


def command_line(options: dict[str, Any]) -> str:
    """The ``crystalgenome ablate`` command with every option spelled out (recorded in the report)."""
    words = ["crystalgenome", "ablate"]
    for path in options["data"]:
        words += ["--data", str(path)]
    for name in OPTION_ORDER:
        if options[name] is not None:
            words += ["--" + name.replace("_", "-"), str(options[name])]
    return " ".join(shlex.quote(word) for word in words)


@reports_errors
def _ablate(options: dict[str, Any]) -> None:
    from crystalgenome.ablation import StudySpec, run_study

    fields = (
        "task",
        "epochs",
        "limit",
        "seed",
        "model",
        "batch_size",
        "test_time_rotations",
        "val_rotations",
    )
    spec = StudySpec(
        data=tuple(str(path) for path in options["data"]), **{name: options[name] for name in fields}
    )
    outcome = run_study(
        spec, options["out"], perturbations=options["perturbations"], seeds=options["seeds"],
        workers=options["workers"], ray_address=options["ray_address"], progress=options["progress"],
        command=command_line(options),
    )  # fmt: skip
    typer.echo(
        f"{len(outcome.ran)} runs executed, {len(outcome.skipped)} already finished, "
        f"{len(outcome.failed)} failed; report: {outcome.report}"
    )
    if outcome.failed:
        names = ", ".join(f"{name} (seed {seed})" for name, seed in outcome.failed)
        typer.echo(f"failed runs: {names}", err=True)
        raise typer.Exit(1)
