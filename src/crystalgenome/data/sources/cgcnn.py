"""CGCNN-style folders: ``id_prop.csv`` (no header: CIF stem, property values) plus the CIF files,
loose (``<stem>.cif``, beside the CSV or under ``cifs/``) or packed in an archive (``cifs.tar.gz``,
members ``cifs/<stem>.cif``, read without unpacking).

An optional ``material_id_hash.csv`` (no header: stem, mp-id) gives the Materials Project ids, which
then become the material ids. Property columns:

- MT-CGCNN layout (``material_id_hash.csv`` present and five property columns, as
  ``mp_cgcnn_mtcgcnn``; meanings from its SOURCE.md): ``formation_energy_per_atom`` (eV/atom),
  ``band_gap`` (eV), ``efermi`` (eV), ``volume`` (Å³, of the CIF cell), ``total_magnetization`` (μB/cell);
- a single property column: ``target`` (meaning unknown);
- otherwise ``target_1`` ... ``target_k``; or the names given as ``property_names``.

The CIF stem is kept as the extra column ``cgcnn_index``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crystalgenome.data.columns import checked_properties
from crystalgenome.data.records import RawRecord
from crystalgenome.data.sources.base import Source, check_unique, files_fingerprint, label_frame, resolve_ids
from crystalgenome.data.sources.folder import read_record
from crystalgenome.data.sources.tarstream import ArchiveError, member_stem, read_listing, stream_members
from crystalgenome.errors import StructureError
from crystalgenome.structures.io import decode_structure_bytes

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

ID_PROP = "id_prop.csv"
ID_HASH = "material_id_hash.csv"
ARCHIVE_NAMES = ("cifs.tar.gz", "cifs.tgz", "cifs.tar", "cifs.tar.bz2", "cifs.tar.xz")
MTCGCNN_COLUMNS = ("formation_energy_per_atom", "band_gap", "efermi", "volume", "total_magnetization")


def is_cgcnn_folder(path: Path) -> bool:
    return path.is_dir() and (path / ID_PROP).is_file()


class CgcnnSource(Source):
    """A CGCNN folder (see the module docstring).

    Args:
        path: the folder holding ``id_prop.csv``.
        name: dataset name (default: the folder name).
        property_names: names of the property columns of ``id_prop.csv`` (default: see module docstring).
    """

    def __init__(
        self, path: str | Path, *, name: str | None = None, property_names: Sequence[str] | None = None
    ):
        self.path = Path(path)
        if not is_cgcnn_folder(self.path):
            raise ValueError(f"{self.path}: not a CGCNN folder (no {ID_PROP})")
        self.name = name or self.path.resolve().name
        self._property_names = tuple(property_names) if property_names is not None else None
        self.archive = next((self.path / n for n in ARCHIVE_NAMES if (self.path / n).is_file()), None)
        self._table: pd.DataFrame | None = None
        self._positions: dict[str, int] | None = None
        self._damage: str | None = None
        self._fingerprint: str | None = None

    # ----------------------------------------------------------------- tables
    def _read_table(self) -> pd.DataFrame:
        import pandas as pd

        if self._table is not None:
            return self._table
        raw = pd.read_csv(
            self.path / ID_PROP, header=None, dtype={0: str}, keep_default_na=False, na_values=[""]
        )
        stems = raw.pop(0).str.strip()
        names = self._column_names(raw.shape[1])
        raw.columns = list(names)
        raw.insert(0, "cgcnn_index", stems.to_numpy())
        mp_ids = self._mp_ids()
        raw.index = pd.Index([mp_ids.get(stem, stem) for stem in stems], name="material_id")
        check_unique(list(raw.index), str(self.path / ID_PROP))
        self._table = checked_properties(raw, str(self.path / ID_PROP), first_row=1, numeric=names)
        return self._table

    def _column_names(self, count: int) -> tuple[str, ...]:
        if self._property_names is not None:
            if len(self._property_names) != count:
                given = len(self._property_names)
                raise ValueError(f"{self.path / ID_PROP}: {count} property columns but {given} names given")
            return self._property_names
        if count == len(MTCGCNN_COLUMNS) and (self.path / ID_HASH).is_file():
            return MTCGCNN_COLUMNS
        return ("target",) if count == 1 else tuple(f"target_{i + 1}" for i in range(count))

    def _mp_ids(self) -> dict[str, str]:
        import pandas as pd

        path = self.path / ID_HASH
        if not path.is_file():
            return {}
        table = pd.read_csv(path, header=None, dtype=str)
        return dict(zip(table[0].str.strip(), table[1].str.strip(), strict=True))

    def ids(self) -> list[str]:
        return list(self._read_table().index)

    def labels(self) -> pd.DataFrame:
        table = self._read_table()
        return label_frame(table.index, table.reset_index(drop=True))

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            files = [self.path / ID_PROP]
            files += [self.path / ID_HASH] if (self.path / ID_HASH).is_file() else []
            files += [self.archive] if self.archive is not None else sorted(self._loose_files().values())
            self._fingerprint = files_fingerprint(files, "cgcnn", *(self._property_names or ()))
        return self._fingerprint

    # ------------------------------------------------------------- structures
    def _loose_files(self) -> dict[str, Path]:
        folders = [self.path / "cifs", self.path] if (self.path / "cifs").is_dir() else [self.path]
        found: dict[str, Path] = {}
        for folder in folders:
            for file in folder.glob("*.cif"):
                found.setdefault(file.stem, file)
        return found

    def _archive_positions(self) -> dict[str, int]:
        if self._positions is None:
            assert self.archive is not None
            names, self._damage = read_listing(str(self.archive), self.fingerprint())
            if self._damage is not None:
                logger.warning(
                    "%s; the %d CIFs before the damage are used, those after it are reported as skipped",
                    self._damage,
                    len(names),
                )
            positions: dict[str, int] = {}
            for position, member in enumerate(names):
                if member.lower().endswith(".cif"):
                    positions.setdefault(member_stem(member), position)
            self._positions = positions
        return self._positions

    def _missing(self, material_id: str, stem: str) -> RawRecord:
        where = self.archive.name if self.archive is not None else str(self.path)
        if self._damage is not None:
            return RawRecord(material_id, "", "cif", error=f"{stem}.cif not read: {self._damage}")
        return RawRecord(material_id, "", "cif", error=f"no CIF file {stem}.cif in {where}")

    def _member(self, material_id: str, stem: str, data: bytes | ArchiveError) -> RawRecord:
        if isinstance(data, ArchiveError):
            return RawRecord(material_id, "", "cif", error=f"{stem}.cif not read: {data}")
        try:
            return RawRecord(material_id, decode_structure_bytes(data, f"{stem}.cif"), "cif")
        except StructureError as error:
            return RawRecord(material_id, "", "cif", error=f"{error.reason} [{stem}.cif]")

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord]:
        table = self._read_table()
        stems = dict(zip(table.index, table["cgcnn_index"], strict=True))
        wanted = resolve_ids(ids, list(table.index), stems)
        if self.archive is None:
            files = self._loose_files()
            for material_id in wanted:
                file = files.get(stems[material_id])
                if file is None:
                    yield self._missing(material_id, stems[material_id])
                else:
                    yield read_record(material_id, file)
            return
        positions = self._archive_positions()
        requested = [positions.get(stems[material_id]) for material_id in wanted]
        for material_id, data in zip(wanted, stream_members(str(self.archive), requested), strict=True):
            if data is None:
                yield self._missing(material_id, stems[material_id])
            else:
                yield self._member(material_id, stems[material_id], data)
