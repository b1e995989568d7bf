"""Checks for ``01_one_step_methods``.

Each check compares the student's function with independent truth: the closed form
``(I + hA)^n y_0`` of Euler's recursion on a linear system and a left Riemann sum
(explicit Euler), exact solutions and their error ratios (order one), exact power laws
(an order estimate), the defining equation ``y_{n+1} = y_n + h f(t_{n+1}, y_{n+1})``
and the closed form ``(I - hA)^{-n} y_0`` (backward Euler). Nothing here calls
``course_utils.ode``: the checks do not trust the code they teach.
"""

from __future__ import annotations

import numpy as np

from ._core import as_array, call, exercise, expect, expect_close

__all__ = ["euler", "estimate_order", "backward_euler"]


def _logistic(t, y):
    return y * (1.0 - y)


def _logistic_exact(t, y0=0.1):
    return 1.0 / (1.0 + (1.0 / y0 - 1.0) * np.exp(-np.asarray(t, dtype=float)))


def _trajectory(result, name: str, num_steps: int, dim: int, t0: float, t_end: float,
                nonfinite_hint: str = ""):
    """Split and validate ``(times, ys)``; return them as float arrays.

    ``nonfinite_hint`` says what usually makes ``ys`` blow up on this test problem.
    """
    expect(
        isinstance(result, (tuple, list)) and len(result) == 2,
        f"{name} should return a pair `(times, ys)`, got {type(result).__name__}.",
    )
    times = as_array(result[0], "times")
    ys = as_array(result[1], "ys")
    expect(
        times.shape == (num_steps + 1,),
        f"`times` has shape {times.shape}; with num_steps = {num_steps} it should hold the "
        f"{num_steps + 1} times t_0, …, t_N (include both ends).",
    )
    expect(
        np.allclose(times, np.linspace(t0, t_end, num_steps + 1), rtol=0, atol=1e-12),
        "`times` should be the equally spaced grid t_n = t0 + n h with h = (t_end - t0) / "
        "num_steps, from t0 to t_end.",
    )
    expect(
        ys.shape == (num_steps + 1, dim),
        f"`ys` has shape {ys.shape}; for a state of shape ({dim},) it should be "
        f"(num_steps + 1, {dim}) — one row per time, the first row y0.",
    )
    expect(bool(np.all(np.isfinite(ys))), f"`ys` contains NaN or inf. {nonfinite_hint}".strip())
    return times, ys


_DIVERGED = (
    "Your iterates blew up on a problem whose solution stays bounded. If you solve each "
    "step's equation by fixed-point iteration y <- y_n + h f(t_{n+1}, y), that iteration "
    "diverges once h times the Lipschitz constant of f exceeds 1 (on the stiff test "
    "system h * 100 = 20): use Newton's method with the Jacobian `jac`."
)


def _logistic_jac(t, y):
    return np.array([[1.0 - 2.0 * y[0]]])


def _first_order_on_logistic(student_fn, name: str, *jac) -> list:
    """Run a first-order solver (``euler``, or ``backward_euler`` with ``jac``) on the
    logistic equation with 20, 40, 80 steps; the error at t = 4 must halve with h.

    Returns the two error ratios.
    """
    errors = []
    for num_steps in (20, 40, 80):
        result = call(student_fn, _logistic, *jac, np.array([0.1]), 0.0, 4.0, num_steps)
        _, ys = _trajectory(result, name, num_steps, 1, 0.0, 4.0)
        errors.append(abs(ys[-1, 0] - _logistic_exact(4.0)))
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    expect(all(1.8 < r < 2.2 for r in ratios),
           f"On the logistic equation the error at t = 4 should halve when h halves; the "
           f"ratios were {ratios[0]:.2f} and {ratios[1]:.2f}.")
    return ratios


def _linear_system():
    matrix = np.array([[-0.5, 2.0], [-2.0, -0.5]])  # a damped rotation
    y0 = np.array([1.0, 0.5])
    return matrix, y0


