"""``odeint``: validate and normalise once, pick a step and a controller, run the loop."""

import math

import numpy as np

from ._backend import get_backend, is_torch
from ._compat import Callbacks, LinearInterpolation, time_gradient_outputs, time_gradient_start
from ._controllers import ConstantStep, GridSteps, PIController, StiffnessDetector
from ._errors import ODESolverError
from ._events import EventDetector
from ._loop import integrate
from ._options import check_tolerance, options_doc, resolve_options
from ._registry import resolve_method
from ._stats import SolveStats
from ._structure import TupleState, is_tuple_state

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
           return_stats=False, event_fn=None, **solver_options):
    if not callable(func):
        raise TypeError(f"`func` must be callable as func(t, y), got {type(func).__name__}.")
    user_func = func
    if method is None:  # torchdiffeq's default
        method = "dopri5"
    structure = None
    if is_tuple_state(y0):  # (z, logp): one flat vector inside (feature: torchdiffeq compat)
        structure = TupleState(y0, get_backend)
        func = structure.wrap(func)
        y0 = structure.flatten(structure.parts)
        rtol = structure.tolerance(rtol, "rtol")
        atol = structure.tolerance(atol, "atol")
    method, y0, backend, times, opts, rtol, atol = prepare(
        method, y0, t, rtol, atol, options, solver_options
    )
    if structure is not None and callable(opts.norm):
        user_norm = opts.norm
        opts.norm = lambda x: user_norm(structure.unflatten(x))
    stats = SolveStats()
    if opts.per_sample and len(times) > 1:  # per-sample step control (issue 17)
        from ._per_sample import integrate_per_sample

        ys = integrate_per_sample(func, method, y0, times, backend=backend, rtol=rtol,
                                  atol=atol, first_step=opts.first_step,
                                  max_steps=opts.max_steps, stats=stats)
        return (ys, stats) if return_stats else ys
    evaluator = backend.evaluator(func)
    time_grad = backend.time_gradient_wanted(t)
    y_start = time_gradient_start(backend, evaluator, t, y0) if time_grad else y0
    events = None
    if event_fn is not None:
        times, bounded = _event_times(times, event_fn, method, opts)
        events = EventDetector(event_fn, evaluator.func_time, structure, stats, times[0], y0)
    if len(times) == 1:
        ys = backend.stack([y0])
    elif getattr(method, "wraps_scipy", False):
        if event_fn is not None:
            raise ValueError("method='scipy_solver' does not take `event_fn`; use one of "
                             "the engine's methods (e.g. 'dopri5') for events.")
        try:
            ys = method.solve(evaluator, backend, y_start, times, rtol, atol, opts, stats)
        finally:
            stats.nfe = evaluator.nfe
    else:
        ys = _solve(method, opts, backend, evaluator, stats, y_start, times, rtol, atol,
                    Callbacks.of(user_func, evaluator, structure), events, user_func, y0, t,
                    event_fn is not None and not bounded)
    stats.nfe = evaluator.nfe
    if time_grad and events is None:
        ys = time_gradient_outputs(backend, evaluator, t, times, ys, y0)
        stats.nfe = evaluator.nfe
    if structure is not None:
        ys = structure.unflatten_stacked(ys)
    if events is not None:
        event_t = None if events.t_event is None else backend.time_value(events.t_event, t)
        ys = (event_t, ys)
        return (*ys, stats) if return_stats else ys
    return (ys, stats) if return_stats else ys


def build_solver(method, opts, backend, evaluator, stats, times, rtol, atol, *, grid=None):
    """The step, the controller and the stiffness detector (or None) of one solve.

    Fixed-step methods step on ``t[0] + k·step_size``, or without ``step_size`` on
    ``grid`` (default: the output times ``t``, as torchdiffeq does); adaptive ones get the
    method's own controller (the stiff pairs) or the PI controller. Also used by
    ``course_utils.adjoint_checkpoint``, which records the steps this solver takes.
    """
    detector = None
    if not method.adaptive:
        if opts.step_size is not None:
            controller = ConstantStep(opts.step_size, times[0], times[-1], opts.max_steps)
        else:  # torchdiffeq: step on t itself, or on grid_constructor's grid
            grid = times if grid is None else grid
            controller = GridSteps(grid, opts.max_steps)
            opts.step_size = abs(grid[1] - grid[0])  # multistep methods: their uniform step
    step = method.make_step(evaluator, backend, opts, stats)
    if method.adaptive:
        make_controller = getattr(method, "make_controller", None)  # stiff pairs, auto
        if make_controller is not None:
            controller = make_controller(step, rtol, atol, opts)
        else:
            controller = PIController(
                method.error_order, rtol, atol, first_step=opts.first_step,
                safety=opts.safety, ifactor=opts.ifactor, dfactor=opts.dfactor,
                norm=opts.norm, min_step=opts.min_step, max_step=opts.max_step,
                step_t=opts.step_t or (), jump_t=opts.jump_t or (),
            )
        controller.attach(backend, evaluator, stats, times[0], times[-1])
        if getattr(step, "detects_stiffness", False) and opts.stiffness_test:
            detector = StiffnessDetector(stats)
    if not method.adaptive and opts.interp == "linear":
        step = LinearInterpolation(step)
    return step, controller, detector


