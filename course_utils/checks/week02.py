"""Checks for ``02_runge_kutta_multistep``.

Every check compares the student's code with independent truth:

* closed forms that follow from the *coefficients* alone — one Runge–Kutta step on
  ``y' = My`` is the matrix polynomial ``I + Σ_k (bᵀA^{k-1}1) (hM)^k`` applied to ``y``,
  and on ``y' = g(t)`` it is the quadrature rule ``h Σ b_i g(t + c_i h)``; a linear
  multistep method on ``y' = λy`` is the linear recurrence solved by the roots of its
  characteristic polynomial;
* exact solutions of nonlinear problems (``y' = y²``, Kepler's orbit, ``y' = -2ty``), from
  which the local and global orders of accuracy are measured.
"""

from __future__ import annotations

import numpy as np

from ._core import as_array, call, exercise, expect, expect_close

__all__ = ["rk_step", "embedded_step", "ab2_solve", "rosenbrock_step"]

#: A linear test system y' = M y: a damped rotation (complex eigenvalues -0.3 ± i).
_M = np.array([[-0.3, 1.0], [-1.0, -0.3]])
_Y = np.array([1.0, 0.5])


def _tableau(a, b, c, name):
    from ..ode import ButcherTableau

    return ButcherTableau(a, b, c, name=name)


def _test_tableaus():
    """rk4, Kutta's rk3, Ralston's 2nd order and an arbitrary (inaccurate) 3-stage one."""
    from ..ode import TABLEAUS

    odd = _tableau([[0, 0, 0], [0.4, 0, 0], [-0.25, 0.85, 0]], [0.3, 0.25, 0.45],
                   [0.0, 0.4, 0.6], "arbitrary 3-stage")
    return [TABLEAUS["rk4"], TABLEAUS["rk3"], TABLEAUS["ralston"], odd]


def _step_polynomial(b, a, z_matrix):
    """``I + Σ_k (bᵀ A^{k-1} 1) Z^k`` for a square matrix ``Z`` (the RK step on y' = My)."""
    s = len(b)
    result = np.eye(z_matrix.shape[0])
    power = np.eye(z_matrix.shape[0])
    stage = np.ones(s)
    for _ in range(s):
        power = power @ z_matrix
        result = result + float(b @ stage) * power
        stage = a @ stage
    return result


def _local_order(errors, step_sizes):
    """Slope of log error against log h: the one log-log fit of the package."""
    from ..analysis import empirical_order

    return empirical_order(step_sizes, errors)


def _squared(t, y):
    return y * y


def _squared_exact(y0, h):
    # y' = y², y(0) = y0  =>  y(h) = y0 / (1 - y0 h)
    return y0 / (1.0 - y0 * h)


def _non_autonomous_local_order(step, tableau, name: str) -> float:
    """Local order of ``step(f, t, y, h) -> y_new`` on ``y' = -2 t y`` from ``t = 0.8``.

    The exact solution ``y(t) = y0 exp(t0² - t²)`` couples time and state, so every stage
    must be evaluated at its own time ``t + c_i h`` *and* its own state; a step that gets
    the stage times wrong is only first order here. Returns the measured local order.
    """
    t0, y0 = 0.8, 1.0
    step_sizes = np.array([0.04, 0.02, 0.01])
    errors = []
    for h in step_sizes:
        y_new = as_array(step(lambda t, y: -2.0 * t * y, t0, np.array([y0]), h), name)
        errors.append(abs(float(y_new.reshape(-1)[0]) - y0 * np.exp(t0**2 - (t0 + h) ** 2)))
    expect(all(np.isfinite(errors)) and min(errors) > 0,
           f"On y' = -2 t y your `{name}` returned NaN/inf or an exact value; test it by hand.")
    order = _local_order(errors, step_sizes)
    expect(order > tableau.order + 1 - 0.3,
           f"On y' = -2 t y started at t = 0.8 (f depends on t and y) the local error of "
           f"your `{name}` with {tableau.name!r} shrinks like h^{order:.1f}, not like "
           f"h^{tableau.order + 1}: stage i must see the time t + c_i h together with its "
           "own state, counted from the `t` you were given.")
    return order


