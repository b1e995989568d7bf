r"""The adjoint method for Neural ODEs: ``odeint_adjoint`` (week 5, used in week 6).

``odeint_adjoint(func, y0, t)`` returns the same solution as
:func:`course_utils.ode.odeint`, but differentiates it by the *continuous adjoint
method* (Pontryagin; Chen et al. 2018) instead of backpropagating through the
solver's operations:

1. the forward pass solves ``y' = f(t, y, θ)`` without recording a graph, and keeps
   only the outputs ``y(t_i)``;
2. the backward pass integrates the augmented state ``(y, a, g_θ)`` backwards in
   time, one output interval ``[t_{i-1}, t_i]`` at a time,

   .. math::
      y' = f, \qquad a' = -a^\top \frac{\partial f}{\partial y}, \qquad
      g_\theta' = -a^\top \frac{\partial f}{\partial \theta},

   starting each interval from the stored ``y(t_i)`` and adding the loss's gradient
   ``∂L/∂y(t_i)`` to ``a`` at every output time. At ``t_0``, ``a = ∂L/∂y0`` and
   ``g_θ = ∂L/∂θ``. The two vector–Jacobian products come from one
   ``torch.autograd.grad`` call per evaluation (:func:`adjoint_dynamics`).

Memory is that of the outputs, independent of the number of steps; the price is a
second (backward) solve, and gradients that are exact for the *continuous* problem
rather than for the computed solution ("optimise, then discretise").

Introduced in ``05_adjoint_autodiff``, sections 5-6.

References
----------
R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud, "Neural Ordinary Differential
Equations", NeurIPS 2018 (Appendix B: the augmented dynamics and time gradients).
P. Kidger, R. T. Q. Chen, T. Lyons, "'Hey, that's not an ODE': Faster ODE Adjoints via
Seminorms", ICML 2021.
S. G. Johnson, "Notes on Adjoint Methods for 18.335" (MIT, 2006).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["odeint_adjoint", "adjoint_dynamics", "AdjointStats", "linear_ode_gradients"]


@dataclass
class AdjointStats:
    """What ``odeint_adjoint(..., return_stats=True)`` returns next to the solution.

    Attributes
    ----------
    forward : SolveStats
        Statistics of the forward solve (``nfe``, accepted/rejected steps, step sizes).
    backward : SolveStats
        Statistics of the backward (adjoint) solves, summed over the output intervals;
        all zero until ``.backward()`` has run. Its ``nfe`` counts evaluations of the
        augmented dynamics (each one ``func`` call plus one vector–Jacobian product)
        and, when ``t`` requires grad, the extra ``func`` calls at the output times.
    num_backward_calls : int
        How many times the backward pass has run for this solution.
    """

    forward: object
    backward: object = None
    num_backward_calls: int = 0

    def __post_init__(self):
        if self.backward is None:
            from .ode import SolveStats

            self.backward = SolveStats()

    def __str__(self) -> str:
        return f"forward: {self.forward}; backward: {self.backward}"


@dataclass
class _Settings:
    """The non-tensor arguments of one ``odeint_adjoint`` call (internal)."""

    func: object
    forward_kwargs: dict
    backward_kwargs: dict
    seminorm: bool
    stats: AdjointStats | None = None


def adjoint_dynamics(func, t, y, a, params):
    r"""The adjoint vector field: ``(f, -aᵀ ∂f/∂y, -aᵀ ∂f/∂θ)`` at one point.

    Both vector–Jacobian products come from a single reverse sweep through ``func``
    (``torch.autograd.grad`` with ``grad_outputs = -a``); the Jacobians are never
    formed.

    Parameters
    ----------
    func : callable
        ``func(t, y)``, the vector field (an ``nn.Module`` in :func:`odeint_adjoint`).
    t : torch.Tensor, shape ()
        Time.
    y, a : torch.Tensor, shape (*state_shape)
        State and adjoint state.
    params : tuple of torch.Tensor
        The parameters θ to differentiate with respect to.

    Returns
    -------
    f : torch.Tensor, shape (*state_shape)
        ``func(t, y)``, detached.
    a_dot : torch.Tensor, shape (*state_shape)
        ``-aᵀ ∂f/∂y``.
    param_dots : tuple of torch.Tensor
        ``-aᵀ ∂f/∂θ_k``, each of the shape of ``params[k]`` (zeros for a parameter
        that ``func`` does not use).

    Notes
    -----
    Introduced in ``05_adjoint_autodiff``, section 5 (Exercise 5.7 asks for it).
    """
    import torch

    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = func(t, y)
        grads = torch.autograd.grad(f, (y, *params), -a, allow_unused=True)
    a_dot = torch.zeros_like(y) if grads[0] is None else grads[0]
    param_dots = tuple(
        torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[1:])
    )
    return f.detach(), a_dot.detach(), param_dots


def _check_scalar_tolerance(value, name):
    from .ode._options import check_tolerance

    if getattr(value, "ndim", None) == 0 or getattr(value, "shape", None) == (1,):
        value = float(value.reshape(()).item() if hasattr(value, "item") else value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_tolerance(float(value), name)
    raise ValueError(
        f"`{name}` must be a number for the backward solve (the augmented state has no "
        "shape to broadcast an array against); pass a scalar `adjoint_rtol`/`adjoint_atol`."
    )


def _smallest(tolerance):
    """A forward tolerance given per component (an array, or per part of a tuple state)
    becomes its smallest entry for the backward solve (whose state has another shape)."""
    if isinstance(tolerance, numbers.Real):
        return tolerance
    from ._arrays import to_numpy

    try:
        return float(to_numpy(tolerance, dtype=float).min())
    except (TypeError, ValueError):
        return tolerance  # _check_scalar_tolerance names the problem


def _backward_tolerances(torch, settings, num_state, num_params, dtype, device):
    """rtol/atol for the flat augmented state ``(y, a, g_θ)``.

    With ``seminorm`` the parameter channels get a tolerance so large that they never
    count, and the state/adjoint channels a tolerance scaled by ``sqrt(2n / N)``: the
    engine's RMS over all ``N`` channels then equals the RMS over the ``2n`` state and
    adjoint channels — the seminorm of Kidger et al. (2021), built from per-component
    tolerances (``odeint`` accepts arrays) instead of a custom norm.
    """
    rtol, atol = settings.backward_kwargs["rtol"], settings.backward_kwargs["atol"]
    if not settings.seminorm or num_params == 0:
        return rtol, atol
    total = 2 * num_state + num_params
    scale = math.sqrt(2 * num_state / total)
    huge = float(torch.finfo(dtype).max) ** 0.5
    rtols = torch.full((total,), rtol * scale, dtype=dtype, device=device)
    atols = torch.full((total,), atol * scale, dtype=dtype, device=device)
    rtols[2 * num_state:] = 1.0
    atols[2 * num_state:] = huge
    return rtols, atols


def _state_times_and_settings(y0, t, method, rtol, atol, options, solver_options,
                              adjoint_method, adjoint_rtol, adjoint_atol,
                              adjoint_step_size, adjoint_options):
    """What every adjoint entry point checks and builds alike: ``y0`` a floating-point
    tensor, ``t`` as a tensor of its dtype and device, and the forward and backward
    solves' settings (``(t, forward_kwargs, backward_kwargs)``)."""
    import torch

    if not (isinstance(y0, torch.Tensor) and y0.is_floating_point()):
        raise ValueError(
            f"`y0` must be a floating-point torch tensor, got {type(y0).__name__}"
            + (f" of dtype {y0.dtype}" if isinstance(y0, torch.Tensor) else "")
            + "; the adjoint method differentiates torch computations."
        )
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t, dtype=y0.dtype, device=y0.device)
    elif not t.is_floating_point():
        t = t.to(y0.dtype)
    forward_kwargs = dict(solver_options, method=method, rtol=rtol, atol=atol,
                          options=options)
    backward_kwargs = _backward_settings(
        method, rtol, atol, options, solver_options, adjoint_method, adjoint_rtol,
        adjoint_atol, adjoint_step_size, adjoint_options,
    )
    return t, forward_kwargs, backward_kwargs


