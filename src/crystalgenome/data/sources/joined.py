"""Joining a table of labels onto a source by material id (e.g. ``e_above_hull`` from
``mp_ehull_wyatt`` onto the ``mp_cgcnn_mtcgcnn`` structures, so that the stability task has data)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from crystalgenome.data.columns import checked_properties
from crystalgenome.data.records import RawRecord
from crystalgenome.data.sources.base import Source
from crystalgenome.data.sources.folder import read_csv_table
from crystalgenome.utils.provenance import fingerprint_strings

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

Prefer = Literal["source", "table"]


def read_label_table(table: str | Path | pd.DataFrame, *, id_column: str = "material_id") -> pd.DataFrame:
    """A label table indexed by material id (str), with canonical column names.

    ``table`` is a DataFrame or a CSV file; ``id_column`` names its id column (or its index).
    Duplicated ids keep their first row.
    """
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        frame, where = table.copy(), "label table"
    else:
        path = Path(table)
        if not path.is_file():
            problem = "is not a file (a folder?)" if path.exists() else "no such file"
            raise ValueError(f"{path}: {problem}; expected a CSV table of labels")
        frame, where = read_csv_table(path, dtype={id_column: str}), str(path)
    if id_column in frame.columns:
        frame = frame.set_index(id_column)
    elif frame.index.name != id_column:
        raise ValueError(f"{where}: the label table has no {id_column!r} column")
    frame.index = pd.Index(frame.index.astype(str).str.strip(), name="material_id")
    frame = checked_properties(frame, where)
    duplicated = frame.index.duplicated()
    if duplicated.any():
        logger.warning("label table: %d duplicated ids, first rows kept", int(duplicated.sum()))
        frame = frame[~duplicated]
    return frame


def merge_labels(own: pd.DataFrame, table: pd.DataFrame, *, prefer: Prefer = "source") -> pd.DataFrame:
    """``own`` with the columns of ``table`` (indexed by material id) joined on its index.

    For a column on both sides, ``prefer`` names the side whose non-null value wins; the other
    side only fills unknown values. Ids of ``table`` missing from ``own`` are ignored.
    """
    merged = own.copy()
    extra = table.reindex(merged.index)
    for column in extra.columns:
        if column not in merged.columns:
            merged[column] = extra[column]
        elif prefer == "source":
            merged[column] = merged[column].where(merged[column].notna(), extra[column])
        else:
            merged[column] = extra[column].where(extra[column].notna(), merged[column])
    return merged


class JoinedSource(Source):
    """A source whose label table has columns joined in from another table (structures unchanged).

    Args:
        base: the source of structures (and its own labels).
        table: the extra labels, indexed by material id (see :func:`read_label_table`).
        columns: which table columns to join (default: all).
        prefer: for a column on both sides, whose non-null value wins: ``"source"`` (default: the
            source's own values are kept and the table only fills unknown values) or ``"table"``.
        table_name: a name for the table (used in the fingerprint and the source name).
    """

    def __init__(
        self,
        base: Source,
        table: pd.DataFrame,
        *,
        columns: Sequence[str] | None = None,
        prefer: Prefer = "source",
        table_name: str = "table",
    ) -> None:
        if prefer not in ("source", "table"):
            raise ValueError(f"prefer must be 'source' or 'table', got {prefer!r}")
        missing = [c for c in columns or () if c not in table.columns]
        if missing:
            raise ValueError(f"label table has no column(s) {missing}")
        self.base = base
        self.table = table[list(columns)] if columns is not None else table
        self.prefer = prefer
        self.name = f"{base.name}+{table_name}"
        self.path = base.path
        self._table_fingerprint = _frame_fingerprint(self.table)
        self._labels: pd.DataFrame | None = None

    def ids(self) -> list[str]:
        return self.base.ids()

    @property
    def matched(self) -> int:
        """How many of the source's ids the table has a row for."""
        return int(self.table.index.isin(self.base.ids()).sum())

    def labels(self) -> pd.DataFrame:
        if self._labels is None:
            self._labels = merge_labels(self.base.labels(), self.table, prefer=self.prefer)
        return self._labels.copy()

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord]:
        return self.base.iter_raw(ids)

    def fingerprint(self) -> str:
        return fingerprint_strings([self.base.fingerprint(), self._table_fingerprint, self.prefer])

    def structure_fingerprint(self) -> str:
        return self.base.structure_fingerprint()  # joined labels do not change the structures


def _frame_fingerprint(frame: pd.DataFrame) -> str:
    import pandas as pd

    hashed = pd.util.hash_pandas_object(frame.astype(str), index=True).to_numpy()
    return fingerprint_strings([",".join(map(str, frame.columns)), hashed.tobytes().hex()])
