"""The fast readers must give exactly what pymatgen gives, and hand anything unusual back to pymatgen."""

from __future__ import annotations

import json
import warnings
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from crystalgenome.data.fastparse import cell_from_structure_dict, read_p1_cif
from crystalgenome.data.records import RawRecord
from crystalgenome.data.sources.tarstream import iter_members
from crystalgenome.structures import Cell

NACL_CIF = """# generated using pymatgen
data_NaCl
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   3.98391344
_cell_length_b   3.98391344
_cell_length_c   3.98391344
_cell_angle_alpha   60.00000000
_cell_angle_beta   60.00000000
_cell_angle_gamma   60.00000000
_symmetry_Int_Tables_number   1
_chemical_formula_structural   NaCl
_chemical_formula_sum   'Na1 Cl1'
_cell_volume   44.71082229
_cell_formula_units_Z   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_symmetry_multiplicity
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Cl  Cl0  1  0.50000000  0.50000000  -0.50000000  1
  Na  Na1  1  0.00000000  0.00000000  1.00000000  1
  Cl  Cl2  1  0.33330000  0.66670000  0.25000000  1
"""


def pymatgen_cell(text: str) -> Cell:
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Cell.from_structure(Structure.from_str(text, fmt="cif"))


def assert_same_cell(fast: Cell, slow: Cell, name: str = "") -> None:
    np.testing.assert_allclose(fast.lattice, slow.lattice, rtol=0, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(fast.frac_coords, slow.frac_coords, rtol=0, atol=1e-8, err_msg=name)
    assert fast.types.tolist() == slow.types.tolist(), name
    assert fast.compositions == slow.compositions, name


def test_handmade_cif_matches_pymatgen_including_order_wrapping_and_thirds() -> None:
    fast = read_p1_cif(NACL_CIF)
    assert fast is not None
    assert_same_cell(fast, pymatgen_cell(NACL_CIF))
    assert fast.compositions == ({"Na": 1.0}, {"Cl": 1.0})  # sorted by electronegativity as pymatgen does
    assert fast.frac_coords.min() >= 0 and fast.frac_coords.max() < 1
    assert fast.frac_coords[2, 0] == 1 / 3  # 0.3333 snapped to 1/3 as CifParser does


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("  1  'x, y, z'", "  1  'x, y, z'\n  2  '-x, -y, -z'", "a second symmetry operation"),
        ("Na1  1  0.00000000  0.00000000  1.00000000  1", "Na1  1  0.0  0.0  1.0  0.5", "partial occupancy"),
        ("0.33330000  0.66670000", "0.3333(2)  0.66670000", "an uncertainty"),
        ("  Na  Na1", "  Na+  Na1", "an oxidation-state symbol"),
        ("0.33330000  0.66670000  0.25000000", "0.50000000  0.50000000  0.50000000", "a duplicated site"),
        ("  Na  Na1", "  He  Na1", "an element without electronegativity"),
        ("_cell_length_a   3.98391344", "_cell_length_a\n 3.98391344", "a value on its own line"),
        ("data_NaCl", "data_NaCl\n_atom_site_moment_label x", "a magnetic CIF"),
    ],
)
def test_anything_unusual_falls_back_to_pymatgen(old: str, new: str, why: str) -> None:
    text = NACL_CIF.replace(old, new)
    assert text != NACL_CIF
    assert read_p1_cif(text) is None, why
    if why not in ("a duplicated site", "a value on its own line", "a magnetic CIF"):
        cell = RawRecord("x", text, "cif").to_cell()  # the record still parses, through pymatgen
        assert cell.num_sites >= 3


def test_structure_dict_fast_path_matches_pymatgen() -> None:
    from pymatgen.core import Lattice, Structure

    structure = Structure(
        Lattice.hexagonal(3.2, 5.2),
        [{"Zn": 0.5, "Cd": 0.5}, "Zn", {"O2-": 1.0}, "O"],
        [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, 0.38], [2 / 3, 1 / 3, 1.2]],
    )
    data = json.loads(json.dumps(structure.as_dict()))
    fast = cell_from_structure_dict(data)
    assert fast is not None
    assert_same_cell(fast, Cell.from_structure(Structure.from_dict(data)))
    assert cell_from_structure_dict({"lattice": {}, "sites": []}) is None


@pytest.mark.shared_data
def test_fast_cif_reader_equals_pymatgen_on_real_cgcnn_cifs(cgcnn_dir: Path) -> None:
    members = islice(iter_members(str(cgcnn_dir / "cifs.tar.gz")), 0, 30000, 100)  # 300 spread over the set
    checked = 0
    for name, data in members:
        text = data.decode()
        fast = read_p1_cif(text)
        if fast is None:  # e.g. noble gases: pymatgen's route is used instead
            continue
        assert_same_cell(fast, pymatgen_cell(text), name)
        checked += 1
    assert checked >= 290


@pytest.mark.shared_data
def test_fast_cif_reader_equals_pymatgen_on_trachote_cifs(shared_data: Path) -> None:
    path = shared_data / "mp_elastic_trachote" / "mp_val_clean.json"
    if not path.is_file():
        pytest.skip("mp_elastic_trachote absent")
    cifs = json.loads(path.read_text())["cif"]
    checked = 0
    for material_id, text in islice(cifs.items(), 0, None, 4):
        fast = read_p1_cif(text)
        if fast is not None:
            assert_same_cell(fast, pymatgen_cell(text), material_id)
            checked += 1
    assert checked >= 0.95 * len(cifs) / 4


@pytest.mark.shared_data
def test_structure_dict_fast_path_on_real_matcalc_records(shared_data: Path) -> None:
    import gzip

    from pymatgen.core import Structure

    path = shared_data / "mp_elasticity_matcalc" / "mp-binary-pbe-elasticity-2025.1.json.gz"
    if not path.is_file():
        pytest.skip("mp_elasticity_matcalc absent")
    records = json.loads(gzip.decompress(path.read_bytes()))[::50]
    for record in records:
        fast = cell_from_structure_dict(record["structure"])
        assert fast is not None
        assert_same_cell(fast, Cell.from_structure(Structure.from_dict(record["structure"])), record["mp_id"])
