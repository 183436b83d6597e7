"""Real inputs for training tests: the first few hundred mp_cgcnn structures, diffracted once per session."""

from __future__ import annotations

import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from crystalgenome.utils.paths import cache_dir

NUM_STRUCTURES = 480


@dataclass(frozen=True)
class RealPatterns:
    """Raw point clouds (n, 343, 4), crystal-system labels, band gaps (eV) and material indices."""

    points: np.ndarray
    crystal_system: np.ndarray
    band_gap: np.ndarray
    ids: np.ndarray

    def metal_task(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Metals (gap = 0) vs insulators (gap > 0.05 eV), the rest dropped: points, labels, ids."""
        keep = (self.band_gap == 0) | (self.band_gap > 0.05)
        return self.points[keep], (self.band_gap[keep] > 0).astype(np.int64), self.ids[keep]


def _diffract_first(cgcnn_dir: Path, count: int) -> dict[str, np.ndarray]:
    from crystalgenome.diffraction import DiffractionCalculator
    from crystalgenome.errors import StructureError
    from crystalgenome.structures import CRYSTAL_SYSTEMS, read_structure_text

    gaps = {}
    for line in (cgcnn_dir / "id_prop.csv").read_text().splitlines():
        fields = line.split(",")
        gaps[fields[0]] = float(fields[2])
    calculator = DiffractionCalculator()
    points, systems, band_gaps, ids = [], [], [], []
    with tarfile.open(cgcnn_dir / "cifs.tar.gz") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for member in archive:  # streamed: only the first members are decompressed
            if len(ids) == count:
                break
            index = Path(member.name).stem
            if not member.isfile() or index not in gaps:
                continue
            try:
                text = archive.extractfile(member).read().decode()
                pattern = calculator.compute(read_structure_text(text, "cif", name=index), index)
            except (StructureError, ValueError):
                continue
            points.append(pattern.point_cloud())
            systems.append(CRYSTAL_SYSTEMS.index(pattern.symmetry.crystal_system))
            band_gaps.append(gaps[index])
            ids.append(index)
    return {
        "points": np.stack(points),
        "crystal_system": np.array(systems),
        "band_gap": np.array(band_gaps),
        "ids": np.array(ids),
    }


@pytest.fixture(scope="session")
def real_patterns(cgcnn_dir: Path) -> RealPatterns:
    """~480 real diffraction patterns (primitive cell, Miller box N = 3), cached for the session."""
    cache = cache_dir("tests") / f"cgcnn_first_{NUM_STRUCTURES}.npz"
    if not cache.is_file():
        np.savez(cache, **_diffract_first(cgcnn_dir, NUM_STRUCTURES))
    with np.load(cache) as data:
        return RealPatterns(**{key: data[key] for key in data.files})
