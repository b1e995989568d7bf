"""``odeint``: the one driver of every method (NumPy arrays and torch tensors)."""

from ._backend import get_ops
from ._base import SolveOptions
from ._registry import resolve_method
from ._stats import SolveStats
from ._validation import (
    check_int,
    check_positive,
    check_theta,
    check_times,
    check_y0_finite,
)

__all__ = ["odeint"]

_METHOD_OPTIONS = ("step_size", "first_step", "theta", "jac", "newton_tol", "max_newton_iters")
_OPTION_KEYS = frozenset(_METHOD_OPTIONS + ("max_steps",))


def odeint(
    func,
    y0,
    t,
    *,
    method="dopri5",
    rtol=1e-7,
    atol=1e-9,
    step_size=None,
    max_steps=100_000,
    first_step=None,
    theta=None,
    jac=None,
    newton_tol=None,
    max_newton_iters=None,
    options=None,
    return_stats=False,
):
    r"""Solve the initial value problem ``dy/dt = func(t, y)``, ``y(t[0]) = y0``.

    The calling convention is torchdiffeq's, so ``from torchdiffeq import odeint``
    can replace ``from course_utils.ode import odeint`` (for the default method and
    ``rtol``/``atol``). It works on NumPy arrays and on torch tensors of any dtype
    and device; with torch, autograd differentiates through the solve
    (backpropagation through the solver's operations, not the adjoint method).
    ``t`` is treated as data: no gradient flows to it.

    Introduced in notebook ``01_one_step_methods`` (Euler, backward Euler, θ-method),
    used in ``02_runge_kutta_multistep`` (RK tableaus, adaptive pairs, multistep
    methods) and ``05_adjoint_autodiff``/``06_neural_odes`` (torch).

    Parameters
    ----------
    func : callable
        ``func(t, y)`` returns ``dy/dt`` with the shape of ``y``. ``t`` is passed as a
        Python float for NumPy states and as a 0-d tensor (dtype and device of ``y0``)
        for torch states.
    y0 : array_like or torch.Tensor, shape (*state_shape)
        Initial state at ``t[0]``, any shape (e.g. ``(batch, dim)``). Integer input is
        converted to floating point.
    t : array_like or torch.Tensor, shape (num_times,)
        Output times, strictly increasing or strictly decreasing (backward in time);
        ``t[0]`` is the initial time. Intermediate times never shorten the steps of
        an adaptive method (dense output interpolates to them).
    method : str, ButcherTableau or method object
        One of :func:`list_methods` (default ``'dopri5'``): fixed-step explicit RK
        ``euler, midpoint, heun, ralston, rk3, rk4, rk38``; adaptive ``bosh3, dopri5,
        fehlberg45``; implicit one-step ``backward_euler, trapezoidal, theta,
        implicit_midpoint``; multistep ``ab1..ab4, am1..am4, abm1..abm4, bdf1..bdf4``.
        A :class:`ButcherTableau` gives a fixed-step method, or an adaptive one if it
        has ``b_hat``.
    rtol, atol : float or array_like
        Relative and absolute tolerances of adaptive methods (positive; arrays
        broadcast against the state). A step is accepted when
        ``rms(err / (atol + rtol * max(|y_n|, |y_{n+1}|))) <= 1``. Ignored by fixed-step
        methods, as in torchdiffeq.
    step_size : float, optional
        Step size of fixed-step methods (required for them, an error for adaptive
        ones). The grid is ``t[0] + k * step_size``; if the span is not a multiple of
        it, the last step is shortened to end exactly at ``t[-1]``. Output times on
        the grid return the computed values exactly; output times between grid
        points are interpolated with the cubic Hermite polynomial through ``y`` and
        ``f`` at both ends of their step. Multistep methods take their starting
        steps, and a shortened last step, with a one-step starter of their order: rk4
        for the explicit ones (``ab*``, ``abm*``), backward Euler extrapolated to the
        method's order for the implicit ones (``am*``, ``bdf*``).
    max_steps : int
        Maximum number of steps (accepted plus rejected); exceeding it raises an
        error instead of running forever.
    first_step : float, optional
        Size of the first trial step of an adaptive method (default: Hairer's
        automatic choice, one extra evaluation of ``func``).
    theta : float, optional
        θ in [0, 1] for ``method='theta'``:
        ``y_{n+1} = y_n + h (θ f(t_n, y_n) + (1-θ) f(t_{n+1}, y_{n+1}))``
        (θ = 1 explicit Euler, θ = 0 backward Euler, θ = ½ trapezoidal).
    jac : callable, optional
        ``jac(t, y)`` returns ``∂f/∂y`` of shape ``(n, n)`` (``n = y.size``) or
        ``(*state_shape, *state_shape)``, for implicit methods. Default: autograd for
        torch (``torch.func.jacrev``), forward finite differences for NumPy.
    newton_tol : float, optional
        Newton stops when its correction ``max|δ|``, or the error left estimated from
        the contraction rate ``q = |δ_k|/|δ_{k-1}|`` as ``q/(1-q) max|δ|`` (Hairer &
        Wanner II, Sec. IV.8), is at most ``newton_tol * (1 + max|y|)`` (default 1e-10,
        but never below 100 machine epsilons of the state's dtype).
    max_newton_iters : int, optional
        Newton iterations per implicit solve before giving up (default 25; from a poor
        predictor, e.g. through the initial layer of a stiff problem, Newton converges
        only linearly at first: the first backward-Euler step of 0.1 on Robertson's
        reactions takes 13).
    options : dict, optional
        torchdiffeq-style alternative to the keywords above, e.g.
        ``options={"step_size": 0.1}``.
    return_stats : bool
        Also return a :class:`SolveStats` (nfe, accepted/rejected steps, step sizes,
        Jacobian evaluations, Newton iterations).

    Returns
    -------
    ys : ndarray or torch.Tensor, shape (num_times, *state_shape)
        ``ys[i]`` approximates ``y(t[i])``; ``ys[0]`` is ``y0``.
    stats : SolveStats
        Only if ``return_stats=True``.

    Raises
    ------
    ValueError
        Bad arguments: unknown method, ``t`` not 1-D/monotonic/empty, non-finite
        ``y0``, non-positive tolerances or step size, missing ``step_size`` for a
        fixed-step method, an option the method does not use, ``func`` returning the
        wrong shape.
    ODESolverError
        (a RuntimeError) Failure during the solve: step-size underflow, ``max_steps``
        exhausted, NaN/inf in the solution, or Newton not converging
        (:class:`NewtonConvergenceError`). The message gives the time reached.

    Examples
    --------
    >>> import numpy as np
    >>> ys = odeint(lambda t, y: -y, np.array([1.0]), np.linspace(0, 1, 5))
    >>> ys.shape, round(float(ys[-1, 0]), 6)
    ((5, 1), 0.367879)
    >>> ys, stats = odeint(lambda t, y: -y, np.array([1.0]), [0, 1], method="rk4",
    ...                    step_size=0.1, return_stats=True)
    >>> stats.nfe
    40
    """
    solver = resolve_method(method)
    if not callable(func):
        raise TypeError(f"`func` must be callable as func(t, y), got {type(func).__name__}.")
    given = {
        "step_size": step_size,
        "first_step": first_step,
        "theta": theta,
        "jac": jac,
        "newton_tol": newton_tol,
        "max_newton_iters": max_newton_iters,
    }
    if options is not None:
        if not isinstance(options, dict):
            raise ValueError(f"`options` must be a dict, got {type(options).__name__}.")
        unknown = set(options) - _OPTION_KEYS
        if unknown:
            raise ValueError(
                f"Unknown key(s) {sorted(unknown)} in `options`; known: {sorted(_OPTION_KEYS)}."
            )
        for key, value in options.items():
            if key == "max_steps":
                max_steps = value
            elif given[key] is not None:
                raise ValueError(f"`{key}` given both as a keyword and in `options`.")
            else:
                given[key] = value

    opts = _validate_options(solver, given, max_steps)
    y0, ops = get_ops(y0)
    check_y0_finite(y0, ops)
    times = check_times(t)
    opts.rtol = ops.tolerance(check_positive(rtol, "rtol", allow_array=True), "rtol")
    opts.atol = ops.tolerance(check_positive(atol, "atol", allow_array=True), "atol")

    stats = SolveStats()
    evaluator = ops.evaluator(func)
    if len(times) == 1:
        ys = ops.stack([y0])
    else:
        ys = solver.solve(evaluator, ops, y0, times, opts, stats)
    stats.nfe = evaluator.nfe
    return (ys, stats) if return_stats else ys


