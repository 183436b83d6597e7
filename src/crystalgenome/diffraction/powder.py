"""Powder (1D) projection of a 3D pattern, for validation against pymatgen and for plots.

Points with 0 < |g| ≤ 2/λ become peaks at 2θ = 2 arcsin(λ|g|/2). X-ray intensities are
multiplied by the Lorentz–polarisation factor (1 + cos² 2θ)/(sin² θ cos θ), neutron ones by
the Lorentz factor 1/(sin² θ cos θ). Peaks whose 2θ round to the same multiple of
:data:`TWO_THETA_TOL` are merged (the representative 2θ is that of the smallest |g|), and
peaks below :data:`SCALED_INTENSITY_TOL` of the strongest are dropped, as in pymatgen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.radiation import resolve_wavelength

TWO_THETA_TOL = 1e-5
"""Peaks closer than this in 2θ (degrees) are merged."""

SCALED_INTENSITY_TOL = 1e-3
"""Peaks weaker than this, on a scale where the strongest is 100, are dropped."""


@dataclass(frozen=True)
class PowderPattern:
    """A powder diffraction pattern.

    Attributes:
        two_theta: peak positions 2θ, degrees, ascending.
        intensity: peak intensities (strongest = 100 when scaled).
        d_spacing: interplanar spacing 1/|g| of each peak, Å.
        multiplicity: number of reciprocal-lattice points merged into each peak.
        wavelength: λ, Å.
    """

    two_theta: np.ndarray
    intensity: np.ndarray
    d_spacing: np.ndarray
    multiplicity: np.ndarray
    wavelength: float


def lorentz_polarisation(sin_theta: np.ndarray, radiation: str) -> np.ndarray:
    """Lorentz(-polarisation) factor at Bragg angles θ given by sin θ = λ|g|/2."""
    sin_squared = sin_theta**2
    lorentz = 1.0 / (sin_squared * np.sqrt(1.0 - sin_squared))
    if radiation == "xray":
        return (1.0 + (1.0 - 2.0 * sin_squared) ** 2) * lorentz
    return lorentz


def powder_pattern(
    pattern: DiffractionPattern, wavelength: float | str | None = None, *, scaled: bool = True
) -> PowderPattern:
    """Project ``pattern`` onto 2θ for wavelength λ (Å or a name; default: the pattern's own)."""
    if wavelength is None:
        wavelength = pattern.settings.wavelength
        if wavelength is None:
            raise ValueError("the pattern is a Miller box; give a wavelength for the powder projection")
    wavelength = resolve_wavelength(wavelength)
    g_norm, values = pattern.g_norm, pattern.intensity
    if pattern.friedel_ordered:
        # Rows i and M−1−i are Friedel mates with equal intensity: use the h > 0 half twice.
        middle = g_norm.shape[0] // 2
        g_norm, values = g_norm[middle + 1 :], 2.0 * values[middle + 1 :]
    keep = (g_norm > 0) & (g_norm <= 2.0 / wavelength * (1 + 1e-12))
    g_norm, values = g_norm[keep], values[keep] * pattern.volume**2
    sin_theta = np.minimum(wavelength * g_norm / 2, 1.0)
    two_theta = np.degrees(2 * np.arcsin(sin_theta))
    weighted = values * lorentz_polarisation(sin_theta, pattern.radiation)
    keys = np.round(two_theta / TWO_THETA_TOL).astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = (
        np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if keys.size else np.zeros(0, int)
    )
    if keys.size:
        peak_intensity = np.add.reduceat(weighted[order], starts)
        # The representative of merged peaks is the smallest |g| (smallest 2θ), as in pymatgen.
        peak_g = np.minimum.reduceat(g_norm[order], starts)
        peak_two_theta = np.minimum.reduceat(two_theta[order], starts)
    else:
        peak_intensity = peak_g = peak_two_theta = np.zeros(0)
    multiplicity = np.diff(np.append(starts, keys.size))
    if peak_intensity.size:
        strong = peak_intensity / peak_intensity.max() * 100 > SCALED_INTENSITY_TOL
        peak_intensity, peak_two_theta, peak_g, multiplicity = (
            peak_intensity[strong],
            peak_two_theta[strong],
            peak_g[strong],
            multiplicity[strong],
        )
        if scaled:
            peak_intensity = peak_intensity / peak_intensity.max() * 100
    return PowderPattern(
        two_theta=peak_two_theta,
        intensity=peak_intensity,
        d_spacing=1.0 / peak_g,
        multiplicity=multiplicity,
        wavelength=wavelength,
    )
