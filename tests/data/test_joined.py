"""Joining a label table onto a source by material id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crystalgenome.data import FolderSource, open_source
from crystalgenome.data.sources import join_labels
from tests.data.helpers import make_generic_folder


@pytest.fixture
def source(tmp_path: Path) -> FolderSource:
    make_generic_folder(tmp_path / "d", labels="id,band_gap,e_above_hull\nsi,0.6,\nnacl,5.0,0.0\n")
    return FolderSource(tmp_path / "d")


def test_source_values_win_unless_asked(source: FolderSource, tmp_path: Path) -> None:
    table = tmp_path / "energy.csv"
    table.write_text(
        "cif,material_id,energy_above_hull,formation_energy_per_atom\n"
        "si.cif,si,0.1,-0.2\nnacl.cif,nacl,0.3,-2.1\nx.cif,unknown,9,9\n"
    )
    joined = join_labels(source, table)
    assert joined.ids() == source.ids() and joined.matched == 2
    labels = joined.labels()
    assert labels.loc["si", "e_above_hull"] == 0.1  # unknown in the source: filled from the table
    assert labels.loc["nacl", "e_above_hull"] == 0.0  # known in the source: kept
    assert labels.loc["nacl", "formation_energy_per_atom"] == -2.1  # new column
    assert np.isnan(labels.loc["cscl", "formation_energy_per_atom"])
    assert labels.loc["si", "cif"] == "si.cif"  # other columns come along
    table_wins = join_labels(source, table, prefer="table", columns=["energy_above_hull"])
    assert table_wins.labels().loc["nacl", "e_above_hull"] == 0.3
    assert "cif" not in table_wins.labels().columns
    assert joined.fingerprint() != table_wins.fingerprint() != source.fingerprint()
    assert [r.material_id for r in joined.iter_raw(["nacl"])] == ["nacl"]


def test_join_dataframe_and_open_source_option(source: FolderSource, tmp_path: Path) -> None:
    frame = pd.DataFrame({"mp": ["si"], "K_VRH": [97.0]})
    labels = join_labels(source, frame, id_column="mp").labels()
    assert labels.loc["si", "k_vrh"] == 97.0
    with pytest.raises(ValueError, match="no 'material_id' column"):
        join_labels(source, frame)
    csv = tmp_path / "extra.csv"
    frame.rename(columns={"mp": "material_id"}).to_csv(csv, index=False)
    opened = open_source(source.path, labels=csv)
    assert opened.labels().loc["si", "k_vrh"] == 97.0


@pytest.mark.shared_data
def test_stability_labels_for_cgcnn_from_wyatt(cgcnn_dir: Path, shared_data: Path) -> None:
    table = shared_data / "mp_ehull_wyatt" / "mp_energy.csv"
    if not table.is_file():
        pytest.skip("mp_ehull_wyatt absent")
    joined = open_source(cgcnn_dir, labels=table)
    labels = joined.labels()
    assert joined.matched == labels["e_above_hull"].notna().sum() == 19277  # as SOURCE.md counts
    # the structures' own (older) formation energies are kept
    assert labels.loc["mp-1", "formation_energy_per_atom"] == pytest.approx(0.0387696, abs=1e-6)
