"""Bad datasets and stores: label tables with unusable values, damaged CGCNN archives, a smaller --limit
on an existing store, a full disk, and hydrogen isotopes (which must not silently become hydrogen)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from crystalgenome.data import open_source
from crystalgenome.data.sources.tarstream import ArchiveError, iter_members
from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
from crystalgenome.diffraction.scattering import scattering_model
from crystalgenome.store import FeatureStore
from crystalgenome.structures import Cell, read_structure
from tests.badinput.corpus import CUBE, GOOD_SITES, cif, poscar, tar_gz, write_good_files
from tests.badinput.test_structure_files import invoke

# --- labels ------------------------------------------------------------------------------------------

BAD_LABELS = """id,band_gap,k_vrh,formation_energy_per_atom,note
good_si,0.5,abc,-1.2,a
good_cscl_sym,N/A,-5,-0.5,b
good_graphite,inf,12 GPa,,c
good_crlf,1e400,100,nan,d
good_srtio3,,50,-3,e
good_tio2,2.0,,1,f
"""


@pytest.fixture
def labelled_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "labelled"
    folder.mkdir()
    write_good_files(folder)
    (folder / "labels.csv").write_text(BAD_LABELS)
    return folder


def test_bad_label_values_are_reported_per_row_and_not_used(labelled_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "store"
    result = invoke("featurize", str(labelled_folder), "--out", str(out), "--workers", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("crystalgenome: warning: ")]
    labels_file = str(labelled_folder / "labels.csv")
    gap = next(line for line in warned if "band_gap" in line)
    assert labels_file in gap and "3 band_gap value(s) not used" in gap
    for row, value, problem in (
        (3, "N/A", "not a number"),
        (4, "inf", "not finite"),
        (5, "1e400", "not finite"),
    ):
        assert f"row {row} " in gap and f"'{value}' is {problem}" in gap
    modulus = next(line for line in warned if "k_vrh" in line)
    assert "3 k_vrh value(s) not used" in modulus and "'-5' is negative" in modulus and "'12 GPa'" in modulus
    energy = next(line for line in warned if "formation_energy_per_atom" in line)
    assert (
        "1 formation_energy_per_atom value(s)" in energy and "'nan' is not a number" in energy
    )  # −1.2 is fine
    stored = FeatureStore.open(out).labels()
    assert stored["k_vrh"].to_dict() == pytest.approx(
        {"good_si": np.nan, "good_cscl_sym": np.nan, "good_graphite": np.nan, "good_crlf": 100.0,
         "good_srtio3": 50.0, "good_tio2": np.nan}, nan_ok=True,
    )  # fmt: skip
    assert (
        stored.loc["good_si", "band_gap"] == 0.5
        and stored.loc["good_si", "formation_energy_per_atom"] == -1.2
    )


def test_info_does_not_count_a_negative_modulus_as_low(labelled_folder: Path) -> None:
    result = invoke("info", str(labelled_folder), "--format", "json", "--workers", "1")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks"]["bulk_modulus"] == {"low": 1, "high": 1}  # 50 and 100 GPa; not −5
    assert summary["tasks"]["metal"] == {"insulator": 2, "metal": 0}  # 0.5 and 2.0 eV; not inf
    assert "k_vrh value(s) not used" in result.stderr


def test_label_table_joined_with_labels_option_is_checked(labelled_folder: Path, tmp_path: Path) -> None:
    table = tmp_path / "extra.csv"
    table.write_text("material_id,e_above_hull\ngood_si,-0.3\ngood_tio2,0.01\ngood_crlf,lots\n")
    result = invoke(
        "info", str(labelled_folder), "--labels", str(table), "--format", "json", "--workers", "1"
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "e_above_hull" in line)
    assert str(table) in line and "2 e_above_hull value(s)" in line and "'-0.3' is negative" in line
    assert json.loads(result.stdout)["tasks"]["stability"] == {"stable": 1, "unstable": 0}


@pytest.mark.parametrize("kind", ["folder", "empty"])
def test_unreadable_labels_file_is_one_clear_error(labelled_folder: Path, tmp_path: Path, kind: str) -> None:
    labels = labelled_folder / "labels.csv"
    labels.unlink()
    if kind == "folder":
        labels.mkdir()
    else:
        labels.write_text("")
    for command in ("info", "featurize"):
        extra = ["--out", str(tmp_path / f"store-{command}")] if command == "featurize" else []
        result = invoke(command, str(labelled_folder), *extra, "--workers", "1")
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(labels) in lines[0], lines
        assert ("not a file" in lines[0]) if kind == "folder" else ("empty" in lines[0])


def test_id_prop_values_are_checked(tmp_path: Path) -> None:
    folder = _cgcnn_folder(tmp_path, archive=False)
    (folder / "id_prop.csv").write_text("0,1.5\n1,abc\n2,inf\n3,0.2\n4,\n5,-2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = open_source(folder).labels()
    assert labels["target"].tolist() == pytest.approx([1.5, np.nan, np.nan, 0.2, np.nan, -2.0], nan_ok=True)
    result = invoke("info", str(folder), "--format", "json", "--workers", "1")
    line = next(line for line in result.stderr.splitlines() if "id_prop.csv" in line)
    assert "row 2 (id 1) 'abc' is not a number" in line


# --- damaged CGCNN archives ---------------------------------------------------------------------------


def _cgcnn_folder(tmp_path: Path, *, archive: bool = True) -> Path:
    """A CGCNN folder of 6 good CIFs (packed into cifs.tar.gz, or loose) and id_prop.csv."""
    folder = tmp_path / "cgcnn"
    scratch = tmp_path / "scratch"
    folder.mkdir()
    scratch.mkdir()
    texts = [path.read_text() for path in write_good_files(scratch) if path.suffix == ".cif"]
    texts += [cif(("5.0", "5.0", "5.0", "90", "90", "90")), cif(("4.2", "4.2", "6.0", "90", "90", "120"))]
    members = {f"cifs/{index}.cif": text for index, text in enumerate(texts[:6])}
    if archive:
        (folder / "cifs.tar.gz").write_bytes(tar_gz(members))
    else:
        for name, text in members.items():
            (folder / Path(name).name).write_text(text)
    (folder / "id_prop.csv").write_text("".join(f"{i},{0.5 * i}\n" for i in range(6)))
    return folder


def _damage(folder: Path, kind: str) -> None:
    archive = folder / "cifs.tar.gz"
    data = bytearray(archive.read_bytes())
    if kind == "truncated":
        archive.write_bytes(bytes(data[: int(len(data) * 0.6)]))
    elif kind == "corrupt":
        middle = len(data) // 2
        data[middle : middle + 16] = bytes(16)
        archive.write_bytes(bytes(data))
    elif kind == "not_an_archive":
        archive.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "bad_header":
        raw = bytearray(gzip.decompress(bytes(data)))
        with tarfile.open(fileobj=io.BytesIO(bytes(raw))) as members:
            third = members.getmembers()[2].offset
        raw[third + 10] ^= 0xFF  # a byte of the third member's name: its header checksum no longer fits
        archive.write_bytes(gzip.compress(bytes(raw)))


@pytest.mark.parametrize("kind", ["truncated", "corrupt", "not_an_archive", "bad_header"])
def test_damaged_archive_names_file_and_reason_and_keeps_what_was_read(tmp_path: Path, kind: str) -> None:
    folder = _cgcnn_folder(tmp_path)
    original = dict(iter_members(str(folder / "cifs.tar.gz")))
    _damage(folder, kind)
    archive = str(folder / "cifs.tar.gz")
    with pytest.raises(ArchiveError, match=r"cifs\.tar\.gz") as raised:
        list(iter_members(archive))
    out = tmp_path / "store"
    result = invoke("featurize", str(folder), "--out", str(out), "--workers", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr
    warning = next(line for line in result.stderr.splitlines() if line.startswith("crystalgenome: warning: "))
    assert archive in warning and raised.value.reason in warning
    store = FeatureStore.open(out)
    skipped = store.skipped().set_index("material_id")["reason"].to_dict()
    assert len(store) + len(skipped) == len(original) == 6
    assert all(archive in reason and raised.value.reason in reason for reason in skipped.values()), skipped
    if kind in ("truncated", "bad_header"):  # the members before a cut or a bad header are exact
        assert len(store) >= 1
    calculator = DiffractionCalculator(DiffractionSettings())
    points, _ = store.load_points()
    for material_id, stored in zip(store.ids, points, strict=True):  # what was kept is the original
        expected = calculator.compute(_parse(original[f"cifs/{material_id}.cif"]), name=material_id)
        np.testing.assert_allclose(stored[: len(expected.g), :3], expected.g, rtol=1e-6)
    info = invoke("info", str(folder), "--format", "json", "--workers", "1")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["symmetry_failures"] == len(skipped)


def _parse(data: bytes):
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(data.decode(), fmt="cif")


def _records(count: int) -> str:
    """A records dataset (JSON text) of ``count`` rock-salt-like structures."""
    record = {"lattice": {"matrix": CUBE}, "sites": GOOD_SITES}
    return json.dumps(
        [{"material_id": f"mp-{i}", "structure": record, "band_gap": 1.0} for i in range(count)]
    )


@pytest.mark.parametrize(
    ("name", "damage", "reason"),
    [
        ("cut.json.gz", lambda text: gzip.compress(text.encode())[:-200], "truncated"),
        ("cut.json", lambda text: text[:-30].encode(), "invalid json"),
        ("noise.json.gz", lambda text: b"\x1f\x8b" + bytes(range(200)) * 5, "corrupt"),
    ],
)
def test_damaged_dataset_json_is_one_clear_error(tmp_path: Path, name: str, damage, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(damage(_records(300)))
    for command in ("info", "featurize"):
        extra = ["--out", str(tmp_path / "store")] if command == "featurize" else []
        result = invoke(command, str(path), *extra, "--workers", "1")
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"crystalgenome: error: {path}: "), lines
        assert reason in lines[0].lower()


# --- stores -------------------------------------------------------------------------------------------


def _shards(store: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (store / "shards").glob("shard-*.h5")}


def test_smaller_limit_on_an_existing_store_is_refused_and_keeps_the_shards(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_good_files(folder)
    out = tmp_path / "store"
    common = ("--out", str(out), "--shard-size", "2", "--workers", "1", "--no-progress")
    assert invoke("featurize", str(folder), *common, "--limit", "5").returncode == 0
    before = _shards(out)
    assert len(before) == 3
    result = invoke("featurize", str(folder), *common, "--limit", "2")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "--limit 2 leaves out" in lines[0]
    assert _shards(out) == before
    assert len(FeatureStore.open(out)) == 5
    grown = invoke("featurize", str(folder), *common)
    assert grown.returncode == 0, grown.stderr
    assert f"resumed {out}: 4 of 6 structures were already in finished shards" in grown.stderr
    after = _shards(out)
    assert {name: after[name] for name in ("shard-000000.h5", "shard-000001.h5")} == {
        name: before[name] for name in ("shard-000000.h5", "shard-000001.h5")
    }


def test_a_fresh_store_does_not_say_resumed_and_a_rerun_does(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_good_files(folder)
    out = tmp_path / "store"
    first = invoke("featurize", str(folder), "--out", str(out), "--workers", "1", "--no-progress")
    assert first.returncode == 0 and "resumed" not in first.stderr
    again = invoke("featurize", str(folder), "--out", str(out), "--workers", "1", "--no-progress")
    assert again.returncode == 0 and f"resumed {out}: 6 of 6 structures" in again.stderr


def test_a_resumed_training_run_says_so(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    options = ("--task", "crystal_system", "--out", str(out), "--epochs", "1", "--max-miller", "2")
    options += ("--workers", "1", "--no-progress")
    first = invoke("train", "--data", str(tiny_data), *options)
    assert first.returncode == 0 and "resuming" not in first.stderr, first.stderr
    again = invoke("train", "--data", str(tiny_data), *options)
    assert again.returncode == 0, again.stderr
    assert f"crystalgenome: resuming {out} after epoch 1" in again.stderr.splitlines()


def test_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crystalgenome.store import writer

    def full(_descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    folder = tmp_path / "data"
    folder.mkdir()
    write_good_files(folder)
    monkeypatch.setattr(writer.os, "fsync", full)
    out = tmp_path / "store"
    result = invoke("featurize", str(folder), "--out", str(out), "--workers", "1", "--no-progress")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"crystalgenome: error: {out / 'shards' / 'shard-000000.h5'}: No space left on device"]


# --- hydrogen isotopes --------------------------------------------------------------------------------

HEAVY_WATER_ISH = poscar(lattice="3 0 0\n0 3 0\n0 0 3", counts="1 1", coords="0 0 0\n.5 .5 .5").replace(
    "Na Cl", "{} O"
)


@pytest.mark.parametrize(("isotope", "length"), [("H", -3.739), ("D", 6.671), ("T", 4.792)])
def test_neutron_patterns_use_the_isotopes_own_scattering_length(
    tmp_path: Path, isotope: str, length: float
) -> None:
    path = tmp_path / f"{isotope}.vasp"
    path.write_text(HEAVY_WATER_ISH.format(isotope))
    result = invoke("diffract", str(path), "--radiation", "neutron", "--cell", "input")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    origin = data["hkl"].index([0, 0, 0])
    oxygen = scattering_model("neutron").amplitudes(["O"], np.zeros(1))[0, 0]
    assert data["intensity"][origin] == pytest.approx((length + oxygen) ** 2 / 27.0**2, rel=1e-9)


def test_xray_sees_isotopes_as_their_element(tmp_path: Path) -> None:
    patterns = {}
    for isotope in ("H", "D", "T"):
        path = tmp_path / f"{isotope}.vasp"
        path.write_text(HEAVY_WATER_ISH.format(isotope))
        assert Cell.from_structure(read_structure(path)).elements == sorted([isotope, "O"])
        patterns[isotope] = DiffractionCalculator(DiffractionSettings(cell="input")).compute(
            read_structure(path)
        )
    for isotope in ("D", "T"):
        np.testing.assert_array_equal(patterns[isotope].intensity, patterns["H"].intensity)


def test_deuterium_cif_is_read_as_deuterium_in_every_reader(tmp_path: Path) -> None:
    text = cif(("3", "3", "3", "90", "90", "90"), atoms=(("D", 0, 0, 0), ("O", 0.5, 0.5, 0.5)))
    (tmp_path / "d2o.cif").write_text(text)
    assert Cell.from_structure(read_structure(tmp_path / "d2o.cif")).elements == ["D", "O"]
    record = next(open_source(tmp_path).iter_raw())
    assert record.to_cell().elements == ["D", "O"]
    store = tmp_path / "store"
    options = ("--radiation", "neutron", "--cell", "input", "--workers", "1", "--no-progress")
    result = invoke("featurize", str(tmp_path), "--out", str(store), *options)
    assert result.returncode == 0, result.stderr
    points = FeatureStore.open(store).load_points()[0][0]
    origin = np.flatnonzero(np.all(points[:, :3] == 0, axis=1))[0]
    assert points[origin, 3] == pytest.approx((6.671 + 5.803) ** 2 / 27.0**2, rel=1e-6)
