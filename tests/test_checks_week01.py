"""The week-1 exercise checks: right answers pass (written in more than one style), wrong
ones fail with a hint that does not give the answer away, and an untouched stub is
reported as not attempted."""

import warnings

import numpy as np
import pytest
from check_contract import contract_tests
from scipy.optimize import fsolve as _fsolve

from course_utils import checks


def fsolve(*args, **kwargs):
    """scipy's root finder, without its warnings about unreachable tolerances."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _fsolve(*args, **kwargs)


# ----------------------------------------------------------------------------- right answers
def euler_loop(f, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = t0 + h * np.arange(num_steps + 1)
    ys = np.empty((num_steps + 1, *np.shape(y0)))
    ys[0] = y0
    for n in range(num_steps):
        ys[n + 1] = ys[n] + h * f(times[n], ys[n])
    return times, ys


def euler_lists(f, y0, t0, t_end, num_steps):
    """Lists instead of arrays, times from linspace."""
    times = list(np.linspace(t0, t_end, num_steps + 1))
    h = (t_end - t0) / num_steps
    ys = [np.asarray(y0, dtype=float)]
    for t in times[:-1]:
        ys.append(ys[-1] + h * f(t, ys[-1]))
    return times, ys


def order_polyfit(step_sizes, errors):
    return np.polyfit(np.log(step_sizes), np.log(errors), 1)[0]


def order_endpoints(step_sizes, errors):
    return np.log(errors[-1] / errors[0]) / np.log(step_sizes[-1] / step_sizes[0])


def backward_euler_newton(f, jac, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        y_old, t_new = ys[-1], times[n + 1]
        z = y_old.copy()
        for _ in range(50):
            residual = z - y_old - h * f(t_new, z)
            delta = np.linalg.solve(np.eye(z.size) - h * jac(t_new, z), residual)
            z = z - delta
            if np.abs(delta).max() < 1e-13 * (1 + np.abs(z).max()):
                break
        ys.append(z)
    return times, np.array(ys)


def backward_euler_fsolve(f, jac, y0, t0, t_end, num_steps):
    """A different root finder (scipy's hybrid method) is just as right."""
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        y_old, t_new = ys[-1], times[n + 1]
        ys.append(fsolve(lambda z, y_old=y_old, t_new=t_new: z - y_old - h * f(t_new, z),
                         y_old, xtol=1e-14,
                         fprime=lambda z, t_new=t_new: np.eye(z.size) - h * jac(t_new, z)))
    return times, np.array(ys)


RIGHT = {
    "euler": [euler_loop, euler_lists],
    "estimate_order": [order_polyfit, order_endpoints,
                       lambda h, e: float(order_polyfit(h, e))],
    "backward_euler": [backward_euler_newton, backward_euler_fsolve],
}


# ----------------------------------------------------------------------------- wrong answers
def _euler_in_place(f, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    y = y0
    ys = [y]
    for t in times[:-1]:
        y += h * f(t, y)
        ys.append(y)
    return times, np.array(ys)


def _euler_shared_rows(f, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    y = np.array(y0, dtype=float)
    ys = [y]
    for t in times[:-1]:
        y += h * f(t, y)
        ys.append(y)
    return times, np.array(ys)


def _euler_end_time(f, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for t in times[1:]:
        ys.append(ys[-1] + h * f(t, ys[-1]))
    return times, np.array(ys)


def _euler_wrong_h(f, y0, t0, t_end, num_steps):
    times, ys = euler_loop(f, y0, t0, t_end, num_steps)
    h = (t_end - t0) / (num_steps + 1)
    out = [np.array(y0, dtype=float)]
    for t in times[:-1]:
        out.append(out[-1] + h * f(t, out[-1]))
    return times, np.array(out)


def _euler_forgets_t0(f, y0, t0, t_end, num_steps):
    """The returned grid is right, but f sees times counted from 0."""
    h = (t_end - t0) / num_steps
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        ys.append(ys[-1] + h * f(n * h, ys[-1]))
    return np.linspace(t0, t_end, num_steps + 1), np.array(ys)


def _euler_time_frozen(f, y0, t0, t_end, num_steps):
    """f always evaluated at t0."""
    h = (t_end - t0) / num_steps
    ys = [np.array(y0, dtype=float)]
    for _ in range(num_steps):
        ys.append(ys[-1] + h * f(t0, ys[-1]))
    return np.linspace(t0, t_end, num_steps + 1), np.array(ys)


def _backward_plain_fixed_point(f, jac, y0, t0, t_end, num_steps):
    """Fixed-point iteration y <- y_n + h f(t_{n+1}, y), left to overflow."""
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        z = ys[-1].copy()
        for _ in range(100):
            z = ys[-1] + h * f(times[n + 1], z)
        ys.append(z)
    return times, np.array(ys)


def _backward_forgets_t0(f, jac, y0, t0, t_end, num_steps):
    """Steps of the right length, but f sees times counted from 0."""
    return backward_euler_newton(f, jac, y0, 0.0, t_end - t0, num_steps)[1]


def _backward_plus_jacobian(f, jac, y0, t0, t_end, num_steps):
    """Newton with the wrong sign in the matrix, I + h J."""
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        y_old, t_new = ys[-1], times[n + 1]
        z = y_old.copy()
        for _ in range(20):
            residual = z - y_old - h * f(t_new, z)
            z = z - np.linalg.solve(np.eye(z.size) + h * jac(t_new, z), residual)
        ys.append(z)
    return times, np.array(ys)


def _backward_fixed_point(f, jac, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        z = ys[-1].copy()
        for _ in range(30):
            with np.errstate(all="ignore"):
                z = ys[-1] + h * f(times[n + 1], z)
        ys.append(np.nan_to_num(z, nan=1e300, posinf=1e300, neginf=-1e300))
    return times, np.array(ys)


def _backward_start_time(f, jac, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        t_start, y_old = times[n], ys[-1]
        ys.append(fsolve(lambda z, t=t_start, y=y_old: z - y - h * f(t, z), y_old, xtol=1e-14))
    return times, np.array(ys)


def _backward_one_newton_step(f, jac, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        z = ys[-1]
        residual = z - ys[-1] - h * f(times[n + 1], z)
        ys.append(z - np.linalg.solve(np.eye(z.size) - h * jac(times[n + 1], z), residual))
    return times, np.array(ys)


def _backward_wrong_sign(f, jac, y0, t0, t_end, num_steps):
    h = (t_end - t0) / num_steps
    times = np.linspace(t0, t_end, num_steps + 1)
    ys = [np.array(y0, dtype=float)]
    for n in range(num_steps):
        t_new, y_old = times[n + 1], ys[-1]
        ys.append(fsolve(lambda z, t=t_new, y=y_old: z - y + h * f(t, z), y_old, xtol=1e-14))
    return times, np.array(ys)


WRONG = [
    ("euler", _euler_in_place, "in place"),
    ("euler", _euler_shared_rows, "same array object"),
    ("euler", _euler_end_time, "start"),
    ("euler", _euler_wrong_h, "step size h"),
    ("euler", lambda f, y0, t0, t1, n: euler_loop(f, y0, t0, t1, n)[1], "pair"),
    ("euler", lambda f, y0, t0, t1, n: (np.arange(n + 1.0), euler_loop(f, y0, t0, t1, n)[1]),
     "equally spaced"),
    ("euler", lambda f, y0, t0, t1, n: tuple(a[1:] for a in euler_loop(f, y0, t0, t1, n)),
     "include both ends"),
    ("euler", lambda f, y0, t0, t1, n: (np.linspace(t0, t1, n + 1),
                                         euler_loop(f, y0, t0, t1, n)[1][:, 0]), "shape"),
    ("euler", _euler_forgets_t0, "counted from 0"),
    ("euler", _euler_time_frozen, "t_n must advance"),
    ("estimate_order", lambda h, e: -order_polyfit(h, e), "negative"),
    ("estimate_order", lambda h, e: 1.0 / order_polyfit(h, e), "1/p"),
    ("estimate_order", lambda h, e: np.polyfit(h, e, 1)[0], "logarithms"),
    ("estimate_order", lambda h, e: np.log(e) / np.log(h), "one number"),
    ("estimate_order", lambda h, e: np.log(e[1] / e[0]) / np.log(h[1] / h[0]), "noisy"),
    ("backward_euler", lambda f, jac, y0, t0, t1, n: euler_loop(f, y0, t0, t1, n), "explicit"),
    ("backward_euler", _backward_fixed_point, "fixed-point"),
    ("backward_euler", _backward_start_time, "end"),
    ("backward_euler", _backward_one_newton_step, "1e-9"),
    ("backward_euler", _backward_wrong_sign, "stiff linear"),
    ("backward_euler", _backward_plain_fixed_point, "blew up.*fixed-point iteration.*Newton"),
    ("backward_euler",
     lambda f, jac, y0, t0, t1, n: (np.linspace(t0, t1, n + 1),
                                    _backward_forgets_t0(f, jac, y0, t0, t1, n)),
     "counted from 0"),
    ("backward_euler", _backward_plus_jacobian, "Newton matrix|blew up"),
]


globals().update(contract_tests("week01", RIGHT, WRONG))


def test_a_crash_becomes_a_hint():
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        checks.euler(lambda f, y0, t0, t1, n: 1 / 0)


def test_hints_never_reveal_the_expected_values():
    """A wrong Euler's hint names no number from the expected iterates."""
    try:
        checks.euler(_euler_wrong_h)
    except AssertionError as error:
        message = str(error)
    matrix = np.array([[-0.5, 2.0], [-2.0, -0.5]])
    step = np.eye(2) + 0.125 * matrix
    first = step @ np.array([1.0, 0.5])
    assert all(f"{v:.3f}" not in message for v in first)
