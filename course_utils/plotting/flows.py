"""Figures of normalising flows: densities on a shared scale, samples, Gaussianisation,
log-likelihood curves and determinant timings (week 4; week 6 reuses them for CNFs).

Every function draws and returns the figure (or axes); none calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

from .._arrays import to_numpy
from .base import COLORS, density_grid, show_density, subplots_grid

__all__ = [
    "flow_density_on_grid",
    "density_panels",
    "show_samples",
    "gaussianization_panels",
    "log_likelihood_curves",
    "timing_plot",
]


def flow_density_on_grid(log_prob, limits=(-4.0, 4.0), num_points: int = 100,
                         chunk_size: int = 4096):
    """Evaluate a model's density on the square grid of ``plotting.base.density_grid``.

    Parameters
    ----------
    log_prob : callable
        ``log_prob(points)`` for a torch tensor of shape ``(batch, 2)`` (default dtype)
        returning ``(batch,)``, e.g. ``flow.log_prob``. Evaluated without gradients.
    limits : (float, float)
        Range of both axes.
    num_points : int
        Points per axis.
    chunk_size : int
        Points evaluated at once (bounds memory).

    Returns
    -------
    xx, yy : ndarray, shape (num_points, num_points)
    density : ndarray, shape (num_points**2,)
    cell_area : float
        ``density.sum() * cell_area`` approximates the mass on the grid.
    """
    import torch

    xx, yy, points, cell_area = density_grid(limits, num_points)
    points = torch.as_tensor(points, dtype=torch.get_default_dtype())
    with torch.no_grad():
        values = [log_prob(points[start : start + chunk_size])
                  for start in range(0, len(points), chunk_size)]
    density = torch.exp(torch.cat(values)).cpu().numpy().astype(float)
    return xx, yy, density, cell_area


def density_panels(xx, yy, densities, titles, num_cols: int = 4, panel_size: float = 2.4,
                   vmax=None, scale: str = "row", suptitle: str | None = None):
    """Several densities on one grid of panels, with a shared colour scale per row.

    Parameters
    ----------
    xx, yy : ndarray, shape (n, n)
        The grid (from :func:`flow_density_on_grid` or ``density_grid``).
    densities : list of ndarray, each of shape (n*n,)
    titles : list of str
        One per density; name the model and its length ``K``.
    num_cols : int
        Panels per row.
    vmax : float, optional
        Upper end of every colour scale; overrides ``scale``.
    scale : {"row", "first", "all"}
        How the upper end is chosen: the largest value of the row (nothing saturates), the
        largest value of the row's *first* panel (a fitted density with a sharper peak than
        the first then saturates: avoid it for comparisons), or of all panels.
    suptitle : str, optional

    Returns
    -------
    matplotlib Figure
    """
    if len(densities) != len(titles):
        raise ValueError("give one title per density")
    if scale not in ("row", "first", "all"):
        raise ValueError(f"`scale` must be 'row', 'first' or 'all', got {scale!r}")
    fig, axes = subplots_grid(len(densities), num_cols=num_cols, panel_size=panel_size,
                              layout="constrained")
    num_rows = int(np.ceil(len(densities) / num_cols))
    for row in range(num_rows):
        members = range(row * num_cols, min((row + 1) * num_cols, len(densities)))
        if vmax is not None:
            top = vmax
        elif scale == "first":
            top = float(np.max(densities[members[0]]))
        elif scale == "row":
            top = max(float(np.max(densities[i])) for i in members)
        else:
            top = max(float(np.max(d)) for d in densities)
        mesh = None
        for i in members:
            mesh = show_density(axes[i], xx, yy, densities[i], titles[i], vmax=top)
            axes[i].set_xticks([])
            axes[i].set_yticks([])
            if i % num_cols:
                axes[i].set_ylabel("")
            if row < num_rows - 1:
                axes[i].set_xlabel("")
        fig.colorbar(mesh, ax=[axes[i] for i in members], shrink=0.8, label="density")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_samples(ax, x, title: str, limits=(-4.0, 4.0), color=COLORS[0], size: float = 2.0):
    """Scatter ``x`` of shape ``(num, 2)`` (NumPy or torch) on square axes."""
    x = to_numpy(x)
    x = np.asarray(x)
    ax.scatter(x[:, 0], x[:, 1], s=size, color=color, alpha=0.5, linewidths=0)
    ax.set(xlim=limits, ylim=limits, title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.set_aspect("equal")
    return ax


def gaussianization_panels(latents, steps, limits=(-4.0, 4.0), panel_size: float = 2.6):
    """The data after ``steps[i]`` Gaussianisation steps, one panel each, with the circles
    of radius 1 and 2 of the standard normal target for reference.

    A 2-D standard normal puts ``1 - exp(-r²/2)`` of its mass inside the circle of radius
    ``r``: 39 % inside ``r = 1`` and 86 % inside ``r = 2``. Each panel prints the fraction of
    the moved data inside the two circles, so the reader sees them approach 39 % / 86 %; the
    figure's legend, below the panels, says what the circles are. Used in section 2 of
    ``04_normalising_flows``.

    Parameters
    ----------
    latents : list of (num, 2) arrays or tensors
        ``latents[t]`` is the data after ``t`` steps.
    steps : list of int

    Returns
    -------
    matplotlib Figure
    """
    fig, axes = subplots_grid(len(steps), num_cols=len(steps), panel_size=panel_size,
                              layout="constrained")
    angle = np.linspace(0, 2 * np.pi, 200)
    for ax, step in zip(axes, steps):
        points = to_numpy(latents[step])
        points = np.asarray(points)
        show_samples(ax, points, f"after {step} step{'' if step == 1 else 's'}", limits)
        radii = np.linalg.norm(points, axis=1)
        for radius, style in ((1.0, "-"), (2.0, "--")):
            mass = 1.0 - np.exp(-radius**2 / 2)
            ax.plot(radius * np.cos(angle), radius * np.sin(angle), style, color=COLORS[1],
                    lw=1, label=f"$|y| = {radius:g}$: {mass:.0%} of $N(0, I)$")
        inside = [np.mean(radii <= radius) for radius in (1.0, 2.0)]
        ax.text(0.03, 0.03, f"inside: {inside[0]:.0%} / {inside[1]:.0%}",
                transform=ax.transAxes, fontsize=8, va="bottom",
                bbox=dict(facecolor="white", alpha=0.8, lw=0))
        ax.set_xlabel("$y_1$")
        ax.set_ylabel("$y_2$" if ax is axes[0] else "")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2,
               fontsize=8)
    return fig


def log_likelihood_curves(ax, train, test=None, bound=None, title: str = ""):
    """Mean log-likelihood against step: training, held-out, and the bound ``E log ρ``."""
    steps = np.arange(len(train))
    ax.plot(steps, train, color=COLORS[0], label="training data")
    if test is not None and len(test):
        ax.plot(steps, test, color=COLORS[1], label="held-out data")
    if bound is not None:
        ax.axhline(bound, color="k", ls="--", lw=1,
                   label=r"$\mathbb{E}_\rho \log \rho$ (best possible)")
    ax.set(xlabel="step $t$", ylabel=r"mean $\log \tilde\rho_t(x)$", title=title)
    ax.legend()
    return ax


def timing_plot(ax, sizes, timings: dict, reference_slopes=(1, 3), title: str = ""):
    """Log-log plot of run time against size ``N`` with reference slopes ``N^p``.

    ``timings`` maps a label to an array of seconds, one per size; the reference lines
    pass through the largest measured time at the largest size.
    """
    from matplotlib.ticker import NullFormatter

    sizes = np.asarray(sizes, dtype=float)
    for color, (label, seconds) in zip(COLORS, timings.items()):
        ax.loglog(sizes, seconds, "o-", color=color, label=label)
    top = max(float(np.max(s)) for s in timings.values())
    for power in reference_slopes:
        ax.loglog(sizes, top * (sizes / sizes[-1]) ** power, ":", color="grey", lw=1)
        ax.annotate(f"$N^{power}$", (sizes[0], top * (sizes[0] / sizes[-1]) ** power),
                    color="grey", fontsize=9, xytext=(-14, 0), textcoords="offset points")
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{size:g}" for size in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="dimension $N$", ylabel="seconds", title=title)
    ax.legend()
    return ax
