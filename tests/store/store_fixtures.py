"""Helpers for the store tests: an in-memory source of CIF texts and deliberately bad CIFs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crystalgenome.structures import Cell, read_structure_text

NUM_REAL = 120


@dataclass(frozen=True)
class TextRecord:
    """A raw record holding CIF text, parsed with pymatgen."""

    material_id: str
    payload: str
    fmt: str = "cif"

    def to_cell(self) -> Cell:
        return Cell.from_structure(read_structure_text(self.payload, self.fmt, name=self.material_id))


class TextSource:
    """In-memory source with the interface of ``crystalgenome.data.Source``; counts records streamed."""

    def __init__(self, texts: dict[str, str], *, name: str = "texts", fingerprint: str = "texts-v1") -> None:
        self.name = name
        self.path = Path(f"/memory/{name}")
        self.texts = dict(texts)
        self._fingerprint = fingerprint
        self.streamed = 0

    def ids(self) -> list[str]:
        return list(self.texts)

    def labels(self):
        import pandas as pd

        ids = list(self.texts)
        index = pd.Index(ids, name="material_id")
        return pd.DataFrame({"band_gap": [float(i % 3) for i in range(len(ids))], "note": ids}, index=index)

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[TextRecord]:
        for material_id in self.texts if ids is None else ids:
            self.streamed += 1
            yield TextRecord(material_id, self.texts[material_id])

    def fingerprint(self) -> str:
        return self._fingerprint

    def __len__(self) -> int:
        return len(self.texts)


BROKEN_CIF = "data_broken\n_cell_length_a 3.0\nthis is not a CIF\n"

OVERLAPPING_CIF = """data_overlap
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   4.0
_cell_length_b   4.0
_cell_length_c   4.0
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Na  Na0  0.0  0.0  0.0  1
  Cl  Cl1  0.01  0.0  0.0  1
"""
