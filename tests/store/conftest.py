"""Store-test fixtures: the first real structures of mp_cgcnn_mtcgcnn as CIF texts."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from store_fixtures import NUM_REAL


@pytest.fixture(scope="session")
def real_cif_texts(cgcnn_dir: Path) -> dict[str, str]:
    """The first NUM_REAL CIFs of mp_cgcnn_mtcgcnn keyed by their mp-id."""
    mp_ids = dict(
        line.split(",")
        for line in (cgcnn_dir / "material_id_hash.csv").read_text().splitlines()[: 10 * NUM_REAL]
    )
    texts: dict[str, str] = {}
    with tarfile.open(cgcnn_dir / "cifs.tar.gz", "r|gz") as archive:
        for member in archive:
            index = Path(member.name).stem
            if member.isfile() and index in mp_ids:
                texts[mp_ids[index]] = archive.extractfile(member).read().decode()
            if len(texts) == NUM_REAL:
                break
    return texts