@exercise("euler")
def euler(student_fn) -> str:
    """``euler(f, y0, t0, t_end, num_steps)`` returns ``(times, ys)`` of explicit Euler.

    ``times`` has shape ``(N + 1,)`` and ``ys`` shape ``(N + 1, d)`` for ``y0`` of shape
    ``(d,)``. Truth: on ``y' = Ay`` Euler's iterates are ``(I + hA)^n y0``
    (``numpy.linalg.matrix_power``); on ``y' = cos t`` Euler is the left Riemann sum; on
    the logistic equation the error at ``t = 4`` must halve with ``h``; on
    ``y' = -2ty`` from ``t0 = 1`` (exact ``exp(1 - t²)``) it must halve too, so a forgotten
    ``t0`` is caught. (Section 2.)
    """
    name = "euler(f, y0, t0, t_end, num_steps)"
    matrix, y0 = _linear_system()
    t0, t_end, num_steps = 0.5, 2.5, 16
    h = (t_end - t0) / num_steps
    y0_before = y0.copy()
    result = call(student_fn, lambda t, y: matrix @ y, y0, t0, t_end, num_steps)
    expect(np.array_equal(y0, y0_before),
           "Your function changed `y0` in place: start with `y = y0.copy()` (or use "
           "`y = y + h * f(t, y)` rather than `y += ...`).")
    _, ys = _trajectory(result, name, num_steps, 2, t0, t_end)
    step = np.eye(2) + h * matrix
    expected = np.stack([np.linalg.matrix_power(step, n) @ y0 for n in range(num_steps + 1)])
    expect(
        not np.allclose(ys, ys[-1]),
        "Every row of `ys` is the same: you probably store the same array object each "
        "step and then change it in place. Store a new array per step.",
    )
    expect(np.allclose(ys[0], y0, atol=1e-14), "The first row of `ys` should be y0 itself.")
    expect_close(ys, expected, "On y' = A y your iterates differ from explicit Euler's "
                 "y_{n+1} = y_n + h f(t_n, y_n): check the step size h = (t_end - t0) / "
                 "num_steps and that each step starts from the previous state.",
                 rtol=1e-10, atol=1e-12, name="ys")

    # A right-hand side that depends on t only, from t0 != 0: Euler is the left Riemann sum.
    t0, t_end, num_steps = 0.7, 3.7, 12
    result = call(student_fn, lambda t, y: np.cos(t) * np.ones_like(y), np.array([0.0]),
                  t0, t_end, num_steps)
    _, ys = _trajectory(result, name, num_steps, 1, t0, t_end)
    h = (t_end - t0) / num_steps
    grid = t0 + h * np.arange(num_steps)
    left_sums = np.concatenate([[0.0], np.cumsum(h * np.cos(grid))])
    from_zero = np.concatenate([[0.0], np.cumsum(h * np.cos(h * np.arange(num_steps)))])
    expect(not np.allclose(ys[:, 0], from_zero, rtol=1e-10, atol=1e-12),
           "On y' = cos(t) started at t0 = 0.7 your steps evaluate f at times counted from "
           "0: the n-th step starts at t_n = t0 + n h, not at n h.")
    expect_close(ys[:, 0], left_sums, "On y' = cos(t) your values are off: explicit Euler "
                 "evaluates f at the *start* of each step, (t_n, y_n), and t_n must advance "
                 "by h every step.", rtol=1e-10, atol=1e-12, name="ys")

    # Time and state together, from t0 != 0: y' = -2 t y, y(1) = 1, exact exp(1 - t^2).
    errors = []
    for num_steps in (40, 80):
        result = call(student_fn, lambda t, y: -2.0 * t * y, np.array([1.0]), 1.0, 2.0,
                      num_steps)
        _, ys = _trajectory(result, name, num_steps, 1, 1.0, 2.0)
        errors.append(abs(ys[-1, 0] - np.exp(1.0 - 4.0)))
    expect(1.8 < errors[0] / errors[1] < 2.2,
           "On y' = -2 t y from t0 = 1 your error does not halve with h: pass f the time "
           "t_n = t0 + n h of the start of each step, together with y_n.")

    # First order on a nonlinear problem with a known solution.
    ratios = _first_order_on_logistic(student_fn, name)
    return f"matches (I + hA)^n y0 and the left Riemann sum; error ratio {ratios[-1]:.2f}"


