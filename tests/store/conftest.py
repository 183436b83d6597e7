"""Store-test fixtures: the first real structures of mp_cgcnn_mtcgcnn as CIF texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.store_fixtures import NUM_REAL, first_cifs


@pytest.fixture(scope="session")
def real_cif_texts(cgcnn_dir: Path) -> dict[str, str]:
    """The first NUM_REAL CIFs of mp_cgcnn_mtcgcnn keyed by their mp-id."""
    return first_cifs(cgcnn_dir, NUM_REAL)
