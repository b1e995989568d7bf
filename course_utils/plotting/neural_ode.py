"""Figures of Neural ODEs (week 6, ``06_neural_odes``).

Learned against true dynamics in the plane, the four panels of Chen et al.'s Figure 3
(NFE against error, wall time, backward NFE and training), one-dimensional and augmented
trajectories, the trace estimators' variance and cost against dimension, and forecasts of
irregularly sampled series. Every function draws and returns the figure (or axes); none
calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

from .._arrays import to_numpy
from .base import COLORS

__all__ = [
    "plot_field_quiver",
    "plot_dynamics_fit",
    "plot_nfe_study",
    "plot_flow_1d",
    "plot_flow_augmented",
    "plot_trace_study",
    "plot_forecasts",
]


def _numpy(value):
    return to_numpy(value, dtype=float)


def plot_field_quiver(ax, field, limits=(-2.0, 2.0), num_points: int = 17, color="0.5",
                      title: str = ""):
    """Arrows of a planar autonomous field on a square grid.

    Parameters
    ----------
    ax : matplotlib Axes
    field : callable
        ``field(points)`` for a NumPy array of shape ``(n, 2)`` returning ``(n, 2)``.
    limits : (float, float)
        Range of both axes.
    num_points : int
        Arrows per axis.
    """
    axis = np.linspace(limits[0], limits[1], num_points)
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    values = _numpy(field(points))
    ax.quiver(xx, yy, values[:, 0].reshape(xx.shape), values[:, 1].reshape(xx.shape),
              color=color, angles="xy", width=0.004, alpha=0.8)
    ax.set(xlim=limits, ylim=limits, xlabel="$y_1$", ylabel="$y_2$", title=title)
    ax.set_aspect("equal")
    return ax


def plot_dynamics_fit(true_field, learned_field, times, observed, learned, limits=(-2.0, 2.0),
                      extrapolated_from=None):
    """Three panels: the true field with the data, the learned field with its trajectory,
    and both trajectories against time (section 1).

    Parameters
    ----------
    true_field, learned_field : callable
        ``(n, 2) -> (n, 2)`` NumPy fields (see :func:`plot_field_quiver`).
    times : array, shape (num_times,)
    observed : array, shape (num_times, 2)
        The observed trajectory (with its noise).
    learned : array, shape (num_times, 2)
        The learned model's trajectory from the same initial state.
    limits : (float, float)
    extrapolated_from : float, optional
        Draw a vertical line where the training data end.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    times, observed, learned = _numpy(times), _numpy(observed), _numpy(learned)
    fig = plt.figure(figsize=(12.0, 3.6))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.5])
    ax_true, ax_learned, ax_time = (fig.add_subplot(grid[0, k]) for k in range(3))
    plot_field_quiver(ax_true, true_field, limits, title="true vector field and data")
    ax_true.plot(observed[:, 0], observed[:, 1], ".", ms=2, color=COLORS[0], label="data")
    ax_true.legend(loc="lower right")
    plot_field_quiver(ax_learned, learned_field, limits, title="learned vector field")
    ax_learned.plot(learned[:, 0], learned[:, 1], "-", color=COLORS[1], label="Neural ODE")
    ax_learned.legend(loc="lower right")
    for k, name in enumerate(("$y_1$", "$y_2$")):
        ax_time.plot(times, observed[:, k], ".", ms=2, color=COLORS[2 * k],
                     label=f"data {name}")
        ax_time.plot(times, learned[:, k], "-", color=COLORS[2 * k + 1],
                     label=f"Neural ODE {name}")
    if extrapolated_from is not None:
        ax_time.axvline(extrapolated_from, color="k", ls=":", lw=1)
        ax_time.text(extrapolated_from, ax_time.get_ylim()[1], " extrapolation", va="top",
                     fontsize=9)
    ax_time.set(xlabel="time $t$", ylabel="state", title="trajectories against time")
    ax_time.legend(ncol=2, fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_nfe_study(tolerance_runs, backward_runs, training_nfe, window: int = 20):
    """Chen et al.'s Figure 3, measured: four panels (section 3).

    Parameters
    ----------
    tolerance_runs : dict
        ``{"tolerances", "nfe", "error", "seconds"}`` and optionally ``"flops"``: arrays
        over the tolerances of a trained model's forward pass (NFE, error against a tight
        reference, best wall time, counted floating-point operations).
    backward_runs : dict
        ``{label: (forward_nfe, backward_nfe)}``, arrays over tolerances, one entry per
        backward variant (e.g. plain norm and seminorm). Variants that coincide are drawn
        with different markers and sizes so that none hides the other.
    training_nfe : array, shape (num_steps,)
        Forward NFE at every training step.
    window : int
        Panel (d) also draws the mean NFE over consecutive windows of this many steps.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15.0, 3.6))
    nfe = _numpy(tolerance_runs["nfe"])
    error = _numpy(tolerance_runs["error"])
    seconds = _numpy(tolerance_runs["seconds"])
    tolerances = _numpy(tolerance_runs["tolerances"])
    axes[0].loglog(nfe, error, "o-", color=COLORS[0])
    for k, (x, y, tol) in enumerate(zip(nfe, error, tolerances)):
        # alternate sides so that labels of equal NFE, and the line, stay clear of each other
        offset = (-8, 6) if k % 2 == 0 else (8, -4)
        axes[0].annotate(f"{tol:.0e}", (x, y), textcoords="offset points", xytext=offset,
                         fontsize=9, ha="right" if k % 2 == 0 else "left",
                         bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    axes[0].set(xlabel="forward NFE", ylabel="mean |error| of the logits",
                title="(a) NFE vs numerical error\n(labels: rtol = atol)")
    _plain_log_ticks(axes[0], np.unique(nfe))
    axes[0].margins(x=0.25, y=0.2)
    axes[1].plot(nfe, 1e3 * seconds, "o-", color=COLORS[1], label="wall time (best of 10)")
    axes[1].set(xlabel="forward NFE", ylabel="time per forward pass [ms]",
                title="(b) NFE vs wall time")
    if "flops" in tolerance_runs:
        twin = axes[1].twinx()
        twin.plot(nfe, 1e-6 * _numpy(tolerance_runs["flops"]), "s--", color=COLORS[3],
                  ms=4, label="counted operations")
        twin.set_ylabel("MFLOP per forward pass")
        lines = axes[1].get_lines() + twin.get_lines()
        axes[1].legend(lines, [line.get_label() for line in lines], fontsize=8,
                       loc="upper left")
    largest = 1.0
    markers = ["o", "x", "s", "^"]
    for k, (label, (forward, backward)) in enumerate(backward_runs.items()):
        forward, backward = _numpy(forward), _numpy(backward)
        largest = max(largest, forward.max(), backward.max())
        axes[2].plot(forward, backward, markers[k % len(markers)], color=COLORS[2 + k],
                     ms=9 - 3 * k, mew=2, label=label)
    line = np.array([0.0, 1.05 * largest])
    axes[2].plot(line, line, "k:", lw=1, label="backward = forward")
    axes[2].plot(line, 0.5 * line, "k--", lw=1, label="backward = forward / 2 (paper)")
    axes[2].set(xlabel="forward NFE", ylabel="backward NFE",
                title="(c) backward vs forward NFE")
    axes[2].legend(fontsize=8)
    training_nfe = _numpy(training_nfe)
    steps = np.arange(len(training_nfe))
    num_windows = len(training_nfe) // window
    if num_windows:
        means = training_nfe[: num_windows * window].reshape(num_windows, window).mean(1)
        centres = window * np.arange(num_windows) + (window - 1) / 2
        axes[3].plot(centres, means, "o", color=COLORS[0], ms=7, mfc="none", mew=1.5,
                     label=f"mean over {window} steps", zorder=2)
    # drawn last and thin, so that the markers of the means never hide it
    axes[3].plot(steps, training_nfe, drawstyle="steps-post", color=COLORS[4], lw=1.2,
                 label="every step", zorder=3)
    axes[3].set_yticks(np.unique(training_nfe))
    axes[3].grid(axis="y", lw=0.5, alpha=0.5)
    axes[3].set(xlabel="training step", ylabel="forward NFE",
                title="(d) NFE during training\n(dopri5: 6 evaluations per step)")
    axes[3].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_flow_1d(ax, times, trajectories, inputs, title: str = "", cmap: str = "coolwarm"):
    """Trajectories ``x(t)`` of a one-dimensional flow, coloured by their starting point.

    ``times`` has shape ``(num_times,)``, ``trajectories`` ``(num_times, batch)`` (or
    ``(num_times, batch, 1)``) and ``inputs`` ``(batch,)``.
    """
    import matplotlib.pyplot as plt

    times, inputs = _numpy(times), _numpy(inputs).ravel()
    trajectories = _numpy(trajectories).reshape(len(times), -1)
    colours = plt.get_cmap(cmap)((inputs - inputs.min()) / (np.ptp(inputs) + 1e-12))
    for k in range(trajectories.shape[1]):
        ax.plot(times, trajectories[:, k], color=colours[k], lw=1.2)
    ax.set(xlabel="time $t$", ylabel="$h(t)$", title=title)
    return ax


def plot_flow_augmented(ax, trajectories, inputs, title: str = "", cmap: str = "coolwarm"):
    """Trajectories in the augmented plane ``(h_1, h_2)``: shape ``(num_times, batch, 2)``,
    coloured by the input ``inputs`` of shape ``(batch,)``; circles mark the starts."""
    import matplotlib.pyplot as plt

    inputs = _numpy(inputs).ravel()
    trajectories = _numpy(trajectories)
    colours = plt.get_cmap(cmap)((inputs - inputs.min()) / (np.ptp(inputs) + 1e-12))
    for k in range(trajectories.shape[1]):
        ax.plot(trajectories[:, k, 0], trajectories[:, k, 1], color=colours[k], lw=1.2)
        ax.plot(trajectories[0, k, 0], trajectories[0, k, 1], "o", ms=3, color=colours[k])
    ax.set(xlabel="$h_1$ (data coordinate)", ylabel="$h_2$ (augmented)", title=title)
    ax.set_aspect("equal", adjustable="datalim")
    return ax


def _plain_log_ticks(ax, dims):
    """Plain tick labels at the dimensions of a log-scaled x axis."""
    from matplotlib.ticker import NullLocator

    ax.set_xticks(_numpy(dims))
    ax.set_xticklabels([str(int(d)) for d in _numpy(dims)])
    ax.xaxis.set_minor_locator(NullLocator())


def plot_trace_study(dims, variances, theory, cost_dims, seconds):
    """Two panels: Hutchinson variance against dimension (measured and theory) and the
    time of one training step with the exact trace and with the estimator (section 6).

    Parameters
    ----------
    dims : array, shape (num_dims,)
        Dimensions of the variance study.
    variances : dict
        ``{label: array (num_dims,)}`` measured variances.
    theory : dict
        ``{label: array (num_dims,)}`` predicted variances (same labels).
    cost_dims : array, shape (num_cost_dims,)
        Dimensions of the timing study.
    seconds : dict
        ``{label: array (num_cost_dims,)}`` wall time per training step.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    dims = _numpy(dims)
    fig, (ax_var, ax_time) = plt.subplots(1, 2, figsize=(10.0, 3.5))
    for k, label in enumerate(variances):
        ax_var.loglog(dims, _numpy(variances[label]), "o", color=COLORS[k],
                      label=f"{label}, measured")
        ax_var.loglog(dims, _numpy(theory[label]), "-", color=COLORS[k], lw=1,
                      label=f"{label}, theory")
    ax_var.set(xlabel="dimension $d$", ylabel="variance of the estimate",
               title="Hutchinson estimator: variance")
    _plain_log_ticks(ax_var, dims)
    ax_var.legend(fontsize=8)
    for k, label in enumerate(seconds):
        ax_time.loglog(_numpy(cost_dims), 1e3 * _numpy(seconds[label]), "o-",
                       color=COLORS[k + 2],
                       label=label)
    ax_time.set(xlabel="dimension $d$", ylabel="time per training step [ms]",
                title="cost of the trace against dimension")
    _plain_log_ticks(ax_time, cost_dims)
    ax_time.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_forecasts(axes, times, clean, obs_times, obs_values, forecasts, future_start):
    """One panel per series: the truth, the irregular observations and each model's
    forecast (section 7).

    Parameters
    ----------
    axes : sequence of matplotlib Axes, one per series
    times : array, shape (num_times,)
        The grid of ``clean``.
    clean : array, shape (num_series, num_times, 2)
    obs_times : array, shape (num_series, n)
    obs_values : array, shape (num_series, n, 2)
    forecasts : dict
        ``{label: (times, values)}`` with values of shape ``(num_series, len(times), 2)``.
    future_start : float
        Where the prediction window starts (a dashed marker on each panel).
    """
    clean, obs_values = _numpy(clean), _numpy(obs_values)
    for index, ax in enumerate(axes):
        ax.plot(clean[index, :, 0], clean[index, :, 1], "-", color="0.6", lw=1,
                label="truth")
        ax.plot(obs_values[index, :, 0], obs_values[index, :, 1], ".", ms=4,
                color=COLORS[0], label="observed")
        start = np.searchsorted(_numpy(times), future_start)
        ax.plot(clean[index, start, 0], clean[index, start, 1], "kx", ms=6)
        for k, (label, (_, values)) in enumerate(forecasts.items()):
            values = _numpy(values)
            ax.plot(values[index, :, 0], values[index, :, 1], "-", lw=1.5,
                    color=COLORS[1 + k], label=label)
        ax.set(xlabel="$x_1$", ylabel="$x_2$", title=f"test series {index}")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0].legend(fontsize=7, loc="lower left")
    return axes
