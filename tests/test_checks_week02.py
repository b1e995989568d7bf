"""The week-2 exercise checks: right answers pass (written in more than one style), wrong
ones fail with a hint that does not give the answer away, and an untouched stub is
reported as not attempted."""

import numpy as np
import pytest
from check_contract import contract_tests

from course_utils import checks
from course_utils.checks import CheckFailure


# ----------------------------------------------------------------------------- right answers
def _stages(f, t, y, h, tableau, *, time=None, width=None):
    """The stage slopes k_i; ``time`` and ``width`` let wrong answers get them wrong."""
    stages = []
    for i in range(tableau.num_stages):
        increment = sum((tableau.a[i, j] * stages[j] for j in range(i)), np.zeros_like(y))
        stage_time = t + tableau.c[i] * h if time is None else time(t, i, h)
        stages.append(f(stage_time, y + h * increment))
    return stages


def rk_step(f, t, y, h, tableau):
    stages = _stages(f, t, y, h, tableau)
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def rk_step_matrix_form(f, t, y, h, tableau):
    """Stages as rows of an array, sums as tensordot: the same method."""
    k = np.zeros((tableau.num_stages, *np.shape(y)))
    for i in range(tableau.num_stages):
        k[i] = f(t + tableau.c[i] * h, y + h * np.tensordot(tableau.a[i, :i], k[:i], axes=1))
    return y + h * np.tensordot(tableau.b, k, axes=1)


def embedded_step(f, t, y, h, tableau):
    stages = _stages(f, t, y, h, tableau)
    y_new = y + h * sum(b * k for b, k in zip(tableau.b, stages))
    error = h * sum((b - bh) * k for b, bh, k in zip(tableau.b, tableau.b_hat, stages))
    return y_new, error


def embedded_step_two_solutions(f, t, y, h, tableau):
    """`error` as the difference of the two solutions, with the opposite sign: also fine."""
    stages = _stages(f, t, y, h, tableau)
    y_new = y + h * sum(b * k for b, k in zip(tableau.b, stages))
    y_hat = y + h * sum(b * k for b, k in zip(tableau.b_hat, stages))
    return y_new, y_hat - y_new


def ab2_solve(f, t0, y0, t1, num_steps):
    h = (t1 - t0) / num_steps
    ys = [np.asarray(y0, dtype=float)]
    f_prev = f(t0, ys[0])
    predictor = ys[0] + h * f_prev  # Heun's first step
    ys.append(ys[0] + 0.5 * h * (f_prev + f(t0 + h, predictor)))
    for n in range(1, num_steps):
        f_now = f(t0 + n * h, ys[n])
        ys.append(ys[n] + h * (1.5 * f_now - 0.5 * f_prev))
        f_prev = f_now
    return np.array(ys)


def ab2_solve_grid(f, t0, y0, t1, num_steps):
    """Times from linspace, slopes stored in a list."""
    times = np.linspace(t0, t1, num_steps + 1)
    h = times[1] - times[0]
    ys = np.empty((num_steps + 1, *np.shape(y0)))
    ys[0] = y0
    slopes = [f(times[0], ys[0])]
    ys[1] = ys[0] + h / 2 * (slopes[0] + f(times[1], ys[0] + h * slopes[0]))
    for n in range(1, num_steps):
        slopes.append(f(times[n], ys[n]))
        ys[n + 1] = ys[n] + h / 2 * (3 * slopes[n] - slopes[n - 1])
    return ys


def rosenbrock_step(f, jac, dfdt, t, y, h, *, sign=-1.0, plus_k1=True, with_t=True,
                    f1_time=0.5, error_scale=1.0 / 6.0):
    """ode23s; the keywords let the wrong answers below get one thing wrong."""
    d = 1.0 / (2.0 + np.sqrt(2.0))
    e32 = 6.0 + np.sqrt(2.0)
    w = np.eye(len(y)) + sign * h * d * jac(t, y)
    f0 = f(t, y)
    time_term = h * d * dfdt(t, y) if with_t else 0.0 * f0
    k1 = np.linalg.solve(w, f0 + time_term)
    f1 = f(t + f1_time * h, y + h / 2 * k1)
    k2 = np.linalg.solve(w, f1 - k1) + (k1 if plus_k1 else 0.0)
    y_new = y + h * k2
    f2 = f(t + h, y_new)
    k3 = np.linalg.solve(w, f2 - e32 * (k2 - f1) - 2.0 * (k1 - f0) + time_term)
    return y_new, error_scale * h * (k1 - 2.0 * k2 + k3)