# ----------------------------------------------------------------------------- section 1
@exercise("rk_step")
def rk_step(student_fn) -> str:
    """Check ``rk_step(f, t, y, h, tableau)``: one explicit Runge–Kutta step.

    Truth: the matrix polynomial of the tableau on ``y' = My`` (a vector and a (2, 2)
    state), the tableau's quadrature rule on ``y' = cos t``, and the local order ``p + 1``
    on ``y' = y²`` and on the non-autonomous ``y' = -2ty`` from ``t = 0.8`` against exact
    solutions (section 1.3 of ``02_runge_kutta_multistep``).
    """
    for tableau in _test_tableaus():
        name = tableau.name
        y = _Y.copy()
        result = as_array(call(student_fn, lambda t, u: _M @ u, 0.7, y, 0.3, tableau),
                          f"rk_step(..., tableau={name})")
        expect(np.array_equal(y, _Y), "`rk_step` changed the array `y` it was given: build "
               "new arrays (`y + ...`) instead of updating `y` in place (`y += ...`).")
        expect(result.shape == _Y.shape,
               f"For a state of shape {_Y.shape}, `rk_step` returned shape {result.shape}; "
               "return the new state, with the shape of `y`.")
        expect_close(result, _step_polynomial(tableau.b, tableau.a, 0.3 * _M) @ _Y,
                     f"On the linear system y' = My the step with {name!r} is wrong. "
                     "Stage i must be f(t + c_i h, y + h Σ_j a_ij k_j) over the earlier "
                     "stages j < i, and the result y + h Σ_i b_i k_i.",
                     rtol=1e-12, atol=1e-14, name=f"rk_step(..., {name})")

        quadrature = as_array(call(student_fn, lambda t, u: np.cos(t) + 0.0 * u, 0.7,
                                   np.array([2.0]), 0.3, tableau))
        expected = 2.0 + 0.3 * sum(bi * np.cos(0.7 + ci * 0.3)
                                   for bi, ci in zip(tableau.b, tableau.c))
        expect_close(quadrature, [expected],
                     f"On y' = cos(t) (the right-hand side depends on t only) the step with "
                     f"{name!r} is wrong: evaluate stage i at the time t + c_i h.",
                     rtol=1e-12, atol=1e-14, name="rk_step on y' = cos(t)")

    # a state of shape (2, 2): y' = M Y, the same polynomial applied to the matrix Y
    state = np.array([[1.0, -0.5], [0.25, 2.0]])
    tableau = _test_tableaus()[0]
    result = as_array(call(student_fn, lambda t, u: _M @ u, 0.7, state.copy(), 0.3, tableau),
                      "rk_step on a (2, 2) state")
    expect(result.shape == state.shape,
           f"For a state `y` of shape {state.shape} `rk_step` returned shape {result.shape}: "
           "build the stage sums with arrays shaped like `y` (e.g. `np.zeros_like(y)`).")
    expect_close(result, _step_polynomial(tableau.b, tableau.a, 0.3 * _M) @ state,
                 "With a state of shape (2, 2) the step is wrong (it is right for a vector): "
                 "treat `y` as one array of any shape, without flattening or indexing it.",
                 rtol=1e-12, atol=1e-14, name="rk_step on a (2, 2) state")

    orders = []
    for tableau in _test_tableaus()[:3]:
        _non_autonomous_local_order(
            lambda f, t, y, h, tab=tableau: call(student_fn, f, t, y, h, tab), tableau,
            "rk_step")
        step_sizes = np.array([0.04, 0.02, 0.01])
        errors = [abs(float(as_array(call(student_fn, _squared, 0.0, np.array([1.0]), h,
                                          tableau))[0]) - _squared_exact(1.0, h))
                  for h in step_sizes]
        expect(all(np.isfinite(errors)) and min(errors) > 0,
               "On y' = y² your step returned NaN/inf or an exact value; test it by hand.")
        order = _local_order(errors, step_sizes)
        orders.append(order)
        expect(order > tableau.order + 1 - 0.3,
               f"On the nonlinear problem y' = y² the local error of {tableau.name!r} "
               f"shrinks like h^{order:.2f}, but an order-{tableau.order} method makes a "
               f"local error O(h^{tableau.order + 1}). Does every stage use the stages "
               "before it (not the initial slope only)?")
    return ("exact on y' = My and y' = cos t for 4 tableaus; local orders "
            + ", ".join(f"{o:.1f}" for o in orders) + " on y' = y² for rk4, rk3, ralston")


