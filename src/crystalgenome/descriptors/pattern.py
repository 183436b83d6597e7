"""Rotation-invariant numbers read off diffraction point clouds and their cell.

Every number depends on the pattern only (reflection positions g in Å⁻¹, intensities, Miller indices):
the cell is the least-squares reciprocal basis of the cloud, the number density comes from the origin
of the unit-scatterer probe (F(000) = number of atoms, so √I(000) = N/V), and no element identity is
read anywhere. Rotating the input structure leaves every value unchanged (they depend on |g|, on the
metric and on intensities). Probes are the radiations of
:class:`~crystalgenome.diffraction.DiffractionSettings`:
``xray`` (atomic form factors), ``neutron`` (coherent lengths), ``electron`` (Mott–Bethe factors) and
``unit`` (f = 1: geometry alone). Each weighs the elements differently, so together they constrain
the scatterers without naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from crystalgenome.diffraction.clouds import INTENSITY, MILLER, MILLER_CHANNELS, G
from crystalgenome.utils.config import JsonConfig

PROBES: tuple[str, ...] = ("xray", "neutron", "electron", "unit")
"""Radiations a descriptor can read, in a fixed order."""

LOG_FLOOR = 1e-8
"""Added to intensities (and intensity ratios) before taking logarithms."""


@dataclass(frozen=True)
class PatternClouds:
    """The raw point clouds of the same structures under several probes.

    Attributes:
        points: probe → (n, P, 7) float arrays: g_x, g_y, g_z (Å⁻¹), I = |F|²/V², h, k, l.
            A structure a probe cannot see (e.g. an element without a neutron length) has NaN
            intensities under that probe, and NaN descriptors of it.
        mask: (n, P) True on real points (the same reflections under every probe).
    """

    points: dict[str, np.ndarray]
    mask: np.ndarray

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("PatternClouds needs the clouds of at least one probe")
        reference = next(iter(self.points.values()))
        for probe, cloud in self.points.items():
            if probe not in PROBES:
                raise ValueError(f"unknown probe {probe!r}; choose from {', '.join(PROBES)}")
            if cloud.ndim != 3 or cloud.shape[2] != MILLER_CHANNELS:
                raise ValueError(f"{probe} clouds must be (n, P, 7) with Miller indices, got {cloud.shape}")
            if cloud.shape != reference.shape or not np.array_equal(
                cloud[..., MILLER], reference[..., MILLER]
            ):
                raise ValueError(f"the {probe} clouds do not hold the same reflections as the others")
        if self.mask.shape != reference.shape[:2]:
            raise ValueError(f"mask {self.mask.shape} does not match clouds {reference.shape[:2]}")

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    @property
    def hkl(self) -> np.ndarray:
        return next(iter(self.points.values()))[..., MILLER]

    @property
    def g(self) -> np.ndarray:
        return next(iter(self.points.values()))[..., G].astype(np.float64)

    def intensity(self, probe: str) -> np.ndarray:
        """(n, P) intensities of ``probe`` (zero on padded points)."""
        if probe not in self.points:
            raise KeyError(f"no {probe} clouds given (have {', '.join(self.points)})")
        return np.where(self.mask, self.points[probe][..., INTENSITY], 0.0).astype(np.float64)


def reciprocal_metric(g: np.ndarray, hkl: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n, 3, 3) real-space metric tensors G = L Lᵀ (Å²) fitted to the clouds.

    The reciprocal basis B* is the least-squares solution of g = (h, k, l) B* over each cloud's real
    points; G = (B* B*ᵀ)⁻¹ does not change when the input is rotated.

    Raises:
        ValueError: a cloud's Miller indices do not span three dimensions.
    """
    weights = mask[..., None].astype(np.float64)
    hkl64 = hkl.astype(np.float64) * weights
    normal = np.einsum("npi,npj->nij", hkl64, hkl64)
    if np.any(np.linalg.matrix_rank(normal) < 3):
        raise ValueError("clouds whose Miller indices do not span three dimensions have no cell")
    basis = np.linalg.solve(normal, np.einsum("npi,npj->nij", hkl64, g * weights))
    return np.linalg.inv(basis @ basis.transpose(0, 2, 1))


