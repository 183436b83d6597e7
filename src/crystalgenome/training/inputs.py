"""Network inputs: normalisation of raw point clouds (g in Å⁻¹, I = |F|²/V²) and index-based batching.

Raw points are (g_x, g_y, g_z, I). The authors' normalisation (the default) divides the coordinates
by 5 Å⁻¹ and maps the intensity to (ln(I + 1e-6) − ln 1e-6)/15, which is 0 for I = 0 and about 1
for the strongest reflections. Padded points (mask False) stay exactly zero.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from crystalgenome.diffraction.clouds import INTENSITY, G

if TYPE_CHECKING:
    import torch

IntensityScaling = Literal["log_shift", "log1p", "linear"]

CU_KA_WAVELENGTH = 1.54184
"""Cu Kα wavelength, Å (the limiting sphere |g| ≤ 2/λ of the authors' first preprint)."""


APPLY_CHUNK = 4096
"""Structures normalised per step by :meth:`Normalisation.apply` and :func:`half_cloud_tensors`
(bounds their temporaries)."""


@dataclass(frozen=True)
class Normalisation:
    """How raw points become network inputs.

    Attributes:
        coordinate_scale: g is divided by this, Å⁻¹.
        intensity: ``"log_shift"``: (ln(I + floor) − ln floor)/scale (authors' published version);
            ``"log1p"``: ln(1 + I)/scale (first preprint); ``"linear"``: I/scale.
        intensity_floor: the ``floor`` of ``log_shift``.
        intensity_scale: the ``scale`` above.
    """

    coordinate_scale: float = 5.0
    intensity: IntensityScaling = "log_shift"
    intensity_floor: float = 1e-6
    intensity_scale: float = 15.0

    def __post_init__(self) -> None:
        if self.intensity not in ("log_shift", "log1p", "linear"):
            raise ValueError(f"unknown intensity scaling {self.intensity!r}")
        if self.coordinate_scale <= 0 or self.intensity_scale <= 0 or self.intensity_floor <= 0:
            raise ValueError("normalisation scales and floor must be positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalisation:
        return cls(**data)

    def scale_intensity(self, intensity: np.ndarray) -> np.ndarray:
        """Map raw intensities (|F|²/V², ≥ 0) to network inputs."""
        intensity = np.maximum(np.asarray(intensity, dtype=np.float64), 0.0)
        if self.intensity == "log_shift":
            return (
                np.log(intensity + self.intensity_floor) - np.log(self.intensity_floor)
            ) / self.intensity_scale
        if self.intensity == "log1p":
            return np.log1p(intensity) / self.intensity_scale
        return intensity / self.intensity_scale

    def apply(self, points: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """(n, P, 4) raw points → (n, P, 4) float32 inputs; padded points (mask False) are zero.

        Extra channels beyond the fourth are passed through unchanged. Works through the structures in
        chunks, so the temporaries stay small whatever n (only the float32 result is the size of the input).
        """
        points = np.asarray(points)
        mask = None if mask is None else np.asarray(mask, dtype=bool)
        out = np.empty(points.shape, dtype=np.float32)
        if points.ndim < 3:
            self._apply_into(out, points, mask)
            return out
        for start in range(0, points.shape[0], APPLY_CHUNK):
            part = slice(start, start + APPLY_CHUNK)
            self._apply_into(out[part], points[part], None if mask is None else mask[part])
        return out

    def _apply_into(self, out: np.ndarray, points: np.ndarray, mask: np.ndarray | None) -> None:
        out[..., G] = points[..., G] / self.coordinate_scale
        out[..., INTENSITY] = self.scale_intensity(points[..., INTENSITY])
        out[..., INTENSITY + 1 :] = points[..., INTENSITY + 1 :]
        if mask is not None:
            out[~mask] = 0.0


NORMALISATIONS: dict[str, Normalisation] = {
    "authors": Normalisation(),
    "preprint": Normalisation(
        coordinate_scale=2.0 / CU_KA_WAVELENGTH, intensity="log1p", intensity_scale=3.0
    ),
}
"""Named presets: ``authors`` (published 2022 code, the default) and ``preprint`` (first preprint, 2021)."""


def resolve_normalisation(spec: Normalisation | str | dict | None) -> Normalisation:
    """A Normalisation from an instance, a preset name, a dict, or None (the authors')."""
    if spec is None:
        return NORMALISATIONS["authors"]
    if isinstance(spec, Normalisation):
        return spec
    if isinstance(spec, dict):
        return Normalisation.from_dict(spec)
    if spec not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {spec!r}; choose from {', '.join(NORMALISATIONS)}")
    return NORMALISATIONS[spec]


def full_mask(points: np.ndarray) -> np.ndarray:
    """An all-True mask (n, P) for unpadded point clouds."""
    return np.ones(np.asarray(points).shape[:2], dtype=bool)


def check_inputs(points: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Validate shapes; return the mask (all True when None). Every cloud needs one real point."""
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[-1] < 4:
        raise ValueError(f"points must have shape (n, P, >=4), got {points.shape}")
    mask = full_mask(points) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != points.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match points {points.shape[:2]}")
    empty = ~mask.any(axis=1)
    if np.any(empty):
        raise ValueError(f"{int(empty.sum())} point clouds have no real points")
    return mask


def to_tensors(
    points: np.ndarray,
    mask: np.ndarray | None,
    normalisation: Normalisation,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised inputs and mask as torch tensors (kept in memory for the whole run)."""
    import torch

    mask = check_inputs(points, mask)
    inputs = torch.from_numpy(normalisation.apply(points, mask)).to(device)
    return inputs, torch.from_numpy(mask).to(device)


def half_cloud_tensors(
    points: np.ndarray,
    mask: np.ndarray | None,
    normalisation: Normalisation,
    *,
    miller_channels: bool,
    device: str | torch.device = "cpu",
    chunk: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``friedel_half(*to_tensors(points, mask, normalisation), miller_channels=...)``, the same tensors,
    built ``chunk`` structures at a time: neither the full-width normalised inputs nor the sort of the
    whole set are ever held, only the result (about half the size of ``points``) and one chunk.

    Two passes: the first finds the width of the result, the second fills it.
    """
    import torch

    from crystalgenome.model import friedel_half

    mask = check_inputs(points, mask)
    step = chunk or APPLY_CHUNK
    starts = range(0, len(points), step)

    def halves(start: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        part = slice(start, start + step)
        real = torch.from_numpy(mask[part])
        normalised = torch.from_numpy(normalisation.apply(points[part], mask[part]))
        halved, kept = friedel_half(normalised, real, miller_channels=miller_channels)
        whole = halved is normalised  # every cloud of the chunk kept whole (not Friedel-symmetric)
        if whole:  # as friedel_half treats such clouds in a larger batch: real points first
            order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)
            kept = real.gather(1, order)
            gathered = normalised.gather(1, order.unsqueeze(-1).expand_as(normalised))
            halved = torch.where(kept.unsqueeze(-1), gathered, 0.0)
        return halved, kept, whole

    widths, all_whole = [], True
    for start in starts:
        _, kept, whole = halves(start)
        widths.append(int(kept.sum(dim=1).max()) if kept.numel() else 0)
        all_whole &= whole
    if all_whole:  # friedel_half returns such inputs unchanged
        return to_tensors(points, mask, normalisation, device)
    width = max(widths)
    inputs = torch.empty((len(points), width, points.shape[-1]), dtype=torch.float32)
    out_mask = torch.empty((len(points), width), dtype=torch.bool)
    for start in starts:
        halved, kept, _ = halves(start)
        part, used = slice(start, start + step), min(halved.shape[1], width)
        inputs[part, :used], out_mask[part, :used] = halved[:, :used], kept[:, :used]
        inputs[part, used:], out_mask[part, used:] = 0.0, False
    return inputs.to(device), out_mask.to(device)
