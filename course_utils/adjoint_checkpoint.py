r"""The interpolating adjoint: keep the forward solution, solve backwards for ``a``, ``g_θ`` only.

``odeint_interpolated_adjoint(func, y0, t)`` returns the same solution as
:func:`course_utils.ode.odeint` and differentiates it by the continuous adjoint method,
like :func:`course_utils.adjoint.odeint_adjoint`, with one difference:

* the **backsolve** adjoint (``odeint_adjoint``; Chen et al. 2018) keeps only the outputs
  ``y(t_i)`` and *reconstructs* ``y(t)`` by integrating ``y' = f`` backwards next to the
  adjoint. Backwards in time a dissipative field becomes an expanding one, so the
  reconstructed ``y`` — and with it the gradient — can be far off (Gholami, Keutzer &
  Biros 2019, "ANODE");
* the **interpolating** adjoint (this module; SciMLSensitivity's ``InterpolatingAdjoint``,
  diffrax's checkpointed adjoint in spirit) keeps, for every accepted forward step, the
  coefficients of the step's interpolant — dopri5's continuous extension of order 4, or
  the cubic Hermite polynomial for the other methods — and the backward pass integrates
  only

  .. math::
     a' = -a^\top \frac{\partial f}{\partial y}\big(t, y(t)\big), \qquad
     g_\theta' = -a^\top \frac{\partial f}{\partial \theta}\big(t, y(t)\big),

  with ``y(t)`` read from the interpolant: no reconstruction, so nothing to go unstable.

Memory: ``K + 1`` state-sized tensors per accepted forward step (``K = 4`` for dopri5 and
for the Hermite polynomial: the polynomial's coefficients in ``θ``), so it grows with the
number of steps kept — between the backsolve adjoint (the outputs only) and backprop
(every stage of every step, and every intermediate of ``func``).

Introduced in ``05_adjoint_autodiff``, section "Optimise-then-discretise or
discretise-then-optimise"; chosen through :func:`course_utils.gradients.odeint_gradient`.

References
----------
R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud, "Neural Ordinary Differential
Equations", NeurIPS 2018.
A. Gholami, K. Keutzer, G. Biros, "ANODE: Unconditionally Accurate Memory-Efficient
Gradients for Neural ODEs", IJCAI 2019.
C. Rackauckas et al., "Universal Differential Equations for Scientific Machine Learning"
(2020), the sensitivity-analysis choices of SciMLSensitivity.jl.
"""

from __future__ import annotations

import bisect
import math

from .adjoint import AdjointStats, _accumulate, _state_times_and_settings, adjoint_dynamics

__all__ = ["odeint_interpolated_adjoint", "DenseSolution", "solve_dense"]


class DenseSolution:
    """The forward solution as a piecewise polynomial: one polynomial in ``θ`` per step.

    For the step from ``t_n`` of size ``h_n``, ``y(t_n + θ h_n) = Σ_k θ^k C_{n,k}``
    (``C_{n,0} = y_n``). :meth:`__call__` finds the step that holds ``t`` (a bisection on
    the step starts) and evaluates its polynomial by Horner's rule.

    Attributes
    ----------
    starts, sizes : list of float
        ``t_n`` and the signed ``h_n`` of every accepted step.
    coefficients : list of tensor, each shape (K + 1, *state_shape)
    """

    def __init__(self, direction):
        self.direction = direction
        self.starts, self.sizes, self.coefficients = [], [], []
        self._keys = []  # direction * t_n: increasing, for bisect

    def add(self, t, h, coefficients):
        self.starts.append(float(t))
        self.sizes.append(float(h))
        self._keys.append(self.direction * float(t))
        self.coefficients.append(coefficients)

    @property
    def num_steps(self):
        return len(self.starts)

    @property
    def nbytes(self):
        """Bytes held by the polynomial coefficients (what this adjoint keeps)."""
        return sum(c.numel() * c.element_size() for c in self.coefficients)

    def __call__(self, t):
        """``y(t)`` from the interpolant of the step that holds ``t`` (clamped to the span)."""
        t = float(t)
        index = bisect.bisect_right(self._keys, self.direction * t) - 1
        index = min(max(index, 0), len(self.starts) - 1)
        theta = (t - self.starts[index]) / self.sizes[index]
        theta = min(max(theta, 0.0), 1.0)
        coefficients = self.coefficients[index]
        value = coefficients[-1]
        for k in range(coefficients.shape[0] - 2, -1, -1):
            value = value * theta + coefficients[k]
        return value


