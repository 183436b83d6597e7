"""One unparsed structure as a source yields it: cheap to pickle, parsed in the worker that needs it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crystalgenome.data.fastparse import cell_from_structure_dict, read_p1_cif
from crystalgenome.errors import StructureError
from crystalgenome.structures import Cell, read_structure_text
from crystalgenome.structures.io import structure_from_dict

if TYPE_CHECKING:
    from pymatgen.core import Structure

RECORD_FORMATS = ("cif", "poscar", "json", "dict", "xsf", "cssr", "res")
"""Payload formats: text in a format pymatgen reads, or ``"dict"`` for a ``Structure.as_dict()``."""


@dataclass(frozen=True)
class RawRecord:
    """A structure before parsing.

    Attributes:
        material_id: stable id of the material (an mp-id where known).
        payload: the structure as text (CIF, POSCAR, pymatgen JSON, ...) or a ``Structure.as_dict()``.
        fmt: one of :data:`RECORD_FORMATS`.
        error: when not empty, why the structure is unavailable (e.g. a file listed but missing);
            parsing then raises :class:`StructureError` with this reason.
    """

    material_id: str
    payload: str | dict
    fmt: str
    error: str = ""

    def __post_init__(self) -> None:
        if self.fmt not in RECORD_FORMATS:
            raise ValueError(f"unknown record format {self.fmt!r}; expected one of {RECORD_FORMATS}")

    def _check_available(self) -> None:
        if self.error:
            raise StructureError(self.material_id, self.error)

    def _structure_dict(self) -> dict:
        if isinstance(self.payload, dict):
            return self.payload
        try:
            data = json.loads(self.payload)
        except (TypeError, ValueError) as exc:
            raise StructureError(self.material_id, f"invalid structure JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise StructureError(
                self.material_id,
                f"not a pymatgen structure: expected a JSON object with 'lattice' and 'sites', "
                f"found {type(data).__name__}",
            )
        return data

    def to_structure(self) -> Structure:
        """Parse with pymatgen. Raises :class:`StructureError` naming the material id."""
        self._check_available()
        if self.fmt not in ("dict", "json"):
            return read_structure_text(str(self.payload), self.fmt, name=self.material_id)
        return structure_from_dict(self._structure_dict(), self.material_id)

    def to_cell(self) -> Cell:
        """The :class:`Cell`, through the fast readers of :mod:`crystalgenome.data.fastparse` when the
        payload is a simple P1 CIF or a structure dict, else through pymatgen (same result either way).
        Raises :class:`StructureError` naming the material id."""
        self._check_available()
        cell = None
        if self.fmt == "cif" and isinstance(self.payload, str):
            cell = read_p1_cif(self.payload)
        elif self.fmt in ("dict", "json"):
            cell = cell_from_structure_dict(self._structure_dict())
        return cell if cell is not None else Cell.from_structure(self.to_structure())
