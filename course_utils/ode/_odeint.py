"""``odeint``: validate and normalise once, pick a step and a controller, run the loop."""

import math

import numpy as np

from ._backend import get_backend, is_torch
from ._controllers import ConstantStep, PIController, StiffnessDetector
from ._loop import integrate
from ._options import check_tolerance, options_doc, resolve_options
from ._registry import resolve_method
from ._stats import SolveStats

__all__ = ["odeint", "check_times", "prepare"]


def check_times(t):
    """Return the output times as a list of floats; they must be 1-D and strictly monotonic."""
    if is_torch(t):
        t = t.detach().tolist()
    elif isinstance(t, np.ndarray):
        t = t.tolist()
    if isinstance(t, (list, tuple)) and all(type(v) is float for v in t):
        times = list(t)  # the common case, checked in pure Python (fast for short t)
    else:
        try:
            arr = np.asarray(t, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                "`t` must be a 1-D sequence of output times, e.g. t=[0.0, 1.0]."
            ) from None
        if arr.ndim != 1:
            got = "a scalar" if arr.ndim == 0 else f"shape {arr.shape}"
            raise ValueError(
                f"`t` must be a 1-D sequence of output times (got {got}), e.g. t=[0.0, 1.0]."
            )
        times = arr.tolist()
    if not times:
        raise ValueError("`t` must contain at least one time (the initial time t[0]).")
    if not all(math.isfinite(v) for v in times):
        raise ValueError("`t` contains NaN or inf.")
    for i in range(1, len(times)):
        if times[i] == times[i - 1]:
            raise ValueError(
                f"`t` must be strictly monotonic, but t[{i}] = t[{i - 1}] = {times[i]:g}: "
                "each output time may appear once."
            )
    if len(times) > 1:
        increasing = times[1] > times[0]
        for i in range(2, len(times)):
            if (times[i] < times[i - 1]) if increasing else (times[i] > times[i - 1]):
                way = "increasing" if increasing else "decreasing"
                raise ValueError(
                    f"`t` must be strictly increasing or strictly decreasing; it starts "
                    f"{way} but t[{i}]={times[i]:g} follows t[{i - 1}]={times[i - 1]:g}."
                )
    return times


def prepare(method, y0, t, rtol, atol, options, solver_options, *, prefix=""):
    """Validate every argument of a solve once; return what :func:`odeint` runs.

    Returns ``(method, y0, backend, times, options, rtol, atol)`` with the method object,
    ``y0`` as a floating array/tensor, its backend, ``t`` as a list of floats, the
    validated :class:`~course_utils.ode._options.SolveOptions`, and the tolerances in the
    backend's form (floats, or arrays/tensors broadcastable to the state).
    """
    method = resolve_method(method)
    opts = resolve_options(method, solver_options, options, prefix=prefix)
    y0, backend = get_backend(y0)
    if backend.size == 0:
        raise ValueError("`y0` is empty; it must hold at least one number.")
    if not backend.all_finite(y0):
        raise ValueError("`y0` contains NaN or inf; the initial state must be finite.")
    times = check_times(t)
    rtol = check_tolerance(rtol, prefix + "rtol")
    atol = check_tolerance(atol, prefix + "atol")
    if method.adaptive:
        rtol_a, atol_a = np.asarray(_host(rtol)), np.asarray(_host(atol))
        if np.any(np.broadcast_to(rtol_a, np.broadcast_shapes(rtol_a.shape, atol_a.shape))
                  + atol_a <= 0):
            raise ValueError(
                f"`{prefix}rtol` and `{prefix}atol` are both 0 (somewhere): the error "
                "test needs one of them positive in every component."
            )
    rtol = backend.floor_rtol(backend.tolerance(rtol, prefix + "rtol")) if method.adaptive \
        else backend.tolerance(rtol, prefix + "rtol")
    atol = backend.tolerance(atol, prefix + "atol")
    return method, y0, backend, times, opts, rtol, atol


def _host(value):
    from .._arrays import to_numpy

    return to_numpy(value, dtype=float)


def odeint(func, y0, t, *, method="dopri5", rtol=1e-7, atol=1e-9, options=None,
           return_stats=False, **solver_options):
    if not callable(func):
        raise TypeError(f"`func` must be callable as func(t, y), got {type(func).__name__}.")
    method, y0, backend, times, opts, rtol, atol = prepare(
        method, y0, t, rtol, atol, options, solver_options
    )
    stats = SolveStats()
    if opts.per_sample and len(times) > 1:  # per-sample step control (issue 17)
        from ._per_sample import integrate_per_sample

        ys = integrate_per_sample(func, method, y0, times, backend=backend, rtol=rtol,
                                  atol=atol, first_step=opts.first_step,
                                  max_steps=opts.max_steps, stats=stats)
        return (ys, stats) if return_stats else ys
    evaluator = backend.evaluator(func)
    if len(times) == 1:
        ys = backend.stack([y0])
    else:
        step = method.make_step(evaluator, backend, opts, stats)
        detector = None
        if method.adaptive:
            make_controller = getattr(method, "make_controller", None)  # stiff (issue 14)
            controller = (
                make_controller(step, rtol, atol, opts) if make_controller is not None
                else PIController(method.error_order, rtol, atol, first_step=opts.first_step)
            ).attach(backend, evaluator, stats, times[0], times[-1])
            if getattr(step, "detects_stiffness", False) and opts.stiffness_test:
                detector = StiffnessDetector(stats)
        else:
            controller = ConstantStep(opts.step_size, times[0], times[-1], opts.max_steps)
        try:
            ys = integrate(step, controller, y0, times, backend=backend, evaluator=evaluator,
                           stats=stats, max_steps=opts.max_steps, detector=detector)
        finally:
            stats.nfe = evaluator.nfe
    stats.nfe = evaluator.nfe
    return (ys, stats) if return_stats else ys


