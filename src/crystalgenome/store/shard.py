"""One shard: featurize its raw records (in a worker) and encode the result as an HDF5 file image.

A worker receives a :class:`ShardTask` (picklable raw records, parsed only there) and returns a
:class:`ShardResult` holding the bytes of a complete HDF5 file; the main process only writes those
bytes atomically. The same function runs in-process, in a process pool, or as a Ray task.

Shard file layout (n featurized structures, P = the largest point count in the shard)::

    attrs:   format_version, shard_index, settings_fingerprint, ids_fingerprint, num_expected
    ids                (n,)        str      material ids, in source order
    num_points         (n,)        int32    points of each structure (rows beyond are padding)
    points             (n, P, 4)   float32  (g_x, g_y, g_z in Å⁻¹, I = |F|²/V²), raw, zero-padded
    hkl                (n, P, 3)   int8/16  Miller indices in the cell used, zero-padded (lzf)
    lattice            (n, 3, 3)   float64  direct lattice of the cell used (rows), Å
    space_group_number (n,)        int16    at the settings' symprec
    crystal_system     (n,)        int8     index into CRYSTAL_SYSTEMS
    is_ordered         (n,)        bool     no partial occupancies in the input structure
    num_sites          (n,)        int32    sites of the input structure
    formula            (n,)        str      reduced formula (crystalgenome.data.cell_reduced_formula)
    skipped_ids        (k,)        str      structures that could not be featurized ...
    skipped_reasons    (k,)        str      ... and why
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crystalgenome.data import cell_reduced_formula
from crystalgenome.diffraction import DiffractionCalculator, DiffractionPattern, DiffractionSettings
from crystalgenome.diffraction.batch import compute_batch
from crystalgenome.errors import StructureError
from crystalgenome.store.layout import FORMAT_VERSION
from crystalgenome.structures import CRYSTAL_SYSTEMS, Cell, analyse_symmetry
from crystalgenome.utils.provenance import fingerprint_strings

if TYPE_CHECKING:
    from crystalgenome.data import RawRecord

_SYSTEM_INDEX = {name: index for index, name in enumerate(CRYSTAL_SYSTEMS)}
logger = logging.getLogger(__name__)

_calculators: dict[DiffractionSettings, DiffractionCalculator] = {}


@dataclass(frozen=True)
class ShardTask:
    """Work for one shard: its expected ids, the raw records found for them, the settings."""

    index: int
    ids: tuple[str, ...]
    records: tuple[RawRecord, ...]
    settings: DiffractionSettings


@dataclass(frozen=True)
class ShardResult:
    """A finished shard: the HDF5 file image and a summary for the progress report."""

    index: int
    image: bytes
    num_featurized: int
    skipped: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StructureFeatures:
    """Everything the store keeps about one featurized structure."""

    material_id: str
    points: np.ndarray  # (M, 4) float32
    hkl: np.ndarray  # (M, 3) int
    lattice: np.ndarray  # (3, 3) Å
    space_group_number: int
    crystal_system: str
    is_ordered: bool
    num_sites: int
    formula: str


def calculator_for(settings: DiffractionSettings) -> DiffractionCalculator:
    """One calculator per settings and process (its scattering tables are loaded once)."""
    calculator = _calculators.get(settings)
    if calculator is None:
        calculator = _calculators[settings] = DiffractionCalculator(settings)
    return calculator


def featurize_record(record: RawRecord, settings: DiffractionSettings) -> StructureFeatures:
    """Parse one raw record and compute its pattern and metadata.

    The space group comes from the standardisation the engine does anyway; only for
    ``cell="input"`` is it analysed separately.

    Raises:
        StructureError: naming the material id, when the record cannot be parsed or diffracted.
    """
    cell = record.to_cell()
    return _features(
        record.material_id, cell, calculator_for(settings).compute(cell, name=record.material_id)
    )


def _features(name: str, cell: Cell, pattern: DiffractionPattern) -> StructureFeatures:
    settings = pattern.settings
    symmetry = pattern.symmetry or analyse_symmetry(
        cell, symprec=settings.symprec, backend=settings.symmetry_backend, name=name
    )
    return StructureFeatures(
        material_id=name,
        points=pattern.point_cloud(np.float32),
        hkl=np.array(pattern.hkl),
        lattice=np.array(pattern.lattice),
        space_group_number=symmetry.number,
        crystal_system=symmetry.crystal_system,
        is_ordered=cell.is_ordered,
        num_sites=cell.num_sites,
        formula=cell_reduced_formula(cell),
    )


def _reason(error: Exception) -> str:
    if isinstance(error, StructureError):
        return error.reason
    return f"unexpected {type(error).__name__}: {error}"


def featurize_records(
    records: Sequence[RawRecord], settings: DiffractionSettings
) -> list[StructureFeatures | str]:
    """Features of each record, in order, or the reason (a one-line string) they could not be computed:
    one bad structure never stops the others.

    Parsing is per record; the patterns are computed together with the batched engine (falling back
    to one structure at a time if the batch fails). This is what a store shard holds, and what
    prediction feeds a trained model, so both see the same points for the same structure.
    """
    outcomes: list[StructureFeatures | str] = [""] * len(records)
    parsed: list[tuple[int, Cell]] = []
    for position, record in enumerate(records):
        try:
            parsed.append((position, record.to_cell()))
        except Exception as error:
            outcomes[position] = _reason(error)
    try:
        patterns = compute_batch(
            calculator_for(settings), [(records[i].material_id, cell) for i, cell in parsed]
        )
    except Exception as error:  # fall back to one at a time, so one bad structure stays one skip
        logger.warning("batched diffraction failed (%s); computing structures one at a time", error)
        patterns = []
        for position, cell in parsed:
            try:
                patterns.append(calculator_for(settings).compute(cell, name=records[position].material_id))
            except Exception as single_error:
                patterns.append(single_error)
    for (position, cell), pattern in zip(parsed, patterns, strict=True):
        name = records[position].material_id
        try:
            if isinstance(pattern, Exception):
                raise pattern
            outcomes[position] = _features(name, cell, pattern)
        except Exception as error:
            outcomes[position] = _reason(error)
    return outcomes


def compute_shard(task: ShardTask) -> ShardResult:
    """Featurize every record of a shard; ids without a record are reported as skipped."""
    by_id = {record.material_id: record for record in task.records}
    present = [by_id[material_id] for material_id in task.ids if material_id in by_id]
    outcome_of = dict(
        zip((r.material_id for r in present), featurize_records(present, task.settings), strict=True)
    )
    featurized: list[StructureFeatures] = []
    skipped: list[tuple[str, str]] = []
    for material_id in task.ids:
        outcome = outcome_of.get(material_id, "no record for this id in the source")
        if isinstance(outcome, str):
            skipped.append((material_id, outcome))
        else:
            featurized.append(outcome)
    image = encode_shard(
        featurized,
        skipped,
        index=task.index,
        settings_fingerprint=task.settings.fingerprint(),
        ids_fingerprint=fingerprint_strings(task.ids),
        num_expected=len(task.ids),
    )
    return ShardResult(index=task.index, image=image, num_featurized=len(featurized), skipped=tuple(skipped))


def _hkl_dtype(hkl: Sequence[np.ndarray]) -> type:
    largest = max((int(np.abs(block).max(initial=0)) for block in hkl), default=0)
    return np.int8 if largest <= np.iinfo(np.int8).max else np.int16


def _padded(blocks: Sequence[np.ndarray], width: int, dtype: type) -> np.ndarray:
    """Stack (M_i, c) blocks into one zero-padded (n, P, c) array."""
    columns = blocks[0].shape[1] if blocks else 1
    out = np.zeros((len(blocks), width, columns), dtype=dtype)
    for row, block in enumerate(blocks):
        out[row, : block.shape[0]] = block
    return out


def encode_shard(
    featurized: Sequence[StructureFeatures],
    skipped: Iterable[tuple[str, str]],
    *,
    index: int,
    settings_fingerprint: str,
    ids_fingerprint: str,
    num_expected: int,
) -> bytes:
    """The bytes of a complete shard HDF5 file (see the module docstring for the layout)."""
    import h5py

    text = h5py.string_dtype("utf-8")
    skipped = list(skipped)
    num_points = np.array([item.points.shape[0] for item in featurized], dtype=np.int32)
    width = int(num_points.max(initial=0))
    hkl_blocks = [item.hkl for item in featurized]
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.attrs.update(
            {
                "format_version": FORMAT_VERSION,
                "shard_index": index,
                "settings_fingerprint": settings_fingerprint,
                "ids_fingerprint": ids_fingerprint,
                "num_expected": num_expected,
            }
        )
        handle.create_dataset("ids", data=[item.material_id for item in featurized], dtype=text)
        handle.create_dataset("num_points", data=num_points)
        handle.create_dataset("points", data=_padded([item.points for item in featurized], width, np.float32))
        hkl = _padded(hkl_blocks, width, _hkl_dtype(hkl_blocks)).reshape(len(featurized), width, 3)
        handle.create_dataset("hkl", data=hkl, compression="lzf" if hkl.size else None)
        handle.create_dataset(
            "lattice", data=np.array([item.lattice for item in featurized]).reshape(-1, 3, 3)
        )
        handle.create_dataset(
            "space_group_number",
            data=np.array([item.space_group_number for item in featurized], dtype=np.int16),
        )
        handle.create_dataset(
            "crystal_system",
            data=np.array([_SYSTEM_INDEX[item.crystal_system] for item in featurized], dtype=np.int8),
        )
        handle["crystal_system"].attrs["names"] = list(CRYSTAL_SYSTEMS)
        handle.create_dataset(
            "is_ordered", data=np.array([item.is_ordered for item in featurized], dtype=bool)
        )
        handle.create_dataset(
            "num_sites", data=np.array([item.num_sites for item in featurized], dtype=np.int32)
        )
        handle.create_dataset("formula", data=[item.formula for item in featurized], dtype=text)
        handle.create_dataset("skipped_ids", data=[material_id for material_id, _ in skipped], dtype=text)
        handle.create_dataset("skipped_reasons", data=[reason for _, reason in skipped], dtype=text)
    return buffer.getvalue()


def shard_identity(path: Path) -> tuple[str, str] | None:
    """(settings_fingerprint, ids_fingerprint) of a shard file, or None when it cannot be read."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if handle.attrs.get("format_version") != FORMAT_VERSION:
                return None
            return str(handle.attrs["settings_fingerprint"]), str(handle.attrs["ids_fingerprint"])
    except (OSError, KeyError):
        return None