def _backward_settings(method, rtol, atol, options, solver_options, adjoint_method,
                       adjoint_rtol, adjoint_atol, adjoint_step_size, adjoint_options):
    """The backward solve's odeint keywords, validated now (not in ``.backward()``).

    Without ``adjoint_method`` the backward solve inherits the forward method and its
    options (except ``jac``, which is the forward field's Jacobian); ``adjoint_step_size``
    and ``adjoint_options`` override them. The tolerances must be numbers (the augmented
    state has no shape to broadcast an array against).
    """
    from .ode._options import OPTIONS, resolve_options
    from .ode._registry import resolve_method

    inherited = {}
    if adjoint_method is None:
        inherited = {k: v for k, v in dict(options or {}, **solver_options).items()
                     if k in OPTIONS and k not in ("jac", "per_sample", "norm", "grid_constructor")
                     and v is not None}
    backward = resolve_method(method if adjoint_method is None else adjoint_method)
    chosen = dict(inherited)
    if adjoint_options is not None:
        if not isinstance(adjoint_options, dict):
            raise ValueError(
                f"`adjoint_options` must be a dict, got {type(adjoint_options).__name__}."
            )
        unknown = [k for k in adjoint_options if k not in OPTIONS]
        if unknown:
            raise ValueError(
                f"Unknown option `{unknown[0]}` in `adjoint_options`; the solver options are "
                f"{', '.join(OPTIONS)}."
            )
        chosen.update(adjoint_options)
    if adjoint_step_size is not None:
        chosen["step_size"] = adjoint_step_size
    if adjoint_method is not None and not backward.adaptive and \
            not {"step_size", "grid_constructor"} & set(chosen):
        # stepping on t would take one step per output interval: too coarse to be a
        # silent default for a method chosen for the backward pass alone
        raise ValueError(
            f"adjoint_method={backward.name!r} is a fixed-step method and needs "
            "`adjoint_step_size` (or `step_size` in `adjoint_options`)."
        )
    if chosen.get("norm") == "seminorm":  # torchdiffeq's spelling of seminorm=True
        chosen.pop("norm")
        chosen["_seminorm"] = True
    resolve_options(backward, {}, {k: v for k, v in chosen.items() if k != "_seminorm"},
                    prefix="adjoint_")  # raises now if anything is off
    return dict(
        chosen,
        method=backward,
        rtol=_check_scalar_tolerance(_smallest(rtol) if adjoint_rtol is None else adjoint_rtol,
                                     "adjoint_rtol" if adjoint_rtol is not None else "rtol"),
        atol=_check_scalar_tolerance(_smallest(atol) if adjoint_atol is None else adjoint_atol,
                                     "adjoint_atol" if adjoint_atol is not None else "atol"),
    )


