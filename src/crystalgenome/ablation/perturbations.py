"""Perturbations of the input (the diffraction point cloud), each a small named transformation.

A :class:`Perturbation` says where a run's inputs come from (which radiation's feature store, or
cells with displaced atoms), how the point clouds are transformed before training, which training
settings change (rotation augmentation) and which network reads them (PointNet or a fully
connected network on the ordered hkl list). :data:`PERTURBATIONS` is the one table of the standard
study (``--perturbations all``); the families ``miller_N``, ``rotation_DEG``,
``positional_noise_SIGMA`` and ``dropout_FRACTION`` also take other values.

Randomness. Every random transformation draws from a generator seeded by (run seed, perturbation
name), once per run: the draw is *fixed per sample for that run* (the same factor / missing points
every epoch, and on the validation and test splits too), and fresh for every seed of the study.
:func:`crystalgenome.training.train` has no hook to re-draw an input transformation each time a
sample is drawn; the only per-draw randomness in training is its rotation (and point order).

All transforms act on raw points (g in Å⁻¹, I = |F|²/V²) before the run's normalisation, and are
vectorised over the whole (n, P) array.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from crystalgenome.diffraction.clouds import PointClouds

Radiation = Literal["xray", "neutron", "unit"]
ModelKind = Literal["pointnet", "fc"]

BINARY_THRESHOLD = 1e-8
"""Relative intensity I / max(I) above which a reflection counts as present (``intensity_binary``).

