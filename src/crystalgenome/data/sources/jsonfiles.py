"""Datasets stored as one JSON file (optionally gzip-compressed).

Three layouts are read:

- **records** (pymatgen / matcalc style): a list of objects, each with an id (``material_id``,
  ``mp_id``, ...), a structure (``structure``: a ``Structure.as_dict()`` or its JSON text; or ``cif``:
  CIF text) and property values, e.g. ``mp_elasticity_matcalc`` (``bulk_modulus_vrh`` ->
  ``k_vrh``, ``shear_modulus_vrh`` -> ``g_vrh``, GPa);
- **matbench** (pandas ``orient="split"``): ``{"index": [...], "columns": [...], "data": [[...], ...]}``
  (``gap pbe`` -> ``band_gap``, ``e_form`` -> ``formation_energy_per_atom``, ``log10(K_VRH)`` ->
  ``k_vrh`` = 10**x, ...);
- **columns** (pandas ``orient="columns"``): ``{"column": {"row": value}}``, e.g.
  ``mp_elastic_trachote``: CIF text in ``cif``, a 6×6 stiffness tensor (GPa, Voigt notation) in
  ``elasticity.elastic_tensor`` from which ``k_vrh`` and ``g_vrh`` (and the Voigt and Reuss bounds,
  as extra columns ``k_voigt``, ``k_reuss``, ``g_voigt``, ``g_reuss``, plus ``elastic_positive_definite``:
  False for mechanically unstable tensors, a few in MP) are computed; MP's crystal system
  ``spacegroup.crystal_system`` is kept as the extra column ``mp_crystal_system``.

JSON cannot be streamed, so the file is read whole once (on first use) and kept in memory.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crystalgenome.data.columns import ID_ALIASES
from crystalgenome.data.elasticity import voigt_reuss_hill
from crystalgenome.data.records import RawRecord
from crystalgenome.data.sources.base import (
    Source,
    check_unique,
    files_fingerprint,
    label_frame,
    resolve_ids,
    scalar_columns,
)

if TYPE_CHECKING:
    import pandas as pd

STRUCTURE_KEYS = ("structure", "final_structure", "cif")
"""Keys holding the structure, in order of preference."""

RENAMED_EXTRAS = {
    "spacegroup.crystal_system": "mp_crystal_system",
    "symmetry.crystal_system": "mp_crystal_system",
}

_FIRST_KEY = re.compile(r'\{\s*"((?:[^"\\]|\\.)*)"\s*:\s*(\S)')
_STRUCTURE_DICT_KEYS = {"@module", "@class", "lattice", "sites", "charge", "properties"}


def read_json(path: Path) -> Any:
    """Parse a JSON file, decompressing gzip transparently.

    Raises:
        ValueError: naming the file, when it is truncated, not gzip/UTF-8/JSON where it should be.
    """
    with path.open("rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else Path.open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
            return json.load(handle)
    except EOFError:
        raise ValueError(f"{path}: the file is truncated (the compressed data ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{path}: the compressed data is corrupt ({error})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON ({error}); is the file complete?") from None


def json_layout(path: Path) -> str:
    """Guess the layout of a JSON file from its first bytes: ``"records"``, ``"matbench"``, ``"columns"``,
    ``"structure"`` (a single pymatgen structure) or ``"unknown"``."""
    head = _head_text(path).lstrip()
    if head.startswith("["):
        first = head[1:].lstrip()[:1]
        return "records" if first in ("{", "]") else "unknown"  # a list of objects (records)
    match = _FIRST_KEY.match(head)
    if match is None:
        return "unknown"
    key, value_start = match.groups()
    if key in _STRUCTURE_DICT_KEYS:
        return "structure"
    if key in ("index", "columns", "data"):
        return "matbench"
    return "columns" if value_start == "{" else "unknown"


def _head_text(path: Path, size: int = 1 << 16) -> str:
    """About the first ``size`` characters of a (gzip-compressed) text file, also when it is truncated."""
    with path.open("rb") as handle:
        data = handle.read(1 << 18)
    if data[:2] == b"\x1f\x8b":
        try:
            data = zlib.decompressobj(wbits=31).decompress(data, size)
        except zlib.error as error:
            raise ValueError(f"{path}: the compressed data is corrupt ({error})") from None
    return data[:size].decode("utf-8", errors="replace")


def _structure_payload(value: Any, key: str) -> tuple[str | dict, str]:
    """(payload, fmt) of a stored structure: a dict, JSON text of a dict, or CIF text."""
    if isinstance(value, dict):
        return value, "dict"
    text = str(value) if value is not None else ""
    if key == "cif" or not text.lstrip().startswith("{"):
        return text, "cif"
    return text, "json"


def _dataset_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".json"):
        name = name.removesuffix(suffix)
    return name


class _JsonSource(Source):
    """Shared machinery: load once, then ids / labels / structures from memory."""

    def __init__(self, path: str | Path, *, name: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"{self.path}: no such file")
        self.name = name or _dataset_name(self.path)
        self._ids: list[str] | None = None
        self._structures: dict[str, tuple[str | dict, str]] = {}
        self._labels: pd.DataFrame | None = None

    def _load(self) -> None:
        raise NotImplementedError

    def _ensure(self) -> None:
        if self._ids is None:
            self._load()

    def ids(self) -> list[str]:
        self._ensure()
        assert self._ids is not None
        return list(self._ids)

    def labels(self) -> pd.DataFrame:
        self._ensure()
        assert self._labels is not None
        return self._labels.copy()

    def fingerprint(self) -> str:
        return files_fingerprint([self.path], type(self).__name__)

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord]:
        self._ensure()
        assert self._ids is not None
        for material_id in resolve_ids(ids, self._ids, self._structures):
            payload, fmt = self._structures[material_id]
            yield RawRecord(material_id, payload, fmt)


class JsonRecordsSource(_JsonSource):
    """A list of records, or a matbench ``split`` table (see the module docstring).

    Args:
        path: the ``.json`` or ``.json.gz`` file.
        name: dataset name (default: the file name without ``.json[.gz]``).
        id_key: record key of the material id (default: the first of ``material_id``, ``mp_id``, ...
            present; else the matbench index; else the position).
        structure_key: record key of the structure (default: ``structure``, ``final_structure`` or ``cif``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        id_key: str | None = None,
        structure_key: str | None = None,
    ) -> None:
        super().__init__(path, name=name)
        self.id_key = id_key
        self.structure_key = structure_key

    def _records(self) -> tuple[list[dict], list[str] | None]:
        data = read_json(self.path)
        if isinstance(data, dict) and "columns" in data and "data" in data:
            columns = list(data["columns"])
            records = [dict(zip(columns, row, strict=True)) for row in data["data"]]
            index = data.get("index")
            return records, [str(i) for i in index] if index is not None else None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ValueError(f"{self.path}: expected a list of records or a matbench table")
        return data, None

    def _load(self) -> None:
        import pandas as pd

        records, index = self._records()
        first = records[0] if records else {}
        id_key = self.id_key or next((k for k in ID_ALIASES if k in first), None)
        structure_key = self.structure_key or next((k for k in STRUCTURE_KEYS if k in first), None)
        if structure_key is None:
            raise ValueError(
                f"{self.path}: records have no structure (looked for {', '.join(STRUCTURE_KEYS)})"
            )
        if id_key is not None:
            ids = [str(record[id_key]) for record in records]
        else:
            ids = index if index is not None else [str(i) for i in range(len(records))]
        check_unique(ids, str(self.path))
        self._structures = {
            material_id: _structure_payload(record.get(structure_key), structure_key)
            for material_id, record in zip(ids, records, strict=True)
        }
        table = pd.DataFrame(
            [{k: v for k, v in r.items() if k not in (structure_key, id_key)} for r in records]
        )
        self._labels = label_frame(ids, scalar_columns(table) if len(table.columns) else None)
        self._ids = ids


