"""Symmetry and formula tables: correct, parallel = serial, cached by fingerprint and settings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crystalgenome.data import FolderSource, open_source, symmetry_table, task_labels
from crystalgenome.data import symmetry as symmetry_module
from crystalgenome.data.sources import join_labels
from crystalgenome.data.symmetry import reduced_formulas
from tests.data.helpers import cif_text, make_generic_folder, structures


@pytest.fixture
def folder(tmp_path: Path) -> FolderSource:
    make_generic_folder(tmp_path, labels=None)
    (tmp_path / "broken.cif").write_text("data_broken\n_cell_length_a 1\n")
    half = structures()["nacl"].copy()
    half.replace(0, {"Na": 0.5})  # one of the four Na sites half occupied
    (tmp_path / "halfna.cif").write_text(cif_text(half))
    return FolderSource(tmp_path)


def test_symmetry_table_values_and_errors(folder: FolderSource) -> None:
    table = symmetry_table(folder, progress=False)
    assert list(table.index) == folder.ids() == ["broken", "cscl", "halfna", "nacl", "si"]
    assert list(table.columns) == ["space_group_number", "crystal_system", "is_ordered", "error"]
    assert table.loc["nacl", "space_group_number"] == 225 and table.loc["nacl", "crystal_system"] == "cubic"
    assert table.loc["si", "space_group_number"] == 227
    assert table.loc["cscl", "space_group_number"] == 221
    assert table.loc["nacl", "is_ordered"] and not table.loc["halfna", "is_ordered"]
    assert pd.isna(table.loc["broken", "space_group_number"]) and "broken" not in table.loc["broken", "error"]
    assert table.loc["broken", "error"] != "" and table.loc["nacl", "error"] == ""
    assert str(table["space_group_number"].dtype) == "Int64"
    labels = task_labels("crystal_system", folder.labels(), space_group_numbers=table["space_group_number"])
    assert labels.isna().tolist() == [True, False, False, False, False]


def test_symmetry_table_is_cached_and_parallel_equals_serial(folder: FolderSource, monkeypatch) -> None:
    serial = symmetry_table(folder, symprec=0.01, progress=False)
    parallel = symmetry_table(folder, symprec=0.02, workers=2, progress=False)
    pd.testing.assert_frame_equal(serial, parallel)

    def no_recompute(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(symmetry_module, "map_records", no_recompute)
    pd.testing.assert_frame_equal(symmetry_table(folder, symprec=0.01, progress=False), serial)
    joined = join_labels(folder, pd.DataFrame({"material_id": ["si"], "k_vrh": [98.0]}))
    pd.testing.assert_frame_equal(
        symmetry_table(joined, symprec=0.01, progress=False), serial
    )  # same structures
    with pytest.raises(AssertionError, match="cache"):
        symmetry_table(folder, symprec=0.01, backend="spglib", progress=False)  # other settings: recomputed


def test_reduced_formulas(folder: FolderSource) -> None:
    formulas = reduced_formulas(folder, progress=False)
    assert formulas.to_dict() == {
        "broken": "",
        "cscl": "CsCl",
        "halfna": "Na3.5Cl4",
        "nacl": "NaCl",
        "si": "Si",
    }


@pytest.mark.shared_data
def test_real_cgcnn_subset_symmetry_matches_spglib(cgcnn_dir: Path, tmp_path: Path) -> None:
    """moyopy (default) and spglib agree on a few hundred real structures."""
    source = open_source(cgcnn_dir)
    subset = source.ids()[::150]
    folder = tmp_path / "subset"
    folder.mkdir()
    for record in source.iter_raw(subset):
        (folder / f"{record.material_id}.cif").write_text(record.payload)
    small = FolderSource(folder)
    moyo = symmetry_table(small, progress=False)
    spg = symmetry_table(small, backend="spglib", progress=False)
    assert (moyo["error"] == "").all()
    agreement = (moyo["space_group_number"] == spg["space_group_number"]).mean()
    assert agreement > 0.97
    assert moyo["crystal_system"].nunique() == 7
