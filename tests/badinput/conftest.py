"""Fixtures of the bad-input corpus: the corpus folder, and a tiny trained run for ``predict``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.badinput.corpus import BadFile, write_structure_corpus
from tests.conftest import bundled_structures

ODD_NAMES = ("tab\tname.cif", "new\nline.cif")
"""Good files whose names hold a tab or a newline (they must not break one-line output)."""


@dataclass(frozen=True)
class Corpus:
    """The corpus folder: good files (processed by every command) and the bad kinds."""

    folder: Path
    good: list[Path]
    bad: list[BadFile]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("badinput") / "corpus"
    good, bad = write_structure_corpus(folder)
    text = good[0].read_text(encoding="utf-8")
    for name in ODD_NAMES:
        (folder / name).write_text(text, encoding="utf-8")
        good.append(folder / name)
    return Corpus(folder=folder, good=good, bad=bad)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pymatgen's 21 example structures as CIFs in a generic folder."""
    from pymatgen.io.cif import CifWriter

    data = tmp_path_factory.mktemp("tiny_data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, structure in bundled_structures().items():
            (data / f"{name}.cif").write_text(str(CifWriter(structure)))
    return data


@pytest.fixture(scope="session")
def tiny_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crystal-system run trained for one epoch on pymatgen's example structures (a few seconds)."""
    from crystalgenome.diffraction import DiffractionSettings
    from crystalgenome.training import TrainConfig
    from crystalgenome.workflows.tasks import train_task

    data = tiny_data
    out = tmp_path_factory.mktemp("tiny_run") / "run"
    config = TrainConfig(
        epochs=1, seed=0, augment=(), test_time_rotations=0, val_rotations=0, num_threads=1, batch_size=8
    )
    train_task(
        [data], "crystal_system", out, train_config=config, model_config="lattice",
        settings=DiffractionSettings(max_miller=2), workers=1, progress=False, evaluate_test=False,
    )  # fmt: skip
    return out
