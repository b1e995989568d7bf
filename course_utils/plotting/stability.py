"""Figures of week 2 (``02_runge_kutta_multistep``): stability, cost and long-time behaviour.

* :func:`plot_stability_region` — the absolute stability region of one or more methods in
  the complex ``hλ`` plane (weeks 1 and 2; the stability functions themselves are in
  :mod:`course_utils.analysis`);
* :func:`plot_stability_panels` — absolute stability regions of several method families,
  one panel per family (section 6);
* :func:`plot_work_precision` — error against the number of function evaluations, the
  fair way to compare solvers of different orders and costs (section 2);
* :func:`plot_energy_drift` — relative energy error of Hamiltonian simulations over a
  long time (section 5);
* :func:`plot_step_history` — the step sizes an adaptive solver chose, optionally next
  to a stability limit (sections 2 and 6);
* :func:`stiff_step_figure` — the interactive figure of the week: the points ``hλ`` of a
  stiff linear system on the stability regions, next to the errors of the methods
  (section 6, drawn by :func:`course_utils.plotting.slider_figure`).

Every function draws with the course's colours (:data:`~course_utils.plotting.base.COLORS`),
sets a title, axis labels and a legend, and returns what it drew on; none calls
``plt.show()``. Convergence plots live in :mod:`course_utils.plotting.ode`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .base import COLORS, axes_or_new

__all__ = [
    "plot_stability_region",
    "plot_stability_panels",
    "plot_work_precision",
    "plot_energy_drift",
    "plot_step_history",
    "stiff_step_figure",
]




def _multistep_polynomials(method):
    """``(rho, sigma)`` of a multistep method spec, or None for a one-step method."""
    from ..analysis import lmm_characteristic_polynomials

    if isinstance(method, tuple) and len(method) == 2 and not isinstance(method[0], str):
        return method
    if isinstance(method, str) or hasattr(method, "alpha"):
        try:
            return lmm_characteristic_polynomials(method)
        except ValueError:
            return None
    return None


def _outline_regions(ax, methods, labels, xlim, ylim, resolution, title):
    """Draw only the boundaries of the stability regions (for regions that are exteriors).

    Multistep methods get their boundary locus (exactly the boundary for BDF1–6; for
    other methods the locus may also have loops inside the unstable set); Runge–Kutta
    methods the level set ``|R| = 1`` on a grid; any other spec the edge of the stable
    set on the grid.
    """
    from matplotlib.lines import Line2D

    from ..analysis import is_absolutely_stable, lmm_boundary_locus, rk_stability_function

    x = np.linspace(xlim[0], xlim[1], resolution)
    y = np.linspace(ylim[0], ylim[1], resolution)
    xx, yy = np.meshgrid(x, y)
    handles = []
    for i, method in enumerate(methods):
        color = COLORS[i % len(COLORS)]
        polynomials = _multistep_polynomials(method)
        if polynomials is not None:
            locus = lmm_boundary_locus(*polynomials, num_points=1000)
            ax.plot(locus.real, locus.imag, color=color, lw=1.5)
        else:
            try:  # a smooth level set |R(z)| = 1 where R is available
                stability = rk_stability_function(method)
                with np.errstate(all="ignore"):
                    level = np.nan_to_num(np.abs(stability(xx + 1j * yy)), nan=1e6, posinf=1e6)
                threshold = 1.0
            except (TypeError, ValueError):  # any other spec: the stable set on the grid
                level = np.asarray(is_absolutely_stable(method, xx + 1j * yy), dtype=float)
                threshold = 0.5
            ax.contour(xx, yy, level, levels=[threshold], colors=[color], linewidths=1.5)
        label = labels[i] if labels is not None else str(method)
        handles.append(Line2D([], [], color=color, lw=1.5, label=label))
    ax.axhline(0.0, color="k", lw=0.6)
    ax.axvline(0.0, color="k", lw=0.6)
    ax.set(xlim=xlim, ylim=ylim, aspect="equal", xlabel="Re(hλ)", ylabel="Im(hλ)", title=title)
    ax.legend(handles=handles, loc="upper left", fontsize="small")


def plot_stability_panels(
    panels: Mapping,
    *,
    windows: Mapping | None = None,
    outline: Sequence[str] = (),
    resolution: int = 200,
    panel_size: float = 3.6,
    suptitle: str | None = None,
):
    """Absolute stability regions, one panel per group of methods.

    Parameters
    ----------
    panels : dict
        ``title -> methods``: each value is a list of method specs accepted by
        :func:`plot_stability_region` (registered names such as
        ``'rk4'``, ``'ab2'``, ``'bdf3'``; Butcher tableaus; ``(rho, sigma)`` pairs;
        callables ``R(z)``), or ``(methods, labels)`` to name them in the legend.
    windows : dict, optional
        ``title -> (xlim, ylim)``, the window of a panel in the complex ``hλ`` plane
        (default ``(-5, 2) × (-3.5, 3.5)``).
    outline : sequence of str
        Titles of panels drawn as boundary curves only, without shading — clearer for
        regions that are the *outside* of a curve (BDF), where shaded layers pile up.
    resolution : int
        Grid points per axis of each panel (cost grows with its square).
    panel_size : float
        Width and height of one panel, in inches.
    suptitle : str, optional
        A title over all panels.

    Returns
    -------
    fig : matplotlib Figure
    axes : ndarray of Axes, shape (len(panels),)

    Notes
    -----
    Introduced in ``02_runge_kutta_multistep``, section 6 ("Absolute stability").
    Regions are shaded where every root of the method's characteristic equation (or
    ``|R(hλ)|``) is at most 1; the boundary is drawn as a line.
    """
    import matplotlib.pyplot as plt


    if not panels:
        raise ValueError("`panels` is empty: give at least one `title -> methods` entry.")
    windows = dict(windows or {})
    unknown = (set(windows) | set(outline)) - set(panels)
    if unknown:
        raise ValueError(
            f"`windows` or `outline` name panels that do not exist: {sorted(unknown)}."
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(panel_size * len(panels), panel_size),
                             squeeze=False)
    axes = axes.ravel()
    for ax, (title, methods) in zip(axes, panels.items()):
        labels = None
        if isinstance(methods, tuple) and len(methods) == 2 and isinstance(methods[1], list):
            methods, labels = methods
        xlim, ylim = windows.get(title, ((-5.0, 2.0), (-3.5, 3.5)))
        if title in outline:
            _outline_regions(ax, list(methods), labels, xlim, ylim, resolution, title)
            continue
        with plt.rc_context({"axes.prop_cycle": plt.cycler(color=COLORS)}):
            plot_stability_region(list(methods), ax=ax, xlim=xlim, ylim=ylim,
                                  resolution=resolution, labels=labels, title=title)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig, axes


def plot_work_precision(
    results: Mapping,
    *,
    ax=None,
    dashed: Sequence[str] = (),
    title: str = "Work–precision diagram",
    xlabel: str = "function evaluations",
    ylabel: str = "error at the final time",
    colors: Mapping | None = None,
):
    """Error against cost (function evaluations) for several solvers, on log-log axes.

    Down and to the left is better: a curve below another reaches the same accuracy for
    less work.

    Parameters
    ----------
    results : dict
        ``label -> (nfe, errors)``, two arrays of shape ``(m,)``: the cost and the error
        of ``m`` solves (one per tolerance or step size).
    ax : matplotlib Axes, optional
    dashed : sequence of str
        Labels drawn dashed (e.g. the reference solvers of another library).
    title, xlabel, ylabel : str
    colors : dict, optional
        ``label -> colour``, so that one solver has one colour in several panels (labels
        not in it take the palette's colours in order).

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Introduced in ``02_runge_kutta_multistep``, section 2 ("Work–precision"), after
    Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. II.10.
    """
    ax = axes_or_new(ax, figsize=(6.4, 4.4))
    markers = "osD^v<>p"
    for i, (label, value) in enumerate(results.items()):
        try:
            nfe, errors = value
        except (TypeError, ValueError):
            raise ValueError(f"Result {label!r} must be a pair (nfe, errors).") from None
        nfe = np.asarray(nfe, dtype=float)
        errors = np.asarray(errors, dtype=float)
        if nfe.shape != errors.shape or nfe.ndim != 1:
            raise ValueError(
                f"Result {label!r}: `nfe` {nfe.shape} and `errors` {errors.shape} must be "
                "1-D of equal length."
            )
        order = np.argsort(nfe)
        if colors and label in colors:  # its colour, and the marker of its place there
            color, k = colors[label], list(colors).index(label)
        else:
            color, k = COLORS[i % len(COLORS)], i
        ax.loglog(nfe[order], errors[order], marker=markers[k % len(markers)], ms=4,
                  color=color, ls="--" if label in dashed else "-", label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize="small")
    return ax


def plot_energy_drift(
    times,
    energies: Mapping,
    *,
    ax=None,
    title: str = "Energy error over a long simulation",
    xlabel: str = "time $t$",
    ylabel: str = r"relative energy error $|H(y_n) - H(y_0)| / |H(y_0)|$",
    floor: float = 1e-16,
    window: int | None = None,
):
    """Relative energy error ``|H(y_n) - H(y_0)| / |H(y_0)|`` against time (log scale).

    Parameters
    ----------
    times : array_like, shape (m,)
        Output times.
    energies : dict
        ``label -> H`` with ``H`` of shape ``(m,)``: the energy along each numerical
        solution; ``H[0]`` is the exact initial energy.
    ax : matplotlib Axes, optional
    title, xlabel, ylabel : str
    floor : float
        Errors below it are drawn at ``floor`` (an exactly conserved energy would
        otherwise vanish from a log plot).
    window : int, optional
        Draw the maximum over consecutive blocks of ``window`` outputs (at the end time
        of each block) instead of every value: the envelope of an oscillating error,
        which shows growth or boundedness without the oscillation filling the plot.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Introduced in ``02_runge_kutta_multistep``, section 5 ("Energy drift"); see Hairer,
    Lubich & Wanner, *Geometric Numerical Integration*, Ch. I and IX.
    """
    ax = axes_or_new(ax)
    times = np.asarray(times, dtype=float)
    if window is not None and not (isinstance(window, int) and 1 <= window <= times.size):
        raise ValueError(f"`window` must be an int between 1 and len(times), got {window!r}.")
    for i, (label, energy) in enumerate(energies.items()):
        energy = np.asarray(energy, dtype=float)
        if energy.shape != times.shape:
            raise ValueError(
                f"Energy {label!r} has shape {energy.shape}, expected {times.shape} like `times`."
            )
        scale = abs(energy[0]) if energy[0] != 0 else 1.0
        error = np.maximum(np.abs(energy - energy[0]) / scale, floor)
        shown_times = times
        if window is not None:
            num_blocks = times.size // window
            error = error[: num_blocks * window].reshape(num_blocks, window).max(axis=1)
            shown_times = times[window - 1 : num_blocks * window : window]
        ax.semilogy(shown_times, error, color=COLORS[i % len(COLORS)], lw=1.4, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def plot_step_history(
    step_times,
    step_sizes,
    *,
    ax=None,
    limit=None,
    label: str = "accepted steps",
    limit_label: str = "stability limit",
    title: str = "Step sizes chosen by the solver",
    xlabel: str = "time $t$",
    ylabel: str = "step size $h$",
    logx: bool = False,
):
    """Accepted step sizes against time, optionally with a limit curve ``(times, h_max)``.

    Parameters
    ----------
    step_times, step_sizes : array_like, shape (m,)
        Start time and (signed) size of every accepted step, as in
        :class:`course_utils.ode.SolveStats` (``step_times``, ``step_sizes``).
    ax : matplotlib Axes, optional
    limit : (array_like, array_like), optional
        ``(times, values)`` of a curve to draw next to the steps, e.g. the largest step
        that keeps ``hλ`` inside the stability region.
    label, limit_label, title, xlabel, ylabel : str
    logx : bool
        Logarithmic time axis (for problems with several time scales, e.g. Robertson).

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Introduced in ``02_runge_kutta_multistep``, sections 2 and 6.
    """
    ax = axes_or_new(ax)
    step_times = np.asarray(step_times, dtype=float)
    step_sizes = np.abs(np.asarray(step_sizes, dtype=float))
    if step_times.shape != step_sizes.shape or step_times.ndim != 1:
        raise ValueError("`step_times` and `step_sizes` must be 1-D of equal length.")
    ax.semilogy(step_times, step_sizes, ".", ms=3, color=COLORS[0], label=label, zorder=3)
    if limit is not None:
        limit_times, limit_values = (np.asarray(v, dtype=float) for v in limit)
        ax.semilogy(limit_times, limit_values, color=COLORS[1], lw=1.4, label=limit_label,
                    zorder=2)
    if logx:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def stiff_step_figure(
    step_size: float,
    *,
    stiffness: float = 1000.0,
    t1: float = 0.1,
    methods: Sequence[str] = ("rk4", "ab2", "bdf2"),
):
    """The interactive figure of week 2: one step size on a stiff linear system.

    Left: the stability regions of ``methods`` and the points ``hλ`` for the two
    eigenvalues ``λ = -1`` and ``λ = -stiffness`` of
    :func:`course_utils.problems.stiff_linear`. Right: each method's error against time
    with this step size (log scale, capped at ``1e6`` once a method has blown up).

    Parameters
    ----------
    step_size : float
        The step size ``h``.
    stiffness : float
        The stiff eigenvalue is ``-stiffness``.
    t1 : float
        About the end of the simulation: ``round(t1 / step_size)`` steps are taken and
        the error is shown at every step.
    methods : sequence of str
        Fixed-step methods of :func:`course_utils.ode.odeint` with a stability region
        (explicit RK, multistep or implicit one-step names).

    Returns
    -------
    fig : matplotlib Figure
    errors : dict
        ``method -> array of shape (num_steps + 1,)``, the max-norm error at each step
        (all ``inf`` if a method overflowed before the end).

    Notes
    -----
    Introduced in ``02_runge_kutta_multistep``, section 6; made interactive with
    :func:`course_utils.plotting.slider_figure`.
    """
    import matplotlib.pyplot as plt

    from ..ode import METHODS, ODESolverError, odeint
    from ..problems import stiff_linear

    if not step_size > 0:
        raise ValueError(f"`step_size` must be positive, got {step_size!r}.")
    problem = stiff_linear(stiffness=stiffness, t1=t1)
    num_steps = max(1, int(round(t1 / step_size)))
    times = step_size * np.arange(num_steps + 1)  # the step grid itself: no interpolation
    exact = problem.exact(times)  # (num_outputs, 2)
    errors = {}
    for method in methods:
        try:
            implicit = getattr(METHODS.get(method), "implicit", False)
            with np.errstate(all="ignore"):
                ys = odeint(problem.func, problem.y0, times, method=method,
                            step_size=step_size, jac=problem.jac if implicit else None)
            errors[method] = np.abs(ys - exact).max(axis=1)
        except ODESolverError:  # NaN/inf: the method blew up before t1
            errors[method] = np.full(times.shape, np.inf)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.2))
    with plt.rc_context({"axes.prop_cycle": plt.cycler(color=COLORS)}):
        plot_stability_region(list(methods), ax=left, xlim=(-6.0, 1.0), ylim=(-3.5, 3.5),
                              resolution=120, title=f"$h\\lambda$ for $h = {step_size:g}$")
    points = step_size * np.array([-1.0, -stiffness])
    inside = np.abs(points) < 6.0
    left.plot(points[inside], np.zeros(inside.sum()), "kx", ms=9, mew=2,
              label=r"$h\lambda$")
    if not inside[1]:
        left.annotate(f"$h\\lambda = {points[1]:.3g}$ (off the chart) ←", xy=(-6.0, 0.3),
                      xytext=(-5.9, 0.5), fontsize=9)
    for i, method in enumerate(methods):
        error = np.where(np.isfinite(errors[method]), errors[method], 1e6)
        blown_up = error[-1] > 1.0
        right.semilogy(times, np.clip(error, 1e-16, 1e6), color=COLORS[i % len(COLORS)],
                       label=f"{method} (unstable)" if blown_up else method)
    right.axhline(1.0, color="0.5", lw=0.8, ls=":")
    right.set(title=f"Error on $y' = Ay$, eigenvalues $-1$, $-{stiffness:g}$",
              xlabel="time $t$", ylabel="max-norm error", ylim=(1e-12, 2e6))
    right.legend()
    fig.tight_layout()
    return fig, errors


def plot_stability_region(
    methods,
    *,
    ax=None,
    xlim=(-5.0, 2.0),
    ylim=(-3.5, 3.5),
    resolution=300,
    theta=None,
    labels=None,
    title="Absolute stability regions",
    fill=True,
):
    """Draw the absolute stability region of each method in the complex ``hλ`` plane.

    Each region is shaded and its boundary drawn as a line, or (``fill=False``) only
    the boundary is drawn.

    Introduced in notebooks ``01_one_step_methods`` (θ-method) and
    ``02_runge_kutta_multistep`` (RK and multistep methods).

    Parameters
    ----------
    methods : method spec or list of them
        Names (``'rk4'``, ``'bdf2'``, ``'backward_euler'``, ``'theta'`` with
        ``theta=``), tableaus, method objects, callables ``R(z)``, ``(rho, sigma)``
        pairs or ``("theta", θ)``.
    ax : matplotlib Axes, optional
        Where to draw (a new figure if omitted).
    xlim, ylim : (float, float)
        The window in Re(hλ) and Im(hλ).
    resolution : int
        Grid points per axis.
    theta : float, optional
        θ for the name ``'theta'``.
    labels : list of str, optional
        Legend entries (default: the method names).
    title : str
    fill : bool or sequence of bool
        Shade the regions (default) or draw only their boundaries (``False``) — clearer
        for regions that are the *outside* of a curve (BDF), where shaded layers pile
        up. A sequence gives one value per method.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from ..analysis import _max_root_modulus, _stability_spec

    if not isinstance(methods, (list, tuple)) or (
        isinstance(methods, tuple) and len(methods) == 2 and isinstance(methods[0], str)
    ):
        methods = [methods]
    if isinstance(fill, (bool, np.bool_)):
        fills = [bool(fill)] * len(methods)
    else:
        fills = [bool(value) for value in fill]
        if len(fills) != len(methods):
            raise ValueError(
                f"`fill` has {len(fills)} entries but there are {len(methods)} methods; "
                "give one bool, or one per method."
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    x = np.linspace(xlim[0], xlim[1], resolution)
    y = np.linspace(ylim[0], ylim[1], resolution)
    xx, yy = np.meshgrid(x, y)
    zz = xx + 1j * yy
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2"])
    handles = []
    for i, method in enumerate(methods):
        kind, data, name = _stability_spec(method, theta)
        label = labels[i] if labels is not None else name
        color = colors[i % len(colors)]
        if kind == "rk":
            with np.errstate(all="ignore"):
                amplification = np.abs(np.asarray(data(zz)))
        else:
            amplification = _max_root_modulus(data[0], data[1], zz)
        amplification = np.nan_to_num(amplification, nan=np.inf, posinf=1e6)
        if fills[i]:
            ax.contourf(xx, yy, amplification, levels=[0.0, 1.0], colors=[color], alpha=0.25)
            handles.append(Patch(facecolor=color, edgecolor=color, alpha=0.5, label=label))
        else:
            handles.append(Line2D([], [], color=color, lw=1.5, label=label))
        ax.contour(xx, yy, amplification, levels=[1.0], colors=[color], linewidths=1.5)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.axvline(0.0, color="k", lw=0.6)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("Re(hλ)")
    ax.set_ylabel("Im(hλ)")
    ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    return ax