# ----------------------------------------------------------------------------- section 2
@exercise("embedded_step")
def embedded_step(student_fn) -> str:
    """Check ``embedded_step(f, t, y, h, tableau) -> (y_new, error)``.

    ``y_new`` uses the weights ``b``, ``error`` is the difference between the solutions
    with ``b`` and ``b_hat``. Truth: matrix polynomials on ``y' = My``, and the exact
    solution of ``y' = y²``, whose local error of the embedded solution the estimate
    must match; the quadrature rules of ``b`` and ``b_hat`` on ``y' = cos t`` and the local
    order on the non-autonomous ``y' = -2ty`` (stage times ``t + c_i h``) (section 2.2).
    """
    from ..ode import TABLEAUS

    for name in ("dopri5", "bosh3"):
        tableau = TABLEAUS[name]
        out = call(student_fn, lambda t, u: _M @ u, 0.2, _Y.copy(), 0.4, tableau)
        expect(isinstance(out, tuple) and len(out) == 2,
               "`embedded_step` must return a pair `(y_new, error)`.")
        y_new = as_array(out[0], "y_new")
        error = as_array(out[1], "error")
        expect(y_new.shape == _Y.shape and error.shape == _Y.shape,
               f"`y_new` and `error` should both have the shape of `y`, {_Y.shape}; got "
               f"{y_new.shape} and {error.shape}.")
        high = _step_polynomial(tableau.b, tableau.a, 0.4 * _M) @ _Y
        low = _step_polynomial(tableau.b_hat, tableau.a, 0.4 * _M) @ _Y
        expect_close(y_new, high,
                     f"`y_new` is wrong for {name!r} on y' = My: advance with the weights "
                     "`b` of the higher-order method (local extrapolation), not `b_hat`.",
                     rtol=1e-12, atol=1e-14, name="y_new")
        expect(np.allclose(np.abs(error), np.abs(high - low), rtol=1e-9, atol=1e-15),
               f"`error` is wrong for {name!r} on y' = My: it is the difference between "
               "the two solutions of the pair, h Σ_i (b_i - b̂_i) k_i, from the same stages.")

        # y' = cos t (f depends on t only): both solutions are quadrature rules
        out = call(student_fn, lambda t, u: np.cos(t) + 0.0 * u, 0.7, np.array([2.0]), 0.3,
                   tableau)
        expect(isinstance(out, tuple) and len(out) == 2,
               "`embedded_step` must return a pair `(y_new, error)`.")
        nodes = np.cos(0.7 + np.asarray(tableau.c) * 0.3)
        expect_close(as_array(out[0], "y_new"), [2.0 + 0.3 * float(tableau.b @ nodes)],
                     f"On y' = cos(t) (the right-hand side depends on t only) `y_new` with "
                     f"{name!r} is wrong: evaluate stage i at the time t + c_i h.",
                     rtol=1e-12, atol=1e-14, name="y_new on y' = cos(t)")
        gap = 0.3 * float((tableau.b - tableau.b_hat) @ nodes)
        expect(np.allclose(np.abs(as_array(out[1], "error")), [abs(gap)], rtol=1e-9,
                           atol=1e-15),
               f"On y' = cos(t) `error` with {name!r} is wrong: both solutions of the pair "
               "use the same stages, each evaluated at the time t + c_i h.")
        _non_autonomous_local_order(
            lambda f, t, y, h, tab=tableau: call(student_fn, f, t, y, h, tab)[0], tableau,
            "embedded_step")

    tableau = TABLEAUS["dopri5"]
    ratios = []
    for h in (0.02, 0.01):
        y_new, error = call(student_fn, _squared, 0.0, np.array([1.0]), h, tableau)
        true_high = abs(float(as_array(y_new)[0]) - _squared_exact(1.0, h))
        estimate = abs(float(as_array(error)[0]))
        true_low = abs(float(as_array(y_new)[0]) - float(as_array(error)[0])
                       - _squared_exact(1.0, h))
        true_low = min(true_low, abs(float(as_array(y_new)[0]) + float(as_array(error)[0])
                                     - _squared_exact(1.0, h)))
        expect(true_high < 0.2 * estimate,
               "On y' = y² the returned `y_new` is not more accurate than the error "
               "estimate says: return the solution of the higher-order weights `b`.")
        ratios.append(estimate / true_low)
    expect(all(0.7 < r < 1.4 for r in ratios),
           "On y' = y² your `error` does not estimate the local error of the embedded "
           "solution; use the same stages k_i for both weight vectors.")
    return (f"matches both pairs on y' = My; on y' = y² estimate / true error of the "
            f"embedded solution = {ratios[-1]:.2f}")


# ----------------------------------------------------------------------------- section 3
def _kepler_problem():
    from ..problems import kepler

    return kepler(eccentricity=0.3, t1=2.0)


