"""Symmetry analysis and cell standardisation with moyopy (default) or spglib.

moyopy (the Rust successor of spglib, same conventions) is the default because it is about
ten times faster; ``backend="spglib"`` reproduces the authors' pipeline. Partially occupied
sites keep their composition as their type, so the symmetry is that of the average structure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crystalgenome.errors import StructureError
from crystalgenome.structures.cell import Cell
from crystalgenome.structures.validate import validate_structure

# moyopy logs (through Python logging, logger "moyo...") a warning when it drops symmetry
# operations incompatible with the input basis; that is informational, not a problem of ours.
logging.getLogger("moyo").setLevel(logging.ERROR)

CRYSTAL_SYSTEMS: tuple[str, ...] = (
    "triclinic",
    "monoclinic",
    "orthorhombic",
    "tetragonal",
    "trigonal",
    "hexagonal",
    "cubic",
)
"""The seven crystal systems, in order of increasing symmetry (this is the class index order)."""

CellChoice = Literal["primitive", "conventional", "input"]
SymmetryBackend = Literal["moyopy", "spglib"]

# Highest space-group number of each crystal system (International Tables for Crystallography A).
_SYSTEM_UPPER_NUMBERS = np.array([2, 15, 74, 142, 167, 194, 230])


def crystal_system_from_number(number: int) -> str:
    """Crystal system (lower case) of an international space-group number 1-230."""
    if not 1 <= number <= 230:
        raise ValueError(f"space-group number must be in 1..230, got {number}")
    return CRYSTAL_SYSTEMS[int(np.searchsorted(_SYSTEM_UPPER_NUMBERS, number))]


@dataclass(frozen=True)
class SymmetryInfo:
    """Space group of a structure at a given tolerance.

    Attributes:
        number: international space-group number (1-230).
        crystal_system: one of :data:`CRYSTAL_SYSTEMS`.
        symprec: distance tolerance used, Å.
    """

    number: int
    crystal_system: str
    symprec: float


def _moyo_dataset(cell: Cell, symprec: float, name: str):
    import moyopy

    validate_structure(cell, name=name, min_distance=0.0)  # a clear reason rather than moyopy's
    moyo_cell = moyopy.Cell(cell.lattice.tolist(), cell.frac_coords.tolist(), cell.types.tolist())
    try:
        return moyopy.MoyoDataset(moyo_cell, symprec=symprec, rotate_basis=False)
    except Exception as exc:  # moyopy raises plain exceptions
        raise StructureError(name, f"symmetry analysis failed at symprec={symprec} Å ({exc})") from exc


def _spglib_dataset(cell: Cell, symprec: float, name: str):
    import spglib

    validate_structure(cell, name=name, min_distance=0.0)
    dataset = spglib.get_symmetry_dataset((cell.lattice, cell.frac_coords, cell.types), symprec=symprec)
    if dataset is None:
        raise StructureError(name, f"spglib symmetry analysis failed at symprec={symprec} Å")
    return dataset


def _info(number: int, symprec: float) -> SymmetryInfo:
    return SymmetryInfo(number=number, crystal_system=crystal_system_from_number(number), symprec=symprec)


def analyse_symmetry(
    cell: Cell, *, symprec: float = 0.1, backend: SymmetryBackend = "moyopy", name: str = "structure"
) -> SymmetryInfo:
    """Space group and crystal system of ``cell`` at distance tolerance ``symprec`` (Å)."""
    if backend == "moyopy":
        return _info(int(_moyo_dataset(cell, symprec, name).number), symprec)
    if backend == "spglib":
        return _info(int(_spglib_dataset(cell, symprec, name).number), symprec)
    raise ValueError(f"unknown symmetry backend {backend!r}; use 'moyopy' or 'spglib'")


def standardise_cell(
    cell: Cell,
    choice: CellChoice = "primitive",
    *,
    symprec: float = 0.1,
    backend: SymmetryBackend = "moyopy",
    name: str = "structure",
) -> tuple[Cell, SymmetryInfo | None]:
    """The standardised primitive or conventional cell, or the input cell unchanged.

    With moyopy the basis is not rotated, so the Cartesian frame (and so the direction of
    every reciprocal vector) follows the input. Returns the cell and its symmetry
    (``None`` when ``choice == "input"``: no analysis is done).
    """
    if choice == "input":
        return cell, None
    if choice not in ("primitive", "conventional"):
        raise ValueError(f"unknown cell choice {choice!r}; use 'primitive', 'conventional' or 'input'")
    if backend == "moyopy":
        dataset = _moyo_dataset(cell, symprec, name)
        std = dataset.prim_std_cell if choice == "primitive" else dataset.std_cell
        lattice, frac, types = std.basis, std.positions, std.numbers
        number = int(dataset.number)
    elif backend == "spglib":
        import spglib

        dataset = _spglib_dataset(cell, symprec, name)
        source = (cell.lattice, cell.frac_coords, cell.types)
        result = spglib.standardize_cell(source, to_primitive=choice == "primitive", symprec=symprec)
        if result is None:
            raise StructureError(name, f"spglib standardisation failed at symprec={symprec} Å")
        lattice, frac, types = result
        number = int(dataset.number)
    else:
        raise ValueError(f"unknown symmetry backend {backend!r}; use 'moyopy' or 'spglib'")
    standard = Cell(
        lattice=np.asarray(lattice, dtype=float),
        frac_coords=np.asarray(frac, dtype=float).reshape(-1, 3),
        types=np.asarray(types, dtype=np.int64),
        compositions=cell.compositions,
    )
    return standard, _info(number, symprec)
