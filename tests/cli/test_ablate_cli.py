"""``crystalgenome ablate``: options and errors that need no training (the study itself: tests/ablation)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crystalgenome.cli.app import app


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["ablate", "--help"])
    assert result.exit_code == 0
    for option in ("--data", "--task", "--out", "--perturbations", "--seeds", "--epochs", "--limit",
                   "--ray-address", "--workers", "--model"):  # fmt: skip
        assert option in result.output
    assert "ablate" in CliRunner().invoke(app, ["--help"]).output


def test_unknown_perturbation_is_one_error_line(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = CliRunner().invoke(
        app,
        [
            "ablate",
            "--data",
            str(tmp_path),
            "--task",
            "metal",
            "--out",
            str(out),
            "--perturbations",
            "baseline,nope",
        ],
    )
    assert result.exit_code == 1
    assert "unknown perturbation 'nope'" in result.output
    assert not out.exists()


def test_bad_parameter_and_task_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "study"
    bad_dropout = [
        "ablate",
        "--data",
        str(tmp_path),
        "--task",
        "metal",
        "--out",
        str(out),
        "--perturbations",
        "dropout_1.5",
    ]
    result = CliRunner().invoke(app, bad_dropout)
    assert result.exit_code == 1
    assert "dropout fraction must be in [0, 1)" in result.output
    result = CliRunner().invoke(
        app, ["ablate", "--data", str(tmp_path), "--task", "colour", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "colour" in result.output
    assert not out.exists()
