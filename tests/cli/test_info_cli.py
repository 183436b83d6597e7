"""`crystalgenome info` on a small folder, on a store, and on every shared dataset (first structures)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from crystalgenome.cli.app import app
from crystalgenome.data import TASKS, open_source, task_class_names
from crystalgenome.store import featurize
from crystalgenome.structures import analyse_symmetry
from tests.store.store_fixtures import first_cifs, write_generic_folder


@pytest.fixture(scope="module")
def generic_folder(cgcnn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 real CIFs, a broken CIF, an overlapping-atoms CIF, and labels.csv (see write_generic_folder)."""
    return write_generic_folder(tmp_path_factory.mktemp("generic"), first_cifs(cgcnn_dir, 8))


def invoke(*args: str) -> Result:
    """The command run in this process (no interpreter start-up)."""
    return CliRunner().invoke(app, list(args))


def info(*args: str) -> dict:
    result = invoke("info", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_all_classes_listed(tasks: dict) -> None:
    assert list(tasks) == list(TASKS)
    for task, classes in tasks.items():
        assert list(classes) == list(task_class_names(task))


def crystal_systems(folder: Path, positions: Iterable[int]) -> list[str]:
    """Crystal systems (symprec 0.1 Å) of the structures of ``folder`` at these positions of its id order."""
    source = open_source(folder)
    ids = [source.ids()[position] for position in positions]
    return [analyse_symmetry(record.to_cell(), symprec=0.1).crystal_system for record in source.iter_raw(ids)]


def test_info_on_a_small_folder(generic_folder: Path) -> None:
    data = info(str(generic_folder))
    assert data["kind"] == "source" and data["count"] == 10
    # Only the broken CIF fails the symmetry analysis; the overlapping atoms fail later, in diffraction.
    assert data["source"]["count"] == 10 and data["symmetry_failures"] == 1
    assert_all_classes_listed(data["tasks"])
    tasks = data["tasks"]
    # Gaps 0, 0, 1.2, 0.03 (dropped), NaN, 2.0, 0, 0.5, 0 (broken), 3.0 (overlap): no structure needed.
    assert tasks["metal"] == {"insulator": 4, "metal": 4}
    # k_vrh 120, 40, NaN, 90, 85 (not above 85): high 2, low 2.
    assert tasks["bulk_modulus"] == {"low": 2, "high": 2}
    assert sum(tasks["shear_modulus"].values()) == 0 and sum(tasks["stability"].values()) == 0
    systems = crystal_systems(generic_folder, [*range(8), 9])
    assert tasks["crystal_system"] == {
        name: systems.count(name) for name in task_class_names("crystal_system")
    }
    assert tasks["trigonal_hexagonal"] == {
        "trigonal": systems.count("trigonal"),
        "hexagonal": systems.count("hexagonal"),
    }
    assert data["properties"]["band_gap"] == 9


def test_info_on_a_store(generic_folder: Path, tmp_path: Path) -> None:
    featurize(open_source(generic_folder), tmp_path / "store", shard_size=4, progress=False)
    data = info(str(tmp_path / "store"))
    assert data["kind"] == "store" and data["count"] == 8 and data["skipped"] == 2
    assert data["settings"]["max_miller"] == 3 and data["settings_fingerprint"]
    assert_all_classes_listed(data["tasks"])
    # The two skipped structures (gap 0 and 3.0) are not in the store.
    assert data["tasks"]["metal"] == {"insulator": 3, "metal": 3}
    systems = crystal_systems(generic_folder, range(8))
    assert data["tasks"]["crystal_system"] == {
        name: systems.count(name) for name in task_class_names("crystal_system")
    }
    text = invoke("info", str(tmp_path / "store"))
    assert text.exit_code == 0, text.stderr
    assert "structures counted: 8 (skipped while featurizing: 2)" in text.stdout
    assert "crystal_system" in text.stdout and "metal" in text.stdout and "insulator 3" in text.stdout


def _cgcnn_band_gaps(folder: Path, count: int) -> pd.Series:
    """Band gaps (eV) of the first ``count`` rows of id_prop.csv, read here independently of the importer."""
    props = pd.read_csv(folder / "id_prop.csv", header=None, nrows=count)
    ids = pd.read_csv(folder / "material_id_hash.csv", header=None, dtype=str).set_index(0)[1]
    return pd.Series(props[2].to_numpy(), index=ids.loc[props[0].astype(str)].to_numpy())


@pytest.mark.shared_data
def test_info_mp_cgcnn(cgcnn_dir: Path) -> None:
    data = info(str(cgcnn_dir), "--limit", "150")
    assert data["count"] == 150 and data["source"]["count"] == 32242
    assert_all_classes_listed(data["tasks"])
    gaps = _cgcnn_band_gaps(cgcnn_dir, 150)
    assert data["tasks"]["metal"] == {
        "insulator": int((gaps > 0.05).sum()),
        "metal": int((gaps < 1e-6).sum()),
    }
    assert sum(data["tasks"]["crystal_system"].values()) == 150 - data["symmetry_failures"] > 140
    assert sum(data["tasks"]["bulk_modulus"].values()) == sum(data["tasks"]["stability"].values()) == 0


@pytest.mark.shared_data
def test_info_mp_cgcnn_joined_with_ehull(cgcnn_dir: Path, shared_data: Path) -> None:
    table = shared_data / "mp_ehull_wyatt" / "mp_energy.csv"
    if not table.is_file():
        pytest.skip("mp_ehull_wyatt absent")
    data = info(str(cgcnn_dir), "--labels", str(table), "--limit", "300")
    ids = _cgcnn_band_gaps(cgcnn_dir, 300).index
    hull = pd.read_csv(table).set_index("material_id")["e_above_hull"].reindex(ids).dropna()
    assert len(hull) > 50
    assert data["tasks"]["stability"] == {
        "stable": int((hull <= 0.02).sum()),
        "unstable": int((hull > 0.02).sum()),
    }


@pytest.mark.shared_data
def test_info_mp_elasticity_matcalc(shared_data: Path) -> None:
    path = shared_data / "mp_elasticity_matcalc"
    if not path.is_dir():
        pytest.skip("mp_elasticity_matcalc absent")
    data = info(str(path), "--limit", "100")
    assert data["count"] == 100 and data["source"]["count"] > 3000
    with gzip.open(next(path.glob("*.json.gz")), "rt") as handle:
        records = {record["mp_id"]: record for record in json.load(handle)}
    chosen = [records[material_id] for material_id in open_source(path).ids()[:100]]
    bulk = pd.Series([record["bulk_modulus_vrh"] for record in chosen])
    shear = pd.Series([record["shear_modulus_vrh"] for record in chosen])
    assert data["tasks"]["bulk_modulus"] == {"low": int((bulk <= 85).sum()), "high": int((bulk > 85).sum())}
    assert data["tasks"]["shear_modulus"] == {
        "low": int((shear <= 34).sum()),
        "high": int((shear > 34).sum()),
    }
    assert sum(data["tasks"]["crystal_system"].values()) > 90


@pytest.mark.shared_data
def test_info_mp_elastic_trachote(shared_data: Path) -> None:
    path = shared_data / "mp_elastic_trachote"
    if not path.is_dir():
        pytest.skip("mp_elastic_trachote absent")
    data = info(str(path), "--limit", "80")
    assert data["count"] == 80 and data["source"]["count"] > 1000
    assert_all_classes_listed(data["tasks"])
    assert sum(data["tasks"]["bulk_modulus"].values()) == 80 == sum(data["tasks"]["shear_modulus"].values())
    assert data["tasks"]["bulk_modulus"]["high"] > 0 and data["tasks"]["bulk_modulus"]["low"] > 0
    # Materials Project's own crystal systems (spglib at its tolerance) for the same ids, read here directly.
    columns = json.loads((path / "mp_val_clean.json").read_text())
    by_id = {
        columns["material_id"][key]: columns["spacegroup.crystal_system"][key]
        for key in columns["material_id"]
    }
    mp_systems = pd.Series([by_id[i].lower() for i in open_source(path).ids()[:80]]).value_counts()
    ours = pd.Series(data["tasks"]["crystal_system"])
    assert ours.sum() == 80 - data["symmetry_failures"]
    assert (ours - mp_systems.reindex(ours.index, fill_value=0)).abs().sum() <= 8