@exercise("estimate_order")
def estimate_order(student_fn) -> str:
    """``estimate_order(step_sizes, errors)`` returns the slope ``p`` of ``log e`` vs ``log h``.

    Truth: errors built as exact power laws ``C h^p`` (for several ``p``, in both orders
    of the step sizes), a power law with a few per cent of scatter (a least-squares fit,
    or the two ends of the sweep, are within 0.05), and Euler's error on ``y' = -y``
    from the closed form ``(1 - h)^N``.
    (Section 4.)
    """
    name = "estimate_order(step_sizes, errors)"
    step_sizes = 0.4 / 2.0 ** np.arange(6)
    for order, constant in [(1.0, 0.7), (2.0, 3.0), (4.0, 0.05), (1.5, 12.0)]:
        errors = constant * step_sizes**order
        for h, err in [(step_sizes, errors), (step_sizes[::-1], errors[::-1])]:
            estimate = as_array(call(student_fn, h.copy(), err.copy()), name)
            expect(estimate.size == 1, f"{name} should return one number (the slope), got "
                   f"an array of shape {estimate.shape}.")
            estimate = float(estimate.reshape(-1)[0])
            expect(np.isfinite(estimate), f"{name} returned {estimate}.")
            expect(estimate > 0, "Your estimate is negative, but errors shrink as h shrinks: "
                   "the slope of log(error) against log(h) is positive. Which variable is on "
                   "which axis?")
            expect(not np.isclose(estimate, 1.0 / order) or order == 1.0,
                   "Your estimate looks like 1/p: you fitted log(h) against log(error); the "
                   "order is the slope of log(error) as a function of log(h).")
            expect(abs(estimate - order) < 1e-6,
                   f"For errors that are exactly C h^p (here p = {order:g}) the slope of "
                   "log(error) against log(h) is p; your estimate is off. Use logarithms "
                   "of both (np.log) and a straight-line fit (np.polyfit) or a ratio of "
                   "differences.")
    scatter = np.exp([0.05, -0.05, 0.03, -0.03, 0.02, -0.02])  # a few per cent
    noisy = 2.0 * step_sizes**2 * scatter
    estimate = float(as_array(call(student_fn, step_sizes.copy(), noisy.copy()), name)
                     .reshape(-1)[0])
    expect(abs(estimate - 2.0) < 0.05,
           "On slightly noisy second-order data your estimate is not close to 2: use all "
           "the points (a least-squares line through log h, log error) or at least the two "
           "ends of the sweep.")
    nums = np.array([10, 20, 40, 80, 160])
    h = 1.0 / nums
    euler_errors = np.abs((1.0 - h) ** nums - np.exp(-1.0))
    estimate = float(as_array(call(student_fn, h, euler_errors), name).reshape(-1)[0])
    expect(abs(estimate - 1.0) < 0.1,
           "On Euler's errors for y' = -y your estimate is not close to one.")
    return f"exact power laws recovered; Euler on y' = -y gives {estimate:.3f}"


