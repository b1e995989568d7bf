"""``odeint_event``: solve until an event, with the event time differentiable (torch).

A driver above :func:`~course_utils.ode.odeint` (it calls ``odeint`` to find the event,
then the implicit function theorem for the gradient of the event time); the event
detection itself, inside the loop, is :mod:`._events`.
"""

from ._backend import get_backend
from ._odeint import odeint
from ._structure import TupleState, is_tuple_state

__all__ = ["odeint_event"]


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

    if odeint_interface is None:
        odeint_interface = odeint
    t0 = torch.as_tensor(t0).reshape(-1)[:1]
    t = torch.cat([t0, t0.detach() + (-1.0 if reverse_time else 1.0)])
    with torch.no_grad():
        event_t, _ = odeint(func, y0, t.detach(), event_fn=event_fn, **_forward(kwargs))
    # the solution up to the (fixed) event time, differentiable in y0, t0 and θ
    times = torch.cat([t0, event_t.reshape(1).to(t0.dtype)])
    solution = odeint_interface(func, y0, times, **kwargs)
    layout = TupleState(y0, get_backend) if is_tuple_state(y0) else None
    if layout is not None:  # the implicit-function step works on one flat vector
        state_t = layout.flatten([part[-1] for part in solution])
        flat_func = layout.wrap(func)
        flat_event = lambda t_, y_: event_fn(t_, layout.unflatten(y_))
    else:
        state_t = solution[-1]
        flat_func, flat_event = func, event_fn
    event_t, state_t = _ImplicitEventTime.apply(flat_func, flat_event, event_t.detach(), state_t)
    if layout is not None:
        parts = layout.unflatten(state_t)
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
