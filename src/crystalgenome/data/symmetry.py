"""Per-material tables derived from the structures (space group, order, reduced formula), computed once
per source and cached under ``cache_dir()`` keyed by the source fingerprint and the settings."""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.data.fastparse import electronegativities
from crystalgenome.data.records import RawRecord
from crystalgenome.errors import StructureError
from crystalgenome.structures import Cell, SymmetryBackend, analyse_symmetry
from crystalgenome.utils.atomic import atomic_path
from crystalgenome.utils.paths import cache_dir

if TYPE_CHECKING:
    import pandas as pd

    from crystalgenome.data.sources.base import Source

SYMMETRY_COLUMNS = ("space_group_number", "crystal_system", "is_ordered", "error")
_CHUNK = 256


def _symmetry_row(record: RawRecord, *, symprec: float, backend: SymmetryBackend) -> tuple:
    """(space-group number or None, crystal system or "", is_ordered, error or "") of one record."""
    ordered = False
    try:
        cell = record.to_cell()
        ordered = cell.is_ordered
        info = analyse_symmetry(cell, symprec=symprec, backend=backend, name=record.material_id)
    except StructureError as error:
        return None, "", ordered, error.reason
    except Exception as error:  # a library bug on one structure must not stop the table
        return None, "", ordered, f"{type(error).__name__}: {error}"
    return info.number, info.crystal_system, ordered, ""


def cell_reduced_formula(cell: Cell) -> str:
    """Reduced formula of a cell: elements by increasing electronegativity (then symbol), amounts divided
    by their greatest common divisor when all are integers (``"NaCl"``, ``"Al2O3"``, ``"Fe"``).

    A grouping key rather than pymatgen's ``Composition.reduced_formula``, which also writes polyatomic
    groups (``Li(CN)2``) and special molecule names (``O2``, ``H2O2``); this one needs no pymatgen."""
    amounts: dict[str, float] = {}
    counts = np.bincount(cell.types, minlength=len(cell.compositions))
    for composition, count in zip(cell.compositions, counts, strict=True):
        for symbol, occupancy in composition.items():
            amounts[symbol] = amounts.get(symbol, 0.0) + occupancy * float(count)
    negativity = electronegativities()
    symbols = sorted(
        amounts, key=lambda s: (math.isnan(negativity.get(s, math.nan)), negativity.get(s, 0.0), s)
    )
    values = [amounts[s] for s in symbols]
    if all(abs(v - round(v)) < 1e-8 for v in values):
        divisor = math.gcd(*(round(v) for v in values)) or 1
        values = [round(v) / divisor for v in values]
    return "".join(
        f"{s}{'' if abs(v - 1) < 1e-8 else f'{v:.8g}'}" for s, v in zip(symbols, values, strict=True)
    )


def _formula_row(record: RawRecord) -> tuple:
    """(reduced formula or "", error or "") of one record."""
    try:
        return cell_reduced_formula(record.to_cell()), ""
    except StructureError as error:
        return "", error.reason
    except Exception as error:  # a library bug on one structure must not stop the table
        return "", f"{type(error).__name__}: {error}"


def _apply(function: Callable[[RawRecord], tuple], records: list[RawRecord]) -> list[tuple]:
    return [function(record) for record in records]


def _chunks(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    chunk: list[RawRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def map_records(
    source: Source,
    function: Callable[[RawRecord], tuple],
    *,
    workers: int = 1,
    progress: bool = True,
    desc: str = "structures",
) -> list[tuple]:
    """``function`` applied to every record of ``source`` (in id order), on ``workers`` processes.

    Records are streamed to the workers in chunks, so memory stays bounded. ``function`` must be
    picklable (a module-level function or a ``functools.partial`` of one).
    """
    from tqdm.auto import tqdm

    total = len(source)
    results: list[tuple] = []
    chunks = _chunks(source.iter_raw(), _CHUNK)
    with tqdm(total=total, desc=desc, unit="structure", disable=not progress, leave=False) as bar:
        if workers <= 1:
            for chunk in chunks:
                results.extend(_apply(function, chunk))
                bar.update(len(chunk))
            return results
        with multiprocessing.get_context().Pool(workers) as pool:
            for done in pool.imap(partial(_apply, function), chunks):
                results.extend(done)
                bar.update(len(done))
    return results


def _cached_frame(path, ids: list[str]) -> pd.DataFrame | None:
    import pandas as pd

    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype={"material_id": str})
    except (ValueError, OSError):
        return None
    frame = frame.set_index("material_id")
    return frame if list(frame.index) == ids else None


def _write_cache(path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as temporary:
        frame.to_csv(temporary)


def symmetry_table(
    source: Source,
    *,
    symprec: float = 0.1,
    backend: SymmetryBackend = "moyopy",
    workers: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Space group of every structure of ``source`` at distance tolerance ``symprec`` (Å).

    Returns a table indexed by ``material_id`` (in ``source.ids()`` order) with columns
    ``space_group_number`` (Int64, ``<NA>`` on failure), ``crystal_system`` (lower case, "" on failure),
    ``is_ordered`` (bool: every site one element, occupancy 1) and ``error`` (the reason, "" when fine).
    Cached under ``cache_dir("symmetry")`` by the source's structure fingerprint, symprec and backend
    (a cached table is used only if its ids equal ``source.ids()``).
    """
    import pandas as pd

    ids = source.ids()
    path = cache_dir("symmetry") / f"{source.structure_fingerprint()}-{symprec:g}-{backend}.csv"
    cached = _cached_frame(path, ids)
    if cached is not None:
        cached["space_group_number"] = pd.to_numeric(cached["space_group_number"], errors="coerce").astype(
            "Int64"
        )
        cached["is_ordered"] = cached["is_ordered"].astype(bool)
        cached["crystal_system"] = cached["crystal_system"].fillna("").astype(str)
        cached["error"] = cached["error"].fillna("").astype(str)
        return cached[list(SYMMETRY_COLUMNS)]
    rows = map_records(
        source,
        partial(_symmetry_row, symprec=symprec, backend=backend),
        workers=workers,
        progress=progress,
        desc="symmetry",
    )
    frame = pd.DataFrame(rows, columns=list(SYMMETRY_COLUMNS), index=pd.Index(ids, name="material_id"))
    frame["space_group_number"] = frame["space_group_number"].astype("Int64")
    frame["is_ordered"] = frame["is_ordered"].astype(bool)
    _write_cache(path, frame)
    return frame


def reduced_formulas(source: Source, *, workers: int = 1, progress: bool = True) -> pd.Series:
    """Reduced formula (:func:`cell_reduced_formula`, e.g. ``"NaCl"``) of every structure, indexed by
    ``material_id``; "" where the structure cannot be read. Cached under ``cache_dir("formulas")`` by
    source fingerprint."""
    import pandas as pd

    ids = source.ids()
    path = cache_dir("formulas") / f"{source.structure_fingerprint()}.csv"
    cached = _cached_frame(path, ids)
    if cached is None:
        rows = map_records(source, _formula_row, workers=workers, progress=progress, desc="formulas")
        cached = pd.DataFrame(rows, columns=["formula", "error"], index=pd.Index(ids, name="material_id"))
        _write_cache(path, cached)
    return cached["formula"].fillna("").astype(str).rename("formula")