def _solve(method, opts, backend, evaluator, stats, y0, times, rtol, atol, callbacks,
           events, user_func, user_y0, user_t, unbounded):
    """Pick the step and the controller, run the loop."""
    grid = None
    if not method.adaptive and opts.step_size is None and opts.grid_constructor is not None:
        grid = _user_grid(opts.grid_constructor, user_func, user_y0, user_t, times)
    step, controller, detector = build_solver(method, opts, backend, evaluator, stats, times,
                                              rtol, atol, grid=grid)
    try:
        return integrate(step, controller, y0, times, backend=backend, evaluator=evaluator,
                         stats=stats, max_steps=opts.max_steps, detector=detector,
                         callbacks=callbacks, events=events, perturb=bool(opts.perturb))
    except ODESolverError as error:
        if unbounded:
            raise ODESolverError(
                "No terminal event found: the solve ran without finding a zero of "
                f"`event_fn` and stopped. {error}", t=error.t, stats=stats) from None
        raise
    finally:
        stats.nfe = evaluator.nfe


def _event_times(times, event_fn, method, opts):
    """torchdiffeq's form ``len(t) == 2``: only the direction of ``t[1]`` counts and the
    solve runs until the terminal event; otherwise ``t[-1]`` bounds it."""
    if len(times) < 2:
        raise ValueError("With `event_fn`, `t` needs at least two times: t[0] and a later "
                         "one giving the direction (torchdiffeq's form) or the bound.")
    terminal = not isinstance(event_fn, (list, tuple)) or any(
        getattr(g, "terminal", False) for g in event_fn)
    if len(times) != 2 or not terminal:
        return times, True
    direction = 1.0 if times[1] > times[0] else -1.0
    if method.adaptive:
        return [times[0], times[0] + direction * 1e300], False
    if opts.step_size is None:
        raise ValueError(
            f"Events with the fixed-step method {method.name!r} in torchdiffeq's form "
            "(len(t) == 2, no bound) need `step_size`; or give more output times so that "
            "t[-1] bounds the solve."
        )
    return [times[0], times[0] + direction * opts.step_size * opts.max_steps], False


def _user_grid(grid_constructor, func, y0, t, times):
    grid = check_times(grid_constructor(func, y0, t))
    if abs(grid[0] - times[0]) > 1e-12 * max(1.0, abs(times[0])) or \
            abs(grid[-1] - times[-1]) > 1e-12 * max(1.0, abs(times[-1])) or len(grid) < 2:
        raise ValueError(
            "`grid_constructor(func, y0, t)` must return a grid that starts at t[0] and "
            f"ends at t[-1]; got one from {grid[0]:g} to {grid[-1]:g}."
        )
    if (grid[-1] - grid[0]) * (times[-1] - times[0]) < 0:
        raise ValueError("`grid_constructor`'s grid runs the other way from `t`.")
    grid[0], grid[-1] = times[0], times[-1]
    return grid