odeint.__doc__ = r"""Solve the initial value problem ``dy/dt = func(t, y)``, ``y(t[0]) = y0``.

    The calling convention is torchdiffeq's, so ``from torchdiffeq import odeint``
    can replace ``from course_utils.ode import odeint`` (for the default method and
    ``rtol``/``atol``). It works on NumPy arrays and on torch tensors of any dtype
    and device; with torch, autograd differentiates through the solve
    (backpropagation through the solver's operations, not the adjoint method).
    ``t`` is treated as data: no gradient flows to it.

    Introduced in notebook ``01_one_step_methods`` (Euler, backward Euler, θ-method),
    used in ``02_runge_kutta_multistep`` (RK tableaus, adaptive pairs, multistep
    methods) and ``05_adjoint_autodiff``/``06_neural_odes`` (torch). How it works:
    ``course_utils/ode/__init__.py`` gives the reading order of the package.

    Parameters
    ----------
    func : callable
        ``func(t, y)`` returns ``dy/dt`` with the shape and dtype of ``y``. ``t`` is
        passed as a Python float for NumPy states and as a 0-d tensor (dtype and device
        of ``y0``) for torch states.
    y0 : array_like or torch.Tensor, shape (*state_shape)
        Initial state at ``t[0]``, any shape (e.g. ``(batch, dim)``). Integer input is
        converted to floating point.
    t : array_like or torch.Tensor, shape (num_times,)
        Output times, strictly increasing or strictly decreasing (backward in time);
        ``t[0]`` is the initial time. Intermediate times never shorten a step (dense
        output interpolates to them).
    method : str, ButcherTableau or method object
        One of :func:`list_methods` (default ``'dopri5'``): fixed-step explicit RK
        ``euler, midpoint, heun, ralston, rk3, rk4, rk38``; adaptive ``bosh3, dopri5,
        fehlberg45``; implicit one-step ``backward_euler, trapezoidal, theta,
        implicit_midpoint``; multistep ``ab1..ab4, am1..am4, abm1..abm4, bdf1..bdf4``;
        adaptive stiff ``kvaerno3, sdirk4, trbdf2, rosenbrock23`` and ``auto``
        (dopri5, switching to sdirk4 while the problem is stiff).
        A :class:`ButcherTableau` gives a fixed-step method (explicit or diagonally
        implicit), or an adaptive one if it is explicit and has ``b_hat``.
    rtol, atol : float or array_like
        Relative and absolute tolerances of adaptive methods (non-negative, not both 0;
        arrays broadcast against the state). A step is accepted when
        ``rms(err / (atol + rtol * max(|y_n|, |y_{n+1}|))) <= 1``. An ``rtol`` below the
        unit roundoff of the state's dtype is raised to it, with a warning. Ignored by
        fixed-step methods, as in torchdiffeq.
    options : dict, optional
        torchdiffeq-style alternative to the solver-option keywords below, e.g.
        ``options={"step_size": 0.1}``.
    return_stats : bool
        Also return a :class:`SolveStats` (nfe, accepted/rejected steps, step sizes,
        Jacobian evaluations, Newton iterations).
    **solver_options
        The solver options (one table, ``course_utils.ode._options.OPTIONS``):

{options}

    Output times. Fixed-step methods step on the grid ``t[0] + k * step_size``; an
    output time on the grid returns the computed value itself, one between grid points
    is interpolated with the cubic Hermite polynomial through ``y`` and ``f`` at both
    ends of its step. Multistep methods take their starting steps, and a shortened last
    step, with a one-step starter of their order: rk4 for the explicit ones (``ab*``,
    ``abm*``), backward Euler extrapolated to the method's order for the implicit ones
    (``am*``, ``bdf*``). Adaptive methods serve output times from their dense output
    (dopri5's own continuous extension of order 4, else cubic Hermite).

    Returns
    -------
    ys : ndarray or torch.Tensor, shape (num_times, *state_shape)
        ``ys[i]`` approximates ``y(t[i])``; ``ys[0]`` is ``y0``.
    stats : SolveStats
        Only if ``return_stats=True``.

    Raises
    ------
    ValueError
        Bad arguments: unknown method or option, ``t`` not 1-D/monotonic/empty,
        non-finite ``y0``, negative tolerances or step size, missing ``step_size`` for a
        fixed-step method, an option the method does not use, ``func`` returning the
        wrong shape or dtype.
    ODESolverError
        (a RuntimeError) Failure during the solve: step-size underflow, ``max_steps``
        exhausted, stiffness detected by dopri5, NaN/inf in the solution, or Newton not
        converging (:class:`NewtonConvergenceError`). Its ``t`` attribute is the time
        reached and ``stats`` the statistics so far.

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
    """.replace("{options}", options_doc(indent="        "))
