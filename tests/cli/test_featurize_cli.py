"""`crystalgenome featurize` as users run it: real structures, SIGKILL and resume, bad files, Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crystalgenome.cli.app import app
from crystalgenome.data import open_source
from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
from crystalgenome.store import FeatureStore, StoreError, featurize
from tests.store.store_fixtures import assert_same_points, first_cifs, write_generic_folder

EXE = [sys.executable, "-m", "crystalgenome"]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter, as users run it."""
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=timeout, check=False)


def invoke(*args: str) -> subprocess.CompletedProcess:
    """The command in this process (no interpreter start-up): same arguments, exit code and output."""
    result = CliRunner().invoke(app, list(args))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def shard_stats(store: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (store / "shards").glob("shard-*.h5")}


def count_shards(store: Path) -> int:
    return len(shard_stats(store)) if (store / "shards").is_dir() else 0


@pytest.fixture(scope="module")
def generic_folder(cgcnn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 real CIFs, a broken CIF, an overlapping-atoms CIF, and labels.csv (see write_generic_folder)."""
    return write_generic_folder(tmp_path_factory.mktemp("generic"), first_cifs(cgcnn_dir, 8))


def test_featurize_real_subset_matches_calculator(cgcnn_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "store"
    result = run("featurize", str(cgcnn_dir), "--out", str(out), "--limit", "40", "--shard-size", "16")
    assert result.returncode == 0, result.stderr
    assert "40 of 40 structures featurized" in result.stdout
    store = FeatureStore.open(out)
    source = open_source(cgcnn_dir)
    assert store.ids == source.ids()[:40]
    points, mask = store.load_points()
    assert points.shape == (40, 343, 4) and mask.all()
    calculator = DiffractionCalculator(DiffractionSettings())
    for row, record in enumerate(source.iter_raw(store.ids)):
        expected = calculator.compute(record.to_cell(), name=record.material_id)
        assert_same_points(points[row], expected.point_cloud(np.float32))
    labels = store.labels()
    expected_gaps = source.labels().loc[store.ids, "band_gap"]
    np.testing.assert_array_equal(labels["band_gap"].to_numpy(), expected_gaps.to_numpy())
    assert (
        labels["crystal_system"]
        .isin(["cubic", "hexagonal", "tetragonal", "orthorhombic", "trigonal", "monoclinic", "triclinic"])
        .all()
    )
    manifest = store.manifest
    assert manifest["source"]["fingerprint"] == source.fingerprint()
    assert manifest["settings_fingerprint"] == DiffractionSettings().fingerprint()
    assert "versions" in manifest["provenance"]


def test_sigkill_then_resume(cgcnn_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    args = [
        "featurize",
        str(cgcnn_dir),
        "--limit",
        "300",
        "--shard-size",
        "10",
        "--workers",
        "2",
        "--no-progress",
    ]
    process = subprocess.Popen(
        [*EXE, *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None and count_shards(out) < 3:
        time.sleep(0.005)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run should still have been going when it was killed"
    finished = shard_stats(out)
    assert 3 <= len(finished) < 30
    assert '"in_progress"' in (out / "manifest.json").read_text()
    with pytest.raises(StoreError, match="incomplete"):
        FeatureStore.open(out)

    result = run(*args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"{30 - len(finished)} shards computed, {len(finished)} reused" in result.stdout
    after = shard_stats(out)
    assert len(after) == 30
    assert {name: after[name] for name in finished} == finished, "finished shards were rewritten"
    assert not [p for p in (out / "shards").iterdir() if not p.name.startswith("shard-")]
    for path in (out / "shards").glob("*.h5"):
        with h5py.File(path, "r") as handle:
            assert handle["points"].shape[0] + handle["skipped_ids"].shape[0] == 10

    reference_path = tmp_path / "reference"
    featurize(open_source(cgcnn_dir), reference_path, shard_size=10, limit=300, progress=False)
    resumed, reference = FeatureStore.open(out), FeatureStore.open(reference_path)
    assert len(set(resumed.ids)) == len(resumed.ids) == len(reference.ids)
    assert resumed.ids == reference.ids and resumed.fingerprint() == reference.fingerprint()
    np.testing.assert_array_equal(resumed.load_points()[0], reference.load_points()[0])
    np.testing.assert_array_equal(resumed.load_hkl()[0], reference.load_hkl()[0])
    pd.testing.assert_frame_equal(resumed.labels(), reference.labels())
    pd.testing.assert_frame_equal(resumed.skipped(), reference.skipped())


def test_other_settings_into_same_store_fail(cgcnn_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "store"
    assert (
        invoke("featurize", str(cgcnn_dir), "--out", str(out), "--limit", "5", "--workers", "1").returncode
        == 0
    )
    before = shard_stats(out)
    result = invoke("featurize", str(cgcnn_dir), "--out", str(out), "--limit", "5", "--max-miller", "2")
    assert result.returncode == 1
    assert "other diffraction settings" in result.stderr and "max_miller=3" in result.stderr
    assert shard_stats(out) == before
    again = invoke("featurize", str(cgcnn_dir), "--out", str(out), "--limit", "5", "--workers", "1")
    assert again.returncode == 0 and "0 shards computed, 1 reused" in again.stdout


def test_bad_structures_are_skipped_and_reported(generic_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "store"
    result = invoke(
        "featurize", str(generic_folder), "--out", str(out), "--shard-size", "3", "--workers", "2"
    )
    assert result.returncode == 0, result.stderr
    assert "8 of 10 structures featurized" in result.stdout and "2 skipped" in result.stdout
    assert "skipped broken:" in result.stderr and "skipped overlap: overlapping atoms" in result.stderr
    store = FeatureStore.open(out)
    skipped = store.skipped().set_index("material_id")["reason"]
    assert sorted(skipped.index) == ["broken", "overlap"]
    assert "overlapping atoms" in skipped["overlap"] and skipped["broken"]
    assert len(store) == 8 and "broken" not in store
    labels = store.labels()
    assert labels["note"].tolist() == [f"n{i}" for i in range(8)]
    assert labels["k_vrh"].iloc[0] == 120.0 and np.isnan(labels["k_vrh"].iloc[2])


def test_local_ray_matches_processes(
    generic_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--ray` without an address starts its own local Ray, even when the environment names a cluster
    (RAY_ADDRESS, or a running `ray start` head) that ray.init would otherwise join and refuse num_cpus."""
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    ray_out, local_out = tmp_path / "ray", tmp_path / "local"
    result = run(
        "featurize",
        str(generic_folder),
        "--out",
        str(ray_out),
        "--ray",
        "--workers",
        "2",
        "--shard-size",
        "3",
    )
    assert result.returncode == 0, result.stderr
    assert "on ray (local, 2 CPUs)" in result.stdout
    featurize(open_source(generic_folder), local_out, shard_size=3, progress=False)
    on_ray, local = FeatureStore.open(ray_out), FeatureStore.open(local_out)
    assert on_ray.ids == local.ids and len(on_ray) == 8
    np.testing.assert_array_equal(on_ray.load_points()[0], local.load_points()[0])
    pd.testing.assert_frame_equal(on_ray.skipped(), local.skipped())


def test_conflicting_options(generic_folder: Path, tmp_path: Path) -> None:
    both = invoke(
        "featurize",
        str(generic_folder),
        "--out",
        str(tmp_path / "a"),
        "--max-miller",
        "2",
        "--wavelength",
        "CuKa",
    )
    assert both.returncode != 0 and "not both" in both.stderr
    ray = invoke(
        "featurize", str(generic_folder), "--out", str(tmp_path / "b"), "--ray", "--ray-address", "auto"
    )
    assert ray.returncode != 0 and "not both" in ray.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