On 100 real MP structures (X-ray, primitive cells, N = 3) systematic absences are below 1e-30 of the
strongest reflection (numerically zero) and no reflection lies between 1e-20 and 1e-8, so this
threshold separates absences from weak reflections without touching either.
"""

INTENSITY_DECADES = 6.0
"""``intensity_scaled`` draws one factor c = 10^u per sample, u uniform in ±decades/2."""


Transform = Callable[[PointClouds, np.random.Generator], PointClouds]


@dataclass(frozen=True)
class Perturbation:
    """One ablation of the input.

    Attributes:
        name: unique name, used in results and folder names.
        description: one line for the report.
        radiation: feature store the points come from (``"unit"``: f = 1 for every atom).
        positional_noise: σ of Gaussian displacements of every atom (each Cartesian component), Å,
            applied to the standardised cell before diffraction (0 = none).
        transform: raw point clouds → perturbed clouds (None = unchanged).
        rotation_range: largest augmentation rotation angle, degrees (None: the study's default, 180).
        test_time_rotations: rotations averaged at validation and test time (None: the study's default).
        model: ``"pointnet"`` (the study's PointNet, trained by ``crystalgenome.training.train``) or
            ``"fc"`` (a fully connected network on the flattened, hkl-ordered cloud).
    """

    name: str
    description: str
    radiation: Radiation = "xray"
    positional_noise: float = 0.0
    transform: Transform | None = None
    rotation_range: float | None = None
    test_time_rotations: int | None = None
    model: ModelKind = "pointnet"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", self.name):
            raise ValueError(f"perturbation name {self.name!r}: use letters, digits, '_', '.', '-'")
        if self.radiation not in ("xray", "neutron", "unit"):
            raise ValueError(f"{self.name}: unknown radiation {self.radiation!r}")
        if self.positional_noise < 0:
            raise ValueError(f"{self.name}: positional noise must be >= 0 Å")
        if self.model not in ("pointnet", "fc"):
            raise ValueError(f"{self.name}: unknown model {self.model!r}")

    def rng(self, seed: int) -> np.random.Generator:
        """The generator of this perturbation's random draws for the run with ``seed``."""
        salt = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "little")
        return np.random.default_rng([int(seed), salt])

    def apply(self, clouds: PointClouds, seed: int) -> PointClouds:
        """The perturbed clouds of the run with ``seed`` (a pure function of the inputs and the seed)."""
        if self.transform is None:
            return clouds
        perturbed = self.transform(clouds, self.rng(seed))
        empty = ~perturbed.mask.any(axis=1)
        if np.any(empty):
            raise ValueError(f"{self.name}: {int(empty.sum())} point clouds have no points left")
        return perturbed


# ----------------------------------------------------------------------------- transforms


def scale_intensities(
    clouds: PointClouds, rng: np.random.Generator, *, decades: float = INTENSITY_DECADES
) -> PointClouds:
    """Multiply all intensities of a sample by one factor c, log-uniform over ``decades`` decades.

    Under the log normalisation, ln(c I + floor) shifts by ln c for every reflection well above the
    floor: absolute intensity (and with it the origin's (ΣZ/V)²) is destroyed, intensity ratios are
    kept. c spans 10^±3 by default, a shift of ±0.46 on the authors' intensity scale (~0–1).
    """
    factors = 10.0 ** rng.uniform(-decades / 2, decades / 2, size=len(clouds))
    points = clouds.points.copy()
    points[..., 3] *= factors[:, None].astype(np.float32)
    return replace(clouds, points=points)


def binarise_intensities(
    clouds: PointClouds, rng: np.random.Generator, *, threshold: float = BINARY_THRESHOLD
) -> PointClouds:
    """Present (I = 1) or absent (I = 0): I / max(I of the sample) above ``threshold``.

    Keeps only which reflections are systematically absent (and the positions).
    """
    intensity = np.where(clouds.mask, clouds.points[..., 3], 0.0)
    strongest = intensity.max(axis=1, keepdims=True)
    present = intensity > threshold * strongest
    points = clouds.points.copy()
    points[..., 3] = present.astype(np.float32)
    return replace(clouds, points=points)


def drop_intensity_channel(clouds: PointClouds, rng: np.random.Generator) -> PointClouds:
    """Positions only: every intensity set to 0.

    The fourth input channel is then identically zero for every sample, so its first-layer weights
    never act: the network is exactly a 3-channel (coordinates-only) PointNet. Systematic absences
    are lost too (absent reflections remain as points).
    """
    points = clouds.points.copy()
    points[..., 3] = 0.0
    return replace(clouds, points=points)


def keep_points(clouds: PointClouds, keep: np.ndarray) -> PointClouds:
    """Keep the points where ``keep`` (n, P) is True, packed to the front of a narrower array."""
    keep = keep & clouds.mask
    order = np.argsort(~keep, axis=1, kind="stable")[:, : max(int(keep.sum(axis=1).max()), 1)]
    narrowed = clouds.gather(order)
    kept = np.take_along_axis(keep, order, axis=1)
    points = np.where(kept[..., None], narrowed.points, 0.0).astype(np.float32)
    return PointClouds(points=points, mask=kept, hkl=np.where(kept[..., None], narrowed.hkl, 0))


def miller_subset(clouds: PointClouds, rng: np.random.Generator, *, max_miller: int) -> PointClouds:
    """Only the reflections with |h|, |k|, |l| ≤ ``max_miller`` ((2N+1)³ points of the N = 3 box).

    Raises:
        ValueError: when the data's point sets do not reach ``max_miller`` (a smaller Miller box).
    """
    largest = np.abs(clouds.hkl).max(axis=2)
    available = int(np.where(clouds.mask, largest, 0).max(initial=0))
    if available < max_miller:
        raise ValueError(f"miller_{max_miller}: the data's Miller box only reaches N = {available}")
    return keep_points(clouds, largest <= max_miller)


def lattice_points(clouds: PointClouds, rng: np.random.Generator, *, origin: bool) -> PointClouds:
    """Only (100), (010), (001) — the reciprocal basis vectors — and (000) when ``origin``.

    Intensities are kept as they are: these points carry |F|²/V² of the three lowest reflections along
    the axes (and the origin's (ΣZ/V)²); everything else about the structure is gone.
    """
    hkl = clouds.hkl
    basis = (np.abs(hkl).sum(axis=2) == 1) & (hkl.max(axis=2) == 1)
    keep = basis | (np.all(hkl == 0, axis=2) & origin)
    found = (keep & clouds.mask).sum(axis=1)
    expected = 4 if origin else 3
    if np.any(found != expected):
        raise ValueError(
            f"lattice points: {int((found != expected).sum())} clouds lack (100), (010), (001) or (000)"
        )
    return keep_points(clouds, keep)


def remove_origin(clouds: PointClouds, rng: np.random.Generator) -> PointClouds:
    """Drop the (000) point, whose intensity (Σf/V)² carries the composition (or the number density)."""
    return keep_points(clouds, ~np.all(clouds.hkl == 0, axis=2))


def drop_points(clouds: PointClouds, rng: np.random.Generator, *, fraction: float) -> PointClouds:
    """Each real point missing with probability ``fraction`` (via the mask), at least one kept per cloud."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"dropout fraction must be in [0, 1), got {fraction}")
    survive = clouds.mask & (rng.random(clouds.mask.shape) >= fraction)
    lost = ~survive.any(axis=1)
    if np.any(lost):  # give back one random real point to a cloud that lost every point
        scores = np.where(clouds.mask[lost], rng.random((int(lost.sum()), clouds.mask.shape[1])), -1.0)
        survive[np.flatnonzero(lost), scores.argmax(axis=1)] = True
    points = np.where(survive[..., None], clouds.points, 0.0).astype(np.float32)
    return PointClouds(points=points, mask=survive, hkl=np.where(survive[..., None], clouds.hkl, 0))


def permute_order(clouds: PointClouds, rng: np.random.Generator) -> PointClouds:
    """An independent random order of the points of each sample (the hkl order is lost)."""
    order = rng.random(clouds.mask.shape).argsort(axis=1)
    return clouds.gather(order)


# ----------------------------------------------------------------------------- the table


def miller(max_miller: int) -> Perturbation:
    """``miller_N``: the Miller box |h|,|k|,|l| ≤ N cut out of the stored N = 3 box."""
    return Perturbation(
        name=f"miller_{max_miller}",
        description=f"only reflections with |h|,|k|,|l| ≤ {max_miller} ({(2 * max_miller + 1) ** 3} points)",
        transform=functools.partial(miller_subset, max_miller=max_miller),
    )


def rotation(degrees: float) -> Perturbation:
    """``rotation_DEG``: augmentation rotations of angle ≤ DEG, evaluated in the stored orientation.

    Test-time averaging uses rotations uniform over SO(3), outside what a model trained with a small
    range has seen, so every ``rotation_*`` run predicts validation and test inputs as stored (no
    averaging); ``rotation_180`` is the baseline's augmentation under that same protocol.
    """
    return Perturbation(
        name=f"rotation_{degrees:g}",
        description=(
            f"augmentation rotations of angle ≤ {degrees:g}°; validation/test in the stored orientation, "
            "no test-time rotation averaging"
        ),
        rotation_range=float(degrees),
        test_time_rotations=0,
    )


def positional_noise(sigma: float) -> Perturbation:
    """``positional_noise_SIGMA``: Gaussian displacements (σ Å per Cartesian component) before diffraction."""
    return Perturbation(
        name=f"positional_noise_{sigma:g}",
        description=(
            f"every atom of the standardised cell displaced by N(0, {sigma:g} Å) per Cartesian component "
            "before diffraction (one noisy copy of the data per run)"
        ),
        positional_noise=float(sigma),
    )


def dropout(fraction: float) -> Perturbation:
    """``dropout_FRACTION``: a random fraction of the reflections missing (fixed per sample and run)."""
    return Perturbation(
        name=f"dropout_{fraction:g}",
        description=(
            f"each reflection missing with probability {fraction:g} (via the mask; fixed per sample and run)"
        ),
        transform=functools.partial(drop_points, fraction=float(fraction)),
    )


def _standard_table() -> tuple[Perturbation, ...]:
    return (
        Perturbation(name="baseline", description="unperturbed: X-ray, Miller box N = 3, uniform rotations"),
        Perturbation(
            name="intensity_scaled",
            description=(
                f"all intensities of a sample × one factor, log-uniform over 10^±{INTENSITY_DECADES / 2:g} "
                "(fixed per sample and run)"
            ),
            transform=scale_intensities,
        ),
        Perturbation(
            name="intensity_binary",
            description=f"I → 1 if I/max(I) > {BINARY_THRESHOLD:g} else 0 (keeps only systematic absences)",
            transform=binarise_intensities,
        ),
        Perturbation(
            name="no_intensity",
            description="intensity channel zeroed: positions only (equivalent to a 3-channel PointNet)",
            transform=drop_intensity_channel,
        ),
        miller(1),
        miller(2),
        Perturbation(
            name="lattice_4",
            description="only (000), (100), (010), (001), with their intensities",
            transform=functools.partial(lattice_points, origin=True),
        ),
        Perturbation(
            name="lattice_3",
            description="only the reciprocal basis vectors (100), (010), (001), with their intensities",
            transform=functools.partial(lattice_points, origin=False),
        ),
        rotation(0),
        rotation(30),
        rotation(180),
        Perturbation(
            name="neutron",
            description="neutron coherent scattering lengths instead of X-ray form factors",
            radiation="neutron",
        ),
        Perturbation(
            name="chemistry_free",
            description=(
                "unit form factors (f = 1 for every atom) and no (000) point: lattice + geometry only"
            ),
            radiation="unit",
            transform=remove_origin,
        ),
        positional_noise(0.05),
        positional_noise(0.1),
        dropout(0.1),
        dropout(0.3),
        Perturbation(
            name="fc_hkl",
            description="fully connected network on the flattened (g, I) list in lexicographic hkl order",
            model="fc",
        ),
        Perturbation(
            name="fc_hkl_permuted",
            description="the same network with the point order randomly permuted per sample (hkl order lost)",
            transform=permute_order,
            model="fc",
        ),
    )


PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in _standard_table()}
"""The standard study, in report order (``--perturbations all``)."""

FAMILIES: dict[str, Callable[[str], Perturbation]] = {
    "miller": lambda value: miller(int(value)),
    "rotation": lambda value: rotation(float(value)),
    "positional_noise": lambda value: positional_noise(float(value)),
    "dropout": lambda value: dropout(float(value)),
}
"""Parametrised names ``FAMILY_VALUE`` (e.g. ``rotation_45``, ``dropout_0.5``)."""


def get_perturbation(name: str) -> Perturbation:
    """The perturbation called ``name``: from :data:`PERTURBATIONS` or a parametrised family.

    Raises:
        ValueError: for an unknown name or a bad parameter.
    """
    name = name.strip()
    if name in PERTURBATIONS:
        return PERTURBATIONS[name]
    match = re.fullmatch(r"(miller|rotation|positional_noise|dropout)_([0-9.]+)", name)
    if match is None:
        known = ", ".join(PERTURBATIONS)
        raise ValueError(
            f"unknown perturbation {name!r}; known: {known}; families: {', '.join(FAMILIES)}_VALUE"
        )
    family, value = match.groups()
    try:
        perturbation = FAMILIES[family](value)
    except ValueError as error:
        raise ValueError(f"perturbation {name!r}: bad value ({error})") from None
    if family == "rotation" and not 0.0 <= perturbation.rotation_range <= 180.0:  # type: ignore[operator]
        raise ValueError(f"perturbation {name!r}: rotation range must be in [0, 180] degrees")
    if family == "dropout" and not 0.0 <= float(value) < 1.0:
        raise ValueError(f"perturbation {name!r}: dropout fraction must be in [0, 1)")
    return perturbation


def resolve_perturbations(selection: str | Sequence[str | Perturbation]) -> list[Perturbation]:
    """Perturbations from ``"all"``, a comma-separated list, or a sequence of names/objects.

    ``baseline`` is always included (first): every change is measured against it. Duplicates are dropped.
    """
    if isinstance(selection, str):
        items: list[str | Perturbation] = (
            list(PERTURBATIONS)
            if selection.strip() == "all"
            else [s for s in selection.split(",") if s.strip()]
        )
    else:
        items = list(selection)
    chosen: dict[str, Perturbation] = {"baseline": PERTURBATIONS["baseline"]}
    for item in items:
        if isinstance(item, str) and item.strip() == "all":
            chosen.update(PERTURBATIONS)
            continue
        perturbation = item if isinstance(item, Perturbation) else get_perturbation(item)
        chosen.setdefault(perturbation.name, perturbation)
    return list(chosen.values())
