"""Stage 0: reading, validating and standardising crystal structures."""

from __future__ import annotations

from crystalgenome.structures.cell import Cell
from crystalgenome.structures.io import read_structure, read_structure_text
from crystalgenome.structures.symmetry import (
    CRYSTAL_SYSTEMS,
    CellChoice,
    SymmetryBackend,
    SymmetryInfo,
    analyse_symmetry,
    crystal_system_from_number,
    standardise_cell,
)
from crystalgenome.structures.validate import validate_structure

__all__ = [
    "CRYSTAL_SYSTEMS",
    "Cell",
    "CellChoice",
    "SymmetryBackend",
    "SymmetryInfo",
    "analyse_symmetry",
    "crystal_system_from_number",
    "read_structure",
    "read_structure_text",
    "standardise_cell",
    "validate_structure",
]
