"""The `crystalgenome diffract` contract, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings

EXE = [sys.executable, "-m", "crystalgenome"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def nacl_cif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cif") / "NaCl.cif"
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(
        filename=str(path)
    )
    return path


def test_default_json(nacl_cif: Path) -> None:
    result = run("diffract", str(nacl_cif))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["radiation"] == "xray"
    assert data["settings"]["max_miller"] == 3
    assert data["settings"]["cell"] == "primitive"
    assert len(data["hkl"]) == len(data["g"]) == len(data["intensity"]) == 343
    lattice = np.array(data["lattice"])
    g = np.array(data["hkl"]) @ np.linalg.inv(lattice).T
    np.testing.assert_allclose(np.array(data["g"]), g, atol=1e-9)
    expected = DiffractionCalculator().compute(Structure.from_file(nacl_cif))
    np.testing.assert_allclose(data["intensity"], expected.intensity, rtol=1e-9)


def test_wavelength_neutron_conventional_to_file(nacl_cif: Path, tmp_path: Path) -> None:
    out = tmp_path / "pattern.json"
    result = run(
        "diffract",
        str(nacl_cif),
        "--radiation",
        "neutron",
        "--wavelength",
        "CuKa",
        "--cell",
        "conventional",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    data = json.loads(out.read_text())
    g_norm = np.linalg.norm(np.array(data["g"]), axis=1)
    assert g_norm.max() <= 2 / 1.54184
    assert [0, 0, 0] in data["hkl"]
    settings = DiffractionSettings(radiation="neutron", wavelength="CuKa", cell="conventional")
    expected = DiffractionCalculator(settings).compute(Structure.from_file(nacl_cif))
    assert len(data["hkl"]) == expected.num_points
    assert data["radiation"] == "neutron"


def test_csv_and_max_miller(nacl_cif: Path) -> None:
    result = run("diffract", str(nacl_cif), "--max-miller", "2", "--format", "csv", "--cell", "input")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "h,k,l,gx,gy,gz,g_norm,intensity"
    assert len(lines) == 1 + 125


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "file is empty"), ("garbage\n", "not a CIF: no data block"), (None, "no such file")],
)
def test_errors_are_one_line_naming_the_file(tmp_path: Path, content: str | None, fragment: str) -> None:
    path = tmp_path / "broken.cif"
    if content is not None:
        path.write_text(content)
    result = run("diffract", str(path))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert fragment in lines[0]


def test_unknown_element_and_conflicting_options(tmp_path: Path, nacl_cif: Path) -> None:
    path = tmp_path / "Es.cif"
    Structure(Lattice.cubic(5.0), ["Es", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(path))
    result = run("diffract", str(path))
    assert result.returncode != 0
    assert "no xray scattering data for element(s) Es" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    both = run("diffract", str(nacl_cif), "--max-miller", "2", "--wavelength", "CuKa")
    assert both.returncode != 0
    assert "either --max-miller or --wavelength" in both.stderr
    bad_wavelength = run("diffract", str(nacl_cif), "--wavelength", "CuKq")
    assert bad_wavelength.returncode != 0
    assert "unknown wavelength" in bad_wavelength.stderr


def test_point_cap_error_says_how_to_raise_it(tmp_path: Path) -> None:
    path = tmp_path / "big.cif"
    Structure(Lattice.cubic(40.0), ["Na"], [[0, 0, 0]]).to(filename=str(path))
    result = run("diffract", str(path), "--wavelength", "MoKa", "--cell", "input", "--max-points", "1000")
    assert result.returncode != 0
    assert "--max-points" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_import_is_light() -> None:
    """`crystalgenome --help` must not import torch, pymatgen, ray, h5py or pandas."""
    code = (
        "import sys, crystalgenome.cli.app\n"
        "names = ('torch', 'pymatgen', 'ray', 'h5py', 'pandas', 'sklearn', 'matplotlib')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
    help_result = run("--help")
    assert help_result.returncode == 0
    assert "diffract" in help_result.stdout
