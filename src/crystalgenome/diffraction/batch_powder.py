"""Batched diffraction, step 3: the powder projection of many patterns at once (the peaks of
:func:`~crystalgenome.diffraction.powder.powder_pattern`)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from crystalgenome.diffraction.batch_screen import cell_volumes, volume_squares
from crystalgenome.diffraction.pattern import DiffractionPattern
from crystalgenome.diffraction.powder import (
    SCALED_INTENSITY_TOL,
    TWO_THETA_TOL,
    PowderPattern,
    lorentz_polarisation,
)

_KEY_BITS = 25  # 2θ ≤ 180° is at most 1.8e7 steps of TWO_THETA_TOL
_POWDER_POINTS = 1 << 16  # points per step of the powder projection: small arrays, cache-friendly


def _powder_steps(sizes: np.ndarray) -> list[slice]:
    """Consecutive runs of patterns holding at most :data:`_POWDER_POINTS` points (at least one)."""
    step_of = (np.cumsum(sizes) - sizes) // _POWDER_POINTS
    cuts = [0, *(np.flatnonzero(np.diff(step_of)) + 1).tolist(), len(sizes)]
    return [slice(start, end) for start, end in itertools.pairwise(cuts)]


def _sorted_groups(owner: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order sorting points by (owner, key, position), i.e. a stable sort by (owner, key), and the
    (owner, key) code of each sorted point. One unstable sort of unique composite integers when
    they fit 63 bits (much faster than a stable argsort), else a stable argsort."""
    code = (owner.astype(np.int64) << _KEY_BITS) | keys
    position_bits = max(1, int(keys.shape[0]).bit_length())
    if int(owner[-1]).bit_length() + _KEY_BITS + position_bits > 63:
        order = np.argsort(code, kind="stable")
        return order, code[order]
    ordered = np.sort((code << position_bits) | np.arange(keys.shape[0]))
    return ordered & ((1 << position_bits) - 1), ordered >> position_bits


def powder_peaks(
    patterns: Sequence[DiffractionPattern], wavelengths: np.ndarray, *, scaled: bool
) -> list[PowderPattern]:
    """Powder patterns of Friedel-ordered patterns, with the arithmetic of ``powder_pattern``."""
    sizes = np.array([p.g_norm.shape[0] - p.g_norm.shape[0] // 2 - 1 for p in patterns])
    return [
        peak
        for part in _powder_steps(sizes)
        for peak in _powder_step(patterns[part], wavelengths[part], sizes[part], scaled=scaled)
    ]


def _powder_step(
    patterns: Sequence[DiffractionPattern], wavelengths: np.ndarray, sizes: np.ndarray, *, scaled: bool
) -> list[PowderPattern]:
    """One step of :func:`powder_peaks`: the h > 0 halves of all patterns back to back."""
    g_norm, owner, two_theta, weighted = _powder_points(patterns, wavelengths, sizes)
    if not g_norm.size:
        empty = np.zeros(0)
        return [_powder(empty, empty, empty, np.zeros(0, np.int64), slice(0), float(w)) for w in wavelengths]
    order, groups = _sorted_groups(owner, np.round(two_theta / TWO_THETA_TOL).astype(np.int64))
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
    intensity = np.add.reduceat(weighted.take(order), starts)
    # The representative of merged peaks is the smallest |g| (smallest 2θ), as in powder_pattern.
    peak_g = np.minimum.reduceat(g_norm.take(order), starts)
    peak_two_theta = np.minimum.reduceat(two_theta.take(order), starts)
    multiplicity = np.diff(np.append(starts, groups.size))
    peak_owner = groups[starts] >> _KEY_BITS
    present = np.flatnonzero(np.bincount(peak_owner, minlength=len(patterns)))
    strongest = np.zeros(len(patterns))
    strongest[present] = np.maximum.reduceat(intensity, np.searchsorted(peak_owner, present))
    with np.errstate(invalid="ignore", divide="ignore"):
        strong = intensity / strongest[peak_owner] * 100 > SCALED_INTENSITY_TOL
    intensity, peak_two_theta, peak_g = intensity[strong], peak_two_theta[strong], peak_g[strong]
    multiplicity, peak_owner = multiplicity[strong], peak_owner[strong]
    if scaled:
        intensity = intensity / strongest[peak_owner] * 100
    d_spacing = 1.0 / peak_g
    ends = np.cumsum(np.bincount(peak_owner, minlength=len(patterns)))
    return [
        _powder(peak_two_theta, intensity, d_spacing, multiplicity, slice(start, end), float(w))
        for start, end, w in zip(ends - np.diff(ends, prepend=0), ends, wavelengths, strict=True)
    ]


def _powder_points(
    patterns: Sequence[DiffractionPattern], wavelengths: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """|g|, pattern, 2θ (degrees) and Lorentz(-polarisation)-weighted |F|² of the points with
    0 < |g| ≤ 2/λ of the h > 0 halves (counted twice for their Friedel mates)."""
    g_norm = np.concatenate([p.g_norm[p.g_norm.shape[0] // 2 + 1 :] for p in patterns])
    values = 2.0 * np.concatenate([p.intensity[p.intensity.shape[0] // 2 + 1 :] for p in patterns])
    volumes = cell_volumes(np.stack([p.lattice for p in patterns]))
    owner = np.repeat(np.arange(len(patterns)), sizes)
    uniform = bool(np.all(wavelengths == wavelengths[0]))
    wavelength = wavelengths[0] if uniform else wavelengths[owner]
    keep = (g_norm > 0) & (g_norm <= 2.0 / wavelength * (1 + 1e-12))
    values = values * np.repeat(volume_squares(volumes), sizes)
    if not keep.all():
        g_norm, owner, values = g_norm[keep], owner[keep], values[keep]
        if not uniform:
            wavelength = wavelength[keep]
    sin_theta = np.minimum(wavelength * g_norm / 2, 1.0)
    two_theta = np.degrees(2 * np.arcsin(sin_theta))
    return (
        g_norm,
        owner,
        two_theta,
        values * _lorentz_factors(sin_theta, [p.radiation for p in patterns], owner),
    )


def _lorentz_factors(sin_theta: np.ndarray, radiations: list[str], owner: np.ndarray) -> np.ndarray:
    """Lorentz(-polarisation) factor of each point, for the radiation of its pattern."""
    kinds = sorted(set(radiations))
    if len(kinds) == 1:
        return lorentz_polarisation(sin_theta, kinds[0])
    code = np.array([kinds.index(radiation) for radiation in radiations])[owner]
    factor = np.empty_like(sin_theta)
    for index, radiation in enumerate(kinds):
        chosen = code == index
        factor[chosen] = lorentz_polarisation(sin_theta[chosen], radiation)
    return factor


def _powder(
    two_theta: np.ndarray,
    intensity: np.ndarray,
    d_spacing: np.ndarray,
    multiplicity: np.ndarray,
    part: slice,
    wavelength: float,
) -> PowderPattern:
    return PowderPattern(
        two_theta=two_theta[part],
        intensity=intensity[part],
        d_spacing=d_spacing[part],
        multiplicity=multiplicity[part],
        wavelength=wavelength,
    )
