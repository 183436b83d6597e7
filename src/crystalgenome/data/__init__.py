"""Stage 2: datasets of real structures, labels of the seven tasks, and splits.

- :func:`open_source` opens any supported dataset (CGCNN folders, pymatgen/matbench JSON, pandas
  column JSON with elastic tensors, the generic folder format) as a :class:`Source`;
  :func:`join_labels` adds a label table by material id; :func:`builtin_source` is the default data
  made from installed packages only; :func:`download_materials_project` fills a generic folder from MP.
- :func:`symmetry_table` (space groups, cached) and :func:`task_labels` give the class of every
  material for each task in :data:`TASKS`; :func:`filter_records` says what may be trained on.
- :func:`random_split`, :func:`grouped_split` and :func:`authors_split` make :class:`Split` objects.

Heavy libraries (pandas, pymatgen, mp-api) are imported inside the functions that need them.
"""

from __future__ import annotations

from crystalgenome.data.columns import PROPERTY_COLUMNS, PROPERTY_UNITS
from crystalgenome.data.labels import (
    CRYSTAL_FAMILIES,
    TASKS,
    LabelThresholds,
    task_class_names,
    task_labels,
    training_labels,
)
from crystalgenome.data.records import RawRecord
from crystalgenome.data.sources import (
    CgcnnSource,
    ColumnsJsonSource,
    FolderSource,
    JoinedSource,
    JsonRecordsSource,
    Source,
    builtin_source,
    detect_format,
    open_source,
)
from crystalgenome.data.splits import Split, authors_split, grouped_split, random_split
from crystalgenome.data.symmetry import cell_reduced_formula, symmetry_table


def download_materials_project(*args, **kwargs):
    """See :func:`crystalgenome.data.sources.materials_project.download_materials_project`."""
    from crystalgenome.data.sources.materials_project import download_materials_project as download

    return download(*args, **kwargs)


__all__ = [
    "CRYSTAL_FAMILIES",
    "PROPERTY_COLUMNS",
    "PROPERTY_UNITS",
    "TASKS",
    "CgcnnSource",
    "ColumnsJsonSource",
    "FolderSource",
    "JoinedSource",
    "JsonRecordsSource",
    "LabelThresholds",
    "RawRecord",
    "Source",
    "Split",
    "authors_split",
    "builtin_source",
    "cell_reduced_formula",
    "detect_format",
    "download_materials_project",
    "grouped_split",
    "open_source",
    "random_split",
    "symmetry_table",
    "task_class_names",
    "task_labels",
    "training_labels",
]
