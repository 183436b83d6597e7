"""FeatureStore.read_into: point clouds written shard by shard into a caller's preallocated array."""

from __future__ import annotations

import numpy as np
import pytest

from crystalgenome.diffraction import DiffractionSettings
from crystalgenome.store import FeatureStore, featurize
from tests.store.store_fixtures import TextSource, p1_cif


@pytest.fixture(scope="module")
def sphere_store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    """Eight small tetragonal/orthorhombic cells in shards of 3, limiting sphere: shards differ in width."""
    cscl = [("Cs", 0.0, 0.0, 0.0), ("Cl", 0.5, 0.5, 0.5)]
    texts = {f"s{i}": p1_cif("cscl", (3.0 + 0.3 * i, 3.1 + 0.2 * i, 2.6 + 0.45 * i), cscl) for i in range(8)}
    path = tmp_path_factory.mktemp("read_into") / "store"
    settings = DiffractionSettings(wavelength="CuKa", cell="input")
    featurize(TextSource(texts), path, settings=settings, shard_size=3, progress=False)
    return FeatureStore.open(path)


def test_store_has_shards_of_different_widths(sphere_store: FeatureStore) -> None:
    counts = sphere_store.num_points()
    assert len(set(counts.tolist())) > 3 and len(sphere_store.manifest["shards"]) == 3


def test_points_land_in_the_requested_rows(sphere_store: FeatureStore) -> None:
    ids = [sphere_store.ids[i] for i in (6, 0, 4, 3, 7)]
    at = np.array([9, 1, 5, 2, 0])
    width = sphere_store.max_num_points + 5
    out = np.zeros((10, width, 4), dtype=np.float32)
    mask = np.ones((10, width), dtype=bool)  # rows not written keep their values
    sphere_store.read_into(out, mask, ids, at=at)
    expected, expected_mask = sphere_store.load_points(ids)
    P = sphere_store.max_num_points
    np.testing.assert_array_equal(out[at, :P], expected)
    np.testing.assert_array_equal(out[at, P:], 0.0)
    np.testing.assert_array_equal(mask[at, :P], expected_mask)
    assert not mask[at, P:].any()
    untouched = np.setdiff1d(np.arange(10), at)
    assert not out[untouched].any() and mask[untouched].all()


def test_seven_channels_carry_the_miller_indices(sphere_store: FeatureStore) -> None:
    out = np.zeros((len(sphere_store), sphere_store.max_num_points, 7), dtype=np.float32)
    sphere_store.read_into(out)
    points, mask = sphere_store.load_points()
    hkl, _ = sphere_store.load_hkl()
    np.testing.assert_array_equal(out[..., :4], points)
    np.testing.assert_array_equal(out[..., 4:], hkl.astype(np.float32))
    assert np.abs(out[..., 4:][mask]).max() > 0


@pytest.mark.parametrize(
    ("out_shape", "mask_shape", "message"),
    [
        ((8, 2000, 3), None, "4 or 7"),
        ((8, 2, 4), None, "4 or 7"),
        ((8, 2000, 4), (8, 1999), "does not match"),
    ],
)
def test_wrong_shapes_are_refused(
    sphere_store: FeatureStore, out_shape: tuple, mask_shape: tuple | None, message: str
) -> None:
    out = np.zeros(out_shape, dtype=np.float32)
    mask = None if mask_shape is None else np.zeros(mask_shape, dtype=bool)
    with pytest.raises(ValueError, match=message):
        sphere_store.read_into(out, mask)


def test_unknown_ids_and_row_count_mismatch(sphere_store: FeatureStore) -> None:
    out = np.zeros((8, sphere_store.max_num_points, 4), dtype=np.float32)
    with pytest.raises(KeyError, match="nope"):
        sphere_store.read_into(out, ids=["s0", "nope"])
    with pytest.raises(ValueError, match="2 target rows for 3"):
        sphere_store.read_into(out, ids=["s0", "s1", "s2"], at=np.array([0, 1]))


def test_masks_are_written_in_chunks(sphere_store: FeatureStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from crystalgenome.store import reader

    monkeypatch.setattr(reader, "_MASK_CHUNK", 3)
    out = np.zeros((8, sphere_store.max_num_points, 4), dtype=np.float32)
    mask = np.zeros((8, sphere_store.max_num_points), dtype=bool)
    order = np.arange(8)[::-1]
    sphere_store.read_into(out, mask, [sphere_store.ids[i] for i in order])
    np.testing.assert_array_equal(mask.sum(axis=1), sphere_store.num_points()[order])