class _Recorder:
    """Wraps a controller: every accepted step's interpolant goes into a :class:`DenseSolution`.

    The loop (``course_utils.ode._loop.integrate``) is unchanged: it asks the controller
    ``propose(t)`` and then ``judge(result, y, h)``; the recorder remembers ``t`` from the
    first and, when the second accepts, turns the step into polynomial coefficients.
    """

    def __init__(self, controller, step, evaluator, dense):
        self.controller = controller
        self.snap = controller.snap
        self.step = step
        self.evaluator = evaluator
        self.dense = dense
        self.pending = None  # a Hermite step still waiting for f at its end
        self._t = None
        weights = getattr(step, "dense", None)
        self.weights = None if weights is None else [weights[:, k] for k in range(weights.shape[1])]

    @property
    def rejects_non_finite(self):
        return self.controller.rejects_non_finite

    @property
    def on_jump(self):
        return self.controller.on_jump

    def start(self, t0, y0, f0):
        self.controller.start(t0, y0, f0)

    def propose(self, t):
        self._t = t
        return self.controller.propose(t)

    def judge(self, result, y, h):
        if self.pending is not None and result.f is not None:
            self._finish_hermite(result.f)  # f at the start of this step ends the last one
        accepted = self.controller.judge(result, y, h)
        if accepted:
            if self.weights is not None:  # the tableau's continuous extension
                combine = self.step.stages.combine
                parts = [y] + [combine(y, h, w, result.stages) - y for w in self.weights]
                self.dense.add(self._t, h, _stack(parts))
            else:
                self.pending = (self._t, h, y, result.y_new, result.f, result.f_new)
                if result.f_new is not None:
                    self._finish_hermite(result.f_new)
        return accepted

    def _finish_hermite(self, f_end):
        t, h, y, y_new, f, _ = self.pending
        if f is None:
            f = self.evaluator(t, y)
        delta = y_new - y
        c1 = f * h
        c2 = delta * 3.0 - (f * 2.0 + f_end) * h
        c3 = delta * -2.0 + (f + f_end) * h
        self.dense.add(t, h, _stack([y, c1, c2, c3]))
        self.pending = None

    def finish(self, t_end, y_end):
        if self.pending is not None:
            self._finish_hermite(self.evaluator(t_end, y_end))


def _stack(parts):
    import torch

    return torch.stack([p.detach() for p in parts])


def solve_dense(func, y0, t, *, return_stats=False, **kwargs):
    """``odeint`` that also returns the whole solution as a :class:`DenseSolution`.

    Same arguments as :func:`course_utils.ode.odeint` (torch states). Returns
    ``(ys, dense)`` or ``(ys, dense, stats)``. Runs the engine's own loop with the
    controller wrapped by a recorder, so the solution is exactly ``odeint``'s.
    """
    from .ode import SolveStats
    from .ode._loop import integrate
    from .ode._odeint import build_solver, prepare

    options = kwargs.pop("options", None)
    method = kwargs.pop("method", "dopri5")
    rtol, atol = kwargs.pop("rtol", 1e-7), kwargs.pop("atol", 1e-9)
    method, y0, backend, times, opts, rtol, atol = prepare(
        method, y0, t, rtol, atol, options, kwargs
    )
    if opts.per_sample:
        raise ValueError(
            "`per_sample=True` is not supported by the interpolating adjoint (its "
            "interpolants are per step of the whole batch); use gradient='backprop' or "
            "'backsolve' for per-sample steps."
        )
    stats = SolveStats()
    evaluator = backend.evaluator(func)
    direction = 1.0 if len(times) < 2 or times[-1] > times[0] else -1.0
    dense = DenseSolution(direction)
    if len(times) == 1:
        ys = backend.stack([y0])
    else:
        step, controller, detector = build_solver(method, opts, backend, evaluator, stats,
                                                  times, rtol, atol)
        recorder = _Recorder(controller, step, evaluator, dense)
        try:
            ys = integrate(step, recorder, y0, times, backend=backend, evaluator=evaluator,
                           stats=stats, max_steps=opts.max_steps, detector=detector)
            recorder.finish(times[-1], ys[-1])
        finally:
            stats.nfe = evaluator.nfe
    stats.nfe = evaluator.nfe
    return (ys, dense, stats) if return_stats else (ys, dense)


