"""Which reciprocal-lattice points a pattern contains: the Miller box or the limiting sphere.

Reciprocal vectors follow the crystallographic convention (no 2π): g = h a* + k b* + l c*,
with the rows of ``inv(lattice).T`` as a*, b*, c*, so |g| = 1/d (Å⁻¹).

Both point sets are returned in lexicographic (h, k, l) order. Because they are
centrosymmetric, row ``i`` and row ``M − 1 − i`` are Friedel mates (h and −h) and the origin
is the middle row; the engine uses this to compute only the first half.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from crystalgenome.errors import PointCapError


def reciprocal_lattice(lattice: np.ndarray) -> np.ndarray:
    """Rows a*, b*, c* (Å⁻¹) of the crystallographic reciprocal lattice of ``lattice`` (rows, Å)."""
    return np.linalg.inv(lattice).T


@lru_cache(maxsize=512)
def _grid(bh: int, bk: int, bl: int) -> np.ndarray:
    h, k, l = np.meshgrid(
        np.arange(-bh, bh + 1), np.arange(-bk, bk + 1), np.arange(-bl, bl + 1), indexing="ij"
    )
    grid = np.stack([h.ravel(), k.ravel(), l.ravel()], axis=1).astype(np.int64)
    grid.setflags(write=False)
    return grid


def miller_box(max_miller: int) -> np.ndarray:
    """All (h, k, l) with |h|, |k|, |l| ≤ N in lexicographic order, origin included: ((2N+1)³, 3)."""
    n = int(max_miller)
    return _grid(n, n, n)


def check_point_cap(count: int, max_points: int, name: str, what: str) -> None:
    """Raise :class:`PointCapError` (naming ``name``) when ``count`` exceeds ``max_points``."""
    if count > max_points:
        raise PointCapError(
            name,
            f"{what} has about {count:,} points, above the cap of {max_points:,}; "
            "raise it with --max-points (CLI) or DiffractionSettings(max_points=...)",
        )


def half_to_full(half: np.ndarray, *, negate: bool = True) -> np.ndarray:
    """Rebuild a full centrosymmetric list from its first half (ending with the origin).

    With ``negate=True`` (Miller indices, g vectors) the mates are −h; use ``negate=False``
    for quantities that are even under h → −h, such as intensities.
    """
    mirrored = half[:-1][::-1]
    return np.concatenate([half, -mirrored if negate else mirrored])


def miller_box_half(max_miller: int, *, max_points: int, name: str) -> np.ndarray:
    """First half (up to and including the origin) of :func:`miller_box`, after the cap check."""
    count = (2 * max_miller + 1) ** 3
    check_point_cap(count, max_points, name, f"the Miller box N={max_miller}")
    return miller_box(max_miller)[: count // 2 + 1]


def limiting_sphere_half(
    lattice: np.ndarray, g_max: float, *, max_points: int, name: str, reciprocal: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """First half (up to and including the origin) of :func:`limiting_sphere`, and its g (Å⁻¹)."""
    reciprocal = reciprocal_lattice(lattice) if reciprocal is None else reciprocal
    volume = abs(np.linalg.det(lattice))
    what = f"the limiting sphere |g| ≤ {g_max:.4g} Å⁻¹"
    check_point_cap(int(4.0 / 3.0 * np.pi * g_max**3 * volume), max_points, name, what)
    # h = g·a, so |h| ≤ g_max |a| bounds the search box.
    bounds = np.floor(g_max * np.sqrt(np.einsum("ij,ij->i", lattice, lattice)) + 1e-9).astype(int)
    check_point_cap(int(np.prod(2 * bounds + 1)), max(8 * max_points, 10_000_000), name, "the search box")
    grid = _grid(*bounds.tolist())
    half = grid[: grid.shape[0] // 2 + 1]
    g = half @ reciprocal
    inside = np.einsum("ij,ij->i", g, g) <= (g_max * (1 + 1e-12)) ** 2
    return half[inside], g[inside]


def limiting_sphere(
    lattice: np.ndarray, g_max: float, *, max_points: int, name: str = "structure"
) -> np.ndarray:
    """All (h, k, l) with |g| ≤ ``g_max`` (Å⁻¹), origin included, in lexicographic order.

    The point count is checked against ``max_points`` before anything large is allocated.
    """
    return half_to_full(limiting_sphere_half(lattice, g_max, max_points=max_points, name=name)[0])