def _validate_options(solver, given, max_steps):
    """Check the method-specific keywords against what ``solver`` accepts."""
    for name, value in given.items():
        if value is not None and name not in solver.options:
            hint = ""
            if name == "step_size" and solver.adaptive:
                hint = (
                    " It chooses its own steps from `rtol`/`atol`; use `first_step` to set "
                    "the first one."
                )
            elif name == "first_step":
                hint = " It is a fixed-step method: use `step_size`."
            raise ValueError(
                f"`{name}` does not apply to method {solver.name!r} "
                f"({'adaptive' if solver.adaptive else 'fixed step'}"
                f"{', implicit' if solver.implicit else ''}).{hint}"
            )
    opts = SolveOptions(max_steps=check_int(max_steps, "max_steps"))
    if "step_size" in solver.options:
        if given["step_size"] is None:
            raise ValueError(
                f"Method {solver.name!r} is a fixed-step method and needs `step_size` "
                "(e.g. step_size=0.01)."
            )
        opts.step_size = check_positive(given["step_size"], "step_size")
    if given["first_step"] is not None:
        opts.first_step = check_positive(given["first_step"], "first_step")
    if given["theta"] is not None:
        opts.theta = check_theta(given["theta"])
    elif "theta" in solver.options:
        raise ValueError("method='theta' needs `theta=` (a number in [0, 1]).")
    if given["jac"] is not None:
        if not callable(given["jac"]):
            raise TypeError("`jac` must be callable as jac(t, y).")
        opts.jac = given["jac"]
    if given["newton_tol"] is not None:
        opts.newton_tol = check_positive(given["newton_tol"], "newton_tol")
    if given["max_newton_iters"] is not None:
        opts.max_newton_iters = check_int(given["max_newton_iters"], "max_newton_iters")
    return opts