def _tolerances(torch, rtol, atol, seminorm, num_state, num_params, dtype, device):
    """rtol/atol for the flat backward state ``(a, g_θ)``; with ``seminorm`` only ``a``
    counts (the RMS over all channels then equals the RMS over the ``n`` adjoint ones)."""
    if not seminorm or num_params == 0:
        return rtol, atol
    total = num_state + num_params
    scale = math.sqrt(num_state / total)
    huge = float(torch.finfo(dtype).max) ** 0.5
    rtols = torch.full((total,), rtol * scale, dtype=dtype, device=device)
    atols = torch.full((total,), atol * scale, dtype=dtype, device=device)
    rtols[num_state:] = 1.0
    atols[num_state:] = huge
    return rtols, atols


def _make_function():
    import torch

    from .ode import odeint

    class _InterpolatedAdjoint(torch.autograd.Function):
        """Forward: solve without a graph, keep the interpolants. Backward: (a, g_θ) only."""

        @staticmethod
        def forward(ctx, settings, y0, t, *params):
            ys, dense, stats = solve_dense(settings["func"], y0, t, return_stats=True,
                                           **settings["forward_kwargs"])
            if settings["stats"] is not None:
                settings["stats"].forward = stats
                settings["stats"].dense_bytes = dense.nbytes
            ctx.settings, ctx.dense = settings, dense
            ctx.save_for_backward(t, ys, *params)
            return ys

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad_ys):
            settings, dense = ctx.settings, ctx.dense
            t, ys, *params = ctx.saved_tensors
            func, params = settings["func"], tuple(params)
            shape = ys.shape[1:]
            num_state = ys[0].numel()
            num_params = sum(p.numel() for p in params)
            stats = settings["stats"]

            def augmented(time, state):  # state: (n + P,) = [a, g_θ] flattened
                y = dense(time)
                a = state[:num_state].view(shape)
                _, a_dot, param_dots = adjoint_dynamics(func, time, y, a, params)
                return torch.cat([a_dot.reshape(-1)] + [g.reshape(-1) for g in param_dots])

            kwargs = dict(settings["backward_kwargs"])
            kwargs.pop("jac", None)
            rtol, atol = _tolerances(torch, kwargs.pop("rtol"), kwargs.pop("atol"),
                                     settings["seminorm"], num_state, num_params,
                                     ys.dtype, ys.device)
            adj = grad_ys[-1].clone()
            param_grad = ys.new_zeros(num_params)
            t_grads = torch.zeros_like(t) if ctx.needs_input_grad[2] else None
            extra_nfe = 0
            for i in range(len(t) - 1, 0, -1):
                if t_grads is not None:  # dL/dt_i = ∂L/∂y(t_i) · f(t_i, y(t_i))
                    with torch.no_grad():
                        t_grads[i] = (grad_ys[i] * func(t[i], ys[i])).sum()
                    extra_nfe += 1
                state = torch.cat([adj.reshape(-1), param_grad])
                span = torch.stack([t[i], t[i - 1]]).detach()
                solution, interval = odeint(augmented, state, span, rtol=rtol, atol=atol,
                                            return_stats=True, **kwargs)
                end = solution[-1]
                adj = end[:num_state].view(shape) + grad_ys[i - 1]
                param_grad = end[num_state:]
                if stats is not None:
                    _accumulate(stats.backward, interval)
            if t_grads is not None:
                with torch.no_grad():
                    t_grads[0] = -((adj - grad_ys[0]) * func(t[0], ys[0])).sum()
                extra_nfe += 1
            if stats is not None:
                stats.backward.nfe += extra_nfe
                stats.num_backward_calls += 1
            grads, offset = [], 0
            for p in params:
                grads.append(param_grad[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
            return (None, adj, t_grads, *grads)

    return _InterpolatedAdjoint


_FUNCTION = None


def odeint_interpolated_adjoint(
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
    **solver_options,
):
    r"""Solve ``dy/dt = func(t, y)``; differentiate by the adjoint method, ``y(t)`` interpolated.

    The same call, arguments and result as :func:`course_utils.adjoint.odeint_adjoint`
    (see there); only the backward pass differs. The forward pass keeps every accepted
    step's interpolant (see the module docstring), and the backward pass integrates the
    adjoint ``a`` and the parameter integral ``g_θ`` backwards with ``y(t)`` read from it,
    instead of re-integrating ``y`` backwards: correct gradients also where the backwards
    reconstruction of ``y`` is unstable (a dissipative field), and a backward state of
    ``n + P`` numbers instead of ``2n + P``.

    Parameters
    ----------
    func : torch.nn.Module
        The vector field ``func(t, y)``.
    y0 : torch.Tensor, shape (*state_shape)
    t : torch.Tensor or array_like, shape (num_times,)
    method, rtol, atol, options, **solver_options
        The forward solve's settings, as in :func:`~course_utils.ode.odeint`.
    return_stats : bool
        Also return an :class:`~course_utils.adjoint.AdjointStats`; it has one more
        attribute here, ``dense_bytes``: the bytes the kept interpolants hold.
    adjoint_method, adjoint_rtol, adjoint_atol, adjoint_step_size, adjoint_options
        Settings of the backward solve (default: the forward's), validated now.
    adjoint_params : sequence of torch.Tensor, optional
        The parameters to differentiate (default: ``func``'s that require grad).
    seminorm : bool
        Leave ``g_θ`` out of the backward solve's error norm (Kidger, Chen & Lyons 2021).

    Returns
    -------
    ys : torch.Tensor, shape (num_times, *state_shape)
    stats : AdjointStats
        Only if ``return_stats=True``.

    Examples
    --------
    >>> import torch
    >>> field = torch.nn.Linear(2, 2).double()
    >>> class Field(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.lin = field
    ...     def forward(self, t, y):
    ...         return torch.tanh(self.lin(y))
    >>> y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)
    >>> ys = odeint_interpolated_adjoint(Field(), y0, [0.0, 1.0])
    >>> ys[-1].sum().backward()
    """
    import torch

    global _FUNCTION
    if not isinstance(func, torch.nn.Module):
        raise ValueError(
            f"`func` must be a torch.nn.Module (got {type(func).__name__}) so that its "
            "parameters can be found: wrap the function in a module whose forward(t, y) "
            "computes it, or differentiate with gradient='backprop'."
        )
    t, forward_kwargs, backward_kwargs = _state_times_and_settings(
        y0, t, method, rtol, atol, options, solver_options, adjoint_method, adjoint_rtol,
        adjoint_atol, adjoint_step_size, adjoint_options,
    )
    if adjoint_params is None:
        params = tuple(p for p in func.parameters() if p.requires_grad)
    else:
        params = tuple(adjoint_params)
        for index, p in enumerate(params):
            if not isinstance(p, torch.Tensor) or not p.requires_grad:
                raise ValueError(
                    f"`adjoint_params[{index}]` does not require grad: leave it out of "
                    "`adjoint_params`, or call `.requires_grad_(True)` on it."
                )
    if backward_kwargs["method"].implicit:
        raise ValueError(
            f"`adjoint_method` {backward_kwargs['method'].name!r} is implicit; the "
            "interpolating adjoint integrates the linear adjoint ODE with an explicit "
            "method: pass an explicit `adjoint_method` (e.g. 'dopri5' or 'rk4')."
        )
    stats = None
    if return_stats:
        from .ode import SolveStats

        stats = AdjointStats(forward=SolveStats())
        stats.dense_bytes = 0
    settings = {"func": func, "forward_kwargs": forward_kwargs,
                "backward_kwargs": backward_kwargs, "seminorm": bool(seminorm),
                "stats": stats}
    if _FUNCTION is None:
        _FUNCTION = _make_function()
    ys = _FUNCTION.apply(settings, y0, t, *params)
    return (ys, stats) if return_stats else ys