@exercise("backward_euler")
def backward_euler(student_fn) -> str:
    """``backward_euler(f, jac, y0, t0, t_end, num_steps)`` returns ``(times, ys)``.

    Truth: on the stiff linear system ``y' = Ay`` (eigenvalues -1 and -100) with
    ``h = 0.2`` the iterates are ``(I - hA)^{-n} y0`` (a matrix inverse, no Newton); on a
    nonlinear, time-dependent system started at ``t0 = 1`` with ``h L > 1`` (where
    fixed-point iteration diverges) every step must satisfy
    ``y_{n+1} = y_n + h f(t_{n+1}, y_{n+1})`` to 1e-9; and on the logistic equation the
    error at ``t = 4`` must halve with ``h``. (Section 5.)
    """
    name = "backward_euler(f, jac, y0, t0, t_end, num_steps)"
    matrix = np.array([[-50.5, 49.5], [49.5, -50.5]])  # eigenvalues -1 and -100
    y0 = np.array([2.0, 0.0])
    t0, t_end, num_steps = 0.0, 2.0, 10
    h = (t_end - t0) / num_steps
    y0_before = y0.copy()
    with np.errstate(all="ignore"):  # a diverging iteration is reported by the hint below
        result = call(student_fn, lambda t, y: matrix @ y, lambda t, y: matrix, y0, t0,
                      t_end, num_steps)
    expect(np.array_equal(y0, y0_before),
           "Your function changed `y0` in place: start with `y = y0.copy()`.")
    _, ys = _trajectory(result, name, num_steps, 2, t0, t_end, _DIVERGED)
    inverse = np.linalg.inv(np.eye(2) - h * matrix)
    expected = np.stack([np.linalg.matrix_power(inverse, n) @ y0
                         for n in range(num_steps + 1)])
    explicit = np.stack([np.linalg.matrix_power(np.eye(2) + h * matrix, n) @ y0
                         for n in range(3)])
    expect(not np.allclose(ys[:3], explicit, rtol=1e-6),
           "On y' = A y you reproduce *explicit* Euler: backward Euler evaluates f at the "
           "new point, y_{n+1} = y_n + h f(t_{n+1}, y_{n+1}), an equation to solve.")
    expect_close(ys, expected, "On the stiff linear system y' = A y (h = 0.2, eigenvalues "
                 "-1 and -100) your iterates differ from backward Euler's: each step must "
                 "solve y_{n+1} = y_n + h A y_{n+1}. Check the Newton matrix I - h J (a "
                 "fixed-point iteration y <- y_n + h f(y) diverges here, since h * 100 > 1).",
                 rtol=1e-8, atol=1e-10, name="ys")

    # Nonlinear and time-dependent, with h L > 1.
    def f(t, y):
        return np.array([-y[0] ** 3 + np.sin(t) + y[1], -2.0 * y[1] + y[0] * np.cos(t)])

    def jac(t, y):
        return np.array([[-3.0 * y[0] ** 2, 1.0], [np.cos(t), -2.0]])

    t0, t_end, num_steps = 1.0, 5.0, 8
    h = (t_end - t0) / num_steps
    y_start = np.array([1.5, -1.0])
    with np.errstate(all="ignore"):
        result = call(student_fn, f, jac, y_start, t0, t_end, num_steps)
    times, ys = _trajectory(result, name, num_steps, 2, t0, t_end, _DIVERGED)
    expect(np.allclose(ys[0], y_start, atol=1e-14), "The first row of `ys` should be y0.")
    residual = max(np.abs(ys[n + 1] - ys[n] - h * f(times[n + 1], ys[n + 1])).max()
                   for n in range(num_steps))
    residual_start = max(np.abs(ys[n + 1] - ys[n] - h * f(times[n], ys[n + 1])).max()
                         for n in range(num_steps))
    expect(not (residual > 1e-9 and residual_start <= 1e-9),
           "Your steps solve the equation with f evaluated at t_n: backward Euler uses the "
           "*end* of the step, f(t_{n+1}, y_{n+1}).")
    residual_from_zero = max(np.abs(ys[n + 1] - ys[n] - h * f((n + 1) * h, ys[n + 1])).max()
                             for n in range(num_steps))
    expect(not (residual > 1e-9 and residual_from_zero <= 1e-9),
           "On a time-dependent system started at t0 = 1 your steps evaluate f at times "
           "counted from 0: the step that ends at t_{n+1} = t0 + (n + 1) h must use that "
           "time.")
    expect(residual <= 1e-9,
           "On a nonlinear system with h = 0.5 your steps do not satisfy y_{n+1} = y_n + h "
           "f(t_{n+1}, y_{n+1}) to 1e-9. Iterate Newton until the correction is tiny "
           "(fixed-point iteration y <- y_n + h f(y) diverges when h L > 1).")

    ratios = _first_order_on_logistic(student_fn, name, _logistic_jac)
    return (f"matches (I - hA)^(-n) y0 on a stiff system, solves each step to 1e-9 with "
            f"h L > 1, error ratio {ratios[-1]:.2f}")
