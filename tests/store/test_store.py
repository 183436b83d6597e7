"""The store core: round trip, padding, resume, settings fingerprints, skips, bounded streaming."""

from __future__ import annotations

import fcntl
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from crystalgenome.data import RawRecord, cell_reduced_formula, task_labels, training_labels
from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
from crystalgenome.store import Backend, FeatureStore, StoreError, featurize
from crystalgenome.store.executors import run_shards
from crystalgenome.store.layout import plan_shards
from crystalgenome.store.shard import ShardTask
from crystalgenome.structures import CRYSTAL_SYSTEMS, analyse_symmetry
from tests.store.store_fixtures import (
    BROKEN_CIF,
    OVERLAPPING_CIF,
    CrashingSource,
    TextSource,
    assert_same_points,
)


def _subset(texts: dict[str, str], count: int) -> dict[str, str]:
    return dict(list(texts.items())[:count])


def _shard_stats(store: Path) -> dict[str, tuple[int, int]]:
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in (store / "shards").glob("*.h5")
    }


def test_round_trip_equals_calculator(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 30)
    source = TextSource(texts)
    report = featurize(source, tmp_path / "store", shard_size=8, progress=False)
    assert report.num_featurized == 30 and not report.skipped and report.shards_computed == 4
    store = FeatureStore.open(tmp_path / "store")
    assert store.ids == list(texts) and len(store) == 30
    assert store.settings == DiffractionSettings()
    points, mask = store.load_points()
    hkl, hkl_mask = store.load_hkl()
    lattices = store.load_lattices()
    assert points.dtype == np.float32 and points.shape == (30, 343, 4) and mask.all() and hkl_mask.all()
    labels = store.labels()
    calculator = DiffractionCalculator(DiffractionSettings())
    for row, material_id in enumerate(texts):
        cell = RawRecord(material_id, texts[material_id], "cif").to_cell()
        pattern = calculator.compute(cell, name=material_id)
        assert_same_points(points[row], pattern.point_cloud(np.float32))
        np.testing.assert_array_equal(hkl[row], pattern.hkl)
        np.testing.assert_array_equal(lattices[row], pattern.lattice)
        symmetry = analyse_symmetry(cell, symprec=0.1)
        assert labels.loc[material_id, "space_group_number"] == symmetry.number
        assert labels.loc[material_id, "crystal_system"] == symmetry.crystal_system
        assert labels.loc[material_id, "num_sites"] == cell.num_sites
        assert labels.loc[material_id, "formula"] == cell_reduced_formula(cell)
    assert labels["band_gap"].tolist() == source.labels()["band_gap"].tolist()
    assert labels["is_ordered"].all() and (labels["num_points"] == 343).all()
    metal = training_labels("metal", labels, symmetry=store.symmetry())
    expected = task_labels("metal", source.labels(), space_group_numbers=None)
    assert metal.equals(expected)
    systems = training_labels("crystal_system", labels, symmetry=store.symmetry()).dropna().astype(int)
    assert [CRYSTAL_SYSTEMS[i] for i in systems] == labels["crystal_system"].tolist()


def test_subset_in_any_order(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 20)
    featurize(TextSource(texts), tmp_path / "store", shard_size=6, progress=False)
    store = FeatureStore.open(tmp_path / "store")
    everything, _ = store.load_points()
    wanted = [store.ids[i] for i in (17, 3, 4, 5, 0, 12)]
    subset, mask = store.load_points(wanted)
    np.testing.assert_array_equal(subset, everything[[17, 3, 4, 5, 0, 12]])
    assert mask.shape == (6, 343)
    with pytest.raises(KeyError, match="not-there"):
        store.load_points(["not-there"])


