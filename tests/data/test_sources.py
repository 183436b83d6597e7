"""Every importer on tiny hand-made datasets and on the real shared data (skipped when absent)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crystalgenome.data import (
    PROPERTY_COLUMNS,
    CgcnnSource,
    ColumnsJsonSource,
    FolderSource,
    JsonRecordsSource,
    detect_format,
    open_source,
)
from crystalgenome.errors import StructureError
from tests.data.helpers import cif_text, make_cgcnn_folder, make_generic_folder, structures


def check_contract(source, expected_ids: list[str]) -> None:
    """What every source promises: ids, aligned labels, ordered streaming, KeyError on unknown ids."""
    assert source.ids() == expected_ids
    assert len(source) == len(expected_ids)
    labels = source.labels()
    assert labels.index.name == "material_id"
    assert list(labels.index) == expected_ids
    assert list(labels.columns[: len(PROPERTY_COLUMNS)]) == list(PROPERTY_COLUMNS)
    assert all(labels[c].dtype == float for c in PROPERTY_COLUMNS)
    wanted = list(reversed(expected_ids))
    records = list(source.iter_raw(wanted))
    assert [r.material_id for r in records] == wanted
    assert all(r.to_cell().num_sites > 0 for r in records)
    with pytest.raises(KeyError):
        list(source.iter_raw(["no-such-id"]))
    assert len(source.fingerprint()) == 16


# ---------------------------------------------------------------- CGCNN


@pytest.mark.parametrize("packed", [True, False])
def test_cgcnn_folder_with_mp_ids(tmp_path: Path, packed: bool) -> None:
    texts = make_cgcnn_folder(tmp_path / "d", packed=packed, with_hash=True, columns=5)
    source = open_source(tmp_path / "d")
    assert isinstance(source, CgcnnSource)
    check_contract(source, ["mp-22862", "mp-149", "mp-22865"])
    labels = source.labels()
    # MT-CGCNN layout: c1 formation energy, c2 band gap, c3 efermi, c4 volume, c5 magnetisation
    assert labels.loc["mp-149", "formation_energy_per_atom"] == 1.0
    assert labels.loc["mp-149", "band_gap"] == 1.5
    assert labels.loc["mp-149", "total_magnetization"] == 3.0
    assert labels.loc["mp-149", "cgcnn_index"] == "1"
    assert labels["e_above_hull"].isna().all()
    record = next(source.iter_raw(["mp-149"]))
    assert record.payload == texts["1"] and record.fmt == "cif"


def test_generic_cgcnn_folder_keeps_target_and_reports_missing_cif(tmp_path: Path) -> None:
    make_cgcnn_folder(tmp_path, packed=True, with_hash=False, columns=1)
    with (tmp_path / "id_prop.csv").open("a") as handle:
        handle.write("7,0.25\n")  # listed, but no 7.cif in the archive
    source = CgcnnSource(tmp_path)
    assert source.ids() == ["0", "1", "2", "7"]
    labels = source.labels()
    assert "target" in labels.columns and labels.loc["7", "target"] == 0.25
    assert labels["band_gap"].isna().all()
    missing = next(source.iter_raw(["7"]))
    with pytest.raises(StructureError, match=r"7: no CIF file 7\.cif in cifs\.tar\.gz"):
        missing.to_cell()


@pytest.mark.shared_data
def test_real_cgcnn_folder(cgcnn_dir: Path) -> None:
    source = open_source(cgcnn_dir)
    ids = source.ids()
    assert len(ids) == 32242 and ids[:2] == ["mp-1", "mp-1000"]
    labels = source.labels()
    assert labels.loc["mp-1", "formation_energy_per_atom"] == pytest.approx(0.0387696, abs=1e-6)
    assert labels.loc["mp-1000", "band_gap"] == pytest.approx(1.593)
    assert labels["band_gap"].notna().all() and labels["k_vrh"].isna().all()
    wanted = [ids[30000], ids[5], ids[17000]]  # out of archive order: the stream restarts as needed
    records = list(source.iter_raw(wanted))
    assert [r.material_id for r in records] == wanted
    cell = records[1].to_cell()
    assert abs(cell.volume) == pytest.approx(
        labels.loc[wanted[1], "volume"], rel=1e-6
    )  # c4 = CIF cell volume


# ---------------------------------------------------------------- generic folder


def test_generic_folder_with_labels(tmp_path: Path) -> None:
    make_generic_folder(
        tmp_path,
        labels="id,band_gap,k_vrh,note\nsi,0.6,,a\nghost,1.0,2.0,b\nnacl,5.0,24.0,\n",
    )
    source = open_source(tmp_path)
    assert isinstance(source, FolderSource)
    check_contract(source, ["si", "nacl", "cscl"])  # labels.csv order, then unlabelled files
    labels = source.labels()
    assert labels.loc["si", "band_gap"] == 0.6 and np.isnan(labels.loc["si", "k_vrh"])
    assert labels.loc["nacl", "k_vrh"] == 24.0
    assert labels.loc["si", "note"] == "a" and pd.isna(labels.loc["nacl", "note"])  # empty cell = unknown
    assert labels.loc["cscl"].isna().all()
    formats = {r.material_id: r.fmt for r in source.iter_raw()}
    assert formats == {"si": "json", "nacl": "cif", "cscl": "poscar"}


def test_folder_without_labels_and_fingerprint_changes(tmp_path: Path) -> None:
    make_generic_folder(tmp_path, labels=None)
    source = FolderSource(tmp_path)
    check_contract(source, ["cscl", "nacl", "si"])
    assert source.labels()[list(PROPERTY_COLUMNS)].isna().all().all()
    before = source.fingerprint()
    (tmp_path / "nacl.cif").write_text(cif_text(structures()["nacl"]) + "\n")
    os.utime(tmp_path / "nacl.cif", ns=(1, 1))
    assert FolderSource(tmp_path).fingerprint() != before


def test_labels_file_must_start_with_id(tmp_path: Path) -> None:
    make_generic_folder(tmp_path, labels="name,band_gap\nsi,1\n")
    with pytest.raises(ValueError, match="first column must be 'id'"):
        FolderSource(tmp_path).labels()


# ---------------------------------------------------------------- JSON layouts


def test_json_records_and_matbench(tmp_path: Path) -> None:
    crystals = structures()
    records = [
        {
            "mp_id": "mp-22862",
            "formula": "NaCl",
            "structure": crystals["nacl"].as_dict(),
            "bulk_modulus_vrh": 24.5,
            "shear_modulus_vrh": "14.2",
        },
        {
            "mp_id": "mp-149",
            "formula": "Si",
            "structure": json.dumps(crystals["si"].as_dict()),
            "bulk_modulus_vrh": 88.0,
            "shear_modulus_vrh": None,
        },
    ]
    path = tmp_path / "elastic.json.gz"
    path.write_bytes(gzip.compress(json.dumps(records).encode()))
    source = open_source(path)
    assert isinstance(source, JsonRecordsSource) and source.name == "elastic"
    check_contract(source, ["mp-22862", "mp-149"])
    labels = source.labels()
    assert labels["k_vrh"].tolist() == [24.5, 88.0]
    assert labels.loc["mp-22862", "g_vrh"] == 14.2 and np.isnan(labels.loc["mp-149", "g_vrh"])
    assert [r.fmt for r in source.iter_raw()] == ["dict", "json"]

    matbench = {
        "index": ["mb-1", "mb-2"],
        "columns": ["structure", "log10(K_VRH)"],
        "data": [[crystals["cscl"].as_dict(), 1.0], [crystals["si"].as_dict(), 2.0]],
    }
    (tmp_path / "mb").mkdir()
    (tmp_path / "mb" / "matbench_log_kvrh.json").write_text(json.dumps(matbench))
    assert detect_format(tmp_path / "mb")[0] == "json-matbench"
    source = open_source(tmp_path / "mb")
    assert source.name == "mb"
    check_contract(source, ["mb-1", "mb-2"])
    assert source.labels()["k_vrh"].tolist() == pytest.approx([10.0, 100.0])


def test_column_json_computes_moduli_from_tensors(tmp_path: Path) -> None:
    crystals = structures()
    cubic = np.array(
        [
            [166, 64, 64, 0, 0, 0],
            [64, 166, 64, 0, 0, 0],
            [64, 64, 166, 0, 0, 0],
            [0, 0, 0, 80, 0, 0],
            [0, 0, 0, 0, 80, 0],
            [0, 0, 0, 0, 0, 80],
        ],
        dtype=float,
    )
    table = {
        "material_id": {"a": "mp-149", "b": "mp-22862"},
        "cif": {"a": cif_text(crystals["si"]), "b": cif_text(crystals["nacl"])},
        "spacegroup.crystal_system": {"a": "cubic", "b": "cubic"},
        "elasticity.elastic_tensor": {"a": cubic.tolist(), "b": None},
    }
    path = tmp_path / "tensors.json"
    path.write_text(json.dumps(table))
    source = open_source(path)
    assert isinstance(source, ColumnsJsonSource)
    check_contract(source, ["mp-149", "mp-22862"])
    labels = source.labels()
    k = (166 + 2 * 64) / 3
    g_v = (166 - 64 + 3 * 80) / 5
    g_r = 5 * (166 - 64) * 80 / (4 * 80 + 3 * (166 - 64))
    assert labels.loc["mp-149", "k_vrh"] == pytest.approx(k)
    assert labels.loc["mp-149", "g_vrh"] == pytest.approx((g_v + g_r) / 2)
    assert np.isnan(labels.loc["mp-22862", "k_vrh"])
    assert labels["mp_crystal_system"].tolist() == ["cubic", "cubic"]


def test_detection_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no structures found"):
        open_source(tmp_path / "empty")
    single = tmp_path / "one.json"
    single.write_text(json.dumps(structures()["si"].as_dict()))
    with pytest.raises(ValueError, match="single structure"):
        open_source(single)
    mixed = tmp_path / "mixed"
    make_generic_folder(mixed, labels=None)
    (mixed / "dataset.json").write_text(
        json.dumps([{"material_id": "x", "structure": structures()["si"].as_dict()}])
    )
    with pytest.raises(ValueError, match="open one file"):
        open_source(mixed)
    assert detect_format(mixed / "dataset.json") == ("json-records", mixed / "dataset.json")


# ---------------------------------------------------------------- real JSON datasets


@pytest.mark.shared_data
def test_real_matcalc(shared_data: Path) -> None:
    folder = shared_data / "mp_elasticity_matcalc"
    if not folder.is_dir():
        pytest.skip("mp_elasticity_matcalc absent")
    source = open_source(folder)
    assert source.name == "mp_elasticity_matcalc"
    labels = source.labels()
    assert len(labels) == len(source.ids()) > 3000
    assert labels["k_vrh"].notna().all() and labels["g_vrh"].notna().all()
    assert (labels["k_vrh"] < 500).all()  # the file excludes K > 500 GPa (SOURCE.md)
    record = next(source.iter_raw())
    assert record.fmt == "dict" and record.to_cell().num_sites > 0


@pytest.mark.shared_data
def test_real_trachote_moduli_match_the_stored_voigt_values(shared_data: Path) -> None:
    folder = shared_data / "mp_elastic_trachote"
    if not folder.is_dir():
        pytest.skip("mp_elastic_trachote absent")
    source = open_source(folder)
    labels = source.labels()
    assert len(labels) > 1000
    # Voigt bounds from the tensor agree with MP's stored (integer) K_Voigt / G_Voigt
    assert (labels["k_voigt"] - labels["elasticity.K_Voigt"]).abs().max() <= 1.0
    assert (labels["g_voigt"] - labels["elasticity.G_Voigt"]).abs().max() <= 1.0
    known = labels["k_vrh"].notna()
    assert known.mean() > 0.99
    stable = known & labels["elastic_positive_definite"].astype(bool)
    assert stable.sum() > 0.9 * known.sum()  # ~7% of these MP tensors are not positive definite
    for k in ("k", "g"):  # Reuss <= Voigt holds for positive-definite (mechanically stable) tensors
        assert (labels.loc[stable, f"{k}_reuss"] <= labels.loc[stable, f"{k}_voigt"] + 1e-6).all()
    assert set(labels["mp_crystal_system"]) <= {
        "triclinic",
        "monoclinic",
        "orthorhombic",
        "tetragonal",
        "trigonal",
        "hexagonal",
        "cubic",
    }
    assert isinstance(labels, pd.DataFrame)
