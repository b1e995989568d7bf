"""Systems of ODEs in ``02_runge_kutta_multistep`` §5: phase panels and Störmer–Verlet.

Section 5.1 shows three classic systems side by side (a direction field under a few
trajectories each); section 5.2 compares the energy drift of several methods with the
symplectic Störmer–Verlet (leapfrog) scheme, which ``odeint`` does not provide because it
needs the split form ``q'' = a(q)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .ode import phase_portrait, plot_phase

__all__ = ["solve_from_starts", "plot_phase_panels", "stormer_verlet"]


def solve_from_starts(func: Callable, starts: Mapping, times, **odeint_kwargs) -> dict:
    """One ``odeint`` solution per initial state.

    Parameters
    ----------
    func : callable ``func(t, y)``
    starts : dict
        label -> initial state of shape ``(d,)``.
    times : array of shape ``(m,)``
    **odeint_kwargs
        Passed to ``odeint`` (``rtol``, ``atol``, ``method``, …).

    Returns
    -------
    dict
        label -> array of shape ``(m, d)``.

    Notes
    -----
    ``02_runge_kutta_multistep``, section 5.1.
    """
    from ..ode import odeint

    return {label: odeint(func, np.asarray(y0, dtype=float), times, **odeint_kwargs)
            for label, y0 in starts.items()}


def plot_phase_panels(panels: Sequence[Mapping], *, num_arrows: int = 15,
                      panel_size: tuple[float, float] = (4.7, 4.4)):
    """Phase planes side by side: the direction field of each system and its trajectories.

    Parameters
    ----------
    panels : sequence of dict
        One per panel, with keys ``func`` (``func(t, y)`` of a 2-D system), ``runs``
        (label -> array ``(m, 2)``, e.g. from :func:`solve_from_starts`), ``xlim``,
        ``ylim`` (the window of the field), ``title``, ``xlabel``, ``ylabel``.
    num_arrows : int
        Arrows per axis of each direction field.
    panel_size : (float, float)
        Width and height of one panel in inches.

    Returns
    -------
    (Figure, array of Axes)

    Notes
    -----
    ``02_runge_kutta_multistep``, section 5.1 (Lotka–Volterra, pendulum, Van der Pol).
    """
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("`panels` is empty: give one dict per phase plane.")
    fig, axes = plt.subplots(1, len(panels),
                             figsize=(panel_size[0] * len(panels), panel_size[1]))
    axes = np.atleast_1d(axes)
    for ax, panel in zip(axes, panels):
        phase_portrait(panel["func"], panel["xlim"], panel["ylim"], ax=ax,
                       num_arrows=num_arrows)
        plot_phase(panel["runs"], ax=ax, title=panel["title"], xlabel=panel["xlabel"],
                   ylabel=panel["ylabel"])
        ax.legend(fontsize="small", loc="upper right")
    fig.tight_layout()
    return fig, axes


def stormer_verlet(acceleration: Callable, y0, times, substeps: int = 4) -> np.ndarray:
    """Störmer–Verlet (leapfrog) for ``q'' = a(q)``, state ``y = (q, v)``, scalar ``q``.

    Each step of size ``h`` is half a kick, a drift and half a kick:
    ``v½ = v + h/2 a(q)``, ``q ← q + h v½``, ``v ← v½ + h/2 a(q)``. It is explicit, second
    order, symplectic and needs one new evaluation of ``a`` per step.

    Parameters
    ----------
    acceleration : callable ``a(q) -> float``
    y0 : (float, float)
        Initial ``(q, v)``.
    times : array of shape ``(m,)``
        Uniform output grid; ``substeps`` steps of ``h = Δt / substeps`` between outputs.
    substeps : int

    Returns
    -------
    ndarray of shape ``(m, 2)``

    Notes
    -----
    ``02_runge_kutta_multistep``, section 5.2 (Hairer, Lubich & Wanner, *Geometric
    Numerical Integration*, §I.1).
    """
    if substeps < 1:
        raise ValueError(f"`substeps` must be a positive integer, got {substeps!r}.")
    times = np.asarray(times, dtype=float)
    h = (times[1] - times[0]) / substeps
    angle, velocity = (float(v) for v in y0)
    out = np.empty((len(times), 2))
    out[0] = angle, velocity
    for n in range(1, len(times)):
        for _ in range(substeps):
            velocity_half = velocity + 0.5 * h * acceleration(angle)  # half a kick
            angle = angle + h * velocity_half  # drift
            velocity = velocity_half + 0.5 * h * acceleration(angle)  # half a kick
        out[n] = angle, velocity
    return out