def test_limiting_sphere_is_padded_with_a_mask(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 12)
    settings = DiffractionSettings(wavelength="CuKa")
    featurize(TextSource(texts), tmp_path / "store", settings=settings, shard_size=5, progress=False)
    store = FeatureStore.open(tmp_path / "store")
    points, mask = store.load_points()
    counts = store.num_points()
    assert len(set(counts.tolist())) > 1, "different cells give different sphere sizes"
    assert points.shape == (12, counts.max(), 4) and store.max_num_points == counts.max()
    np.testing.assert_array_equal(mask.sum(axis=1), counts)
    calculator = DiffractionCalculator(settings)
    for row, material_id in enumerate(texts):
        expected = calculator.compute(
            RawRecord(material_id, texts[material_id], "cif").to_cell(), name=material_id
        )
        assert_same_points(points[row, mask[row]], expected.point_cloud(np.float32))
        assert not points[row, ~mask[row]].any()


def test_bad_structures_are_skipped_and_reported(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 10)
    texts = {"bad-cif": BROKEN_CIF, **texts, "overlap": OVERLAPPING_CIF}
    report = featurize(TextSource(texts), tmp_path / "store", shard_size=4, progress=False)
    reasons = dict(report.skipped)
    assert set(reasons) == {"bad-cif", "overlap"}
    assert "no atom sites" in reasons["bad-cif"] and "overlapping atoms" in reasons["overlap"]
    store = FeatureStore.open(tmp_path / "store")
    assert store.ids == [key for key in texts if key not in reasons]
    skipped = store.skipped()
    assert skipped["material_id"].tolist() == ["bad-cif", "overlap"]
    assert skipped.set_index("material_id")["reason"].to_dict() == reasons
    assert "bad-cif" not in store.labels().index


def test_settings_mismatch_is_an_error(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 6)
    featurize(TextSource(texts), tmp_path / "store", shard_size=4, progress=False)
    before = _shard_stats(tmp_path / "store")
    with pytest.raises(StoreError, match="other diffraction settings"):
        featurize(
            TextSource(texts), tmp_path / "store", settings=DiffractionSettings(max_miller=2), progress=False
        )
    with pytest.raises(StoreError, match="another source"):
        featurize(TextSource(texts, fingerprint="other"), tmp_path / "store", shard_size=4, progress=False)
    with pytest.raises(StoreError, match="shard-size 4"):
        featurize(TextSource(texts), tmp_path / "store", shard_size=5, progress=False)
    assert _shard_stats(tmp_path / "store") == before
    assert FeatureStore.open(tmp_path / "store").settings == DiffractionSettings()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a feature store"):
        featurize(TextSource(texts), tmp_path / "other", progress=False)


def test_resume_recomputes_only_missing_shards(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 20)
    store_path = tmp_path / "store"
    featurize(TextSource(texts), store_path, shard_size=5, progress=False)
    reference, _ = FeatureStore.open(store_path).load_points()
    # Simulate a crash: one shard never renamed into place, a temporary file left behind.
    (store_path / "shards" / "shard-000002.h5").unlink()
    (store_path / "shards" / ".shard-000002.h5.abc.tmp").write_bytes(b"half a file")
    kept = _shard_stats(store_path)
    source = TextSource(texts)
    report = featurize(source, store_path, shard_size=5, progress=False)
    assert (report.shards_computed, report.shards_reused) == (1, 3)
    assert source.streamed == 5, "only the missing shard's records are streamed"
    after = _shard_stats(store_path)
    assert {name: after[name] for name in kept} == kept
    assert not list((store_path / "shards").glob(".*"))
    points, _ = FeatureStore.open(store_path).load_points()
    np.testing.assert_array_equal(points, reference)


def test_incomplete_store_refuses_to_open(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 8)
    featurize(TextSource(texts), tmp_path / "store", shard_size=4, progress=False)
    manifest = (tmp_path / "store" / "manifest.json").read_text()
    (tmp_path / "store" / "manifest.json").write_text(manifest.replace('"complete"', '"in_progress"'))
    with pytest.raises(StoreError, match="incomplete"):
        FeatureStore.open(tmp_path / "store")