@exercise("ab2_solve")
def ab2_solve(student_fn) -> str:
    """Check ``ab2_solve(f, t0, y0, t1, num_steps) -> ys`` of shape ``(num_steps + 1, *y0.shape)``.

    Truth: on ``y' = λy`` the AB2 values obey a linear recurrence whose solution is
    ``A r1^n + B r2^n`` with ``r1, r2`` the roots of ``ζ² - (1 + 3z/2) ζ + z/2``,
    ``z = hλ``; the starting step must be second order (on ``y' = λy`` and on the
    non-autonomous ``y' = -2ty`` from ``t0 = 0.5``); and the global error on
    Kepler's orbit and on ``y' = -2ty`` (exact solutions) must fall like ``h²``
    (section 3.2).
    """
    lam, t0, t1, num_steps = -1.3, 0.0, 2.0, 20
    y0 = np.array([1.0])
    ys = as_array(call(student_fn, lambda t, y: lam * y, t0, y0, t1, num_steps),
                  "ab2_solve(...)")
    expect(ys.shape == (num_steps + 1, 1),
           f"For y0 of shape (1,) and {num_steps} steps return an array of shape "
           f"({num_steps + 1}, 1): y0 first, then one row per step; got {ys.shape}.")
    expect(np.allclose(ys[0], y0, rtol=0, atol=0), "The first row must be `y0` itself.")

    h = (t1 - t0) / num_steps
    z = h * lam
    roots = np.roots([1.0, -(1.0 + 1.5 * z), 0.5 * z])
    # y_n = A r1^n + B r2^n with A + B = y_0 and A r1 + B r2 = y_1 (the student's start)
    coeffs = np.linalg.solve(np.array([[1.0, 1.0], roots]), np.array([ys[0, 0], ys[1, 0]]))
    steps = np.arange(num_steps + 1)
    recurrence = (coeffs[0] * roots[0] ** steps + coeffs[1] * roots[1] ** steps).real
    expect_close(ys[2:, 0], recurrence[2:],
                 "From the third value on, your values do not follow the Adams–Bashforth "
                 "two-step formula: y_{n+1} uses f at t_n and at t_{n-1} with weights 3/2 "
                 "and -1/2 (in that order), multiplied by h.",
                 rtol=1e-10, atol=1e-13, name="ab2_solve on y' = λy")

    start_errors = []
    for n in (10, 20):
        start = as_array(call(student_fn, lambda t, y: lam * y, 0.0, y0, 1.0, n))
        start_errors.append(abs(start[1, 0] - np.exp(lam / n)))
    expect(start_errors[1] > 0 and start_errors[0] / start_errors[1] > 2 ** 2.5,
           "Your first step (before two past slopes exist) is not accurate enough: take it "
           "with a second-order one-step method such as Heun's, so that it makes a local "
           "error O(h³).")

    problem = _kepler_problem()
    errors = []
    sizes = np.array([100, 200, 400])
    for n in sizes:
        out = as_array(call(student_fn, problem.func, problem.t0, problem.y0.copy(),
                            problem.t1, int(n)), "ab2_solve on Kepler")
        expect(out.shape == (n + 1, 4),
               f"For a state of shape (4,) and {n} steps the result should have shape "
               f"({n + 1}, 4); got {out.shape}.")
        errors.append(np.abs(out[-1] - problem.exact(problem.t1)).max())
    order = _local_order(errors, problem.t1 / sizes)
    expect(1.8 < order < 2.3,
           f"On Kepler's orbit your global error falls like h^{order:.2f}, not like h².")

    start_errors = []
    for n in (10, 20):
        start = as_array(call(student_fn, lambda t, y: -2.0 * t * y, 0.5, np.array([1.0]),
                              1.5, n))
        start_errors.append(abs(start[1, 0] - np.exp(0.25 - (0.5 + 1.0 / n) ** 2)))
    expect(start_errors[1] > 0 and start_errors[0] / start_errors[1] > 2 ** 2.5,
           "On y' = -2 t y from t0 = 0.5 your first step is not second order, though it is "
           "on y' = λy: check the times you give f there — Heun's first slope at t0, the "
           "second at the end of the step, t0 + h, where the predictor lives.")

    errors = []
    for n in (40, 80, 160):
        out = as_array(call(student_fn, lambda t, y: -2.0 * t * y, 0.5, np.array([1.0]),
                            1.5, n))
        errors.append(abs(out[-1, 0] - np.exp(-(1.5**2 - 0.5**2))))
    time_order = _local_order(errors, 1.0 / np.array([40, 80, 160]))
    expect(1.8 < time_order < 2.3,
           f"On y' = -2ty with t0 = 0.5 your error falls like h^{time_order:.2f}: pass the "
           "right times t_n = t0 + n h to f.")
    return (f"follows the AB2 recurrence; observed order {order:.2f} on Kepler's orbit, "
            f"{time_order:.2f} on y' = -2ty")


