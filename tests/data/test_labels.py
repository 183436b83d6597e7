"""Label rules of the seven tasks and the training filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crystalgenome.data import TASKS, LabelThresholds, task_class_names, task_labels, training_labels
from crystalgenome.data.labels import filter_records
from crystalgenome.structures import CRYSTAL_SYSTEMS


def frame(**columns: list) -> pd.DataFrame:
    length = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.Index([f"m{i}" for i in range(length)], name="material_id"))


def values(series: pd.Series) -> list:
    return [None if pd.isna(v) else int(v) for v in series]


def test_class_names() -> None:
    assert task_class_names("crystal_system") == CRYSTAL_SYSTEMS
    assert task_class_names("crystal_family") == (
        "triclinic",
        "monoclinic",
        "orthorhombic",
        "tetragonal",
        "hexagonal",
        "cubic",
    )
    assert task_class_names("trigonal_hexagonal") == ("trigonal", "hexagonal")
    assert task_class_names("metal")[1] == "metal"
    assert task_class_names("bulk_modulus") == task_class_names("shear_modulus") == ("low", "high")
    assert task_class_names("stability") == ("stable", "unstable")
    assert len(TASKS) == 7
    with pytest.raises(ValueError, match="unknown task"):
        task_class_names("colour")


def test_symmetry_tasks_from_space_group_numbers() -> None:
    # one space group per system boundary, plus unknown and out-of-range numbers
    numbers = [1, 2, 3, 15, 16, 74, 75, 142, 143, 167, 168, 194, 195, 230, None, 0, 231]
    props = frame(band_gap=[0.0] * len(numbers))
    sgn = pd.Series(numbers, index=props.index, dtype="Int64")
    system = task_labels("crystal_system", props, space_group_numbers=sgn)
    assert values(system) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, None, None, None]
    assert str(system.dtype) == "Int64"
    family = task_labels("crystal_family", props, space_group_numbers=sgn)
    assert values(family) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 5, 5, None, None, None]
    trig_hex = task_labels("trigonal_hexagonal", props, space_group_numbers=sgn)
    assert values(trig_hex) == [None] * 8 + [0, 0, 1, 1] + [None] * 5
    # aligned by material id, not by position
    shuffled = sgn.iloc[::-1]
    assert values(task_labels("crystal_system", props, space_group_numbers=shuffled)) == values(system)
    with pytest.raises(ValueError, match="space_group_numbers"):
        task_labels("crystal_system", props)


def test_metal_thresholds_drop_the_gap_between_and_unknown_gaps() -> None:
    props = frame(band_gap=[0.0, 9e-7, 1e-6, 0.03, 0.05, 0.0500001, 3.0, np.nan])
    assert values(task_labels("metal", props)) == [1, 1, None, None, None, 0, 0, None]
    wide = LabelThresholds(metal_gap=0.1, insulator_gap=0.1)
    assert values(task_labels("metal", props, thresholds=wide)) == [1, 1, 1, 1, 1, 1, 0, None]
    with pytest.raises(ValueError):
        LabelThresholds(metal_gap=1.0, insulator_gap=0.5)


def test_metal_requires_a_band_structure_when_the_source_says() -> None:
    props = frame(band_gap=[0.0, 2.0, 2.0], has_bandstructure=[True, False, "True"])
    assert values(task_labels("metal", props)) == [1, None, 0]


def test_moduli_and_stability_thresholds() -> None:
    props = frame(k_vrh=[85.0, 85.1, np.nan], g_vrh=[34.0, 40.0, 1.0], e_above_hull=[0.0, 0.02, 0.021])
    assert values(task_labels("bulk_modulus", props)) == [0, 1, None]
    assert values(task_labels("shear_modulus", props)) == [0, 1, 0]
    assert values(task_labels("stability", props)) == [0, 0, 1]
    preprint = LabelThresholds(bulk_modulus=99.999, stability=0.01)
    assert values(task_labels("stability", props, thresholds=preprint)) == [0, 1, 1]
    assert values(task_labels("bulk_modulus", frame(band_gap=[1.0]))) == [None]  # column absent


def test_filters_warnings_deprecation_and_disorder() -> None:
    props = frame(
        band_gap=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        warnings=["", "large volume change", np.nan, "", "", ""],
        deprecated=[False, False, "True", False, False, False],
    )
    symmetry = pd.DataFrame(
        {
            "space_group_number": pd.array([225, 225, 225, 225, None, 1], dtype="Int64"),
            "is_ordered": [True, True, True, False, True, True],
            "error": ["", "", "", "", "symmetry analysis failed", ""],
        },
        index=props.index,
    )
    assert list(filter_records(props)) == ["m0", "m3", "m4", "m5"]
    assert list(filter_records(props, symmetry=symmetry)) == ["m0", "m5"]
    assert list(
        filter_records(props, symmetry=symmetry, drop_warned=False, drop_deprecated=False, ordered_only=False)
    ) == list(props.index)
    labels = training_labels("crystal_system", props, symmetry=symmetry)
    assert values(labels) == [6, None, None, None, None, 0]
