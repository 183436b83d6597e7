"""Reading structure files (anything pymatgen reads) with errors that name the file and the reason.

Every failure is a :class:`StructureError` whose reason a user can act on: what is wrong with the
file (a folder, a broken link, binary or compressed bytes, a CIF cell length of zero, a POSCAR whose
counts do not match its coordinates, ...) rather than the message of the library underneath.
Files pymatgen would read silently but wrongly are refused: CIF cells with non-positive lengths or
angles outside (0°, 180°), CIFs holding several structures, and CIFs mixing hydrogen isotopes.
"""

from __future__ import annotations

import errno
import json
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crystalgenome.errors import StructureError
from crystalgenome.structures.validate import cell_parameter_problem

if TYPE_CHECKING:
    from pymatgen.core import Structure

STRUCTURE_SUFFIXES = (".cif", ".json", ".vasp", ".poscar", ".xsf", ".cssr", ".res", ".mcif")
"""File suffixes recognised when scanning a folder for structures (plus POSCAR/CONTCAR names)."""

FORMAT_BY_SUFFIX = {
    ".cif": "cif",
    ".mcif": "cif",
    ".json": "json",
    ".vasp": "poscar",
    ".poscar": "poscar",
    ".xsf": "xsf",
    ".cssr": "cssr",
    ".res": "res",
}
"""Text format of each structure-file suffix; POSCAR/CONTCAR names without suffix are POSCARs."""

HYDROGEN_ISOTOPES = ("H", "D", "T")
"""Hydrogen and its isotopes as pymatgen names them (``Element("D").name == "D"``)."""

CIF_CELL_TAGS = (
    "_cell_length_a",
    "_cell_length_b",
    "_cell_length_c",
    "_cell_angle_alpha",
    "_cell_angle_beta",
    "_cell_angle_gamma",
)
"""The CIF tags of the cell: a, b, c (Å), then α, β, γ (degrees)."""
_LOOP = "symbolic link loop (following the link leads back to it); remove or fix the link"
_UNCERTAINTY = re.compile(r"\(\d+\)$")
_SYMBOL = re.compile(r"[A-Za-z]+")


def is_structure_file(path: Path) -> bool:
    """True for file names pymatgen can read as a structure."""
    name = path.name.lower()
    return path.suffix.lower() in STRUCTURE_SUFFIXES or name.startswith(("poscar", "contcar"))


def structure_format(path: Path) -> str | None:
    """The text format (``cif``, ``poscar``, ``json``, ...) of a structure file name, or None."""
    if not is_structure_file(path):
        return None
    return FORMAT_BY_SUFFIX.get(path.suffix.lower(), "poscar")


def entry_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file (a folder, a broken link or a link loop), or None."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return _LOOP
        except OSError as error:
            if error.errno == errno.ELOOP:
                return _LOOP
            return f"broken symbolic link: its target {path.readlink()} does not exist"
    if path.is_dir():
        if path.is_symlink() and _links_to_ancestor(path):
            return f"symbolic link loop: it links to {path.resolve()}, a folder that contains the link"
        if not os.access(path, os.R_OK | os.X_OK):
            return "is a folder that cannot be read (permission denied)"
        return "is a folder, not a structure file"
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "is not a regular file (a device, socket or pipe)"
    return None


def _links_to_ancestor(path: Path) -> bool:
    target, parent = path.resolve(), path.parent.resolve()
    return target == parent or target in parent.parents


def find_structure_files(folder: Path) -> list[Path]:
    """Structure files under ``folder``, recursively and sorted, following links to folders once.

    Entries named like structure files that cannot be read as files (folders named ``x.cif``, broken
    links, link loops) are listed too, so that reading them reports why rather than skipping them in
    silence (the files inside such a folder are still found). So are a link to a folder that contains
    it (a loop, not followed) and a folder that cannot be listed.
    """
    found: list[Path] = []
    seen = {folder.resolve()}
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            entries = sorted(current.iterdir())
        except OSError:
            found.append(current)  # reported when read: a folder that cannot be read
            continue
        for entry in entries:
            if is_structure_file(entry):
                found.append(entry)
            if not entry.is_dir():
                continue
            target = entry.resolve()
            if target not in seen:
                seen.add(target)
                pending.append(entry)
            elif entry.is_symlink() and _links_to_ancestor(entry):
                found.append(entry)  # reported as a loop when read
    return sorted(found)


def read_structure(path: str | Path) -> Structure:
    """Read one structure file (CIF, POSCAR/CONTCAR, pymatgen JSON, ...).

    Raises:
        StructureError: naming the file and the reason, when it is missing, not a regular file,
            empty, binary, compressed, or cannot be parsed as one valid structure.
    """
    path = Path(path)
    name = str(path)
    problem = entry_problem(path)
    if problem is not None:
        raise StructureError(name, problem)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StructureError(name, f"cannot be read ({error.strerror})") from None
    text = decode_structure_bytes(data, name)
    fmt = structure_format(path)
    if fmt is None:
        return _from_file(path, name)
    if path.suffix.lower() == ".mcif":
        check_cif_text(text, name)
        return _from_file(path, name)
    return read_structure_text(text, fmt, name=name)


