"""Helpers for the store and CLI tests: an in-memory source, bad CIFs, and a small generic folder."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crystalgenome.data import RawRecord, Source

NUM_REAL = 120


class TextSource(Source):
    """An in-memory source of CIF texts (any order, any ids); counts the records it streams."""

    def __init__(self, texts: dict[str, str], *, name: str = "texts", fingerprint: str = "texts-v1") -> None:
        self.name = name
        self.path = Path(f"/memory/{name}")
        self.texts = dict(texts)
        self._fingerprint = fingerprint
        self.streamed = 0

    def ids(self) -> list[str]:
        return list(self.texts)

    def labels(self):
        import pandas as pd

        ids = list(self.texts)
        index = pd.Index(ids, name="material_id")
        return pd.DataFrame({"band_gap": [float(i % 3) for i in range(len(ids))], "note": ids}, index=index)

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord]:
        for material_id in self.texts if ids is None else ids:
            self.streamed += 1
            yield RawRecord(material_id, self.texts[material_id], "cif")

    def fingerprint(self) -> str:
        return self._fingerprint

    def __len__(self) -> int:
        return len(self.texts)


BROKEN_CIF = "data_broken\n_cell_length_a 3.0\nthis is not a CIF\n"


def p1_cif(
    name: str, lengths: tuple[float, float, float], atoms: list[tuple[str, float, float, float]]
) -> str:
    """A P1 CIF with an orthogonal cell (Å) and ``(element, x, y, z)`` fractional sites, occupancy 1."""
    a, b, c = lengths
    sites = "".join(f"  {el}  {el}{i}  {x}  {y}  {z}  1\n" for i, (el, x, y, z) in enumerate(atoms))
    return f"""data_{name}
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   {a}
_cell_length_b   {b}
_cell_length_c   {c}
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
{sites}"""


OVERLAPPING_CIF = p1_cif("overlap", (4.0, 4.0, 4.0), [("Na", 0.0, 0.0, 0.0), ("Cl", 0.01, 0.0, 0.0)])


GENERIC_LABELS = {
    "band_gap": [0.0, 0.0, 1.2, 0.03, None, 2.0, 0.0, 0.5, 0.0, 3.0],
    "k_vrh": [120.0, 40.0, None, 90.0, 85.0, None, None, None, None, None],
    "note": [f"n{i}" for i in range(10)],
}
"""labels.csv of :func:`write_generic_folder`: 8 real structures, then ``broken``, then ``overlap``."""


def write_generic_folder(folder: Path, cif_texts: dict[str, str]) -> Path:
    """A generic-format folder: the first 8 CIFs of ``cif_texts`` (by id), a broken CIF, an
    overlapping-atoms CIF, and ``labels.csv`` with :data:`GENERIC_LABELS`."""
    import pandas as pd

    ids = list(cif_texts)[:8]
    for material_id in ids:
        (folder / f"{material_id}.cif").write_text(cif_texts[material_id])
    (folder / "broken.cif").write_text(BROKEN_CIF)
    (folder / "overlap.cif").write_text(OVERLAPPING_CIF)
    pd.DataFrame({"id": [*ids, "broken", "overlap"], **GENERIC_LABELS}).to_csv(
        folder / "labels.csv", index=False
    )
    return folder


def first_cifs(cgcnn_dir: Path, count: int) -> dict[str, str]:
    """The first ``count`` CIF texts of mp_cgcnn_mtcgcnn keyed by mp-id, read straight from the archive."""
    lines = (cgcnn_dir / "material_id_hash.csv").read_text().splitlines()[: 10 * count]
    mp_ids = dict(line.split(",") for line in lines)
    texts: dict[str, str] = {}
    with tarfile.open(cgcnn_dir / "cifs.tar.gz", "r|gz") as archive:
        for member in archive:
            index = Path(member.name).stem
            if member.isfile() and index in mp_ids:
                texts[mp_ids[index]] = archive.extractfile(member).read().decode()
            if len(texts) == count:
                break
    return texts


@dataclass(frozen=True)
class CrashingRecord:
    """A record whose parsing kills the worker process, as a segfault in native code would."""

    material_id: str

    def to_cell(self) -> None:
        os._exit(3)


class CrashingSource(TextSource):
    """A :class:`TextSource` whose record ``crash`` kills the process that parses it."""

    def iter_raw(self, ids: Iterable[str] | None = None) -> Iterator[RawRecord | CrashingRecord]:
        for record in super().iter_raw(ids):
            yield CrashingRecord(record.material_id) if record.material_id == "crash" else record


def assert_same_points(actual: np.ndarray, expected: np.ndarray) -> None:
    """Stored points equal the engine's: identical g; intensities equal to ~1e-16 of the strongest
    (shards are computed with the batched engine, whose sums may round differently)."""
    np.testing.assert_array_equal(actual[:, :3], expected[:, :3])
    np.testing.assert_allclose(
        actual[:, 3], expected[:, 3], rtol=1e-6, atol=1e-12 * float(expected[:, 3].max())
    )
