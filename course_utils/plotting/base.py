"""Shared plotting pieces: the course's colours and small figure helpers."""

from __future__ import annotations

import numpy as np

__all__ = ["COLORS", "axes_or_new", "subplots_grid", "density_grid", "show_density"]

#: A colour-blind-friendly cycle (Okabe & Ito), used by every course figure.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def axes_or_new(ax=None, figsize=None):
    """Return ``ax``, or the axes of a new figure when ``ax`` is ``None``.

    Every plotting helper takes an optional ``ax`` so a notebook can place it in a grid.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def subplots_grid(num_panels: int, num_cols: int = 4, panel_size: float = 3.0, **kwargs):
    """A figure with ``num_panels`` square axes on a grid; unused axes are hidden.

    Returns ``(fig, axes)`` with ``axes`` a flat array of length ``num_panels``.
    """
    import matplotlib.pyplot as plt

    num_cols = min(num_cols, num_panels)
    num_rows = int(np.ceil(num_panels / num_cols))
    fig, axes = plt.subplots(
        num_rows,
        num_cols,
        figsize=(panel_size * num_cols, panel_size * num_rows),
        squeeze=False,
        **kwargs,
    )
    axes = axes.ravel()
    for ax in axes[num_panels:]:
        ax.set_visible(False)
    return fig, axes[:num_panels]


def density_grid(limits=(-4.0, 4.0), num_points: int = 100):
    """A square grid for density plots.

    Returns ``(xx, yy, points, cell_area)``: ``xx``, ``yy`` of shape ``(num_points,
    num_points)``, ``points`` of shape ``(num_points**2, 2)`` and the area of one cell
    (so that ``density.sum() * cell_area`` approximates the integral).
    """
    low, high = limits
    axis = np.linspace(low, high, num_points)
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    cell_area = (axis[1] - axis[0]) ** 2
    return xx, yy, points, cell_area


def show_density(ax, xx, yy, density, title: str, vmax=None, cmap: str = "viridis"):
    """Draw a density on a grid from :func:`density_grid` with an optional shared scale."""
    mesh = ax.pcolormesh(xx, yy, np.asarray(density).reshape(xx.shape), cmap=cmap,
                         vmin=0.0, vmax=vmax, shading="auto")
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    return mesh