# ----------------------------------------------------------------------------- section 6.6
def _rosenbrock_problem():
    """A non-autonomous nonlinear system with its Jacobian and ∂f/∂t (closed forms)."""

    def f(t, y):
        return np.array([-y[0] + 0.5 * y[1] ** 2 + np.sin(t), -3.0 * y[1] + y[0] * y[1]])

    def jac(t, y):
        return np.array([[-1.0, y[1]], [y[1], -3.0 + y[0]]])

    def dfdt(t, y):
        return np.array([np.cos(t), 0.0])

    return f, jac, dfdt


def _rosenbrock_local_errors(student_fn, f, jac, dfdt, t0, y0, steps):
    from scipy.integrate import solve_ivp

    errors, estimates = [], []
    for h in steps:
        out = call(student_fn, f, jac, dfdt, t0, y0.copy(), h)
        expect(isinstance(out, tuple) and len(out) == 2,
               "`rosenbrock_step` must return a pair `(y_new, error)`.")
        y_new, error = as_array(out[0], "y_new"), as_array(out[1], "error")
        expect(y_new.shape == y0.shape and error.shape == y0.shape,
               f"`y_new` and `error` should both have the shape of `y`, {y0.shape}.")
        exact = solve_ivp(f, (t0, t0 + h), y0, method="DOP853", rtol=1e-13,
                          atol=1e-15).y[:, -1]
        errors.append(np.abs(y_new - exact).max())
        estimates.append(np.abs(error).max())
    return np.array(errors), np.array(estimates)


@exercise("rosenbrock_step")
def rosenbrock_step(student_fn) -> str:
    """Check ``rosenbrock_step(f, jac, dfdt, t, y, h) -> (y_new, error)`` (ode23s).

    Truth: on ``y' = λy`` with ``hλ = -10⁶`` an L-stable step damps the solution to
    almost nothing; on a non-autonomous nonlinear system the local error of ``y_new``
    falls like ``h³`` (order 2) against scipy's DOP853, also when ``f`` depends on ``t``
    only through the ``∂f/∂t`` terms; the estimate falls like ``h³`` too and is of the
    size of the true local error (section 6.6).
    """
    stiff = call(student_fn, lambda t, y: -1e6 * y, lambda t, y: np.array([[-1e6]]),
                 lambda t, y: np.zeros(1), 0.0, np.array([1.0]), 1.0)
    expect(isinstance(stiff, tuple) and len(stiff) == 2,
           "`rosenbrock_step` must return a pair `(y_new, error)`.")
    damped = abs(float(as_array(stiff[0], "y_new")[0]))
    expect(damped < 1e-4,
           "On y' = λy with hλ = -10⁶ one step should damp y almost to 0 (the method is "
           "L-stable), but it does not: is the matrix W = I - h d J (a minus sign, J the "
           "Jacobian), and do all the stages solve with it?")
    f, jac, dfdt = _rosenbrock_problem()
    steps = 0.2 / 2.0 ** np.arange(4)
    # autonomous first: freeze t, so the ∂f/∂t terms do not matter
    frozen = (lambda t, y: f(0.3, y), jac, lambda t, y: np.zeros(2))
    errors, _ = _rosenbrock_local_errors(student_fn, *frozen, 0.3, np.array([1.0, 0.5]),
                                         steps)
    order = _local_order(errors, steps) - 1
    expect(order > 1.7,
           f"On an autonomous system your local error falls like h^{order + 1:.1f}: "
           "an order-2 step has local error ~ h³. Check k1 (f0 solved with W), the stage "
           "value y + h k1 / 2 and k2 = W⁻¹(F1 - k1) + k1.")
    errors, estimates = _rosenbrock_local_errors(student_fn, f, jac, dfdt, 0.3,
                                                 np.array([1.0, 0.5]), steps)
    order = _local_order(errors, steps) - 1
    expect(order > 1.7,
           "Your step is second order when f does not depend on t, but not when it does "
           "(y' = f(t, y) with sin t): the terms h d T with T = ∂f/∂t belong in k1 and "
           "in k3, and F1 is evaluated at t + h/2.")
    estimate_order = _local_order(estimates, steps) - 1
    ratio = estimates[-1] / errors[-1]
    expect(estimate_order > 1.7 and 0.2 < ratio < 5.0,
           "`y_new` is right but `error` does not estimate its local error: it should be "
           "h (k1 - 2 k2 + k3) / 6, with k3 from F2 = f(t + h, y_new) and the same W.")
    return (f"L-stable (|y_new| = {damped:.1e} at hλ = -10⁶), local order {order:.1f}, "
            f"estimate / true error = {ratio:.2f}")
