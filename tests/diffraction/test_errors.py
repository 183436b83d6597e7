"""Bad input gives a clear StructureError that names the structure and the reason."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import DummySpecies, Lattice, Structure

from crystalgenome.diffraction import DiffractionCalculator, DiffractionSettings
from crystalgenome.errors import PointCapError, StructureError
from crystalgenome.structures import Cell


def _cell(lattice, frac, symbols) -> Cell:
    return Cell(
        lattice=np.asarray(lattice, dtype=float),
        frac_coords=np.asarray(frac, dtype=float),
        types=np.arange(len(symbols)),
        compositions=tuple({s: 1.0} for s in symbols),
    )


def _error(structure, settings: DiffractionSettings | None = None) -> StructureError:
    with pytest.raises(StructureError) as info:
        DiffractionCalculator(settings).compute(structure, name="bad-1")
    assert str(info.value).startswith("bad-1: ")
    return info.value


def test_element_without_xray_form_factor() -> None:
    structure = Structure(Lattice.cubic(5.0), ["Es", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert "no xray scattering data for element(s) Es" in str(_error(structure))


def test_element_without_neutron_length() -> None:
    structure = Structure(Lattice.cubic(5.0), ["Pu", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert "no neutron scattering data for element(s) Pu" in str(
        _error(structure, DiffractionSettings(radiation="neutron"))
    )


def test_dummy_species() -> None:
    structure = Structure(Lattice.cubic(5.0), [DummySpecies("X"), "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert "no xray scattering data" in str(_error(structure))


def test_zero_volume() -> None:
    flat = [[3.0, 0, 0], [0, 3.0, 0], [3.0, 3.0, 0]]
    assert "volume is zero" in str(_error(_cell(flat, [[0, 0, 0]], ["Na"])))


def test_impossible_cell_angles_give_zero_volume() -> None:
    structure = Structure(Lattice.from_parameters(3, 3, 3, 30, 30, 150), ["Na"], [[0, 0, 0]])
    assert "volume is zero" in str(_error(structure))


def test_left_handed_basis_is_accepted() -> None:
    right = [[4.0, 0, 0], [0, 5.0, 0], [0, 0, 6.0]]
    left = [[4.0, 0, 0], [0, 0, 6.0], [0, 5.0, 0]]
    frac = [[0.1, 0.2, 0.3], [0.6, 0.7, 0.4]]
    calculator = DiffractionCalculator(DiffractionSettings(cell="input"))
    a = calculator.compute(_cell(right, frac, ["Na", "Cl"]))
    b = calculator.compute(_cell(left, np.asarray(frac)[:, [0, 2, 1]], ["Na", "Cl"]))
    assert sorted(np.round(a.intensity, 12)) == sorted(np.round(b.intensity, 12))


def test_nan_coordinates() -> None:
    assert "coordinates contain NaN" in str(_error(_cell(np.eye(3) * 4, [[0, 0, np.nan]], ["Na"])))


def test_nan_lattice() -> None:
    lattice = np.eye(3) * 4
    lattice[1, 1] = np.inf
    assert "lattice contains NaN or infinite" in str(_error(_cell(lattice, [[0, 0, 0]], ["Na"])))


def test_overlapping_atoms_including_across_the_cell_boundary() -> None:
    inside = _cell(np.eye(3) * 4, [[0.1, 0.1, 0.1], [0.12, 0.1, 0.1]], ["Na", "Cl"])
    assert "overlapping atoms" in str(_error(inside))
    across = _cell(np.eye(3) * 4, [[0.001, 0.5, 0.5], [0.999, 0.5, 0.5]], ["Na", "Cl"])
    message = str(_error(across))
    assert "overlapping atoms" in message
    assert "0.008 Å" in message


def test_point_cap_names_the_limit_and_how_to_raise_it() -> None:
    big = _cell(np.eye(3) * 60.0, [[0, 0, 0]], ["Na"])
    error = _error(big, DiffractionSettings(wavelength="MoKa", cell="input", max_points=100_000))
    assert isinstance(error, PointCapError)
    assert "cap of 100,000" in str(error)
    assert "--max-points" in str(error)
    assert "max_points" in str(error)
    box = _error(big, DiffractionSettings(max_miller=30, cell="input", max_points=1000))
    assert "Miller box N=30" in str(box)


def test_batch_skips_and_reports_bad_structures() -> None:
    good = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    bad = _cell(np.eye(3) * 4, [[0.1, 0.1, 0.1], [0.1, 0.1, 0.1]], ["Na", "Cl"])
    results = dict(DiffractionCalculator().compute_many([("a", good), ("b", bad), ("c", good)]))
    assert results["a"].num_points == 343
    assert results["c"].num_points == 343
    assert isinstance(results["b"], StructureError)
    assert results["b"].name == "b"


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="unknown wavelength"):
        DiffractionSettings(wavelength="CuKq")
    with pytest.raises(ValueError, match="radiation"):
        DiffractionSettings(radiation="muon")
    with pytest.raises(ValueError, match="positive"):
        DiffractionSettings(wavelength=-1.0)
