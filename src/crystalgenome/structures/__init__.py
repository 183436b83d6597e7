"""Stage 0: reading, validating and standardising crystal structures."""

from __future__ import annotations

from crystalgenome.structures.cell import Cell
from crystalgenome.structures.io import is_structure_file, read_structure, read_structure_text
from crystalgenome.structures.symmetry import (
    CRYSTAL_SYSTEMS,
    CellChoice,
    SymmetryBackend,
    SymmetryInfo,
    analyse_symmetry,
    crystal_system_from_number,
    standardise_cell,
)
from crystalgenome.structures.validate import minimum_distance, validate_structure

__all__ = [
    "CRYSTAL_SYSTEMS",
    "Cell",
    "CellChoice",
    "SymmetryBackend",
    "SymmetryInfo",
    "analyse_symmetry",
    "crystal_system_from_number",
    "is_structure_file",
    "minimum_distance",
    "read_structure",
    "read_structure_text",
    "standardise_cell",
    "validate_structure",
]
