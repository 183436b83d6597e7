"""The settings `crystalgenome train` uses when no option is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crystalgenome.data import TASKS
from crystalgenome.model import ModelConfig
from crystalgenome.workflows import SYMMETRY_TASKS, default_cell, default_model


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_a_packaged_rotation_invariant_default(task: str) -> None:
    config = ModelConfig.packaged(default_model(task))
    assert config.needs_hkl
    assert config.cell_contrasts == config.mirror_contrast == (task in SYMMETRY_TASKS)
    assert default_cell(task) == ("conventional" if task in SYMMETRY_TASKS else "primitive")


def test_unknown_task_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown task 'band_gap'"):
        default_model("band_gap")
    with pytest.raises(ValueError, match="unknown task"):
        default_cell("band_gap")


class _StopError(Exception):
    """Raised by the stand-in for ``train``: the test needs what it was given, not a trained model."""


def _record_train_call(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    from crystalgenome.workflows import tasks

    calls: list[dict] = []

    def fake_train(
        *args: object, config: object, model_config: object, out_dir: Path, **kwargs: object
    ) -> None:
        dataset = json.loads((Path(out_dir) / "dataset.json").read_text(encoding="utf-8"))
        calls.append(
            {"train_config": config, "model_config": model_config, "diffraction": dataset["diffraction"]}
        )
        raise _StopError

    monkeypatch.setattr(tasks, "train", fake_train)
    return calls


@pytest.mark.parametrize("task", ["crystal_system", "metal"])
def test_train_task_resolves_the_same_config_as_the_cli(
    task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train_task(data, task, out)`` from Python trains exactly what ``crystalgenome train --task``
    does: same train config, model config and diffraction settings."""
    from typer.testing import CliRunner

    from crystalgenome.cli.app import app
    from crystalgenome.workflows import task_defaults, train_task

    data = _tiny_data(tmp_path / "data", with_band_gap=task == "metal")
    calls = _record_train_call(monkeypatch)
    with pytest.raises(_StopError):
        train_task(data, task, tmp_path / "python", workers=1, progress=False)
    args = ["train", "--data", str(data), "--task", task, "--out", str(tmp_path / "cli"), "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert isinstance(result.exception, _StopError), result.output
    python_call, cli_call = calls
    assert python_call == cli_call
    defaults = task_defaults(task)
    assert python_call["diffraction"]["cell"] == defaults.cell == default_cell(task)
    assert python_call["model_config"] == ModelConfig.packaged(default_model(task))
    assert python_call["train_config"] == defaults.train_config()


def _tiny_data(folder: Path, *, with_band_gap: bool) -> Path:
    """pymatgen's example structures as CIFs (with a band-gap label table for the metal task)."""
    import warnings

    from pymatgen.io.cif import CifWriter

    from tests.conftest import bundled_structures

    folder.mkdir(parents=True)
    names = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, structure in bundled_structures().items():
            (folder / f"{name}.cif").write_text(str(CifWriter(structure)))
            names.append(name)
    if with_band_gap:
        rows = "\n".join(f"{name},{index % 3 * 0.7}" for index, name in enumerate(names))
        (folder / "labels.csv").write_text("id,band_gap\n" + rows + "\n")
    return folder
