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

from crystalgenome.data.columns import checked_properties
from crystalgenome.data.records import RawRecord
from crystalgenome.data.sources.base import Source, check_unique, files_fingerprint, label_frame, resolve_ids
from crystalgenome.errors import StructureError, one_line
from crystalgenome.structures.io import decode_structure_bytes, entry_problem, structure_format

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.csv"

_PREFERENCE = ("cif", "json", "poscar", "xsf", "cssr", "res")

RESERVED_FILES = frozenset({LABELS_FILE, "download_state.json", "download_info.json", "BUILD.json"})
"""Files of a dataset folder that are never structures (the download's state and records, build notes)."""


def record_format(path: Path) -> str | None:
    """The :class:`RawRecord` format of a structure file, or None if it is not one."""
    return structure_format(path)


def structure_files(folder: Path, shadowed: list[tuple[Path, Path]] | None = None) -> dict[str, Path]:
    """Structure files of ``folder`` by id (file stem); where two files share a stem, CIF is preferred,
    then JSON, then POSCAR, and a readable file over an entry that is not one.

    Entries named like structure files that are not readable files (a folder named ``x.cif``, a
    broken link, a link loop) are kept, so that reading them reports why instead of skipping them.
    Files not used because another has their stem go into ``shadowed`` as (file, the one used).
    """
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        reserved = path.name.startswith(".") or path.name in RESERVED_FILES
        fmt = record_format(path) if not reserved else None
        if fmt is None:
            continue
        stem = path.stem if path.suffix else path.name
        current = found.get(stem)
        if current is None or _rank(path) < _rank(current):
            found[stem] = path
            if current is not None and shadowed is not None:
                shadowed.append((current, path))
        elif shadowed is not None:
            shadowed.append((path, current))
    return found


def read_csv_table(path: Path, *, dtype: dict | None = None) -> pd.DataFrame:
    """A label CSV as written: only empty cells are missing (``N/A``, ``nan``, ``abc`` stay text, so that
    :func:`~crystalgenome.data.columns.checked_properties` reports them); errors name the file."""
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=dtype or {0: str}, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (expected a CSV table with a header row)") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path}: not a readable CSV table ({one_line(str(error).strip())})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None


def _rank(path: Path) -> tuple[bool, int]:
    fmt = record_format(path) or "res"
    return entry_problem(path) is not None, _PREFERENCE.index(fmt)


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
            shadowed: list[tuple[Path, Path]] = []
            self._files = structure_files(self.path, shadowed)
            if shadowed:
                pairs = ", ".join(f"{unused.name} ({used.name} used)" for unused, used in shadowed[:5])
                more = f" and {len(shadowed) - 5} more" if len(shadowed) > 5 else ""
                logger.warning(
                    "%s: %d structure file(s) not used, another file has the same id (file stem): %s%s",
                    self.path, len(shadowed), pairs, more,
                )  # fmt: skip
        return self._files

    def _table(self) -> pd.DataFrame:
        import pandas as pd

        if self._labels is not None:
            return self._labels
        files = self._structure_files()
        path = self.path / LABELS_FILE
        if path.exists() and not path.is_file():
            raise ValueError(f"{path}: is not a file (a folder?); labels.csv must be a CSV file")
        if path.is_file():
            table = read_csv_table(path)
            if table.columns[0] not in ("id", "material_id"):
                raise ValueError(f"{path}: the first column must be 'id', found {table.columns[0]!r}")
            ids = table.pop(table.columns[0]).astype(str).str.strip()
            table.index = pd.Index(ids, name="material_id")
            check_unique(list(table.index), str(path))
            table = checked_properties(table, str(path))
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
            yield read_record(material_id, files[material_id])


def read_record(material_id: str, path: Path) -> RawRecord:
    """The record of one structure file; a file that cannot be read gives a record carrying the
    reason (naming the file), so that the structure is reported as skipped, never lost in silence."""
    fmt = record_format(path) or "cif"
    problem = entry_problem(path)
    if problem is None:
        try:
            return RawRecord(material_id, decode_structure_bytes(path.read_bytes(), path.name), fmt)
        except OSError as error:
            problem = f"cannot be read ({error.strerror})"
        except StructureError as error:
            problem = error.reason
    return RawRecord(material_id, "", fmt, error=f"{problem} [{path.name}]")
