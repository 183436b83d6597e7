"""RawRecord: every payload format parses to the same cell; failures name the material."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from crystalgenome.data import RawRecord
from crystalgenome.errors import StructureError
from crystalgenome.structures import Cell
from tests.data.helpers import cif_text, structures


def test_formats_agree() -> None:
    from pymatgen.io.vasp import Poscar

    nacl = structures()["nacl"]
    expected = Cell.from_structure(nacl)
    records = [
        RawRecord("a", cif_text(nacl), "cif"),
        RawRecord("b", nacl.as_dict(), "dict"),
        RawRecord("c", json.dumps(nacl.as_dict()), "json"),
        RawRecord("d", Poscar(nacl).get_str(), "poscar"),
    ]
    for record in records:
        cell = pickle.loads(pickle.dumps(record)).to_cell()
        assert cell.num_sites == 8
        assert np.allclose(np.abs(cell.volume), np.abs(expected.volume))
        assert sorted(c for comp in cell.compositions for c in comp) == ["Cl", "Na"]
        assert len(record.to_structure()) == 8


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (RawRecord("mp-1", "", "cif", error="no CIF file 1.cif in cifs.tar.gz"), "no CIF file"),
        (RawRecord("mp-2", "data_x\n_cell_length_a 3\n", "cif"), "no atom sites"),
        (RawRecord("mp-3", "{not json", "json"), "invalid structure JSON"),
        (RawRecord("mp-4", {"lattice": 3}, "dict"), "pymatgen structure"),
    ],
)
def test_failures_name_the_material(record: RawRecord, reason: str) -> None:
    with pytest.raises(StructureError, match=reason) as raised:
        record.to_cell()
    assert raised.value.name == record.material_id


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown record format"):
        RawRecord("x", "", "pdb")
