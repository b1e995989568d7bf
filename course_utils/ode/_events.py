r"""Events: zeros of ``event_fn(t, y)`` located on the dense output, and a
differentiable event time (feature: torchdiffeq compatibility, beyond it).

``odeint(func, y0, t, event_fn=g)`` watches the sign of every component of ``g`` (or of
every function of a list ``g = [g_0, g_1, ...]``, scipy's style). After each accepted
step it compares the signs at both ends; where component ``j`` crossed zero (in its
``direction``) the crossing is located on the step's own interpolant by the Illinois
variant of regula falsi (no evaluations of ``func``; Dahlquist & Björck, *Numerical
Methods*, Sec. 6.2), to a few ulps of ``t``. A crossing of a *terminal* component ends
the solve there; the others are recorded in ``stats.events`` and the solve goes on.

Attributes of an event function, as in ``scipy.integrate.solve_ivp``:

``terminal``
    True, False, or one flag per component (default: True for a single function, as in
    torchdiffeq; False for each function of a list, as in scipy).
``direction``
    0 (any crossing), +1 (only from negative to positive) or -1, or one per component.

A start exactly on the surface (``g(t0, y0) = 0``) is not an event, so that a solve can
restart where the last one stopped (a bouncing ball).

:func:`~course_utils.ode.odeint_event` (in ``_odeint_event.py``, a driver above ``odeint``)
makes the event time differentiable by the implicit function theorem: with
:math:`g(\tau, y(\tau; p)) = 0`,

.. math::
   \frac{d\tau}{dp} = -\frac{\partial g/\partial y \cdot \partial y(\tau)/\partial p}
   {\partial g/\partial t + \partial g/\partial y \cdot f(\tau, y(\tau))}.
"""

import math

import numpy as np

from .._arrays import to_numpy

__all__ = ["EventDetector"]


def _flags(value, count, name, default):
    if value is None:
        value = default
    values = np.broadcast_to(np.asarray(value), (count,)) if np.ndim(value) == 0 else \
        np.asarray(value)
    if values.shape != (count,):
        raise ValueError(f"Event `{name}` must be one value or one per component ({count}).")
    return values


class EventDetector:
    """Watches the event functions over the accepted steps of one solve."""

    def __init__(self, event_fn, evaluator_time, structure, stats, t0, y0):
        self.time = evaluator_time
        self.unflatten = (lambda y: y) if structure is None else structure.unflatten
        self.stats = stats
        if isinstance(event_fn, (list, tuple)):
            functions, default_terminal = list(event_fn), False
        else:
            functions, default_terminal = [event_fn], True
        for g in functions:
            if not callable(g):
                raise TypeError(f"`event_fn` must be callable as event_fn(t, y), got {g!r}.")
        self.functions = functions
        self.single = len(functions) == 1 and not isinstance(event_fn, (list, tuple))
        g0 = self.values(t0, y0)
        self.count = g0.size
        terminal, direction = [], []
        sizes = [self._raw(g, t0, y0).size for g in functions] if not self.single \
            else [self.count]
        for g, size in zip(functions, sizes):
            terminal.extend(_flags(getattr(g, "terminal", None), size, "terminal",
                                   default_terminal).astype(bool))
            direction.extend(_flags(getattr(g, "direction", None), size, "direction", 0))
        self.terminal = np.array(terminal, dtype=bool)
        self.direction = np.sign(np.array(direction, dtype=float))
        self.previous = g0
        self.t_event = None

    def _raw(self, g, t, y):
        return np.atleast_1d(to_numpy(g(self.time(t), self.unflatten(y)), dtype=float))

    def values(self, t, y):
        parts = [self._raw(g, t, y).reshape(-1) for g in self.functions]
        values = np.concatenate(parts)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"`event_fn` returned NaN or inf at t={t:g}.")
        return values

    def check(self, t, t_new, y_new, interpolate):
        """Zeros in ``(t, t_new]``; return ``(t_event, y_event)`` for a terminal one."""
        g_old, g_new = self.previous, self.values(t_new, y_new)
        self.previous = g_new
        crossed = (g_old != 0) & ((np.sign(g_new) != np.sign(g_old)) | (g_new == 0))
        crossed &= (self.direction == 0) | (np.sign(g_new - g_old) == self.direction)
        if not crossed.any():
            return None
        h = t_new - t
        found = []
        for j in np.flatnonzero(crossed):
            theta = self._root(j, t, h, interpolate, g_old[j], g_new[j])
            found.append((theta, j))
        found.sort()
        for theta, j in found:
            t_event = t_new if theta == 1.0 else t + theta * h
            self.stats.events.append((float(t_event), int(j)))
            if self.terminal[j]:
                self.t_event = float(t_event)
                y_event = y_new if theta == 1.0 else interpolate(theta)
                return float(t_event), y_event
        return None

    def _root(self, j, t, h, interpolate, g_lo, g_hi):
        """θ in (0, 1] with g_j(t + θh, y(θ)) = 0: Illinois on the interpolant."""
        if g_hi == 0:
            return 1.0
        lo, hi = 0.0, 1.0
        side = 0
        tol = 4 * math.ulp(max(abs(t), abs(t + h))) / abs(h)
        for _ in range(100):
            theta = hi - g_hi * (hi - lo) / (g_hi - g_lo)
            if not lo < theta < hi:
                theta = 0.5 * (lo + hi)
            value = self.values(t + theta * h, interpolate(theta))[j]
            if value == 0:
                return theta
            if np.sign(value) == np.sign(g_hi):
                hi, g_hi = theta, value
                if side == 1:
                    g_lo *= 0.5
                side = 1
            else:
                lo, g_lo = theta, value
                if side == -1:
                    g_hi *= 0.5
                side = -1
            if hi - lo <= tol:
                break
        return hi  # the first point on the far side: the event has happened there