def _make_function():
    import torch

    from .ode import odeint

    class _OdeintAdjoint(torch.autograd.Function):
        """Forward: solve without a graph. Backward: the augmented adjoint ODE."""

        @staticmethod
        def forward(ctx, settings, y0, t, *params):
            # torch runs Function.forward in no-grad mode: no graph is recorded
            ys, stats = odeint(settings.func, y0, t, return_stats=True,
                               **settings.forward_kwargs)
            if settings.stats is not None:
                settings.stats.forward = stats
            ctx.settings = settings
            ctx.save_for_backward(t, ys, *params)
            return ys  # (len(t), *state_shape)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad_ys):
            settings = ctx.settings
            t, ys, *params = ctx.saved_tensors
            func = settings.func
            params = tuple(params)
            shape = ys.shape[1:]
            num_state = ys[0].numel()
            num_params = sum(p.numel() for p in params)
            dtype, device = ys.dtype, ys.device
            stats = settings.stats
            t_grad_needed = ctx.needs_input_grad[2]

            def augmented(time, state):
                # state: (2 n + P,) = [y, a, g_θ] flattened
                y = state[:num_state].view(shape)
                a = state[num_state:2 * num_state].view(shape)
                f, a_dot, param_dots = adjoint_dynamics(func, time, y, a, params)
                return torch.cat([f.reshape(-1), a_dot.reshape(-1)]
                                 + [g.reshape(-1) for g in param_dots])

            rtol, atol = _backward_tolerances(torch, settings, num_state, num_params,
                                              dtype, device)
            kwargs = dict(settings.backward_kwargs, rtol=rtol, atol=atol)
            backward = kwargs["method"]
            newton = backward.implicit or getattr(backward, "may_switch_to_implicit", False)
            if newton and "jac" not in kwargs:
                # Newton needs the augmented field's Jacobian; `augmented` returns detached
                # values (no graph in the backward pass), so differentiate a twin that keeps
                # its graph: the second-order terms -∂(aᵀ∂f/∂y)/∂y come from create_graph.
                def differentiable(time, state):
                    y = state[:num_state].view(shape)
                    a = state[num_state:2 * num_state].view(shape)
                    f = func(time, y)
                    grads = torch.autograd.grad(f, (y, *params), -a, create_graph=True,
                                                allow_unused=True)
                    parts = [f, *(torch.zeros_like(p) if g is None else g
                                  for p, g in zip((y, *params), grads))]
                    return torch.cat([part.reshape(-1) for part in parts])

                def augmented_jacobian(time, state):
                    with torch.enable_grad():
                        return torch.autograd.functional.jacobian(
                            lambda s: differentiable(time, s), state.detach())

                kwargs["jac"] = augmented_jacobian
            adj = grad_ys[-1].clone()  # a(t_N), shape (*state_shape)
            param_grad = ys.new_zeros(num_params)  # (P,)
            t_grads = torch.zeros_like(t) if t_grad_needed else None
            extra_nfe = 0
            for i in range(len(t) - 1, 0, -1):
                if t_grad_needed:  # dL/dt_i = ∂L/∂y(t_i) · f(t_i, y(t_i))
                    with torch.no_grad():
                        f_i = func(t[i], ys[i])
                    extra_nfe += 1
                    t_grads[i] = (grad_ys[i] * f_i).sum()
                state = torch.cat([ys[i].reshape(-1), adj.reshape(-1), param_grad])
                span = torch.stack([t[i], t[i - 1]]).detach()
                solution, interval = odeint(augmented, state, span, return_stats=True,
                                            **kwargs)
                end = solution[-1]
                adj = end[num_state:2 * num_state].view(shape) + grad_ys[i - 1]
                param_grad = end[2 * num_state:]
                if stats is not None:
                    _accumulate(stats.backward, interval)
            if t_grad_needed:  # moving t_0 shifts every later state by -Φ_y f(t_0, y0)
                with torch.no_grad():
                    f_0 = func(t[0], ys[0])
                extra_nfe += 1
                t_grads[0] = -((adj - grad_ys[0]) * f_0).sum()
            if stats is not None:
                stats.backward.nfe += extra_nfe
                stats.num_backward_calls += 1
            grads, offset = [], 0
            for p in params:
                grads.append(param_grad[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
            return (None, adj, t_grads, *grads)

    return _OdeintAdjoint


_FUNCTION = None


def _accumulate(total, part):
    total.njev += part.njev
    total.num_newton_iters += part.num_newton_iters
    total.num_lu += part.num_lu  # stiff solvers (issue 14)
    total.nfe += part.nfe
    total.num_accepted += part.num_accepted
    total.num_rejected += part.num_rejected
    total.step_sizes.extend(part.step_sizes)
    total.step_times.extend(part.step_times)


def odeint_adjoint(
    func,
    y0,
    t,
    *,
    method="dopri5",
    rtol=1e-7,
    atol=1e-9,
    options=None,
    return_stats=False,
    adjoint_method=None,
    adjoint_rtol=None,
    adjoint_atol=None,
    adjoint_step_size=None,
    adjoint_options=None,
    adjoint_params=None,
    seminorm=False,
    event_fn=None,
    **solver_options,
):
    r"""Solve ``dy/dt = func(t, y)`` and differentiate by the continuous adjoint method.

    Same call as :func:`course_utils.ode.odeint` (torchdiffeq's convention), for a
    vector field that is a ``torch.nn.Module``. The result is the same forward solution;
    gradients with respect to ``y0``, ``func``'s parameters and (if it requires grad)
    ``t`` come from solving the adjoint ODE backwards in time (see the module
    docstring) instead of backpropagating through the solver: memory independent of
    the number of steps.

    Introduced in ``05_adjoint_autodiff``, section 5; used to train Neural ODEs in
    ``06_neural_odes``.

    Parameters
    ----------
    func : torch.nn.Module or callable
        The vector field, called as ``func(t, y)`` with a 0-d tensor ``t``. A plain
        function needs ``adjoint_params`` (torchdiffeq's rule); every tensor it uses that
        needs a gradient must be one of its parameters or in ``adjoint_params``.
    y0 : torch.Tensor, shape (*state_shape), or a tuple of them
        Initial state, any shape (e.g. ``(batch, dim)``); a tuple such as FFJORD's
        ``(z, logp)`` gives a tuple of solutions.
    t : torch.Tensor or array_like, shape (num_times,)
        Output times, strictly increasing or strictly decreasing. If ``t`` is a tensor
        that requires grad, ``∂L/∂t`` is returned too.
    method, rtol, atol, options, **solver_options
        The forward solve's settings, exactly as in :func:`~course_utils.ode.odeint`
        (the solver options are forwarded, not repeated: one table serves both).
    return_stats : bool
        Also return an :class:`AdjointStats`; its ``backward`` part is filled in when the
        backward pass runs.
    adjoint_method, adjoint_rtol, adjoint_atol, adjoint_step_size : optional
        Settings of the backward solve (default: the forward's; per-component forward
        tolerances give their smallest entry). The tolerances must be numbers or
        one-element tensors.
    adjoint_options : dict, optional
        Solver options of the backward solve, the same names as ``options`` (e.g.
        ``{"max_steps": 10**6}`` or ``{"step_size": 0.01}`` for a fixed-step
        ``adjoint_method``); ``{"norm": "seminorm"}`` is torchdiffeq's spelling of
        ``seminorm=True``. Tolerances may be numbers or one-element tensors. Every
        backward setting is validated when ``odeint_adjoint`` is called, not when
        ``.backward()`` runs.
    adjoint_params : sequence of torch.Tensor, optional
        The parameters to differentiate (default: ``func.parameters()``). Those that do
        not require grad are skipped, as in torchdiffeq.
    event_fn : callable, optional
        Solve until ``event_fn(t, y) = 0`` and return ``(event_t, solution)`` with
        ``solution = [y0, y(event_t)]``, gradients by the adjoint method and, for the
        event time, the implicit function theorem (see
        :func:`course_utils.ode.odeint_event`).
    seminorm : bool
        Leave the parameter-gradient channels out of the backward solve's error norm
        (Kidger, Chen & Lyons 2021). They never feed back into ``y`` or ``a``, so their
        local errors are not amplified; accepting steps on ``(y, a)`` alone usually
        saves many backward evaluations at no loss of accuracy.

    Returns
    -------
    ys : torch.Tensor, shape (num_times, *state_shape)
        ``ys[i]`` approximates ``y(t[i])``.
    stats : AdjointStats
        Only if ``return_stats=True``.

    Raises
    ------
    ValueError
        ``func`` is neither an ``nn.Module`` nor given with ``adjoint_params``; ``y0`` is
        not a floating-point tensor; array-valued backward tolerances; and every error
        of :func:`~course_utils.ode.odeint`.

    Examples
    --------
    >>> import torch
    >>> class Field(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.lin = torch.nn.Linear(2, 2).double()
    ...     def forward(self, t, y):
    ...         return torch.tanh(self.lin(y))
    >>> y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)
    >>> ys = odeint_adjoint(Field(), y0, torch.tensor([0.0, 1.0], dtype=torch.float64))
    >>> ys[-1].sum().backward()   # y0.grad and the Linear's .grad are now filled in
    """
    import torch

    global _FUNCTION
    if adjoint_params is None and not isinstance(func, torch.nn.Module):
        raise ValueError(
            f"`func` must be a torch.nn.Module (got {type(func).__name__}) so that "
            "odeint_adjoint can find the parameters to differentiate, or pass them as "
            "`adjoint_params=(...)` (`adjoint_params=()` if there are none); or use "
            "course_utils.ode.odeint, which backpropagates through the solver."
        )
    from .ode._structure import TupleState, is_tuple_state

    structure = None
    if is_tuple_state(y0):  # (z, logp) as in FFJORD: one flat tensor inside
        from .ode._backend import get_backend

        structure = TupleState(y0, get_backend)
        user_func = func
        func = _FlatField(structure.wrap(user_func), user_func)
        y0 = structure.flatten(structure.parts)
        rtol = structure.tolerance(rtol, "rtol")
        atol = structure.tolerance(atol, "atol")
        if adjoint_params is None:
            adjoint_params = tuple(user_func.parameters())
    t, forward_kwargs, backward_kwargs = _state_times_and_settings(
        y0, t, method, rtol, atol, options, solver_options, adjoint_method, adjoint_rtol,
        adjoint_atol, adjoint_step_size, adjoint_options,
    )
    candidates = tuple(func.parameters()) if adjoint_params is None else tuple(adjoint_params)
    for index, p in enumerate(candidates):
        if not isinstance(p, torch.Tensor):
            raise ValueError(f"`adjoint_params[{index}]` is a {type(p).__name__}, not a tensor.")
    # as torchdiffeq: tensors that do not require grad get no gradient and are skipped
    params = tuple(p for p in candidates if p.requires_grad)
    seminorm = bool(seminorm) or backward_kwargs.pop("_seminorm", False)

    if event_fn is not None:  # the event time first (no graph), then the adjoint solve to it
        from .ode._odeint_event import odeint_event

        if structure is not None:
            raise ValueError("odeint_adjoint with `event_fn` takes a tensor `y0`; for a tuple "
                             "state use course_utils.ode.odeint_event(..., odeint_interface="
                             "odeint_adjoint).")
        kwargs = dict(method=method, rtol=rtol, atol=atol, options=options,
                      adjoint_method=adjoint_method, adjoint_rtol=adjoint_rtol,
                      adjoint_atol=adjoint_atol, adjoint_step_size=adjoint_step_size,
                      adjoint_options=adjoint_options, adjoint_params=candidates,
                      seminorm=seminorm, **solver_options)
        reverse = len(t) > 1 and bool(t[1] < t[0])
        return odeint_event(func, y0, t[0], event_fn=event_fn, reverse_time=reverse,
                            odeint_interface=odeint_adjoint, **kwargs)

    stats = None
    if return_stats:
        from .ode import SolveStats

        stats = AdjointStats(forward=SolveStats())
    settings = _Settings(func=func, forward_kwargs=forward_kwargs,
                         backward_kwargs=backward_kwargs, seminorm=seminorm,
                         stats=stats)
    if _FUNCTION is None:
        _FUNCTION = _make_function()
    ys = _FUNCTION.apply(settings, y0, t, *params)
    if structure is not None:
        ys = structure.unflatten_stacked(ys)
    return (ys, stats) if return_stats else ys


class _FlatField:
    """A tuple-state field as a function of the flat state (keeps the parameters)."""

    def __init__(self, flat, module):
        self.flat, self.module = flat, module

    def __call__(self, t, y):
        return self.flat(t, y)

    def parameters(self):
        return self.module.parameters() if hasattr(self.module, "parameters") else iter(())


def linear_ode_gradients(A, y0, T, grad_g, times=None):
    r"""Closed-form adjoint of ``y' = A y``, ``y(0) = y0``, ``L = g(y(T))`` (NumPy).

    The adjoint ``a(t) = ∂L/∂y(t)`` solves ``a' = -Aᵀ a``, ``a(T) = ∇g(y(T))``, so

    .. math::
       a(t) = e^{A^\top (T - t)} \nabla g, \qquad
       \frac{\partial L}{\partial y_0} = a(0), \qquad
       \frac{\partial L}{\partial A} = \int_0^T a(t)\, y(t)^\top dt
       = \int_0^T e^{A^\top (T-t)} \nabla g\, y_0^\top e^{A^\top t}\, dt .

    The integral is the top-right block of ``expm(T [[Aᵀ, ∇g y0ᵀ], [0, Aᵀ]])``
    (Van Loan, "Computing integrals involving the matrix exponential", IEEE TAC 1978).

    Parameters
    ----------
    A : array_like, shape (n, n)
    y0 : array_like, shape (n,)
    T : float
        Final time.
    grad_g : callable
        ``grad_g(y_T) -> ∇g`` of shape ``(n,)``.
    times : array_like, shape (k,), optional
        Also return the adjoint at these times.

    Returns
    -------
    grad_y0 : ndarray, shape (n,)
    grad_A : ndarray, shape (n, n)
    adjoint : ndarray, shape (k, n)
        ``a(times[j])``; only if ``times`` is given.

    Notes
    -----
    Introduced in ``05_adjoint_autodiff``, section 4 (the syllabus question; Exercise
    5.6 asks for it).
    """
    import numpy as np
    from scipy.linalg import expm

    A = np.asarray(A, dtype=float)
    y0 = np.asarray(y0, dtype=float)
    size = y0.shape[0]
    if A.shape != (size, size):
        raise ValueError(f"`A` must have shape ({size}, {size}) to match `y0`, got {A.shape}")
    g = np.asarray(grad_g(expm(A * T) @ y0), dtype=float)  # ∇g(y(T)), (n,)
    block = np.zeros((2 * size, 2 * size))
    block[:size, :size] = A.T
    block[:size, size:] = np.outer(g, y0)
    block[size:, size:] = A.T
    grad_a = expm(block * T)[:size, size:]
    grad_y0 = expm(A.T * T) @ g
    if times is None:
        return grad_y0, grad_a
    adjoint = np.stack([expm(A.T * (T - s)) @ g for s in np.asarray(times, dtype=float)])
    return grad_y0, grad_a, adjoint