def test_changed_limit_reuses_matching_shards(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 20)
    store_path = tmp_path / "store"
    featurize(TextSource(texts), store_path, shard_size=4, limit=10, progress=False)
    first = _shard_stats(store_path)
    report = featurize(TextSource(texts), store_path, shard_size=4, progress=False)
    # Shards 0 and 1 cover the same ids; shard 2 held ids 8-9 only and is recomputed with 8-11.
    assert (report.shards_reused, report.shards_computed) == (2, 3)
    after = _shard_stats(store_path)
    assert after["shard-000000.h5"] == first["shard-000000.h5"]
    assert after["shard-000002.h5"] != first["shard-000002.h5"]
    assert FeatureStore.open(store_path).ids == list(texts)
    with pytest.raises(StoreError, match="--limit 6 leaves out"):  # it would delete finished shards
        featurize(TextSource(texts), store_path, shard_size=4, limit=6, progress=False)
    assert _shard_stats(store_path) == after
    assert len(FeatureStore.open(store_path)) == 20


def test_process_pool_matches_serial(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 24)
    featurize(TextSource(texts), tmp_path / "serial", shard_size=5, progress=False)
    featurize(TextSource(texts), tmp_path / "pool", shard_size=5, backend=Backend(workers=2), progress=False)
    serial, pool = FeatureStore.open(tmp_path / "serial"), FeatureStore.open(tmp_path / "pool")
    assert serial.ids == pool.ids and serial.fingerprint() == pool.fingerprint()
    np.testing.assert_array_equal(serial.load_points()[0], pool.load_points()[0])
    pd.testing.assert_frame_equal(serial.labels(), pool.labels())


def test_streaming_keeps_few_shards_in_flight(real_cif_texts: dict[str, str]) -> None:
    texts = _subset(real_cif_texts, 40)
    pulled: list[int] = []

    def tasks():
        for index, spec in enumerate(plan_shards(list(texts), 2)):
            pulled.append(index)
            records = tuple(RawRecord(i, texts[i], "cif") for i in spec.ids)
            yield ShardTask(index=spec.index, ids=spec.ids, records=records, settings=DiffractionSettings())

    backend = Backend(workers=2)
    results = run_shards(tasks(), backend)
    next(results)
    assert len(pulled) <= backend.in_flight + 1 < 20
    assert len([next(results) for _ in range(19)]) == 19 and len(pulled) == 20


def test_shard_files_carry_their_identity(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 5)
    featurize(TextSource(texts), tmp_path / "store", shard_size=5, progress=False)
    with h5py.File(tmp_path / "store" / "shards" / "shard-000000.h5", "r") as handle:
        assert handle.attrs["settings_fingerprint"] == DiffractionSettings().fingerprint()
        assert handle["ids"].asstr()[:].tolist() == list(texts)
    assert (tmp_path / "store" / "shards" / "shard-000000.h5").stat().st_size > 5 * 343 * 16


def test_a_second_concurrent_run_is_refused(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 4)
    featurize(TextSource(texts), tmp_path / "store", shard_size=2, progress=False)
    with (tmp_path / "store" / ".lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running featurize holds it
        with pytest.raises(StoreError, match="another featurize run"):
            featurize(TextSource(texts), tmp_path / "store", shard_size=2, progress=False)
    assert featurize(TextSource(texts), tmp_path / "store", shard_size=2, progress=False).shards_reused == 2


def test_a_dying_worker_stops_the_run_cleanly(real_cif_texts: dict[str, str], tmp_path: Path) -> None:
    texts = _subset(real_cif_texts, 12)
    texts = {**texts, "crash": "unused"}
    with pytest.raises(StoreError, match="worker process died"):
        featurize(
            CrashingSource(texts),
            tmp_path / "store",
            shard_size=4,
            backend=Backend(workers=2),
            progress=False,
        )
    assert not list((tmp_path / "store" / "shards").glob(".*"))
    del texts["crash"]
    report = featurize(TextSource(texts), tmp_path / "store", shard_size=4, progress=False)
    assert report.num_featurized == 12