odeint.__doc__ = r"""Solve the initial value problem ``dy/dt = func(t, y)``, ``y(t[0]) = y0``.

    The calling convention is torchdiffeq's, and code written for torchdiffeq runs here
    unchanged (tuple states, its method names and ``options``, events, callbacks,
    gradients with respect to ``t``): ``tests/test_torchdiffeq_compat.py`` runs the
    same calls through both. It works on NumPy arrays and on torch tensors of any
    dtype and device; with torch, autograd differentiates through the solve
    (backpropagation through the solver's operations, not the adjoint method). If
    ``t`` is a tensor that requires grad, ``∂L/∂t`` is computed too:
    ``∂L/∂t_i = ∂L/∂y(t_i) · f(t_i, y(t_i))`` for ``i >= 1`` and the ``t_0`` term through
    the solve (one extra evaluation of ``func`` per output time).

    **One difference of meaning**: ``method='rk4'`` is the classical Runge–Kutta
    method here and Kutta's 3/8 rule in torchdiffeq (``'rk38'`` here); both are of
    order 4 and agree on linear problems, not on nonlinear ones.

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
    y0 : array_like or torch.Tensor, shape (*state_shape), or a tuple of them
        Initial state at ``t[0]``, any shape (e.g. ``(batch, dim)``). Integer input is
        converted to floating point. A tuple of arrays/tensors (FFJORD's ``(z, logp)``)
        is a tuple state: ``func`` takes and returns such tuples, the solution is a
        tuple of ``(num_times, *shape_i)``, and ``rtol``/``atol`` may give one value per
        part.
    t : array_like or torch.Tensor, shape (num_times,)
        Output times, strictly increasing or strictly decreasing (backward in time);
        ``t[0]`` is the initial time. Intermediate times never shorten a step (dense
        output interpolates to them).
    method : str, ButcherTableau or method object
        One of :func:`list_methods` (default ``'dopri5'``; ``None`` means it too):
        fixed-step explicit RK ``euler, midpoint, heun (= heun2), heun3, ralston, rk3,
        rk4, rk38``; adaptive ``adaptive_heun, fehlberg2, bosh3, dopri5, fehlberg45,
        tsit5, dopri8`` (Hairer's DOP853, not torchdiffeq's RK8(7)13M);
        implicit one-step ``backward_euler, trapezoidal, theta, implicit_midpoint``;
        multistep ``ab1..ab4 (ab4 = explicit_adams), am1..am4 (am4 = implicit_adams =
        fixed_adams), abm1..abm4, bdf1..bdf4``; adaptive stiff ``radau5, kvaerno3,
        sdirk4, trbdf2, rosenbrock23`` and ``auto`` (dopri5, switching to radau5 while
        the problem is stiff); and ``'scipy_solver'``
        (``scipy.integrate.solve_ivp`` with ``options={'solver': 'RK45'}`` etc., arrays
        or tensors in and out, no gradients). torchdiffeq's ``'rk4'`` is ``'rk38'`` here.
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
        Jacobian evaluations, Newton iterations, events found).
    event_fn : callable or list of callables, optional
        Stop at (or record) zeros of ``event_fn(t, y)``, located on the dense output
        (``course_utils/ode/_events.py``; ``terminal``/``direction`` attributes as in
        ``scipy.integrate.solve_ivp``; a single function is terminal by default). Then
        ``odeint`` returns ``(event_t, ys)``: ``ys`` holds the outputs at the times of
        ``t`` before the terminal event and, last, the state at it (``event_t`` is
        ``None`` if no terminal event happened). With ``len(t) == 2`` (torchdiffeq's
        form) ``t[1]`` gives only the direction and the solve runs until the event, so
        ``ys = [y0, y(event_t)]``; otherwise ``t[-1]`` bounds it. With
        ``return_stats=True``: ``(event_t, ys, stats)``. For a differentiable event
        time use :func:`odeint_event`.
    **solver_options
        The solver options (one table, ``course_utils.ode._options.OPTIONS``):

{options}

    Output times. Fixed-step methods step on the grid ``t[0] + k * step_size`` (without
    ``step_size``: on ``t`` itself, or on ``grid_constructor``'s grid); an output time
    on the grid returns the computed value itself, one between grid points is
    interpolated with the cubic Hermite polynomial through ``y`` and ``f`` at both ends
    of its step (``interp='linear'``: linearly, as torchdiffeq does by default).
    Step callbacks: if ``func`` has ``callback_step(t0, y0, dt)``,
    ``callback_accept_step`` or ``callback_reject_step`` (torchdiffeq's names), they
    are called before every step attempt and after its acceptance or rejection.
    Multistep methods take their starting steps, and a shortened last
    step, with a one-step starter of their order: rk4 for the explicit ones (``ab*``,
    ``abm*``), backward Euler extrapolated to the method's order for the implicit ones
    (``am*``, ``bdf*``). Adaptive methods serve output times from their dense output
    (dopri5's own continuous extension of order 4, else cubic Hermite).

    Returns
    -------
    ys : ndarray or torch.Tensor, shape (num_times, *state_shape), or a tuple of them
        ``ys[i]`` approximates ``y(t[i])``; ``ys[0]`` is ``y0``. With ``event_fn``:
        ``(event_t, ys)``, see above.
    stats : SolveStats
        Only if ``return_stats=True``.

    Raises
    ------
    ValueError
        Bad arguments: unknown method or option, ``t`` not 1-D/monotonic/empty,
        non-finite ``y0``, negative tolerances or step size, ``step_size`` together with
        ``grid_constructor``, an option the method does not use, ``func`` returning the
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
