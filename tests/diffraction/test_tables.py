"""The shipped scattering tables are pymatgen's, so results stay comparable with it."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from crystalgenome.diffraction import WAVELENGTHS, scattering_model


def _pymatgen_table(name: str) -> dict:
    return json.loads((resources.files("pymatgen.analysis.diffraction") / name).read_text())


def _our_table(name: str) -> dict:
    return json.loads((resources.files("crystalgenome.diffraction") / "data" / name).read_text())


def test_tables_equal_installed_pymatgen() -> None:
    for name in ("atomic_scattering_params.json", "neutron_scattering_length.json"):
        assert _our_table(name) == _pymatgen_table(name)


def test_wavelengths_equal_pymatgen() -> None:
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS as PYMATGEN_WAVELENGTHS

    assert WAVELENGTHS == PYMATGEN_WAVELENGTHS


def test_form_factor_limits() -> None:
    """f(0) = Z for every element; f decreases with s; neutron lengths do not depend on s."""
    xray = scattering_model("xray")
    s2 = np.array([0.0, 0.05, 0.2])
    f = xray.amplitudes(["H", "O", "Fe", "U"], s2)
    np.testing.assert_array_equal(f[:, 0], [1, 8, 26, 92])
    assert np.all(np.diff(f, axis=1) < 0)
    b = scattering_model("neutron").amplitudes(["H", "Ni"], s2)
    np.testing.assert_array_equal(b, [[-3.739] * 3, [10.3] * 3])
