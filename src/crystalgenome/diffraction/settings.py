"""Settings of one diffraction computation, hashable and fingerprinted."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from crystalgenome.diffraction.radiation import resolve_wavelength

Radiation = Literal["xray", "neutron", "electron", "unit"]

DEFAULT_MAX_POINTS = 200_000
"""Default cap on the number of reciprocal-lattice points of one pattern."""


@dataclass(frozen=True)
class DiffractionSettings:
    """What to compute for each structure.

    Attributes:
        radiation: ``"xray"`` (atomic form factors), ``"neutron"`` (coherent lengths),
            ``"electron"`` (Mott–Bethe electron scattering factors, Å) or ``"unit"`` (f = 1 for
            every atom: the chemistry-free control of the ablations).
        max_miller: N of the Miller box |h|,|k|,|l| ≤ N ((2N+1)³ points with the origin).
            Ignored when ``wavelength`` is given.
        wavelength: λ in Å (or a name such as ``"CuKa"``): the point set becomes the
            limiting sphere |g| ≤ 2/λ, origin included.
        cell: ``"primitive"`` or ``"conventional"`` standardised cell, or ``"input"`` as given.
        symprec: symmetry tolerance for standardisation, Å.
        symmetry_backend: ``"moyopy"`` (fast) or ``"spglib"``.
        debye_waller: isotropic Debye–Waller B factors per element, Å² (f → f·exp(−B s²)).
        max_points: refuse point sets larger than this (memory guard).
        min_distance: sites closer than this (Å) are reported as overlapping atoms.
    """

    radiation: Radiation = "xray"
    max_miller: int = 3
    wavelength: float | None = None
    cell: Literal["primitive", "conventional", "input"] = "primitive"
    symprec: float = 0.1
    symmetry_backend: Literal["moyopy", "spglib"] = "moyopy"
    debye_waller: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    max_points: int = DEFAULT_MAX_POINTS
    min_distance: float = 0.5

    def __post_init__(self) -> None:
        if self.radiation not in ("xray", "neutron", "electron", "unit"):
            raise ValueError(
                f"radiation must be 'xray', 'neutron', 'electron' or 'unit', got {self.radiation!r}"
            )
        if self.wavelength is not None:
            object.__setattr__(self, "wavelength", resolve_wavelength(self.wavelength))
        elif self.max_miller < 0:
            raise ValueError(f"max_miller must be >= 0, got {self.max_miller}")
        if self.cell not in ("primitive", "conventional", "input"):
            raise ValueError(f"cell must be primitive, conventional or input, got {self.cell!r}")
        if isinstance(self.debye_waller, dict):
            object.__setattr__(self, "debye_waller", tuple(sorted(self.debye_waller.items())))

    @property
    def point_set(self) -> str:
        """``"sphere"`` (limiting sphere) or ``"box"`` (Miller box)."""
        return "sphere" if self.wavelength is not None else "box"

    @property
    def g_max(self) -> float | None:
        """Radius of the limiting sphere 2/λ, Å⁻¹ (None for the Miller box)."""
        return None if self.wavelength is None else 2.0 / self.wavelength

    def to_dict(self) -> dict:
        """Plain JSON-able dictionary of every setting."""
        data = asdict(self)
        data["debye_waller"] = dict(self.debye_waller)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiffractionSettings:
        """Rebuild settings from :meth:`to_dict` (as stored in manifests and run records)."""
        values = dict(data)
        values["debye_waller"] = tuple(sorted(dict(values.get("debye_waller") or {}).items()))
        return cls(**values)

    def fingerprint(self) -> str:
        """Short hash of the settings that change the computed points (not the cap)."""
        data = self.to_dict()
        data.pop("max_points")
        if self.point_set == "sphere":
            data.pop("max_miller")
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return digest[:16]
