"""The result of one diffraction computation: a 3D point cloud of reflections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crystalgenome.diffraction.settings import DiffractionSettings
from crystalgenome.structures.symmetry import SymmetryInfo


@dataclass(frozen=True)
class DiffractionPattern:
    """Reciprocal-lattice points of one crystal with their kinematic intensities.

    Attributes:
        name: file name or material id of the structure.
        hkl: (M, 3) integer Miller indices in the cell used.
        g: (M, 3) Cartesian reciprocal vectors, Å⁻¹ (crystallographic, no 2π).
        intensity: (M,) |F|²/V², in electrons² Å⁻⁶ (X-ray) or fm² Å⁻⁶ (neutron).
        lattice: (3, 3) direct lattice of the cell used (rows), Å.
        settings: the settings that produced the pattern.
        symmetry: space group found while standardising (None for the input cell).
        friedel_ordered: True when rows i and M−1−i are Friedel mates (the engine's output),
            which lets consumers such as the powder projection use one half only.
        g_norm: (M,) |g| = 1/d, Å⁻¹ (computed from ``g`` when not given).
    """

    name: str
    hkl: np.ndarray
    g: np.ndarray
    intensity: np.ndarray
    lattice: np.ndarray
    settings: DiffractionSettings
    symmetry: SymmetryInfo | None = None
    friedel_ordered: bool = False
    g_norm: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.g_norm is None:
            object.__setattr__(self, "g_norm", np.sqrt(np.einsum("ij,ij->i", self.g, self.g)))

    @property
    def radiation(self) -> str:
        return self.settings.radiation

    @property
    def num_points(self) -> int:
        return int(self.hkl.shape[0])

    @property
    def volume(self) -> float:
        """Volume of the cell used, Å³."""
        return float(abs(np.linalg.det(self.lattice)))

    def point_cloud(self, dtype: type = np.float32) -> np.ndarray:
        """(M, 4) array of (g_x, g_y, g_z, I): the raw network input before normalisation."""
        return np.concatenate([self.g, self.intensity[:, None]], axis=1).astype(dtype)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dictionary (the ``crystalgenome diffract --format json`` output)."""
        data: dict[str, Any] = {
            "file": self.name,
            "radiation": self.radiation,
            "point_set": self.settings.point_set,
            "settings": self.settings.to_dict(),
            "lattice": self.lattice.tolist(),
            "volume": self.volume,
            "num_points": self.num_points,
            "hkl": self.hkl.tolist(),
            "g": self.g.tolist(),
            "g_norm": self.g_norm.tolist(),
            "intensity": self.intensity.tolist(),
        }
        if self.symmetry is not None:
            data["space_group_number"] = self.symmetry.number
            data["crystal_system"] = self.symmetry.crystal_system
        return data