class ColumnsJsonSource(_JsonSource):
    """A pandas ``orient="columns"`` table with structures and, optionally, elastic tensors.

    Args:
        path: the ``.json`` or ``.json.gz`` file.
        name: dataset name (default: the file name without ``.json[.gz]``).
    """

    def _columns(self) -> tuple[list[str], dict[str, list]]:
        data = read_json(self.path)
        if not isinstance(data, dict) or not data or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError(f"{self.path}: expected a pandas column table {{column: {{row: value}}}}")
        rows = list(next(iter(data.values())))
        return rows, {column: [values.get(row) for row in rows] for column, values in data.items()}

    def _load(self) -> None:
        import pandas as pd

        rows, columns = self._columns()
        ids = [str(i) for i in columns.pop("material_id", rows)]
        check_unique(ids, str(self.path))
        structure_key = next((k for k in STRUCTURE_KEYS if k in columns), None)
        if structure_key is None:
            raise ValueError(f"{self.path}: no structure column (looked for {', '.join(STRUCTURE_KEYS)})")
        self._structures = {
            material_id: _structure_payload(value, structure_key)
            for material_id, value in zip(ids, columns.pop(structure_key), strict=True)
        }
        tensor_key = next((k for k in columns if k.endswith("elastic_tensor")), None)
        moduli = _moduli(columns.pop(tensor_key)) if tensor_key is not None else {}
        table = pd.DataFrame(columns).rename(columns=RENAMED_EXTRAS)
        for name, values in moduli.items():
            if name in table.columns:  # a stored value wins; the tensor fills the gaps
                table[name] = pd.to_numeric(table[name], errors="coerce").fillna(pd.Series(values))
            else:
                table[name] = values
        self._labels = label_frame(ids, scalar_columns(table))
        self._ids = ids


def _tensor_array(value: Any) -> np.ndarray:
    if isinstance(value, dict):
        value = value.get("ieee_format", value.get("raw"))
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return np.full((6, 6), np.nan)
    return array if array.shape == (6, 6) else np.full((6, 6), np.nan)


def _moduli(tensors: list) -> dict[str, np.ndarray]:
    """VRH moduli (GPa) of a column of 6×6 stiffness tensors (None or malformed -> NaN)."""
    if not tensors:
        return {}
    averages = voigt_reuss_hill(np.stack([_tensor_array(t) for t in tensors]))
    return {
        "k_vrh": averages.k_vrh,
        "g_vrh": averages.g_vrh,
        "k_voigt": averages.k_voigt,
        "k_reuss": averages.k_reuss,
        "g_voigt": averages.g_voigt,
        "g_reuss": averages.g_reuss,
        "elastic_positive_definite": averages.positive_definite,
    }
