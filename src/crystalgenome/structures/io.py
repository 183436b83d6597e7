"""Reading structure files (anything pymatgen reads) with errors that name the file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from crystalgenome.errors import StructureError

if TYPE_CHECKING:
    from pymatgen.core import Structure

STRUCTURE_SUFFIXES = (".cif", ".json", ".vasp", ".poscar", ".xsf", ".cssr", ".res", ".mcif")
"""File suffixes recognised when scanning a folder for structures (plus POSCAR/CONTCAR names)."""


def is_structure_file(path: Path) -> bool:
    """True for file names pymatgen can read as a structure."""
    name = path.name.lower()
    return path.suffix.lower() in STRUCTURE_SUFFIXES or name.startswith(("poscar", "contcar"))


def read_structure(path: str | Path) -> Structure:
    """Read one structure file (CIF, POSCAR/CONTCAR, pymatgen JSON, ...).

    Raises:
        StructureError: naming the file, when it is missing, empty or cannot be parsed.
    """
    from pymatgen.core import Structure

    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise StructureError(name, "no such file")
    if path.stat().st_size == 0:
        raise StructureError(name, "file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(path)
    except Exception as exc:
        raise StructureError(name, f"cannot be parsed as a structure ({type(exc).__name__}: {exc})") from exc
    if len(structure) == 0:
        raise StructureError(name, "structure has no sites")
    return structure


def read_structure_text(text: str, fmt: str = "cif", *, name: str = "structure") -> Structure:
    """Parse a structure from a string (``fmt``: cif, poscar, json, ...)."""
    from pymatgen.core import Structure

    if not text.strip():
        raise StructureError(name, f"empty {fmt} text")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(text, fmt=fmt)
    except Exception as exc:
        raise StructureError(name, f"cannot be parsed as {fmt} ({type(exc).__name__}: {exc})") from exc
    if len(structure) == 0:
        raise StructureError(name, "structure has no sites")
    return structure
