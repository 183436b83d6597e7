"""The point-cloud layout every stage shares, owned by one type.

A diffraction point cloud of ``n`` structures padded to ``P`` points is, channel by channel::

    0:3   g = (g_x, g_y, g_z)  reciprocal-lattice vector, Å⁻¹ (Cartesian frame of the cell)
    3     I = |F|²/V²          intensity
    4:7   (h, k, l)            Miller indices (only in 7-channel clouds, for lattice-frame models)

with a (n, P) mask, True on real points (padding is zeros). :class:`PointClouds` holds the parts by
name and packs them into the (n, P, 4) or (n, P, 7) array models read (:meth:`PointClouds.packed`);
code that must index a packed array (normalisation, models on torch tensors) uses the channel
constants below instead of bare numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

G = slice(0, 3)
"""Channels of the reciprocal-lattice vector g."""
INTENSITY = 3
"""Channel of the intensity I."""
MILLER = slice(4, 7)
"""Channels of the Miller indices (h, k, l) in a 7-channel cloud."""
BASE_CHANNELS = 4
"""Channels of a cloud without Miller indices: g and I."""
MILLER_CHANNELS = 7
"""Channels of a cloud with Miller indices."""


@dataclass
class PointClouds:
    """Raw point clouds of ``n`` structures, zero-padded to ``P`` points.

    Attributes:
        points: (n, P, 4) float32: g (Å⁻¹) in channels 0–2, I = |F|²/V² in channel 3.
        mask: (n, P) bool, True on real points.
        hkl: (n, P, 3) Miller indices of the points (zero-padded), or None when not kept.
    """

    points: np.ndarray
    mask: np.ndarray
    hkl: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, width = self.mask.shape
        hkl_ok = self.hkl is None or self.hkl.shape == (n, width, 3)
        if self.points.shape != (n, width, BASE_CHANNELS) or not hkl_ok:
            hkl_shape = None if self.hkl is None else self.hkl.shape
            raise ValueError(
                f"points {self.points.shape}, mask {self.mask.shape} and hkl {hkl_shape} do not match"
            )

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    @property
    def g(self) -> np.ndarray:
        """(n, P, 3) reciprocal-lattice vectors, Å⁻¹."""
        return self.points[..., G]

    @property
    def intensities(self) -> np.ndarray:
        """(n, P) intensities I = |F|²/V²."""
        return self.points[..., INTENSITY]

    @property
    def miller(self) -> np.ndarray | None:
        """(n, P, 3) Miller indices, or None."""
        return self.hkl

    @classmethod
    def zeros(cls, count: int, width: int, *, with_hkl: bool = False) -> PointClouds:
        """Empty (all padding) clouds to fill with :meth:`put`."""
        return cls(
            points=np.zeros((count, width, BASE_CHANNELS), dtype=np.float32),
            mask=np.zeros((count, width), dtype=bool),
            hkl=np.zeros((count, width, 3), dtype=np.float32) if with_hkl else None,
        )

    @classmethod
    def stack(
        cls, clouds: Iterable[tuple[np.ndarray, np.ndarray]], *, with_hkl: bool = False, min_width: int = 0
    ) -> PointClouds:
        """Pad single clouds, each ((M, 4) points, (M, 3) hkl), into one batch (width: the largest M)."""
        clouds = list(clouds)
        width = max([min_width, *(points.shape[0] for points, _ in clouds)])
        result = cls.zeros(len(clouds), width, with_hkl=with_hkl)
        for row, (points, hkl) in enumerate(clouds):
            result.put(row, points, np.ones(points.shape[0], dtype=bool), hkl if with_hkl else None)
        return result

    def put(
        self, rows: np.ndarray | int, points: np.ndarray, mask: np.ndarray, hkl: np.ndarray | None = None
    ) -> None:
        """Write clouds (narrower or as wide as these) into ``rows``."""
        width = points.shape[-2]
        self.points[rows, :width] = points
        self.mask[rows, :width] = mask
        if self.hkl is not None and hkl is not None:
            self.hkl[rows, : hkl.shape[-2]] = hkl

    def packed(self, *, with_hkl: bool | None = None) -> np.ndarray:
        """The (n, P, 4) array models read, or (n, P, 7) with the Miller indices in channels 4–6
        (``with_hkl``; default: when these clouds keep them)."""
        with_hkl = self.hkl is not None if with_hkl is None else with_hkl
        if not with_hkl:
            return self.points
        if self.hkl is None:
            raise ValueError("these clouds keep no Miller indices")
        packed = np.zeros((*self.mask.shape, MILLER_CHANNELS), dtype=np.float32)
        packed[..., :BASE_CHANNELS] = self.points
        packed[..., MILLER] = self.hkl
        return packed

    @classmethod
    def from_packed(cls, array: np.ndarray, mask: np.ndarray) -> PointClouds:
        """The parts of a packed (n, P, 4) or (n, P, 7) array."""
        hkl = array[..., MILLER] if array.shape[-1] == MILLER_CHANNELS else None
        return cls(points=array[..., :BASE_CHANNELS], mask=mask, hkl=hkl)

    def take(self, index: np.ndarray) -> PointClouds:
        """The clouds of samples ``index`` (in that order)."""
        hkl = None if self.hkl is None else self.hkl[index]
        return PointClouds(points=self.points[index], mask=self.mask[index], hkl=hkl)

    def gather(self, order: np.ndarray) -> PointClouds:
        """Reorder (and possibly narrow) the points of each cloud: ``order`` is (n, P') point indices."""
        rows = np.arange(len(self))[:, None]
        hkl = None if self.hkl is None else self.hkl[rows, order]
        return PointClouds(points=self.points[rows, order], mask=self.mask[rows, order], hkl=hkl)