def _cell_parameters(metric: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) lengths a, b, c (Å) and (n, 3) angles α, β, γ (degrees) of metric tensors."""
    lengths = np.sqrt(np.diagonal(metric, axis1=1, axis2=2))
    pairs = ((1, 2), (0, 2), (0, 1))
    cosines = np.stack([metric[:, i, j] / (lengths[:, i] * lengths[:, j]) for i, j in pairs], axis=1)
    return lengths, np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))


def _friedel_half(hkl: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n, P) True on one reflection of each Friedel pair ±(h, k, l), origin excluded."""
    h, k, l = (hkl[..., i] for i in range(3))
    return mask & ((h > 0) | ((h == 0) & (k > 0)) | ((h == 0) & (k == 0) & (l > 0)))


def _origin_intensity(clouds: PatternClouds, probe: str) -> np.ndarray:
    """(n,) I(000) of ``probe``: (Σ f(0) / V)²."""
    at_origin = clouds.mask & np.all(clouds.hkl == 0, axis=-1)
    if not np.all(at_origin.sum(axis=1) == 1):
        raise ValueError("every cloud needs the origin reflection (000) exactly once")
    return (clouds.intensity(probe) * at_origin).sum(axis=1)


@dataclass(frozen=True)
class PatternDescriptor(JsonConfig):
    """What to read off the clouds; :meth:`names` and :meth:`compute` agree column for column.

    Always: ln I(000) of each probe, ln of the volume per atom (Å³, from the ``unit`` probe's origin),
    sorted cell lengths (Å) and sorted angles (°). Then, for each of ``probes``:

    Attributes:
        probes: probes whose profile, reflection list and statistics are added.
        shells: radial profile: ln Σ I in this many shells of |g|, log-spaced in [g_min, g_max] Å⁻¹
            (reflections beyond fall into the outermost shell); 0 for none.
        g_min, g_max: shell range, Å⁻¹.
        reflections: K: the K reflections nearest the origin (one of each Friedel pair), by |g| and
            then by decreasing intensity of the first probe: their |g| and ln(I/I(000)) of each probe,
            and ln(I_first/I_other) between the first probe and each other; 0 for none.
        statistics: fraction of (near-)absent reflections, intensity-weighted mean and spread of |g|,
            ln(Σ I / I(000)), per probe.
        contrasts: cell-metric contrasts: ln of the ratios of sorted lengths, and each angle's
            distance to 90°, 60° and 120°.
        patterson: the rotationally averaged Patterson function of each probe,
            P(r) = Σ I(g) sin(2π|g|r)/(2π|g|r) / I(000) over the cloud, at this many radii spaced
            evenly in [0.5, r_max] Å: peaks at interatomic distances; 0 for none. Also adds the mean
            scattering power per atom of each non-unit probe, ½ ln(I(000)/I_unit(000)) = ln |Σf/N|.
        r_max: largest Patterson radius, Å.
    """

    config_kind: ClassVar[str] = "pattern descriptor"

    probes: tuple[str, ...] = ("xray",)
    shells: int = 64
    g_min: float = 0.05
    g_max: float = 4.0
    reflections: int = 0
    statistics: bool = False
    contrasts: bool = False
    patterson: int = 0
    r_max: float = 6.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "probes", tuple(self.probes))
        unknown = [probe for probe in self.probes if probe not in PROBES]
        if unknown or not self.probes:
            raise ValueError(f"probes must be a non-empty subset of {PROBES}, got {self.probes}")
        if self.shells < 0 or self.reflections < 0 or not 0 < self.g_min < self.g_max:
            raise ValueError("shells and reflections must be >= 0 and 0 < g_min < g_max")

    @classmethod
    def baseline(cls) -> PatternDescriptor:
        """The ~70-number summary of issue 9: X-ray radial profile, origin, density, cell shape."""
        return cls()

    @classmethod
    def rich(cls) -> PatternDescriptor:
        """Every probe, profile, reflection list, statistics and cell contrasts."""
        return cls(probes=PROBES, reflections=48, statistics=True, contrasts=True, patterson=24)

    @property
    def required_probes(self) -> tuple[str, ...]:
        """Probes whose clouds :meth:`compute` needs (``unit`` always, for the number density)."""
        return tuple(probe for probe in PROBES if probe in self.probes or probe == "unit")

    def names(self) -> list[str]:
        """Column names, in the order of :meth:`compute`'s columns."""
        names = [f"ln_I000_{probe}" for probe in self.required_probes]
        names += ["ln_volume_per_atom", "a_sorted_1", "a_sorted_2", "a_sorted_3"]
        names += ["angle_sorted_1", "angle_sorted_2", "angle_sorted_3"]
        if self.contrasts:
            names += ["ln_a2_over_a1", "ln_a3_over_a2"]
            names += [f"angle_{i}_to_{target}" for i in (1, 2, 3) for target in (90, 60, 120)]
        if self.patterson:
            names += [f"ln_mean_f_{probe}" for probe in self.probes if probe != "unit"]
        first = self.probes[0]
        for probe in self.probes:
            names += [f"profile_{probe}_{shell}" for shell in range(self.shells)]
            names += [f"patterson_{probe}_{i}" for i in range(self.patterson)]
            if self.statistics:
                names += [f"{stat}_{probe}" for stat in ("absent_fraction", "mean_g", "spread_g", "ln_sum")]
        if self.reflections:
            names += [f"g_{i}" for i in range(self.reflections)]
            for probe in self.probes:
                names += [f"ln_rel_I_{probe}_{i}" for i in range(self.reflections)]
            for probe in self.probes[1:]:
                names += [f"ln_{first}_over_{probe}_{i}" for i in range(self.reflections)]
        return names

    def compute(self, clouds: PatternClouds) -> np.ndarray:
        """(n, len(names())) float32 descriptors; NaN where a cloud has fewer than K reflections."""
        for probe in self.required_probes:
            clouds.intensity(probe)  # KeyError naming a missing probe
        origins = {probe: _origin_intensity(clouds, probe) for probe in self.required_probes}
        columns = [np.log(origins[probe] + LOG_FLOOR)[:, None] for probe in self.required_probes]
        columns.append(self._cell_columns(clouds, origins["unit"]))
        if self.patterson:
            columns += [
                0.5 * np.log((origins[probe] + LOG_FLOOR) / (origins["unit"] + LOG_FLOOR))[:, None]
                for probe in self.probes
                if probe != "unit"
            ]
        half = _friedel_half(clouds.hkl, clouds.mask)
        g_norm = np.linalg.norm(clouds.g, axis=-1)
        for probe in self.probes:
            intensity = clouds.intensity(probe) * half
            block = []
            if self.shells:
                block.append(self._profile(g_norm, intensity, half))
            if self.patterson:
                block.append(self._patterson(g_norm, intensity, origins[probe]))
            if self.statistics:
                block.append(_statistics(g_norm, intensity, half, origins[probe]))
            if block:  # a structure the probe could not see: every column of the probe unknown
                columns.append(np.where(np.isnan(origins[probe])[:, None], np.nan, np.concatenate(block, 1)))
        if self.reflections:
            columns.append(self._reflection_list(clouds, g_norm, half, origins))
        return np.concatenate(columns, axis=1).astype(np.float32)

    def _cell_columns(self, clouds: PatternClouds, unit_origin: np.ndarray) -> np.ndarray:
        lengths, angles = _cell_parameters(reciprocal_metric(clouds.g, clouds.hkl, clouds.mask))
        lengths, angles = np.sort(lengths, axis=1), np.sort(angles, axis=1)
        volume_per_atom = 1.0 / np.sqrt(np.maximum(unit_origin, 1e-30))  # √I(000) = N/V for f = 1
        parts = [np.log(volume_per_atom)[:, None], lengths, angles]
        if self.contrasts:
            parts.append(np.log(lengths[:, 1:] / lengths[:, :-1]))
            targets = np.array([90.0, 60.0, 120.0])
            parts.append(np.abs(angles[:, :, None] - targets).reshape(len(angles), -1))
        return np.concatenate(parts, axis=1)

    def _profile(self, g_norm: np.ndarray, intensity: np.ndarray, half: np.ndarray) -> np.ndarray:
        edges = np.geomspace(self.g_min, self.g_max, self.shells + 1)
        shell = np.clip(np.searchsorted(edges, g_norm, side="right") - 1, 0, self.shells - 1)
        rows = np.broadcast_to(np.arange(len(g_norm))[:, None], g_norm.shape)
        flat = (rows * self.shells + shell)[half]
        sums = np.bincount(flat, weights=intensity[half], minlength=len(g_norm) * self.shells)
        return np.log(sums.reshape(len(g_norm), self.shells) + LOG_FLOOR)

    def _patterson(self, g_norm: np.ndarray, intensity: np.ndarray, origin: np.ndarray) -> np.ndarray:
        radii = np.linspace(0.5, self.r_max, self.patterson)
        out = np.empty((len(g_norm), self.patterson))
        for start in range(0, len(g_norm), 1024):  # bounded memory: (1024, P, radii) at a time
            rows = slice(start, start + 1024)
            phase = 2.0 * np.pi * g_norm[rows, :, None] * radii
            out[rows] = np.einsum("np,npr->nr", intensity[rows], np.sinc(phase / np.pi))
        return 2.0 * out / np.maximum(origin, 1e-300)[:, None]

    def _reflection_list(
        self, clouds: PatternClouds, g_norm: np.ndarray, half: np.ndarray, origins: dict[str, np.ndarray]
    ) -> np.ndarray:
        first = self.probes[0]
        rounded = np.where(half, np.round(g_norm, 6), np.inf)
        order = np.lexsort((-clouds.intensity(first), rounded), axis=-1)[:, : self.reflections]
        taken = np.take_along_axis(half, order, axis=1)
        count = order.shape[1]

        def gather(values: np.ndarray) -> np.ndarray:
            out = np.full((len(values), self.reflections), np.nan)
            out[:, :count] = np.where(taken, np.take_along_axis(values, order, axis=1), np.nan)
            return out

        parts = [gather(g_norm)]
        logs = {
            probe: np.log(clouds.intensity(probe) / origins[probe][:, None] + LOG_FLOOR)
            for probe in self.probes
        }
        parts += [gather(logs[probe]) for probe in self.probes]
        parts += [gather(logs[first] - logs[probe]) for probe in self.probes[1:]]
        return np.concatenate(parts, axis=1)


def _statistics(
    g_norm: np.ndarray, intensity: np.ndarray, half: np.ndarray, origin: np.ndarray
) -> np.ndarray:
    """(n, 4): fraction of reflections with I < 1e-6 I(000), intensity-weighted mean and standard
    deviation of |g| (Å⁻¹), ln(Σ I / I(000))."""
    count = np.maximum(half.sum(axis=1), 1)
    absent = ((intensity < 1e-6 * origin[:, None]) & half).sum(axis=1) / count
    total = intensity.sum(axis=1)
    safe = np.maximum(total, 1e-300)
    mean = (intensity * g_norm).sum(axis=1) / safe
    spread = np.sqrt(np.maximum((intensity * g_norm**2).sum(axis=1) / safe - mean**2, 0.0))
    return np.stack([absent, mean, spread, np.log(total / np.maximum(origin, 1e-300) + LOG_FLOOR)], axis=1)
