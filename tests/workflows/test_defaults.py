"""The settings `crystalgenome train` uses when no option is given."""

from __future__ import annotations

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
