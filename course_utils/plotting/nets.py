"""Figures of residual networks as flows (week 3, ``03_resnets_as_odes``).

Hidden-state trajectories through depth, snapshots of the states layer by layer, decision
regions of a 2-D classifier, and eigenvalues against the stability region of Euler.
"""

from __future__ import annotations

import numpy as np

from .._arrays import to_numpy
from .base import COLORS

__all__ = [
    "plot_hidden_trajectories",
    "plot_depth_snapshots",
    "plot_decision_regions",
    "plot_spectrum",
]


_numpy = to_numpy  # the package's one torch -> NumPy conversion


def plot_hidden_trajectories(ax, trajectory, labels, num_shown: int = 150, title: str = ""):
    """Draw the paths of points through depth in the plane.

    Parameters
    ----------
    ax : matplotlib Axes
    trajectory : array or tensor, shape ``(num_layers + 1, batch, 2)``
        Hidden states ``x_0, …, x_N`` (e.g. ``ResNet.trajectory``).
    labels : array, shape ``(batch,)``
        Class of each point (colours the path).
    num_shown : int
        Draw the first ``num_shown`` points only, so the figure stays legible.
    """
    trajectory = _numpy(trajectory)[:, :num_shown]
    labels = _numpy(labels)[:num_shown]
    for point in range(trajectory.shape[1]):
        color = COLORS[int(labels[point]) % len(COLORS)]
        ax.plot(trajectory[:, point, 0], trajectory[:, point, 1], "-", color=color,
                lw=0.6, alpha=0.45)
    for label in np.unique(labels):
        mine = labels == label
        color = COLORS[int(label) % len(COLORS)]
        ax.scatter(trajectory[0, mine, 0], trajectory[0, mine, 1], s=10, facecolors="none",
                   edgecolors=color, lw=0.8)
        ax.scatter(trajectory[-1, mine, 0], trajectory[-1, mine, 1], s=10, color=color,
                   label=f"class {label}")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.set_aspect("equal", adjustable="datalim")


def plot_depth_snapshots(axes, trajectory, labels, layers, step_size: float | None = None,
                         class_names=None):
    """One panel per chosen layer: the hidden states ``x_k`` coloured by class.

    ``trajectory`` has shape ``(num_layers + 1, batch, 2)``; ``layers`` lists the ``k`` to
    show (one per axis in ``axes``). Titles are short (``k = 5``, and ``t = k h`` on a
    second line with ``step_size``) so that narrow panels stay legible; the first panel
    carries the class legend (``class_names[c]``, default ``"class c"``). Returns the
    legend. Used in section 2 of ``03_resnets_as_odes``.
    """
    trajectory = _numpy(trajectory)
    labels = _numpy(labels).astype(int)
    for ax, layer in zip(axes, layers):
        states = trajectory[layer]
        for label in np.unique(labels):
            mine = labels == label
            name = class_names[label] if class_names is not None else f"class {label}"
            ax.scatter(states[mine, 0], states[mine, 1], s=4,
                       color=COLORS[label % len(COLORS)], label=name)
        title = f"$k = {layer}$"
        if step_size is not None:
            title += f"\n$t = kh = {layer * step_size:.3g}$"
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_ylabel("$x_2$")
    for ax in axes:
        ax.set_xlabel("$x_1$")
    return axes[0].legend(loc="lower left", fontsize=8, markerscale=2, framealpha=0.8)


def plot_decision_regions(ax, predict, x, labels, limits=None, num_points: int = 150,
                          title: str = ""):
    """Shade the plane by the class ``predict`` gives, with the data on top.

    ``predict`` maps an array of points ``(num, 2)`` to class indices ``(num,)`` (NumPy
    in and out); ``x`` has shape ``(batch, 2)``.
    """
    x = _numpy(x)
    labels = _numpy(labels)
    if limits is None:
        low, high = x.min(axis=0) - 0.3, x.max(axis=0) + 0.3
    else:
        low, high = np.full(2, limits[0]), np.full(2, limits[1])
    grid_x, grid_y = np.meshgrid(np.linspace(low[0], high[0], num_points),
                                 np.linspace(low[1], high[1], num_points))
    classes = _numpy(predict(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)))
    from matplotlib.colors import ListedColormap

    num_classes = int(max(classes.max(), labels.max())) + 1
    cmap = ListedColormap(COLORS[:num_classes])
    ax.contourf(grid_x, grid_y, classes.reshape(grid_x.shape), levels=np.arange(num_classes + 1)
                - 0.5, cmap=cmap, alpha=0.2)
    ax.scatter(x[:, 0], x[:, 1], s=4, c=np.asarray(COLORS)[labels.astype(int)])
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.set_aspect("equal", adjustable="box")
    ax.grid(False)


def plot_spectrum(ax, eigenvalues, step_size: float | None = None, title: str = "",
                  label: str | None = None, color=None):
    """Scatter eigenvalues ``λ`` in the complex plane.

    With ``step_size`` the eigenvalues are scaled to ``h λ`` and the stability region of
    forward Euler, the disc ``|1 + h λ| ≤ 1``, is drawn: a residual step ``x + h f(x)`` does
    not amplify a perturbation along an eigenvector if ``h λ`` lies inside it.
    """
    values = _numpy(eigenvalues).ravel()
    if step_size is not None:
        values = step_size * values
        angle = np.linspace(0.0, 2.0 * np.pi, 200)
        ax.fill(-1.0 + np.cos(angle), np.sin(angle), color="0.85", zorder=0,
                label="Euler stable: $|1 + h\\lambda| \\leq 1$")
    ax.scatter(values.real, values.imag, s=8, color=color or COLORS[0], label=label, zorder=2)
    ax.axhline(0.0, color="0.5", lw=0.6)
    ax.axvline(0.0, color="0.5", lw=0.6)
    name = "h\\lambda" if step_size is not None else "\\lambda"
    ax.set(title=title, xlabel=f"Re ${name}$", ylabel=f"Im ${name}$")
    ax.set_aspect("equal", adjustable="datalim")
