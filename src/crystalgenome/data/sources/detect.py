"""Opening any supported dataset by path, with automatic format detection."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crystalgenome.data.columns import COLUMN_ALIASES, LOG10_ALIASES
from crystalgenome.data.sources.base import Source
from crystalgenome.data.sources.cgcnn import ID_PROP, CgcnnSource, is_cgcnn_folder
from crystalgenome.data.sources.folder import LABELS_FILE, FolderSource, structure_files
from crystalgenome.data.sources.joined import JoinedSource, Prefer, read_label_table
from crystalgenome.data.sources.jsonfiles import ColumnsJsonSource, JsonRecordsSource, json_layout

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("cgcnn", "folder", "json-records", "json-matbench", "json-columns")
"""What :func:`detect_format` can answer."""

_DATASET_LAYOUTS = {"records": "json-records", "matbench": "json-records", "columns": "json-columns"}
_MAX_JSON_PEEKS = 8


def _is_json(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith((".json", ".json.gz"))


def _dataset_files(folder: Path) -> list[Path]:
    """JSON files of ``folder`` that hold a whole dataset (not a single structure)."""
    candidates = sorted(p for p in folder.iterdir() if _is_json(p) and not p.name.startswith("."))
    if len(candidates) > _MAX_JSON_PEEKS and not any(p.name.lower().endswith(".gz") for p in candidates):
        return []  # many JSON files: a folder of structures, not a dataset file
    return [p for p in candidates if json_layout(p) in _DATASET_LAYOUTS]


def detect_format(path: str | Path) -> tuple[str, Path]:
    """(format, path to open) for a dataset file or folder; format is one of :data:`FORMATS`.

    Rules: a folder with ``id_prop.csv`` is CGCNN; a folder with ``labels.csv`` is the generic format;
    a folder whose only data is one dataset JSON file (list of records, matbench table or pandas column
    table) is that file; a folder of structure files is the generic format; anything ambiguous is an
    error. A file is opened by its layout.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        if path.name == ID_PROP:
            return "cgcnn", path.parent
        if path.name == LABELS_FILE:
            return "folder", path.parent
        if _is_json(path):
            layout = json_layout(path)
            if layout == "matbench":
                return "json-matbench", path
            if layout in _DATASET_LAYOUTS:
                return _DATASET_LAYOUTS[layout], path
            if layout == "structure":
                raise ValueError(
                    f"{path}: a single structure, not a dataset (put structure files in a folder)"
                )
        raise ValueError(
            f"{path}: not a recognised dataset file (expected a folder, id_prop.csv or dataset JSON)"
        )
    if is_cgcnn_folder(path):
        return "cgcnn", path
    if (path / LABELS_FILE).is_file():
        return "folder", path
    datasets = _dataset_files(path)
    loose = [p for p in structure_files(path).values() if p not in datasets]
    if datasets and (len(datasets) > 1 or loose):
        names = ", ".join(p.name for p in datasets[:3])
        raise ValueError(f"{path}: holds dataset file(s) ({names}) and other structures; open one file")
    if datasets:
        return detect_format(datasets[0])[0], datasets[0]
    if loose:
        return "folder", path
    raise ValueError(
        f"{path}: no structures found (no id_prop.csv, labels.csv, dataset JSON or structure files)"
    )


def open_source(path: str | Path, *, labels: str | Path | None = None) -> Source:
    """Open a dataset file or folder of any supported format (see :func:`detect_format`).

    Args:
        path: the dataset.
        labels: optional CSV of extra labels with a ``material_id`` column, joined by material id with
            :func:`join_labels` (the source's own non-null values win).
    """
    fmt, target = detect_format(path)
    folder_name = Path(path).resolve().name
    if fmt == "cgcnn":
        source: Source = CgcnnSource(target)
    elif fmt == "folder":
        source = FolderSource(target)
    elif fmt == "json-columns":
        source = ColumnsJsonSource(target, name=folder_name if Path(path).is_dir() else None)
    else:
        source = JsonRecordsSource(target, name=folder_name if Path(path).is_dir() else None)
    return source if labels is None else join_labels(source, labels)


def join_labels(
    source: Source,
    table: str | Path | pd.DataFrame,
    *,
    id_column: str = "material_id",
    columns: Sequence[str] | None = None,
    prefer: Prefer = "source",
) -> JoinedSource:
    """Join a label table (CSV path or DataFrame) onto ``source`` by material id.

    Column names are canonicalised first (``energy_above_hull`` -> ``e_above_hull``, ...; ``columns`` may
    use either name). For a column
    present on both sides, the source's own non-null values win and the table fills only unknown values
    (``prefer="table"`` reverses this). Ids of the table that the source lacks are ignored; ids of the
    source that the table lacks keep their own values (NaN for new columns).
    """
    import pandas as pd

    frame = read_label_table(table, id_column=id_column)
    if columns is not None:  # names may be given as in the file (aliases) or canonical
        aliases = {**COLUMN_ALIASES, **LOG10_ALIASES}
        columns = [c if c in frame.columns else aliases.get(c, c) for c in columns]
    name = "table" if isinstance(table, pd.DataFrame) else Path(table).name.split(".")[0]
    return JoinedSource(source, frame, columns=columns, prefer=prefer, table_name=name)
