"""Figures of ODE solutions: direction fields, solution curves, phase planes, error plots.

Introduced in ``01_one_step_methods`` and reused in ``02_runge_kutta_multistep``. Every
function draws on a matplotlib Axes (a new figure if ``ax`` is omitted) and returns it;
none calls ``plt.show()``. Colours follow :data:`course_utils.plotting.base.COLORS`.

Conventions shared by the functions below:

* a vector field is ``f(t, y)`` as in :func:`course_utils.ode.odeint`; the functions try
  to evaluate it on a whole grid at once (NumPy broadcasting, or the batched shape
  ``(m, 2)`` for systems, which every :mod:`course_utils.problems` right-hand side
  accepts) and fall back to one call per grid point;
* a numerical solution is a pair ``(times, ys)`` with ``times`` of shape ``(m,)`` and
  ``ys`` of shape ``(m,)`` or ``(m, d)`` (what ``odeint`` returns for the output times).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .base import COLORS, axes_or_new

__all__ = [
    "direction_field",
    "phase_portrait",
    "plot_solutions",
    "plot_phase",
    "convergence_plot",
    "add_reference_slope",
    "plot_error_and_bound",
]




def _scalar_field(f: Callable, tt: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """``f`` on a grid of ``(t, y)`` for a scalar ODE; shape of ``tt``."""
    try:
        with np.errstate(all="ignore"):
            values = np.asarray(f(tt, yy), dtype=float)
        if values.shape == tt.shape:
            return values
    except Exception:  # noqa: BLE001 - any failure means "not vectorised": loop below
        pass
    values = np.empty(tt.shape)
    for index in np.ndindex(tt.shape):
        out = np.asarray(f(float(tt[index]), np.array([yy[index]])), dtype=float)
        if out.size != 1:
            raise ValueError(
                "`f` must return one slope for a scalar ODE; for a system of two equations "
                "use `phase_portrait`."
            )
        values[index] = out.item()
    return values


def _system_field(f: Callable, t: float, points: np.ndarray) -> np.ndarray:
    """``f(t, y)`` at ``points`` of shape ``(m, 2)``; returns shape ``(m, 2)``."""
    try:
        with np.errstate(all="ignore"):
            values = np.asarray(f(t, points), dtype=float)
        if values.shape == points.shape:
            return values
    except Exception:  # noqa: BLE001 - not batched: evaluate point by point below
        pass
    values = np.empty_like(points)
    for i, point in enumerate(points):
        out = np.asarray(f(t, point.copy()), dtype=float).reshape(-1)
        if out.size != 2:
            raise ValueError(
                f"`f` must return 2 components for a planar system, got {out.size}."
            )
        values[i] = out
    return values


def _grid_count(num_arrows) -> tuple[int, int]:
    if np.ndim(num_arrows) == 0:
        return int(num_arrows), int(num_arrows)
    nx, ny = num_arrows
    return int(nx), int(ny)


def direction_field(
    f: Callable,
    t_range: Sequence[float],
    y_range: Sequence[float],
    *,
    ax=None,
    num_arrows=(21, 15),
    color: str = "0.6",
    title: str = "Direction field",
    xlabel: str = "$t$",
    ylabel: str = "$y$",
):
    """Draw the direction (slope) field of a scalar ODE ``y' = f(t, y)``.

    At each point of a regular grid a short segment of slope ``f(t, y)`` is drawn, all
    segments of the same length on screen, so that solution curves are tangent to them.

    Parameters
    ----------
    f : callable
        ``f(t, y)`` for floats (or broadcasting NumPy arrays, which is faster).
    t_range, y_range : (float, float)
        The window ``[t_min, t_max] × [y_min, y_max]``.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    num_arrows : int or (int, int)
        Grid points along ``t`` and ``y``.
    color : str
        Colour of the segments.
    title, xlabel, ylabel : str

    Returns
    -------
    matplotlib Axes
        Its first ``Quiver`` collection holds the segments (``U``, ``V`` in axis units).

    Notes
    -----
    Introduced in ``01_one_step_methods``, section 1 (Süli & Mayers, Sec. 12.1).
    """
    ax = axes_or_new(ax)
    (t0, t1), (y0, y1) = t_range, y_range
    if not (t1 > t0 and y1 > y0):
        raise ValueError("`t_range` and `y_range` must be (low, high) with low < high.")
    nt, ny = _grid_count(num_arrows)
    tt, yy = np.meshgrid(np.linspace(t0, t1, nt), np.linspace(y0, y1, ny))
    slopes = _scalar_field(f, tt, yy)
    # Segment (1, slope) in data units, rescaled so every segment has the same length
    # measured in grid cells (the axes' aspect ratio then does not distort it).
    cell_t, cell_y = (t1 - t0) / max(nt - 1, 1), (y1 - y0) / max(ny - 1, 1)
    finite = np.isfinite(slopes)
    du, dv = np.ones_like(slopes) / cell_t, np.where(finite, slopes, 0.0) / cell_y
    length = np.hypot(du, dv) / 0.7  # segments 70 % of a grid cell
    u, v = du / length * cell_t, dv / length * cell_y
    ax.quiver(tt[finite], yy[finite], u[finite], v[finite], angles="xy", scale_units="xy",
              scale=1.0, pivot="middle", color=color, width=0.0025, headwidth=0,
              headlength=0, headaxislength=0)
    ax.set_xlim(t0, t1)
    ax.set_ylim(y0, y1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def phase_portrait(
    f: Callable,
    x_range: Sequence[float],
    y_range: Sequence[float],
    *,
    t: float = 0.0,
    ax=None,
    num_arrows=20,
    color: str = "0.6",
    title: str = "Phase portrait",
    xlabel: str = "$y_1$",
    ylabel: str = "$y_2$",
):
    """Draw the vector field of a planar system ``y' = f(t, y)``, ``y = (y_1, y_2)``.

    Arrows point along ``f`` and all have the same length (the direction is what
    matters; speed varies over orders of magnitude in many systems).

    Parameters
    ----------
    f : callable
        ``f(t, y)`` with ``y`` of shape ``(2,)``, or batched ``(m, 2)`` (faster; every
        right-hand side in :mod:`course_utils.problems` accepts it).
    x_range, y_range : (float, float)
        The window in ``y_1`` and ``y_2``.
    t : float
        The time at which a non-autonomous field is drawn.
    ax : matplotlib Axes, optional
    num_arrows : int or (int, int)
        Grid points along each axis.
    color : str
    title, xlabel, ylabel : str

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    For ``02_runge_kutta_multistep`` (systems of ODEs); the scalar analogue is
    :func:`direction_field`.
    """
    ax = axes_or_new(ax)
    (x0, x1), (y0, y1) = x_range, y_range
    if not (x1 > x0 and y1 > y0):
        raise ValueError("`x_range` and `y_range` must be (low, high) with low < high.")
    nx, ny = _grid_count(num_arrows)
    xx, yy = np.meshgrid(np.linspace(x0, x1, nx), np.linspace(y0, y1, ny))
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)  # (m, 2)
    field = _system_field(f, t, points)  # (m, 2)
    cell_x, cell_y = (x1 - x0) / max(nx - 1, 1), (y1 - y0) / max(ny - 1, 1)
    du, dv = field[:, 0] / cell_x, field[:, 1] / cell_y
    length = np.hypot(du, dv)
    keep = np.isfinite(length) & (length > 0)
    scale = 0.7 / length[keep]
    ax.quiver(points[keep, 0], points[keep, 1], du[keep] * scale * cell_x,
              dv[keep] * scale * cell_y, angles="xy", scale_units="xy", scale=1.0,
              pivot="middle", color=color, width=0.003)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def _as_solution(value, name):
    try:
        times, ys = value
    except (TypeError, ValueError):
        raise ValueError(
            f"Solution {name!r} must be a pair (times, ys), e.g. (t, odeint(f, y0, t))."
        ) from None
    times = np.asarray(times, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if ys.shape[:1] != times.shape:
        raise ValueError(
            f"Solution {name!r}: `ys` has shape {ys.shape}, expected ({times.size}, ...) "
            "to match `times`."
        )
    return times, ys.reshape(times.size, -1)


def plot_solutions(
    solutions: Mapping,
    *,
    exact: Callable | None = None,
    ax=None,
    component: int = 0,
    t_range: Sequence[float] | None = None,
    title: str = "Numerical and exact solutions",
    xlabel: str = "$t$",
    ylabel: str = "$y(t)$",
    marker: str = "o",
    exact_label: str = "exact",
):
    """Plot numerical solutions (one component) against time, with the exact one.

    Parameters
    ----------
    solutions : dict
        ``label -> (times, ys)``, ``times`` shape ``(m,)``, ``ys`` shape ``(m,)`` or
        ``(m, d)``.
    exact : callable, optional
        ``exact(t)`` for an array ``t`` of shape ``(k,)``, returning ``(k,)`` or
        ``(k, d)`` (e.g. ``Problem.solution``); drawn as a black line.
    ax : matplotlib Axes, optional
    component : int
        Which component of a system to draw.
    t_range : (float, float), optional
        Where to draw ``exact`` (default: the span of all solutions).
    title, xlabel, ylabel, exact_label : str
    marker : str
        Marker of the numerical points (``""`` for lines only).

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Introduced in ``01_one_step_methods``, section 2.
    """
    ax = axes_or_new(ax)
    parsed = {label: _as_solution(value, label) for label, value in solutions.items()}
    if exact is not None:
        if t_range is None:
            if not parsed:
                raise ValueError("Give `t_range` to draw only the exact solution.")
            t_range = (min(t[0] for t, _ in parsed.values()),
                       max(t[-1] for t, _ in parsed.values()))
        fine = np.linspace(t_range[0], t_range[1], 400)
        values = np.asarray(exact(fine), dtype=float).reshape(fine.size, -1)
        ax.plot(fine, values[:, component], color="k", lw=1.6, label=exact_label, zorder=3)
    for i, (label, (times, ys)) in enumerate(parsed.items()):
        ax.plot(times, ys[:, component], marker=marker, ms=3.5, lw=1.0, ls="--",
                color=COLORS[i % len(COLORS)], label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def plot_phase(
    solutions: Mapping,
    *,
    ax=None,
    components: tuple[int, int] = (0, 1),
    title: str = "Trajectories in the phase plane",
    xlabel: str = "$y_1$",
    ylabel: str = "$y_2$",
    mark_start: bool = True,
):
    """Plot trajectories of a system in a plane of two of its components.

    Parameters
    ----------
    solutions : dict
        ``label -> ys`` with ``ys`` of shape ``(m, d)``, or ``label -> (times, ys)``.
    ax : matplotlib Axes, optional
    components : (int, int)
        The two components on the horizontal and vertical axes.
    title, xlabel, ylabel : str
    mark_start : bool
        Mark each trajectory's first point with a circle.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    For ``02_runge_kutta_multistep`` (Lotka–Volterra, pendulum, Van der Pol); draw it
    over :func:`phase_portrait` to see the trajectories follow the field.
    """
    ax = axes_or_new(ax)
    i, j = components
    for k, (label, value) in enumerate(solutions.items()):
        ys = value[1] if isinstance(value, tuple) and len(value) == 2 else value
        ys = np.asarray(ys, dtype=float)
        if ys.ndim != 2 or ys.shape[1] <= max(i, j):
            raise ValueError(
                f"Trajectory {label!r} has shape {ys.shape}; expected (m, d) with d > "
                f"{max(i, j)}."
            )
        color = COLORS[k % len(COLORS)]
        ax.plot(ys[:, i], ys[:, j], color=color, lw=1.2, label=label)
        if mark_start:
            ax.plot(ys[0, i], ys[0, j], "o", color=color, ms=5)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def add_reference_slope(ax, step_sizes, order: float, anchor, *, label=None,
                        color: str = "0.45"):
    """Draw the line ``C h^order`` through the point ``anchor = (h, error)`` on log-log axes.

    Parameters
    ----------
    ax : matplotlib Axes
    step_sizes : array_like, shape (m,)
        The ``h`` values the line spans.
    order : float
        The slope ``p`` of the line in log-log coordinates.
    anchor : (float, float)
        A point ``(h_0, e_0)`` on the line, so ``C = e_0 / h_0^p``.
    label : str, optional
        Legend entry (default ``O(h^p)``).
    color : str

    Returns
    -------
    matplotlib Line2D

    Notes
    -----
    Introduced in ``01_one_step_methods``, section 4.
    """
    h = np.sort(np.asarray(step_sizes, dtype=float))
    h0, e0 = anchor
    if h0 <= 0 or e0 <= 0 or np.any(h <= 0):
        raise ValueError("`step_sizes` and `anchor` must be positive (a log-log plot).")
    if label is None:
        label = rf"$\mathcal{{O}}(h^{{{order:g}}})$"
    (line,) = ax.loglog(h, e0 * (h / h0) ** order, ls=":", color=color, lw=1.4, label=label)
    return line


def _as_series(step_sizes, errors):
    series = {}
    for label, value in errors.items():
        if isinstance(value, tuple) and len(value) == 2:
            h, err = value
        else:
            if step_sizes is None:
                raise ValueError(
                    f"Series {label!r} has no step sizes: pass `step_sizes` or "
                    "label -> (step_sizes, errors)."
                )
            h, err = step_sizes, value
        h, err = np.asarray(h, dtype=float), np.asarray(err, dtype=float)
        if h.shape != err.shape or h.ndim != 1:
            raise ValueError(
                f"Series {label!r}: step sizes {h.shape} and errors {err.shape} must be "
                "1-D of equal length."
            )
        series[label] = (h, err)
    return series


def convergence_plot(
    step_sizes,
    errors: Mapping,
    *,
    ax=None,
    reference_orders: Sequence[float] = (),
    show_slopes: bool = True,
    legend_outside: bool = False,
    title: str = "Convergence",
    xlabel: str = "step size $h$",
    ylabel: str = "error",
    marker: str = "o",
):
    """Log-log plot of error against step size, with fitted slopes and reference lines.

    Parameters
    ----------
    step_sizes : array_like, shape (m,), or None
        Step sizes shared by all series (``None`` if every series brings its own).
    errors : dict
        ``label -> errors`` (shape ``(m,)``) or ``label -> (step_sizes, errors)``.
    ax : matplotlib Axes, optional
    reference_orders : sequence of float
        Orders ``p`` for which a dotted line ``C h^p`` is drawn, anchored just below
        the series whose fitted slope is closest to ``p`` (at its largest step size).
    show_slopes : bool
        Append the least-squares slope (:func:`course_utils.analysis.empirical_order`)
        to each legend entry.
    legend_outside : bool
        Put the legend to the right of the axes (log-log lines fill the whole frame, so
        a legend inside usually hides some of them).
    title, xlabel, ylabel, marker : str

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Introduced in ``01_one_step_methods``, section 4 ("Order of convergence"); used for
    every method of ``02_runge_kutta_multistep``. Non-positive errors (a method exact
    on the problem) are left out of the plot and of the fit. With at most 8 distinct
    step sizes the horizontal axis is labelled with them, otherwise with decades.
    """
    from ..analysis import empirical_order

    ax = axes_or_new(ax)
    series = _as_series(step_sizes, errors)
    slopes = {}
    for i, (label, (h, err)) in enumerate(series.items()):
        keep = np.isfinite(err) & (err > 0)
        text = label
        if show_slopes and keep.sum() >= 2:
            slopes[label] = empirical_order(h[keep], err[keep])
            text = f"{label} (slope {slopes[label]:.2f})"
        ax.loglog(h[keep], err[keep], marker=marker, ms=4, color=COLORS[i % len(COLORS)],
                  label=text)
    for order in reference_orders:
        candidates = {label: s for label, s in slopes.items()}
        if not candidates:
            candidates = {label: order for label in series}
        label = min(candidates, key=lambda name: abs(candidates[name] - order))
        h, err = series[label]
        keep = np.isfinite(err) & (err > 0)
        if keep.sum() == 0:
            continue
        first = np.argmax(h[keep])
        add_reference_slope(ax, h[keep], order, (h[keep][first], 0.5 * err[keep][first]))
    from matplotlib.ticker import NullFormatter, NullLocator

    ticks = np.unique(np.concatenate([h for h, _ in series.values()]))
    if 2 <= ticks.size <= 8:  # label the step sizes themselves (a sweep has few)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(ticks, labels=[f"{value:.3g}" for value in ticks])
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels overlap
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    else:
        ax.legend()
    return ax


def plot_error_and_bound(
    times,
    error,
    bound,
    *,
    ax=None,
    label: str = "measured error",
    bound_label: str = "bound",
    color: str | None = None,
    title: str = "Global error and its bound",
    xlabel: str = "$t$",
    ylabel: str = r"$|y(t_n) - y_n|$",
):
    """Plot a measured global error and an a-priori bound on it against time (log scale).

    Call it once per step size on the same ``ax`` (with one ``color`` each) to compare.

    Parameters
    ----------
    times : array_like, shape (m,)
    error : array_like, shape (m,)
        ``|y(t_n) - y_n|`` (zeros, e.g. at ``t_0``, are not drawn on the log scale).
    bound : array_like, shape (m,)
        The bound at the same times (drawn dashed, same colour).
    ax : matplotlib Axes, optional
    label, bound_label, color, title, xlabel, ylabel : str

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Introduced in ``01_one_step_methods``, section 3 (the bound
    ``(e^{L(t-t_0)} - 1) M h / (2L)`` of Süli & Mayers, §12.2) and reused for the
    trapezium rule in section 8.
    """
    ax = axes_or_new(ax)
    times = np.asarray(times, dtype=float)
    error = np.abs(np.asarray(error, dtype=float))
    bound = np.asarray(bound, dtype=float)
    if not (times.shape == error.shape == bound.shape):
        raise ValueError(
            f"`times`, `error` and `bound` must have one shape, got {times.shape}, "
            f"{error.shape} and {bound.shape}."
        )
    if color is None:
        color = COLORS[len(ax.get_lines()) // 2 % len(COLORS)]
    positive = error > 0
    ax.semilogy(times[positive], error[positive], color=color, label=label)
    positive = bound > 0
    ax.semilogy(times[positive], bound[positive], ls="--", color=color, label=bound_label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax
