"""The project's own dataset format (also what the Materials Project download writes).

A folder of structure files ``<id>.cif`` (or ``<id>.json`` pymatgen structures, ``<id>.vasp`` /
``<id>.poscar`` POSCARs, ...) plus an optional ``labels.csv`` whose first column, ``id``, is the file
stem, and whose property columns use the canonical names (``band_gap`` eV, ``formation_energy_per_atom``
eV/atom, ``e_above_hull`` eV/atom, ``k_vrh`` GPa, ``g_vrh`` GPa) when present. Other columns are kept;
empty cells mean unknown.

Ids are the rows of ``labels.csv`` that have a structure file, in file order, then structure files
without a row (sorted; their labels are unknown). Rows without a structure file are ignored (and
logged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from crystalgenome.data.records import RawRecord
from crystalgenome.data.sources.base import Source, check_unique, files_fingerprint, label_frame, resolve_ids
from crystalgenome.structures.io import is_structure_file

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.csv"

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
"""Record format of each structure-file suffix; POSCAR/CONTCAR names without suffix are POSCARs."""

_PREFERENCE = ("cif", "json", "poscar", "xsf", "cssr", "res")

RESERVED_FILES = frozenset({LABELS_FILE, "download_state.json", "download_info.json", "BUILD.json"})
"""Files of a dataset folder that are never structures (the download's state and records, build notes)."""


def record_format(path: Path) -> str | None:
    """The :class:`RawRecord` format of a structure file, or None if it is not one."""
    if not is_structure_file(path):
        return None
    return FORMAT_BY_SUFFIX.get(path.suffix.lower(), "poscar")


def structure_files(folder: Path) -> dict[str, Path]:
    """Structure files of ``folder`` by id (file stem); where two files share a stem, CIF is preferred,
    then JSON, then POSCAR."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        reserved = path.name.startswith(".") or path.name in RESERVED_FILES
        fmt = record_format(path) if path.is_file() and not reserved else None
        if fmt is None:
            continue
        stem = path.stem if path.suffix else path.name
        current = found.get(stem)
        if current is None or _PREFERENCE.index(fmt) < _PREFERENCE.index(record_format(current) or "res"):
            found[stem] = path
    return found


class FolderSource(Source):
    """A folder in the generic format (see the module docstring).

    Args:
        path: the folder.
        name: dataset name (default: the folder name).
    """

    def __init__(self, path: str | Path, *, name: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ValueError(f"{self.path}: not a folder")
        self.name = name or self.path.resolve().name
        self._files: dict[str, Path] | None = None
        self._labels: pd.DataFrame | None = None

    def _structure_files(self) -> dict[str, Path]:
        if self._files is None:
            self._files = structure_files(self.path)
        return self._files

    def _table(self) -> pd.DataFrame:
        import pandas as pd

        if self._labels is not None:
            return self._labels
        files = self._structure_files()
        path = self.path / LABELS_FILE
        if path.is_file():
            table = pd.read_csv(path, dtype={0: str}, keep_default_na=True)
            if table.columns[0] not in ("id", "material_id"):
                raise ValueError(f"{path}: the first column must be 'id', found {table.columns[0]!r}")
            ids = table.pop(table.columns[0]).astype(str).str.strip()
            table.index = pd.Index(ids, name="material_id")
            check_unique(list(table.index), str(path))
            absent = ~table.index.isin(list(files))
            if absent.any():
                logger.warning("%s: %d labelled ids have no structure file; ignored", path, int(absent.sum()))
            table = table[~absent]
        else:
            table = pd.DataFrame(index=pd.Index([], name="material_id", dtype=str))
        extra = sorted(set(files) - set(table.index))
        if extra:
            table = pd.concat([table, pd.DataFrame(index=pd.Index(extra, name="material_id"))])
        self._labels = label_frame(table.index, table.reset_index(drop=True))
        return self._labels

    def ids(self) -> list[str]:
        return list(self._table().index)

    def labels(self) -> pd.DataFrame:
        return self._table().copy()

    def fingerprint(self) -> str:
        files = sorted(self._structure_files().values())
        labels = self.path / LABELS_FILE
        return files_fingerprint([*files, *([labels] if labels.is_file() else [])], "folder")

    def structure_fingerprint(self) -> str:
        return files_fingerprint(sorted(self._structure_files().values()), "folder-structures")

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord]:
        files = self._structure_files()
        for material_id in resolve_ids(ids, self.ids(), files):
            path = files[material_id]
            text = path.read_text(encoding="utf-8", errors="replace")
            yield RawRecord(material_id, text, record_format(path) or "cif")
