"""Which reciprocal-lattice points a pattern contains: the Miller box or the limiting sphere.

Reciprocal vectors follow the crystallographic convention (no 2π): g = h a* + k b* + l c*,
with the rows of ``inv(lattice).T`` as a*, b*, c*, so |g| = 1/d (Å⁻¹).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from crystalgenome.errors import PointCapExceeded


def reciprocal_lattice(lattice: np.ndarray) -> np.ndarray:
    """Rows a*, b*, c* (Å⁻¹) of the crystallographic reciprocal lattice of ``lattice`` (rows, Å)."""
    return np.linalg.inv(lattice).T


@cache
def _miller_box(max_miller: int) -> np.ndarray:
    axis = np.arange(-max_miller, max_miller + 1)
    h, k, l = np.meshgrid(axis, axis, axis, indexing="ij")
    box = np.stack([h.ravel(), k.ravel(), l.ravel()], axis=1).astype(np.int64)
    box.setflags(write=False)
    return box


def miller_box(max_miller: int) -> np.ndarray:
    """All (h, k, l) with |h|, |k|, |l| ≤ N in lexicographic order, origin included: ((2N+1)³, 3)."""
    return _miller_box(int(max_miller))


def _check_cap(count: int, max_points: int, name: str, what: str) -> None:
    if count > max_points:
        raise PointCapExceeded(
            name,
            f"{what} has about {count:,} points, above the cap of {max_points:,}; "
            "raise it with --max-points (CLI) or DiffractionSettings(max_points=...)",
        )


def miller_box_checked(max_miller: int, max_points: int, name: str) -> np.ndarray:
    """:func:`miller_box` after checking its size against ``max_points``."""
    _check_cap((2 * max_miller + 1) ** 3, max_points, name, f"the Miller box N={max_miller}")
    return miller_box(max_miller)


def limiting_sphere(lattice: np.ndarray, g_max: float, *, max_points: int, name: str) -> np.ndarray:
    """All (h, k, l) with |g| ≤ ``g_max`` (Å⁻¹), origin included, ordered by |g| then h, k, l.

    The bound |h| ≤ g_max·|a| (h = g·a) limits the search box; the point count is checked
    against ``max_points`` before anything large is allocated.
    """
    volume = abs(np.linalg.det(lattice))
    expected = 4.0 / 3.0 * np.pi * g_max**3 * volume
    _check_cap(int(expected), max_points, name, f"the limiting sphere |g| ≤ {g_max:.4g} Å⁻¹")
    bounds = np.floor(g_max * np.linalg.norm(lattice, axis=1) + 1e-9).astype(int)
    _check_cap(int(np.prod(2 * bounds + 1)), max(8 * max_points, 10_000_000), name, "the search box")
    axes = [np.arange(-b, b + 1) for b in bounds]
    h, k, l = np.meshgrid(*axes, indexing="ij")
    hkl = np.stack([h.ravel(), k.ravel(), l.ravel()], axis=1)
    g_norm = np.linalg.norm(hkl @ reciprocal_lattice(lattice), axis=1)
    inside = g_norm <= g_max * (1 + 1e-12)
    hkl, g_norm = hkl[inside], g_norm[inside]
    order = np.lexsort((hkl[:, 2], hkl[:, 1], hkl[:, 0], np.round(g_norm, 12)))
    return hkl[order].astype(np.int64)
