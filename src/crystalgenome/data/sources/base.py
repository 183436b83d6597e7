"""The one abstraction every dataset format implements: ids, labels, raw structures, fingerprint."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crystalgenome.data.columns import ID_COLUMN, canonical_properties
from crystalgenome.data.records import RawRecord

if TYPE_CHECKING:
    import pandas as pd


class Source(ABC):
    """A dataset of crystal structures with a stable material id each, and their known properties.

    Attributes:
        name: short name of the dataset (e.g. ``"mp_cgcnn_mtcgcnn"``).
        path: the file or folder it was read from.
    """

    name: str
    path: Path

    @abstractmethod
    def ids(self) -> list[str]:
        """Material ids (mp-ids where known), unique, in a fixed order."""

    @abstractmethod
    def labels(self) -> pd.DataFrame:
        """One row per id (index named ``material_id``, same order as :meth:`ids`): every
        :data:`~crystalgenome.data.PROPERTY_COLUMNS` column (``NaN`` = unknown) plus any extra columns."""

    @abstractmethod
    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord]:
        """Unparsed structures of ``ids`` (all when None), streamed in that order with bounded memory.

        Raises:
            KeyError: for an id the source does not have.
        """

    @abstractmethod
    def fingerprint(self) -> str:
        """A short hash that changes whenever the underlying files change."""

    def structure_fingerprint(self) -> str:
        """A hash that changes when the structures (or their ids) change; label-only changes may keep it.
        Caches of structure-derived tables (symmetry, formulas) are keyed by it."""
        return self.fingerprint()

    def __len__(self) -> int:
        return len(self.ids())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, path={str(self.path)!r})"


def files_fingerprint(paths: Iterable[Path], *extra: str) -> str:
    """SHA-256 (16 hex digits) of each file's name, size and modification time, plus ``extra`` strings."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # a broken link or link loop: its own entry (it is reported when read)
            stat = path.lstat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    for item in extra:
        digest.update(f"{item}\0".encode())
    return digest.hexdigest()[:16]


def resolve_ids(
    requested: Iterable[str] | None, known: Sequence[str], lookup: dict[str, object]
) -> list[str]:
    """``requested`` as a list (all ``known`` ids when None); KeyError naming the first unknown id."""
    if requested is None:
        return list(known)
    wanted = [str(i) for i in requested]
    missing = next((i for i in wanted if i not in lookup), None)
    if missing is not None:
        raise KeyError(f"material id {missing!r} is not in this source")
    return wanted


def label_frame(
    ids: Sequence[str], columns: dict[str, Sequence] | pd.DataFrame | None = None
) -> pd.DataFrame:
    """A canonical label table for ``ids`` (rows of ``columns`` in the same order): index ``material_id``,
    property columns first (``NaN`` when absent), then the other columns."""
    import pandas as pd

    index = pd.Index([str(i) for i in ids], name=ID_COLUMN)
    if columns is None:
        frame = pd.DataFrame(index=index)
    elif isinstance(columns, pd.DataFrame):
        frame = columns.set_axis(index, axis=0)
    else:
        frame = pd.DataFrame(dict(columns), index=index)
    return canonical_properties(frame)


def check_unique(ids: Sequence[str], what: str) -> None:
    """Raise ValueError naming a duplicated material id."""
    seen: set[str] = set()
    for material_id in ids:
        if material_id in seen:
            raise ValueError(f"{what}: material id {material_id!r} appears more than once")
        seen.add(material_id)


def scalar_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop columns holding dicts or lists (structures, tensors): a label table keeps scalars only."""
    keep = [
        name
        for name in frame.columns
        if not frame[name].map(lambda value: isinstance(value, dict | list | tuple)).any()
    ]
    return frame[keep]
