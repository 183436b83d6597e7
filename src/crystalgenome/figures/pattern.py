"""A 3D view of one diffraction pattern: reciprocal-lattice points sized and coloured by log intensity."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crystalgenome.figures.common import new_figure, save_png


def plot_pattern_3d(
    points: np.ndarray,
    path: str | Path,
    *,
    mask: np.ndarray | None = None,
    title: str | None = None,
    floor: float = 1e-6,
) -> Path:
    """Scatter of one pattern's points (P, 4) = (g_x, g_y, g_z in Å⁻¹, I); padded points (mask False) hidden.

    Colour = log10(I + floor); marker area grows with the same log intensity.
    """
    import mpl_toolkits.mplot3d  # noqa: F401 - registers the 3D projection

    points = np.asarray(points, dtype=float)
    if mask is not None:
        points = points[np.asarray(mask, dtype=bool)]
    log_intensity = np.log10(np.maximum(points[:, 3], 0.0) + floor)
    span = np.ptp(log_intensity) or 1.0
    sizes = 4 + 60 * (log_intensity - log_intensity.min()) / span
    figure = new_figure(6.0, 5.0)
    axes = figure.add_subplot(projection="3d")
    order = np.argsort(log_intensity)  # draw strong reflections last, on top
    scatter = axes.scatter(
        *points[order, :3].T, c=log_intensity[order], s=sizes[order], cmap="viridis", depthshade=False
    )
    axes.set(xlabel="g_x (Å⁻¹)", ylabel="g_y (Å⁻¹)", zlabel="g_z (Å⁻¹)")
    axes.set_title(title or "3D diffraction pattern")
    figure.colorbar(scatter, ax=axes, shrink=0.7, label="log10 intensity (|F|²/V²)")
    return save_png(figure, path)
