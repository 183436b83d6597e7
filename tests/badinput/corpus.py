"""A corpus of bad (and good) inputs, built in code: structure files, folders, label tables, archives.

Each :class:`BadFile` is one kind of bad structure file with the words its error message must
contain. :func:`write_structure_corpus` writes all of them into one folder beside good files, so that
one call of each command checks every kind and that the good files were still processed.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ATOMS = (("Na", 0.0, 0.0, 0.0), ("Cl", 0.5, 0.5, 0.5))


def cif(
    cell: tuple[str, ...] = ("4.0", "4.0", "4.0", "90", "90", "90"),
    atoms: tuple[tuple, ...] = ATOMS,
    *,
    block: str = "x",
    symops: tuple[str, ...] = ("x, y, z",),
    occupancy: str = "1",
) -> str:
    """A small CIF; every value is written as given (strings), so bad values can be injected."""
    keys = ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma")
    lines = [f"data_{block}", "_symmetry_space_group_name_H-M   'P 1'"]
    lines += [f"_cell_{key}   {value}" for key, value in zip(keys, cell, strict=True) if value is not None]
    lines += ["loop_", " _symmetry_equiv_pos_as_xyz", *(f"  '{op}'" for op in symops)]
    if atoms:
        lines += ["loop_", " _atom_site_type_symbol", " _atom_site_label"]
        lines += [f" _atom_site_fract_{axis}" for axis in "xyz"] + [" _atom_site_occupancy"]
        lines += [f"  {s}  {s}{i}  {x}  {y}  {z}  {occupancy}" for i, (s, x, y, z) in enumerate(atoms)]
    return "\n".join(lines) + "\n"


def poscar(lattice: str = "4 0 0\n0 4 0\n0 0 4", counts: str = "1 1", coords: str = "0 0 0\n.5 .5 .5") -> str:
    return f"bad poscar\n1.0\n{lattice}\nNa Cl\n{counts}\ndirect\n{coords}\n"


def structure_json(matrix: list, sites: list) -> str:
    return json.dumps({"@module": "pymatgen.core.structure", "@class": "Structure", "charge": 0,
                       "lattice": {"matrix": matrix}, "sites": sites})  # fmt: skip


def site(element: str, abc: list) -> dict:
    return {"species": [{"element": element, "occu": 1}], "abc": abc}


GOOD_SITES = [site("Na", [0, 0, 0]), site("Cl", [0.5, 0.5, 0.5])]
CUBE = [[4, 0, 0], [0, 4, 0], [0, 0, 4]]


@dataclass(frozen=True)
class BadFile:
    """One kind of bad structure file.

    Attributes:
        name: file name (unique stem) inside the corpus folder.
        write: writes the entry at the given path (a file, folder or link).
        reason: words (lower case) the one-line error must contain, besides the file name.
        readable: True when the structure itself reads fine and only diffraction must refuse it (so
            ``info``, which reads structures but does not diffract them, counts it as a structure).
    """

    name: str
    write: Callable[[Path], object]
    reason: tuple[str, ...]
    readable: bool = False


def _text(content: str) -> Callable[[Path], object]:
    return lambda path: path.write_text(content, encoding="utf-8")


def _bytes(content: bytes) -> Callable[[Path], object]:
    return lambda path: path.write_bytes(content)


def _symlink(target: str) -> Callable[[Path], object]:
    return lambda path: path.symlink_to(target)


def _two_links(path: Path) -> None:
    """``loop_a.cif`` -> ``loop_b.cif`` -> ``loop_a.cif``."""
    other = path.with_name(path.name.replace("loop_a", "loop_b"))
    path.symlink_to(other.name)
    other.symlink_to(path.name)


_GOOD_CIF = cif()
_OVERLAP = (("Na", 0.0, 0.0, 0.0), ("Cl", 0.01, 0.0, 0.0))
_H_AND_D = (("H", 0, 0, 0), ("D", 0.5, 0, 0), ("O", 0.5, 0.5, 0.5))
_INVERSION = ("x, y, z", "-x, -y, -z")

BAD_FILES: tuple[BadFile, ...] = (
    BadFile("empty.cif", _text(""), ("empty",)),
    BadFile("blank.cif", _text("  \n\n \n"), ("empty",)),
    BadFile("garbage.cif", _text("this is not a CIF\njust words\n"), ("no data block",)),
    BadFile("binary.cif", _bytes(bytes(range(256)) * 8), ("binary",)),
    BadFile("gzipped.cif", _bytes(gzip.compress(_GOOD_CIF.encode())), ("gzip",)),
    BadFile("no_atoms.cif", _text(cif(atoms=())), ("no atom",)),
    BadFile("zero_length.cif", _text(cif(("0", "4", "4", "90", "90", "90"))), ("cell length a", "0")),
    BadFile("zero_angle.cif", _text(cif(("4", "4", "4", "0", "90", "90"))), ("cell angle alpha", "0")),
    BadFile("negative_length.cif", _text(cif(("4", "-4", "4", "90", "90", "90"))), ("cell length b", "-4")),
    BadFile("negative_angle.cif", _text(cif(("4", "4", "4", "90", "-90", "90"))), ("cell angle beta",)),
    BadFile("straight_angle.cif", _text(cif(("4", "4", "4", "90", "90", "180"))), ("cell angle gamma",)),
    BadFile("impossible_angles.cif", _text(cif(("4", "4", "4", "30", "30", "90"))), ("angles",)),
    BadFile("flat_angles.cif", _text(cif(("4", "4", "4", "120", "120", "120"))), ("zero volume",)),
    BadFile("unknown_length.cif", _text(cif(("?", "4", "4", "90", "90", "90"))), ("cell length a", "?")),
    BadFile("text_length.cif", _text(cif(("four", "4", "4", "90", "90", "90"))), ("cell length a", "four")),
    BadFile("missing_length.cif", _text(cif((None, "4", "4", "90", "90", "90"))), ("_cell_length_a",)),
    BadFile("thin_cell.cif", _text(cif(("1e-4", "4", "4", "90", "90", "90"))), ("too thin",)),
    BadFile("tiny_cell.cif", _text(cif(("1e-5", "4", "4", "90", "90", "90"))), ("zero volume",)),
    BadFile(
        "overlapping.cif",
        _text(cif(atoms=_OVERLAP)),
        ("overlapping", "0.040 å", "(na)", "(cl)"),
        readable=True,
    ),
    BadFile("same_position.cif", _text(cif(atoms=(("Na", 0, 0, 0), ("Cl", 0, 0, 0)))), ("same position",)),
    BadFile("unknown_element.cif", _text(cif(atoms=(("Xx", 0, 0, 0),))), ("xx",), readable=True),
    BadFile("two_blocks.cif", _text(cif(block="first") + cif(block="second")), ("2 structures", "second")),
    BadFile("truncated.cif", _text(_GOOD_CIF[: _GOOD_CIF.rindex("Cl") + 6]), ("truncated",)),
    BadFile("occupancy_2.cif", _text(cif(occupancy="2")), ("occupanc",)),
    BadFile("bad_coordinate.cif", _text(cif(atoms=(("Na", "abc", 0, 0),))), ("coordinate", "abc")),
    BadFile("h_and_d.cif", _text(cif(atoms=_H_AND_D, symops=_INVERSION)), ("h", "d", "isotope")),
    BadFile("count_mismatch.vasp", _text(poscar(counts="2 2")), ("4 atoms", "2 coordinate")),
    BadFile("poscar_words.vasp", _text("hello\nworld\n"), ("poscar",)),
    BadFile("poscar_flat.vasp", _text(poscar(lattice="4 0 0\n8 0 0\n0 0 4")), ("volume",)),
    BadFile("poscar_nan.vasp", _text(poscar(coords="nan 0 0\n.5 .5 .5")), ("nan",)),
    BadFile("not_structure.json", _text('{"foo": 1, "bar": [2]}'), ("not a pymatgen structure", "lattice")),
    BadFile("json_syntax.json", _text('{"lattice": [1, 2'), ("json",)),
    BadFile("json_list.json", _text("[1, 2, 3]"), ("not a pymatgen structure",)),
    BadFile("json_no_sites.json", _text(structure_json(CUBE, [])), ("no sites",)),
    BadFile("json_zero_lattice.json", _text(structure_json([[0, 0, 0]] * 3, GOOD_SITES)), ("volume",)),
    BadFile("json_unknown_element.json", _text(structure_json(CUBE, [site("Qq", [0, 0, 0])])), ("qq",)),
    BadFile("json_nan.json", _text(structure_json(CUBE, [site("Na", [float("nan"), 0, 0])])), ("nan",)),
    BadFile("words.xsf", _text("nothing here\n"), ("xsf",)),
    BadFile("folder.cif", lambda path: path.mkdir(), ("folder",)),
    BadFile("self_loop.cif", _symlink("self_loop.cif"), ("symbolic link loop",)),
    BadFile("loop_a.cif", _two_links, ("symbolic link loop",)),
    BadFile("dangling.cif", _symlink("does_not_exist.cif"), ("broken symbolic link", "does_not_exist.cif")),
)
"""Every kind of bad structure file (at least 40, see ``test_the_corpus_is_large``)."""


def good_structures() -> dict[str, object]:
    """Good pymatgen structures of a few crystal systems (from pymatgen's bundled examples)."""
    from tests.conftest import bundled_structures

    bundled = bundled_structures()
    return {name: bundled[name] for name in ("Si", "CsCl", "SrTiO3", "TiO2", "Li2O", "Graphite")}


def write_good_files(folder: Path) -> list[Path]:
    """Good files in every format the corpus covers (P1 CIF, symmetrised CIF, POSCAR, JSON, CRLF CIF)."""
    from pymatgen.io.cif import CifWriter

    structures = good_structures()
    files = {
        "good_si.cif": str(CifWriter(structures["Si"])),
        "good_cscl_sym.cif": str(CifWriter(structures["CsCl"], symprec=0.1)),
        "good_srtio3.vasp": structures["SrTiO3"].to(fmt="poscar"),
        "good_tio2.json": json.dumps(structures["TiO2"].as_dict()),
        "good_crlf.cif": str(CifWriter(structures["Li2O"])).replace("\n", "\r\n"),
        "good_graphite.cif": str(CifWriter(structures["Graphite"])),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8", newline="")
    return [folder / name for name in files]


def write_structure_corpus(folder: Path) -> tuple[list[Path], list[BadFile]]:
    """Every bad file plus the good files into ``folder``: (good paths, bad kinds)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = write_good_files(folder)
    for bad in BAD_FILES:
        bad.write(folder / bad.name)
    return good, list(BAD_FILES)


# --- archives and label tables -----------------------------------------------------------------------


def tar_gz(members: dict[str, str]) -> bytes:
    """A .tar.gz holding ``members`` (name -> text)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
