"""``crystalgenome demo``: the README's main job on the built-in data."""

from __future__ import annotations

from pathlib import Path

import typer

from crystalgenome.cli.common import reports_errors


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for the run, figures and report.md."),
    epochs: int = typer.Option(25, "--epochs", help="Training epochs."),
    seed: int = typer.Option(0, "--seed"),
    model: str = typer.Option(
        "lattice_symmetry",
        "--model",
        help="Packaged model: lattice_symmetry, lattice (exactly rotation invariant), default or authors.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Build the built-in dataset, featurize, train a crystal-system model, evaluate, write a report."""
    _demo(out, epochs, seed, model, progress)


@reports_errors
def _demo(out: Path, epochs: int, seed: int, model: str, progress: bool) -> None:
    from crystalgenome.workflows.demo import run_demo

    report = run_demo(out, epochs=epochs, seed=seed, model=model, progress=progress)
    typer.echo(f"demo finished: report at {report.resolve()}")