def rosenbrock_step_lu(f, jac, dfdt, t, y, h):
    """The same step with one LU factorisation reused for the three solves."""
    from scipy.linalg import lu_factor, lu_solve

    d = 1.0 / (2.0 + np.sqrt(2.0))
    lu = lu_factor(np.eye(len(y)) - h * d * jac(t, y))
    f0, time_term = f(t, y), h * d * dfdt(t, y)
    k1 = lu_solve(lu, f0 + time_term)
    f1 = f(t + h / 2, y + h / 2 * k1)
    k2 = lu_solve(lu, f1 - k1) + k1
    y_new = y + h * k2
    k3 = lu_solve(lu, f(t + h, y_new) - (6.0 + np.sqrt(2.0)) * (k2 - f1) - 2.0 * (k1 - f0)
                  + time_term)
    return y_new, -h / 6.0 * (k1 - 2.0 * k2 + k3)  # the opposite sign is fine too


RIGHT = {
    "rk_step": [rk_step, rk_step_matrix_form],
    "embedded_step": [embedded_step, embedded_step_two_solutions],
    "ab2_solve": [ab2_solve, ab2_solve_grid],
    "rosenbrock_step": [rosenbrock_step, rosenbrock_step_lu],
}


# ----------------------------------------------------------------------------- wrong answers
def rk_step_ignores_c(f, t, y, h, tableau):
    stages = _stages(f, t, y, h, tableau, time=lambda t, i, h: t)
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def rk_step_c_without_h(f, t, y, h, tableau):
    stages = _stages(f, t, y, h, tableau, time=lambda t, i, h: t + tableau.c[i])
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def rk_step_uses_first_slope(f, t, y, h, tableau):
    k0 = f(t, y)
    stages = [k0]
    for i in range(1, tableau.num_stages):
        stages.append(f(t + tableau.c[i] * h, y + h * tableau.c[i] * k0))
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def rk_step_in_place(f, t, y, h, tableau):
    out = rk_step(f, t, y, h, tableau)
    y[...] = out
    return y


def rk_step_previous_stage_only(f, t, y, h, tableau):
    """Stage i uses only k_{i-1} (with a_{i,i-1}), dropping the older stages."""
    stages = [f(t, y)]
    for i in range(1, tableau.num_stages):
        stages.append(f(t + tableau.c[i] * h, y + h * tableau.a[i, i - 1] * stages[-1]))
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def rk_step_flat_zeros(f, t, y, h, tableau):
    """Stage sums started from np.zeros(len(y)): right for vectors only."""
    stages = []
    for i in range(tableau.num_stages):
        increment = np.zeros(len(y))
        for j in range(i):
            increment = increment + tableau.a[i, j] * stages[j].reshape(-1)[: len(y)]
        stages.append(f(t + tableau.c[i] * h, y + h * increment.reshape(-1, *[1] * (y.ndim - 1))))
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def embedded_step_low_order(f, t, y, h, tableau):
    y_new, error = embedded_step(f, t, y, h, tableau)
    return y_new - error, error


def embedded_step_wrong_error(f, t, y, h, tableau):
    y_new, error = embedded_step(f, t, y, h, tableau)
    return y_new, 2.0 * error


def embedded_step_error_without_h(f, t, y, h, tableau):
    y_new, error = embedded_step(f, t, y, h, tableau)
    return y_new, error / h


def embedded_step_ignores_c(f, t, y, h, tableau):
    stages = _stages(f, t, y, h, tableau, time=lambda t, i, h: t)
    y_new = y + h * sum(b * k for b, k in zip(tableau.b, stages))
    error = h * sum((b - bh) * k for b, bh, k in zip(tableau.b, tableau.b_hat, stages))
    return y_new, error


def embedded_step_c_from_zero(f, t, y, h, tableau):
    """Stage times c_i h, forgetting the step's start time t."""
    stages = _stages(f, t, y, h, tableau, time=lambda t, i, h: tableau.c[i] * h)
    y_new = y + h * sum(b * k for b, k in zip(tableau.b, stages))
    error = h * sum((b - bh) * k for b, bh, k in zip(tableau.b, tableau.b_hat, stages))
    return y_new, error


def _ab2(f, t0, y0, t1, num_steps, *, start="heun", weights=(1.5, -0.5), second_time=None):
    h = (t1 - t0) / num_steps
    ys = [np.asarray(y0, dtype=float)]
    f_prev = f(t0, ys[0])
    if start == "heun":
        t_end_of_step = t0 + h if second_time is None else second_time(t0, h)
        ys.append(ys[0] + 0.5 * h * (f_prev + f(t_end_of_step, ys[0] + h * f_prev)))
    else:  # Euler
        ys.append(ys[0] + h * f_prev)
    for n in range(1, num_steps):
        f_now = f(t0 + n * h, ys[n])
        ys.append(ys[n] + h * (weights[0] * f_now + weights[1] * f_prev))
        f_prev = f_now
    return np.array(ys)


