"""Normalisation of raw point clouds."""

from __future__ import annotations

import numpy as np
import pytest

from crystalgenome.training.inputs import NORMALISATIONS, Normalisation, check_inputs, resolve_normalisation


def test_authors_normalisation_formula() -> None:
    raw = np.array([[[5.0, -2.5, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.5, 0.0, 0.0, 1e-3]]])
    out = NORMALISATIONS["authors"].apply(raw)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, :3], raw[0, :, :3] / 5.0, rtol=1e-6)
    expected = (np.log(raw[0, :, 3] + 1e-6) - np.log(1e-6)) / 15
    np.testing.assert_allclose(out[0, :, 3], expected, rtol=1e-6)
    assert out[0, 0, 3] == 0.0  # I = 0 maps to 0


def test_preprint_normalisation() -> None:
    raw = np.array([[[1.0, 0.0, 0.0, np.e - 1]]])
    out = NORMALISATIONS["preprint"].apply(raw)
    np.testing.assert_allclose(out[0, 0, 0], 1.54184 / 2, rtol=1e-6)
    np.testing.assert_allclose(out[0, 0, 3], 1 / 3, rtol=1e-6)


def test_padding_stays_zero() -> None:
    raw = np.ones((2, 4, 4))
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    out = NORMALISATIONS["authors"].apply(raw, mask)
    assert np.all(out[0, 2:] == 0) and np.all(out[0, :2] != 0)


def test_resolve_and_validate() -> None:
    assert resolve_normalisation(None) == NORMALISATIONS["authors"]
    assert resolve_normalisation({"coordinate_scale": 2.0}) == Normalisation(coordinate_scale=2.0)
    with pytest.raises(ValueError):
        resolve_normalisation("nope")
    with pytest.raises(ValueError):
        Normalisation(intensity="sqrt")
    with pytest.raises(ValueError, match="no real points"):
        check_inputs(np.zeros((2, 3, 4)), np.array([[True, False, False], [False, False, False]]))
    with pytest.raises(ValueError, match="shape"):
        check_inputs(np.zeros((2, 3)), None)
