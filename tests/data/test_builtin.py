"""The built-in dataset: only installed-package structures, honest labels, deterministic, cached."""

from __future__ import annotations

import numpy as np
import pytest

from crystalgenome.data import PROPERTY_COLUMNS, builtin_source, symmetry_table, task_labels
from crystalgenome.data.sources import builtin
from crystalgenome.structures import CRYSTAL_SYSTEMS, crystal_system_from_number


@pytest.fixture(scope="module")
def small_builtin():
    return builtin_source(seed=7, per_system=2, workers=1)


def test_contents_and_honest_labels(small_builtin) -> None:
    labels = small_builtin.labels()
    summary = builtin.builtin_summary(small_builtin)
    assert summary["structures"] == len(labels) == len(small_builtin.ids())
    assert set(labels["origin"]) == {"pymatgen", "pyxtal-db", "ase-minerals", "ase-bulk", "pyxtal-random"}
    assert sum(sum(v.values()) for v in summary["counts"].values()) == len(labels)
    assert labels[list(PROPERTY_COLUMNS)].isna().all().all()  # no band gaps, energies or moduli
    for task in ("metal", "bulk_modulus", "shear_modulus", "stability"):
        assert task_labels(task, labels).isna().all()
    # the stored crystal system is what symmetry analysis of the stored structure gives
    table = symmetry_table(small_builtin, progress=False)
    assert (table["error"] == "").all()
    assert table["space_group_number"].tolist() == labels["space_group_number"].tolist()
    assert labels["crystal_system"].tolist() == [
        crystal_system_from_number(int(n)) for n in table["space_group_number"]
    ]
    assert (labels["num_sites"] <= builtin.MAX_SITES).all()
    random = labels[labels["origin"] == "pyxtal-random"]
    targets = {crystal_system_from_number(int(n)) for n in random["target_space_group"]}
    assert targets == set(CRYSTAL_SYSTEMS)  # random crystals asked for in every crystal system
    assert builtin_source(seed=7, per_system=2, workers=1).fingerprint() == small_builtin.fingerprint()


def test_random_crystals_are_deterministic_and_the_speed_up_changes_nothing() -> None:
    first = builtin.random_entries(seed=3, per_system=1)
    again = builtin.random_entries(seed=3, per_system=1)
    other = builtin.random_entries(seed=4, per_system=1)
    assert [e.structure for e in first] == [e.structure for e in again]
    assert [e.structure for e in first] != [e.structure for e in other]
    tasks = [builtin._random_task(i, i % 7, 3) for i in range(4)]
    shared = [builtin.random_crystal(t) for t in tasks]
    plain = [builtin.random_crystal(t, fast=False) for t in tasks]  # pyxtal called plainly
    assert shared == plain
    lattice = np.array(shared[0][2]["lattice"]["matrix"])
    assert abs(np.linalg.det(lattice)) > 1
