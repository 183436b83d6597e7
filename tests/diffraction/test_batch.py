"""The batched path returns exactly what the per-structure engine returns, errors included."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from crystalgenome.diffraction import (
    DiffractionCalculator,
    DiffractionPattern,
    DiffractionSettings,
    powder_pattern,
)
from crystalgenome.diffraction.batch import compute_batch, powder_batch
from crystalgenome.errors import PointCapError, StructureError
from crystalgenome.structures import Cell


def _cell(lattice, frac, symbols) -> Cell:
    return Cell(
        lattice=np.asarray(lattice, dtype=float),
        frac_coords=np.asarray(frac, dtype=float),
        types=np.arange(len(symbols)),
        compositions=tuple({s: 1.0} for s in symbols),
    )


def _one_by_one(calculator: DiffractionCalculator, items: list) -> list:
    results = []
    for name, structure in items:
        try:
            results.append(calculator.compute(structure, name))
        except StructureError as error:
            results.append(error)
    return results


def _assert_same(ours, reference) -> None:
    """Same error (type and message), or the same pattern: hkl, g, |g|, cell and symmetry bit for
    bit, intensities to rounding."""
    if isinstance(reference, StructureError):
        assert type(ours) is type(reference), (ours, reference)
        assert str(ours) == str(reference)
        return
    assert isinstance(ours, DiffractionPattern), ours
    assert (ours.name, ours.settings, ours.symmetry) == (
        reference.name,
        reference.settings,
        reference.symmetry,
    )
    assert ours.friedel_ordered and reference.friedel_ordered
    for field in ("hkl", "g", "g_norm", "lattice"):
        mine, theirs = getattr(ours, field), getattr(reference, field)
        assert mine.dtype == theirs.dtype, field
        np.testing.assert_array_equal(mine, theirs, err_msg=f"{reference.name}: {field}")
    np.testing.assert_allclose(
        ours.intensity, reference.intensity, rtol=1e-10, atol=1e-12 * reference.intensity.max()
    )


def _check(settings: DiffractionSettings, items: list, **options) -> list:
    calculator = DiffractionCalculator(settings)
    ours = compute_batch(calculator, items, **options)
    assert len(ours) == len(items)
    for mine, reference in zip(ours, _one_by_one(calculator, items), strict=True):
        _assert_same(mine, reference)
    return ours


@pytest.mark.parametrize(
    ("radiation", "wavelength", "cell"),
    [
        ("xray", "CuKa", "input"),
        ("neutron", "CuKa", "input"),
        ("xray", None, "primitive"),
        ("neutron", None, "conventional"),
        ("xray", "CrKa", "primitive"),
        ("electron", None, "primitive"),
    ],
)
def test_real_structures_match_the_engine(real_structures: dict, radiation, wavelength, cell) -> None:
    settings = DiffractionSettings(radiation=radiation, wavelength=wavelength, cell=cell)
    results = _check(settings, list(real_structures.items()))
    assert sum(isinstance(result, DiffractionPattern) for result in results) >= len(results) - 3


def _disordered(real_structures: dict) -> list:
    """Real structures with partial occupancies: mixed sites, vacancies, and one element on both a
    mixed and an ordered site."""
    lifepo4 = real_structures["LiFePO4"].copy()
    lifepo4.replace_species({"Fe": {"Fe": 0.5, "Mn": 0.5}, "Li": {"Li": 0.75}})
    srtio3 = real_structures["SrTiO3"].copy()
    srtio3.remove_oxidation_states()
    srtio3.replace_species({"Sr": {"Sr": 0.7, "Ba": 0.3}})
    titanium = next(i for i, site in enumerate(srtio3) if site.species_string == "Ti")
    srtio3.replace(titanium, {"Ti": 0.9, "O": 0.1})  # O mixed on one site, ordered on the others
    for structure in (lifepo4, srtio3):
        assert any(len(c) > 1 for c in Cell.from_structure(structure).compositions)
    return [("LiFePO4-disordered", lifepo4), ("SrTiO3-disordered", srtio3), *real_structures.items()][:12]


@pytest.mark.parametrize(("wavelength", "cell"), [("CuKa", "input"), (None, "primitive")])
@pytest.mark.parametrize("radiation", ["xray", "neutron"])
def test_partial_occupancies_and_debye_waller(real_structures: dict, radiation, wavelength, cell) -> None:
    factors = {"O": 0.9, "Fe": 0.5, "Sr": 0.6, "Ti": 0.4, "Li": 1.2}
    settings = DiffractionSettings(
        radiation=radiation, wavelength=wavelength, cell=cell, debye_waller=factors
    )
    _check(settings, _disordered(real_structures))


@pytest.mark.parametrize(
    "settings",
    [
        DiffractionSettings(max_miller=0, cell="input"),
        DiffractionSettings(max_miller=1, cell="conventional", symmetry_backend="spglib"),
        DiffractionSettings(wavelength=4.0, cell="input", min_distance=0.0),
    ],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # spglib's own
def test_edge_settings(real_structures: dict, settings: DiffractionSettings) -> None:
    _check(settings, list(real_structures.items())[:12])


def test_bad_structures_are_reported_and_skipped(real_structures: dict) -> None:
    good = [(name, real_structures[name]) for name in ("Si", "LiFePO4", "SrTiO3")]
    bad = [
        ("overlap", _cell(np.eye(3) * 4, [[0.1, 0.1, 0.1], [0.12, 0.1, 0.1]], ["Na", "Cl"])),
        ("across-boundary", _cell(np.eye(3) * 4, [[0.001, 0.5, 0.5], [0.999, 0.5, 0.5]], ["Na", "Cl"])),
        ("unknown-element", Structure(Lattice.cubic(5.0), ["Es", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])),
        ("zero-volume", _cell([[3.0, 0, 0], [0, 3.0, 0], [3.0, 3.0, 0]], [[0, 0, 0]], ["Na"])),
        ("nan-coordinates", _cell(np.eye(3) * 4, [[0, 0, np.nan]], ["Na"])),
        ("nan-lattice", _cell(np.diag([4.0, np.inf, 4.0]), [[0, 0, 0]], ["Na"])),
        ("no-sites", _cell(np.eye(3) * 4, np.zeros((0, 3)), [])),
        ("bad-occupancy", Cell(np.eye(3) * 4, np.zeros((1, 3)), np.zeros(1, int), ({"Na": 0.7, "Cl": 0.6},))),
        ("too-many-points", _cell(np.eye(3) * 60.0, [[0, 0, 0]], ["Na"])),
    ]
    crowded = real_structures["LiFePO4"].copy()  # 28 sites: screened one cell at a time
    crowded.append("O", crowded[3].coords + np.array([0.1, 0.0, 0.0]), coords_are_cartesian=True)
    bad.append(("overlap-large-cell", crowded))
    items = [good[0], *bad[:5], good[1], *bad[5:], good[2]]
    settings = DiffractionSettings(wavelength="CuKa", cell="input", max_points=50_000)
    results = dict(zip([name for name, _ in items], _check(settings, items), strict=True))
    for name, _ in good:
        assert isinstance(results[name], DiffractionPattern)
    for name, _ in bad:
        assert isinstance(results[name], StructureError)
        assert results[name].name == name
    assert isinstance(results["too-many-points"], PointCapError)
    assert "overlapping atoms" in str(results["across-boundary"])
    assert "overlapping atoms" in str(results["overlap-large-cell"])
    assert "no xray scattering data for element(s) Es" in str(results["unknown-element"])
    assert "volume is zero" in str(results["zero-volume"])


def test_cases_the_bulk_screen_leaves_to_the_engine_pass_when_valid() -> None:
    """Sites exactly min_distance apart, a cell thinner than 2 × min_distance, an empty composition:
    all valid, all equal to the engine."""
    items = [
        ("exactly-at-minimum", _cell(np.eye(3) * 4, [[0, 0, 0], [0.125, 0, 0]], ["Na", "Cl"])),
        ("thin-cell", _cell(np.diag([0.9, 3.0, 3.0]), [[0, 0, 0]], ["Na"])),
        (
            "unused-composition",
            Cell(np.eye(3) * 5, np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.array([0, 2]), ({"Na": 1.0},) * 3),
        ),
        (
            "left-handed",
            _cell([[4.0, 0, 0], [0, 0, 6.0], [0, 5.0, 0]], [[0.1, 0.2, 0.3], [0.6, 0.7, 0.4]], ["Na", "Cl"]),
        ),
    ]
    for settings in (DiffractionSettings(wavelength="CuKa", cell="input"), DiffractionSettings(cell="input")):
        assert all(isinstance(r, DiffractionPattern) for r in _check(settings, items))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow, as in the engine
def test_non_finite_intensities_give_the_engine_error(real_structures: dict) -> None:
    items = [(name, real_structures[name]) for name in ("Si", "SrTiO3", "LiFePO4", "TiO2")]
    settings = DiffractionSettings(wavelength="CuKa", cell="input", debye_waller={"O": -1e5})
    results = _check(settings, items)
    assert isinstance(results[0], DiffractionPattern)
    assert all("non-finite intensities" in str(result) for result in results[1:])


def test_tiny_and_large_cells_routing_and_chunks(real_structures: dict, monkeypatch) -> None:
    """Many small chunks, and large cells handed to the engine one by one, change nothing."""
    items = list(real_structures.items())
    settings = DiffractionSettings(wavelength="CuKa", cell="input")
    sizes = {name: len(structure) for name, structure in items}
    assert min(sizes.values()) <= 2 and max(sizes.values()) >= 40
    calculator = DiffractionCalculator(settings)
    engine_calls = []
    compute = calculator.compute
    monkeypatch.setattr(calculator, "compute", lambda s, name: engine_calls.append(name) or compute(s, name))
    ours = compute_batch(calculator, items, chunk_points=3_000, route_pairs=100_000)
    monkeypatch.undo()
    routed = [name for name, s in items if 2 / 3 * np.pi * (2 / 1.54184) ** 3 * s.volume * len(s) > 100_000]
    assert routed and engine_calls == routed
    for mine, reference in zip(ours, _one_by_one(calculator, items), strict=True):
        _assert_same(mine, reference)


def test_calculator_settings_or_nothing(real_structures: dict) -> None:
    items = [("Si", real_structures["Si"])]
    assert compute_batch(None, []) == []
    by_default = compute_batch(None, items)[0]
    _assert_same(by_default, DiffractionCalculator().compute(real_structures["Si"], "Si"))
    neutron = DiffractionSettings(radiation="neutron", wavelength="MoKa")
    _assert_same(compute_batch(neutron, items)[0], DiffractionCalculator(neutron).compute(items[0][1], "Si"))


def _assert_same_powder(ours, reference) -> None:
    assert ours.wavelength == reference.wavelength
    for field in ("two_theta", "d_spacing", "multiplicity"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(reference, field))
    assert ours.multiplicity.dtype == reference.multiplicity.dtype
    np.testing.assert_allclose(ours.intensity, reference.intensity, rtol=1e-13, atol=0)


def test_powder_batch_equals_powder_pattern(real_structures: dict) -> None:
    items = list(real_structures.items())
    xray = compute_batch(DiffractionSettings(wavelength="CuKa", cell="input"), items)
    neutron = compute_batch(DiffractionSettings(radiation="neutron", wavelength="MoKa", cell="input"), items)
    box = compute_batch(DiffractionSettings(), items[:6])
    patterns = [p for p in [*xray, *neutron, *box] if isinstance(p, DiffractionPattern)]
    shuffled = patterns[0]  # not Friedel-ordered: handled one by one
    order = np.random.default_rng(0).permutation(shuffled.num_points)
    unordered = DiffractionPattern(
        name="shuffled",
        hkl=shuffled.hkl[order],
        g=shuffled.g[order],
        intensity=shuffled.intensity[order],
        lattice=shuffled.lattice,
        settings=shuffled.settings,
    )
    sphere_patterns = [p for p in patterns if p.settings.wavelength is not None] + [unordered]
    for ours, pattern in zip(powder_batch(sphere_patterns), sphere_patterns, strict=True):
        _assert_same_powder(ours, powder_pattern(pattern))
    for ours, pattern in zip(powder_batch(patterns, "CrKa", scaled=False), patterns, strict=True):
        _assert_same_powder(ours, powder_pattern(pattern, "CrKa", scaled=False))
    with pytest.raises(ValueError, match="Miller box"):
        powder_batch(box)
    assert powder_batch([]) == []