def decode_structure_bytes(data: bytes, name: str) -> str:
    """The text of a structure file's bytes; StructureError for empty, compressed or binary files."""
    if not data.strip():
        raise StructureError(name, "file is empty")
    if data[:2] == b"\x1f\x8b":
        raise StructureError(name, "is gzip-compressed; decompress it first (gunzip)")
    if data[:3] in (b"BZh", b"\xfd7z") or data[:4] == b"PK\x03\x04":
        raise StructureError(name, "is a compressed archive, not a structure text file; unpack it first")
    text = data.decode("utf-8", errors="replace")
    if b"\0" in data or text.count("\ufffd") > max(8, len(text) // 100):
        raise StructureError(name, "is a binary file, not a structure text file")
    return text


def _from_file(path: Path, name: str) -> Structure:
    from pymatgen.core import Structure

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(path)
    except Exception as exc:
        raise StructureError(name, f"cannot be parsed as a structure ({type(exc).__name__}: {exc})") from exc
    return _non_empty(structure, name)


def _non_empty(structure: Structure, name: str) -> Structure:
    if len(structure) == 0:
        raise StructureError(name, "structure has no sites")
    return structure


def read_structure_text(text: str, fmt: str = "cif", *, name: str = "structure") -> Structure:
    """Parse a structure from a string (``fmt``: cif, poscar, json, ...).

    Raises:
        StructureError: naming ``name``, with a reason a user can act on.
    """
    if not text.strip():
        raise StructureError(name, f"empty {fmt} text")
    if fmt in ("cif", "mcif"):
        return _non_empty(_parse_cif(text, name), name)
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StructureError(name, f"invalid JSON ({exc})") from None
        return structure_from_dict(data, name)
    return _non_empty(_parse_other(text, fmt, name), name)


def _parse_other(text: str, fmt: str, name: str) -> Structure:
    from pymatgen.core import Structure

    if fmt == "poscar":
        problem = poscar_problem(text)
        if problem is not None:
            raise StructureError(name, problem)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure.from_str(text, fmt=fmt)  # type: ignore[arg-type]
    except Exception as exc:
        raise StructureError(name, f"cannot be parsed as {fmt} ({type(exc).__name__}: {exc})") from exc


def structure_from_dict(data: Any, name: str) -> Structure:
    """A pymatgen ``Structure`` from its ``as_dict()`` form, with a clear error for anything else."""
    from pymatgen.core import Structure

    if not isinstance(data, dict) or "lattice" not in data or "sites" not in data:
        found = (
            f"keys {', '.join(map(str, list(data)[:5]))}" if isinstance(data, dict) else type(data).__name__
        )
        raise StructureError(
            name,
            f"not a pymatgen structure: expected a JSON object with 'lattice' and 'sites', found {found}",
        )
    if not data["sites"]:
        raise StructureError(name, "structure has no sites")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_dict(data)
    except Exception as exc:
        raise StructureError(
            name, f"not a valid pymatgen structure ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    return _non_empty(structure, name)


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__


# --- POSCAR -----------------------------------------------------------------------------------------


def poscar_problem(text: str) -> str | None:
    """Why a POSCAR's atom counts do not match its coordinate lines, or None (also when unsure)."""
    lines = [line.split() for line in text.splitlines()]
    if len(lines) < 7:
        return None
    row = 5 if not all(_is_int(x) for x in lines[5]) else None
    counts_row = 6 if row == 5 else 5
    if len(lines) <= counts_row or not lines[counts_row] or not all(_is_int(x) for x in lines[counts_row]):
        return None
    counts = [int(x) for x in lines[counts_row]]
    if row is not None and len(lines[row]) != len(counts):
        return f"names {len(lines[row])} species on line 6 but gives {len(counts)} counts on line 7"
    start = counts_row + 1
    if start < len(lines) and lines[start] and lines[start][0][0] in "sS":
        start += 1  # selective dynamics
    coordinates = 0
    for tokens in lines[start + 1 :]:
        if len(tokens) < 3 or not all(_is_float(x) for x in tokens[:3]):
            break
        coordinates += 1
    total = sum(counts)
    if coordinates < total:
        return (
            f"atom counts on line {counts_row + 1} add up to {total} atoms but only {coordinates} coordinate "
            "lines follow"
        )
    return None


def _is_int(token: str) -> bool:
    return token.isdigit()


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# --- CIF --------------------------------------------------------------------------------------------


def _parse_cif(text: str, name: str) -> Structure:
    """pymatgen's CIF reading (as ``Structure.from_str(text, fmt="cif")``) with the checks of
    :func:`check_cif_text` before and readable reasons when pymatgen finds no structure."""
    from pymatgen.core import Structure

    blocks = check_cif_text(text, name)
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            structures = CifParser.from_str(text).parse_structures(primitive=False)
        except Exception as exc:
            reasons = [str(w.message) for w in caught if str(w.message).startswith("No structure parsed")]
            raise StructureError(name, _cif_failure(reasons, blocks, exc)) from exc
    structure = Structure.from_sites(structures[0], properties=structures[0].properties)
    _check_isotopes(blocks[0], structure, name)
    return structure


def check_cif_text(text: str, name: str) -> list[dict[str, Any]]:
    """The data blocks of a CIF that hold atom sites, after checking that there is exactly one and that
    its cell parameters describe a real cell.

    Raises:
        StructureError: no data block, no atom sites, several structures, a malformed loop, or cell
            lengths / angles that are missing, not numbers, not positive or do not form a cell.
    """
    from pymatgen.io.cif import CifFile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = CifFile.from_str(text).data
    except ValueError as exc:
        if "zip()" in str(exc):
            raise StructureError(
                name, "malformed CIF: a loop's values do not fill its columns (truncated file?)"
            ) from None
        raise StructureError(name, f"malformed CIF ({exc})") from None
    if not data:
        raise StructureError(name, "not a CIF: no data block (a CIF starts with a 'data_' line)")
    blocks = [block.data for block in data.values()]
    with_atoms = [b for b in blocks if "_atom_site_fract_x" in b or "_atom_site_cartn_x" in b]
    if not with_atoms:
        raise StructureError(name, "no atom sites (no _atom_site_fract_x loop): the CIF holds no atoms")
    if len(with_atoms) > 1:
        names = [key for key, block in data.items() if block.data in with_atoms]
        raise StructureError(
            name,
            f"holds {len(with_atoms)} structures (data blocks {', '.join(names[:4])}); only one structure "
            "per file is read: split it into one file per data block",
        )
    block = with_atoms[0]
    problem = _cell_problem(block)
    if problem is not None:
        raise StructureError(name, problem)
    return with_atoms


def _cell_problem(block: dict[str, Any]) -> str | None:
    """Why the cell parameters of a CIF block are not a real cell, or None (also when some are missing:
    pymatgen infers those from the symmetry where it can)."""
    values = []
    for key in CIF_CELL_TAGS:
        label = key.removeprefix("_cell_").replace("_", " ")
        raw = block.get(key)
        if raw is None:
            return None  # pymatgen may infer it from the symmetry (a cubic cell needs only a)
        text = str(raw).strip()
        if text in ("?", "."):
            return f"cell {label} is unknown ({text!r})"
        try:
            values.append(float(_UNCERTAINTY.sub("", text)))
        except ValueError:
            return f"cell {label} is not a number ({text!r})"
    return cell_parameter_problem(*values)


def _cif_failure(reasons: list[str], blocks: list[dict[str, Any]], exc: Exception) -> str:
    """A readable reason for a CIF pymatgen found no structure in (its warnings hold the cause)."""
    cause = reasons[-1].splitlines()[-1] if reasons else _first_line(exc)
    block = blocks[0]
    missing = [key for key in CIF_CELL_TAGS if key not in block]
    if missing:
        return (
            f"no {', '.join(missing)} in the CIF, and its symmetry does not give them: the cell is incomplete"
        )
    if "ccupancy" in cause:
        occupancies = [str(x) for x in _as_list(block.get("_atom_site_occupancy"))]
        if any(
            _is_float(_UNCERTAINTY.sub("", x)) and float(_UNCERTAINTY.sub("", x)) > 1 for x in occupancies
        ):
            return f"a site occupancy is above 1 ({cause})"
        return f"atoms at the same position: their occupancies add up to more than 1 ({cause})"
    if "could not convert string to float" in cause:
        value = cause.rsplit(":", 1)[-1].strip()
        return f"an atom coordinate or occupancy is not a number ({value})"
    if "thickness" in cause:
        return (
            "the cell is too thin: an interplanar spacing is below 0.01 Å; check the cell lengths and angles"
        )
    return f"pymatgen cannot read a structure from it ({cause})"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _check_isotopes(block: dict[str, Any], structure: Structure, name: str) -> None:
    """Refuse a CIF whose hydrogen isotopes (H, D, T) pymatgen's reader merged (it keeps the first)."""
    symbols = _as_list(block.get("_atom_site_type_symbol")) or _as_list(block.get("_atom_site_label"))
    written = {m.group(0).capitalize() for s in symbols if (m := _SYMBOL.match(str(s)))}
    written &= set(HYDROGEN_ISOTOPES)
    if len(written) < 2:
        return
    parsed = {getattr(species, "name", "") for site in structure for species in site.species} & set(
        HYDROGEN_ISOTOPES
    )
    if parsed != written:
        raise StructureError(
            name,
            f"mixes hydrogen isotopes ({', '.join(sorted(written))}), which pymatgen's CIF reader cannot "
            "keep apart; write the structure as a POSCAR or a pymatgen JSON file instead",
        )
