"""Voigt-Reuss-Hill moduli against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from crystalgenome.data.elasticity import voigt_reuss_hill


def isotropic(lame: float, shear: float) -> np.ndarray:
    """Stiffness of an isotropic solid: C11 = λ + 2μ, C12 = λ, C44 = μ (GPa)."""
    c = np.zeros((6, 6))
    c[:3, :3] = lame
    c[np.arange(3), np.arange(3)] = lame + 2 * shear
    c[np.arange(3, 6), np.arange(3, 6)] = shear
    return c


def cubic(c11: float, c12: float, c44: float) -> np.ndarray:
    c = isotropic(c12, 0.0)
    c[np.arange(3), np.arange(3)] = c11
    c[np.arange(3, 6), np.arange(3, 6)] = c44
    return c


def test_isotropic_solid_gives_lame_moduli_exactly() -> None:
    lame, shear = 60.0, 25.0
    result = voigt_reuss_hill(isotropic(lame, shear))
    for k in (result.k_voigt, result.k_reuss, result.k_vrh):
        assert k == pytest.approx(lame + 2 * shear / 3, rel=1e-12)
    for g in (result.g_voigt, result.g_reuss, result.g_vrh):
        assert g == pytest.approx(shear, rel=1e-12)
    assert bool(result.positive_definite)


def test_cubic_crystal_closed_forms() -> None:
    c11, c12, c44 = 165.7, 63.9, 79.6  # silicon, GPa
    result = voigt_reuss_hill(cubic(c11, c12, c44))
    k = (c11 + 2 * c12) / 3
    g_voigt = (c11 - c12 + 3 * c44) / 5
    g_reuss = 5 * (c11 - c12) * c44 / (4 * c44 + 3 * (c11 - c12))
    assert result.k_voigt == pytest.approx(k) and result.k_reuss == pytest.approx(k)
    assert result.g_voigt == pytest.approx(g_voigt)
    assert result.g_reuss == pytest.approx(g_reuss)
    assert result.g_vrh == pytest.approx((g_voigt + g_reuss) / 2)
    assert g_reuss < g_voigt  # anisotropic: the bounds differ


def test_stacks_singular_and_unstable_tensors() -> None:
    tensors = np.stack(
        [cubic(200.0, 100.0, 50.0), np.zeros((6, 6)), np.full((6, 6), np.nan), cubic(100, 150, 10)]
    )
    result = voigt_reuss_hill(tensors[None])  # leading shape (1, 4)
    assert result.k_vrh.shape == (1, 4)
    assert np.isfinite(result.k_vrh[0, 0]) and np.isnan(result.k_vrh[0, 1:3]).all()
    assert result.k_voigt[0, 1] == 0.0  # the Voigt average needs no inverse
    assert result.positive_definite.tolist() == [[True, False, False, False]]  # C12 > C11: unstable
    with pytest.raises(ValueError, match="6×6"):
        voigt_reuss_hill(np.eye(3))