def ab2_euler_start(f, t0, y0, t1, num_steps):
    return _ab2(f, t0, y0, t1, num_steps, start="euler")


def ab2_swapped_weights(f, t0, y0, t1, num_steps):
    return _ab2(f, t0, y0, t1, num_steps, weights=(-0.5, 1.5))


def ab2_heun_start_wrong_time(f, t0, y0, t1, num_steps):
    """Heun's second slope at t0 instead of t0 + h: invisible on autonomous problems."""
    return _ab2(f, t0, y0, t1, num_steps, second_time=lambda t0, h: t0)


def ab2_wrong_times(f, t0, y0, t1, num_steps):
    return ab2_solve(lambda t, y: f(t - t0, y), t0, y0, t1, num_steps)


def ab2_no_first_row(f, t0, y0, t1, num_steps):
    return ab2_solve(f, t0, y0, t1, num_steps)[1:]


def ab2_slope_at_new_time(f, t0, y0, t1, num_steps):
    """Off by one: f(t_{n+1}, y_n) in the AB2 steps."""
    return ab2_solve(lambda t, y: f(t + (t1 - t0) / num_steps, y), t0, y0, t1, num_steps)


def ab2_wrong_step_size(f, t0, y0, t1, num_steps):
    """h = (t1 - t0) / (num_steps + 1): right shape, wrong end time."""
    return ab2_solve(f, t0, y0, t1 - (t1 - t0) / (num_steps + 1), num_steps)


WRONG = [
    ("rk_step", rk_step_ignores_c, r"time t \+ c_i h"),
    ("rk_step", rk_step_c_without_h, r"time t \+ c_i h"),
    ("rk_step", rk_step_uses_first_slope, "linear system"),
    ("rk_step", rk_step_previous_stage_only, "linear system"),
    ("rk_step", rk_step_in_place, "in place"),
    ("rk_step", rk_step_flat_zeros, r"shape \(2, 2\)"),
    ("rk_step", lambda f, t, y, h, tab: y + h * f(t, y), "linear system"),
    ("embedded_step", embedded_step_low_order, "weights `b`"),
    ("embedded_step", embedded_step_wrong_error, "difference between"),
    ("embedded_step", embedded_step_error_without_h, "difference between"),
    ("embedded_step", embedded_step_ignores_c, r"time t \+ c_i h"),
    ("embedded_step", embedded_step_c_from_zero, r"time t \+ c_i h"),
    ("embedded_step", lambda f, t, y, h, tab: embedded_step(f, t, y, h, tab)[0], "pair"),
    ("ab2_solve", ab2_euler_start, "first step"),
    ("ab2_solve", ab2_swapped_weights, "Adams–Bashforth"),
    ("ab2_solve", ab2_heun_start_wrong_time, "end of the step"),
    ("ab2_solve", ab2_wrong_times, "times you give f"),
    ("ab2_solve", ab2_slope_at_new_time, "times you give f"),
    ("ab2_solve", ab2_no_first_row, "shape"),
    ("ab2_solve", ab2_wrong_step_size, "multiplied by h"),
    ("rosenbrock_step", lambda *a: rosenbrock_step(*a, sign=1.0), "L-stable"),
    ("rosenbrock_step", lambda *a: rosenbrock_step(*a, plus_k1=False), "all the stages"),
    ("rosenbrock_step", lambda *a: rosenbrock_step(*a, f1_time=0.0), r"∂f/∂t"),
    ("rosenbrock_step", lambda *a: rosenbrock_step(*a, error_scale=1.0), "does not estimate"),
    ("rosenbrock_step", lambda *a: rosenbrock_step(*a)[0], "pair"),
]


globals().update(contract_tests("week02", RIGHT, WRONG))


def test_errors_in_student_code_become_hints():
    def broken(f, t, y, h, tableau):
        return y + h * f(t, y)[5]

    with pytest.raises(CheckFailure, match="raised IndexError"):
        checks.rk_step(broken)


def test_hints_never_reveal_the_expected_values():
    """The hint of a wrong AB2 names the formula's ingredients, not the numbers."""
    with pytest.raises(CheckFailure) as info:
        checks.ab2_solve(ab2_swapped_weights)
    expected = ab2_solve(lambda t, y: -1.3 * y, 0.0, np.array([1.0]), 2.0, 20)
    assert f"{expected[-1, 0]:.4f}" not in str(info.value)
