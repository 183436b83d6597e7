"""Small hand-made structures and datasets for the data-layer tests (no shared data needed)."""

from __future__ import annotations

import json
import tarfile
import warnings
from pathlib import Path

import numpy as np


def structures() -> dict:
    """Three textbook crystals as pymatgen structures: rock salt NaCl, diamond Si, CsCl."""
    from pymatgen.core import Lattice, Structure

    return {
        "nacl": Structure(Lattice.cubic(5.64), ["Na"] * 4 + ["Cl"] * 4, _rocksalt()),
        "si": Structure(
            Lattice([[0, 2.7, 2.7], [2.7, 0, 2.7], [2.7, 2.7, 0]]), ["Si", "Si"], [[0, 0, 0], [0.25] * 3]
        ),
        "cscl": Structure(Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    }


def _rocksalt() -> list[list[float]]:
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    return [*fcc.tolist(), *((fcc + np.array([0.5, 0, 0])) % 1).tolist()]


def cif_text(structure) -> str:
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(CifWriter(structure))


def make_cgcnn_folder(folder: Path, *, packed: bool, with_hash: bool, columns: int = 1) -> dict[str, str]:
    """A CGCNN folder of the three crystals (stems 0, 1, 2); returns stem -> CIF text."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = {str(i): cif_text(s) for i, s in enumerate(structures().values())}
    rows = [",".join([stem, *[f"{float(stem) + 0.5 * k:.3f}" for k in range(columns)]]) for stem in texts]
    (folder / "id_prop.csv").write_text("\n".join(rows) + "\n")
    if with_hash:
        (folder / "material_id_hash.csv").write_text("0,mp-22862\n1,mp-149\n2,mp-22865\n")
    if packed:
        import io

        with tarfile.open(folder / "cifs.tar.gz", "w:gz") as tar:
            for stem, text in texts.items():
                info = tarfile.TarInfo(f"cifs/{stem}.cif")
                info.size = len(text.encode())
                tar.addfile(info, io.BytesIO(text.encode()))
    else:
        for stem, text in texts.items():
            (folder / f"{stem}.cif").write_text(text)
    return texts


def make_generic_folder(folder: Path, *, labels: str | None) -> None:
    """A generic folder: a CIF, a pymatgen JSON and a POSCAR, plus ``labels.csv`` if given."""
    from pymatgen.io.vasp import Poscar

    folder.mkdir(parents=True, exist_ok=True)
    crystals = structures()
    (folder / "nacl.cif").write_text(cif_text(crystals["nacl"]))
    (folder / "si.json").write_text(json.dumps(crystals["si"].as_dict()))
    (folder / "cscl.vasp").write_text(Poscar(crystals["cscl"]).get_str())
    (folder / "notes.txt").write_text("not a structure")
    if labels is not None:
        (folder / "labels.csv").write_text(labels)
