"""Shared fixtures: the real datasets folder (skipped cleanly when absent) and small structures."""

from __future__ import annotations

import os
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
