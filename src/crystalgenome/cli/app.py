"""The ``crystalgenome`` command. Each sub-command lives in its own module of this package.

Heavy libraries are imported inside the command functions, so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

from crystalgenome import __version__

app = typer.Typer(
    name="crystalgenome",
    help="Learn materials properties from the 3D diffraction patterns of crystal structures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"crystalgenome {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Learn materials properties from the 3D diffraction patterns of crystal structures."""


def _register() -> None:
    from crystalgenome.cli import diffract_cmd

    app.command("diffract")(diffract_cmd.diffract)
    from crystalgenome.cli import featurize_cmd, info_cmd

    app.command("featurize")(featurize_cmd.featurize)
    app.command("info")(info_cmd.info)
    from crystalgenome.cli import train_cmd

    app.command("train")(train_cmd.train)
    app.command("evaluate")(train_cmd.evaluate)
    app.command("predict")(train_cmd.predict)
    app.command("models")(train_cmd.models)
    from crystalgenome.cli import boosted_cmd

    app.command("baseline")(boosted_cmd.baseline)
    from crystalgenome.cli import demo_cmd

    app.command("demo")(demo_cmd.demo)
    from crystalgenome.cli import ablate_cmd

    app.command("ablate")(ablate_cmd.ablate)
    from crystalgenome.cli import download_cmd

    app.command("download-mp")(download_cmd.download_mp)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
