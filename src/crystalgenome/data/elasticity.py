"""Voigt, Reuss and Hill averages of the bulk and shear moduli from a 6×6 stiffness tensor.

With the stiffness C (Voigt notation, GPa) and the compliance S = C⁻¹ (GPa⁻¹):

- K_V = [(C11 + C22 + C33) + 2 (C12 + C23 + C31)] / 9
- G_V = [(C11 + C22 + C33) − (C12 + C23 + C31) + 3 (C44 + C55 + C66)] / 15
- K_R = 1 / [(S11 + S22 + S33) + 2 (S12 + S23 + S31)]
- G_R = 15 / [4 (S11 + S22 + S33) − 4 (S12 + S23 + S31) + 3 (S44 + S55 + S66)]
- K_VRH = (K_V + K_R) / 2, G_VRH = (G_V + G_R) / 2 (Hill)

These are the definitions the Materials Project uses (de Jong et al., Sci. Data 2, 150009 (2015)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoigtReussHill:
    """Moduli in GPa, each an array with the leading shape of the tensors given.

    Reuss and Hill values are NaN for a singular (or non-finite) tensor. ``positive_definite`` says
    whether the stiffness is positive definite (Born mechanical stability); only then is
    Reuss <= Hill <= Voigt guaranteed.
    """

    k_voigt: np.ndarray
    k_reuss: np.ndarray
    k_vrh: np.ndarray
    g_voigt: np.ndarray
    g_reuss: np.ndarray
    g_vrh: np.ndarray
    positive_definite: np.ndarray


MAX_CONDITION = 1e12
"""Stiffness tensors with a larger condition number count as singular (no Reuss average)."""


def _compliance(stiffness: np.ndarray) -> np.ndarray:
    """Inverse of each 6×6 matrix; NaN where the matrix is singular or not finite."""
    flat = stiffness.reshape(-1, 6, 6)
    finite = np.isfinite(flat).all(axis=(1, 2))
    safe = np.where(finite[:, None, None], flat, np.eye(6))
    invertible = finite & (np.linalg.cond(safe) < MAX_CONDITION)
    inverse = np.linalg.inv(np.where(invertible[:, None, None], safe, np.eye(6)))
    inverse[~invertible] = np.nan
    return inverse.reshape(stiffness.shape)


def voigt_reuss_hill(stiffness: np.ndarray) -> VoigtReussHill:
    """Bulk and shear moduli (GPa) of stiffness tensors ``(..., 6, 6)`` in Voigt notation, GPa."""
    c = np.asarray(stiffness, dtype=float)
    if c.shape[-2:] != (6, 6):
        raise ValueError(f"stiffness tensors must be 6×6 (Voigt notation), got shape {c.shape}")
    s = _compliance(c)

    def sums(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        diagonal = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
        off = m[..., 0, 1] + m[..., 1, 2] + m[..., 2, 0]
        shear = m[..., 3, 3] + m[..., 4, 4] + m[..., 5, 5]
        return diagonal, off, shear

    c_diag, c_off, c_shear = sums(c)
    s_diag, s_off, s_shear = sums(s)
    k_voigt = (c_diag + 2 * c_off) / 9
    g_voigt = (c_diag - c_off + 3 * c_shear) / 15
    with np.errstate(divide="ignore", invalid="ignore"):
        k_reuss = 1 / (s_diag + 2 * s_off)
        g_reuss = 15 / (4 * s_diag - 4 * s_off + 3 * s_shear)
    return VoigtReussHill(
        k_voigt=k_voigt,
        k_reuss=k_reuss,
        k_vrh=(k_voigt + k_reuss) / 2,
        g_voigt=g_voigt,
        g_reuss=g_reuss,
        g_vrh=(g_voigt + g_reuss) / 2,
        positive_definite=_positive_definite(c),
    )


def _positive_definite(stiffness: np.ndarray) -> np.ndarray:
    finite = np.isfinite(stiffness).all(axis=(-2, -1))
    safe = np.where(finite[..., None, None], stiffness, np.eye(6))
    symmetric = (safe + np.swapaxes(safe, -1, -2)) / 2
    return finite & (np.linalg.eigvalsh(symmetric).min(axis=-1) > 0)
