"""Dataset formats: one :class:`Source` abstraction, one class per format, automatic detection."""

from __future__ import annotations

from crystalgenome.data.sources.base import Source
from crystalgenome.data.sources.builtin import builtin_source, builtin_summary
from crystalgenome.data.sources.cgcnn import CgcnnSource
from crystalgenome.data.sources.detect import FORMATS, detect_format, join_labels, open_source
from crystalgenome.data.sources.folder import FolderSource
from crystalgenome.data.sources.joined import JoinedSource, read_label_table
from crystalgenome.data.sources.jsonfiles import ColumnsJsonSource, JsonRecordsSource

__all__ = [
    "FORMATS",
    "CgcnnSource",
    "ColumnsJsonSource",
    "FolderSource",
    "JoinedSource",
    "JsonRecordsSource",
    "Source",
    "builtin_source",
    "builtin_summary",
    "detect_format",
    "join_labels",
    "open_source",
    "read_label_table",
]
