"""Shared fixtures: the real datasets folder (skipped cleanly when absent) and small structures."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
import warnings
from importlib import resources
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    """``$CRYSTALGENOME_DATA_DIR``, else ``../shared/data`` beside the repository, if it exists."""
    value = os.environ.get("CRYSTALGENOME_DATA_DIR")
    path = Path(value) if value else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; tests using it skip when it is absent."""
    path = _shared_data()
    if path is None:
        pytest.skip("shared data folder absent (set CRYSTALGENOME_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def cgcnn_dir(shared_data: Path) -> Path:
    path = shared_data / "mp_cgcnn_mtcgcnn"
    if not (path / "cifs.tar.gz").is_file():
        pytest.skip("mp_cgcnn_mtcgcnn absent")
    return path


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep every cache the tests create inside pytest's temporary folder."""
    os.environ["CRYSTALGENOME_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def bundled_structures() -> dict:
    """The structures pymatgen ships in ``pymatgen/util/structures`` (21 in pymatgen 2025-2026)."""
    from pymatgen.core import Structure

    folder = resources.files("pymatgen.util") / "structures"
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = Structure.from_dict(json.loads(entry.read_text()))
    return found


def shared_mp_structures(count: int = 40) -> dict:
    """Up to ``count`` real MP structures (half CGCNN CIFs, half matcalc elasticity set), or {}."""
    from pymatgen.core import Structure

    root = _shared_data()
    found: dict = {}
    if root is None:
        return found
    archive_path = root / "mp_cgcnn_mtcgcnn" / "cifs.tar.gz"
    if archive_path.is_file():
        with tarfile.open(archive_path) as archive:
            for index, member in enumerate(archive):
                if index % 97 == 5 and member.isfile():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        text = archive.extractfile(member).read().decode()
                        found[f"cgcnn/{Path(member.name).stem}"] = Structure.from_str(text, fmt="cif")
                if len(found) >= count // 2:
                    break
    matcalc = root / "mp_elasticity_matcalc" / "mp-binary-pbe-elasticity-2025.1.json.gz"
    if matcalc.is_file():
        records = json.loads(gzip.decompress(matcalc.read_bytes()))
        for record in records[:: max(1, len(records) // (count // 2))][: count // 2]:
            found[record["mp_id"]] = Structure.from_dict(record["structure"])
    return found


@pytest.fixture(scope="session")
def real_structures() -> dict:
    """pymatgen's bundled structures plus real MP structures when the shared data is present."""
    structures = bundled_structures()
    structures.update(shared_mp_structures())
    return structures
