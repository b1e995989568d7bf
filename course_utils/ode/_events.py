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

:func:`odeint_event` makes the event time differentiable by the implicit function
theorem: with :math:`g(\tau, y(\tau; p)) = 0`,

.. math::
   \frac{d\tau}{dp} = -\frac{\partial g/\partial y \cdot \partial y(\tau)/\partial p}
   {\partial g/\partial t + \partial g/\partial y \cdot f(\tau, y(\tau))}.
"""

import math

import numpy as np

from .._arrays import to_numpy

__all__ = ["EventDetector", "odeint_event"]


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


def odeint_event(func, y0, t0, *, event_fn, reverse_time=False, odeint_interface=None,
                 **kwargs):
    r"""Solve until ``event_fn(t, y) = 0``; the event time is differentiable (torch).

    torchdiffeq's ``odeint_event``: returns ``(event_t, solution)`` with
    ``solution = [y0, y(event_t)]`` (a tuple of such for a tuple state). Gradients flow
    to ``event_t`` and ``y(event_t)`` from ``y0``, ``t0`` and ``func``'s parameters by
    the implicit function theorem (module docstring); ``event_fn``'s own parameters get
    none (write them into ``y0``, or as in torchdiffeq, into ``func``). The terminal
    event is the first zero of any component (``direction`` attributes are honoured).

    Parameters
    ----------
    func, y0, **kwargs
        As for :func:`~course_utils.ode.odeint` (``method``, ``rtol``, ``atol``,
        ``options``, ...).
    t0 : torch.Tensor, shape () or (1,)
        Initial time.
    event_fn : callable
        ``event_fn(t, y)`` -> tensor; the solve stops at its first zero.
    reverse_time : bool
        Integrate towards decreasing ``t``.
    odeint_interface : callable, optional
        :func:`~course_utils.ode.odeint` (default) or
        :func:`course_utils.adjoint.odeint_adjoint` (gradients by the adjoint method).

    Introduced in ``05_adjoint_autodiff`` (the bouncing ball).
    """
    import torch

    from ._odeint import odeint
    from ._structure import is_tuple_state

    if odeint_interface is None:
        odeint_interface = odeint
    t0 = torch.as_tensor(t0).reshape(-1)[:1]
    t = torch.cat([t0, t0.detach() + (-1.0 if reverse_time else 1.0)])
    with torch.no_grad():
        event_t, _ = odeint(func, y0, t.detach(), event_fn=event_fn, **_forward(kwargs))
    # the solution up to the (fixed) event time, differentiable in y0, t0 and θ
    times = torch.cat([t0, event_t.reshape(1).to(t0.dtype)])
    solution = odeint_interface(func, y0, times, **kwargs)
    tuple_state = is_tuple_state(y0)
    if tuple_state:
        shapes = [part.shape[1:] for part in solution]
        state_t = torch.cat([part[-1].reshape(-1) for part in solution])

        def unflatten(flat):
            out, start = [], 0
            for shape in shapes:
                size = math.prod(shape)
                out.append(flat[start:start + size].reshape(shape))
                start += size
            return tuple(out)

        flat_func = lambda t_, y_: torch.cat([p.reshape(-1) for p in func(t_, unflatten(y_))])
        flat_event = lambda t_, y_: event_fn(t_, unflatten(y_))
    else:
        state_t = solution[-1]
        flat_func, flat_event = func, event_fn
    event_t, state_t = _ImplicitEventTime.apply(flat_func, flat_event, event_t.detach(), state_t)
    if tuple_state:
        parts = unflatten(state_t)
        solution = tuple(torch.cat([s[:-1], p[None]], dim=0) for s, p in zip(solution, parts))
    else:
        solution = torch.cat([solution[:-1], state_t[None]], dim=0)
    return event_t, solution


def _forward(kwargs):
    """odeint's keywords without odeint_adjoint's."""
    return {k: v for k, v in kwargs.items()
            if not k.startswith("adjoint_") and k not in ("seminorm",)}


def _make_implicit():
    import torch

    class ImplicitEventTime(torch.autograd.Function):
        """(τ, y(τ)) -> the same values, with the gradient of the implicit function theorem."""

        @staticmethod
        def forward(ctx, func, event_fn, event_t, state_t):
            ctx.func, ctx.event_fn = func, event_fn
            ctx.save_for_backward(event_t, state_t)
            return event_t.detach().clone(), state_t.detach().clone()

        @staticmethod
        def backward(ctx, grad_t, grad_state):
            event_t, state_t = ctx.saved_tensors
            with torch.enable_grad():
                tau = event_t.detach().clone().requires_grad_(True)
                y = state_t.detach().clone().requires_grad_(True)
                f = ctx.func(tau, y).detach()
                g = ctx.event_fn(tau, y)
                g = g.reshape(-1)
                # the component that vanishes at τ (the terminal one)
                g = g[torch.argmin(g.detach().abs())]
                dg_dt, dg_dy = torch.autograd.grad(g, (tau, y), allow_unused=True)
            dg_dt = torch.zeros_like(tau) if dg_dt is None else dg_dt
            dg_dy = torch.zeros_like(y) if dg_dy is None else dg_dy
            grad_t = torch.zeros_like(tau) if grad_t is None else grad_t
            grad_state = torch.zeros_like(y) if grad_state is None else grad_state
            speed = dg_dt + (dg_dy * f).sum()
            if speed.abs().item() == 0.0:
                raise RuntimeError(
                    "The event function crosses zero tangentially at the event time "
                    "(dg/dt = 0 along the solution): the event time is not differentiable."
                )
            c = (grad_t + (grad_state * f).sum()) / speed
            return None, None, None, grad_state - c * dg_dy

    return ImplicitEventTime


class _Lazy:
    def __init__(self):
        self.function = None

    def apply(self, *args):
        if self.function is None:
            self.function = _make_implicit()
        return self.function.apply(*args)


_ImplicitEventTime = _Lazy()
