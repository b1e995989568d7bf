"""Checks of week 2: right answers pass, wrong ones fail with a hint, stubs are 'not attempted'."""

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import CheckFailure

# ----------------------------------------------------------------------------- right answers


def rk_step(f, t, y, h, tableau):
    stages = []
    for i in range(tableau.num_stages):
        increment = sum((tableau.a[i, j] * stages[j] for j in range(i)), np.zeros_like(y))
        stages.append(f(t + tableau.c[i] * h, y + h * increment))
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def embedded_step(f, t, y, h, tableau):
    stages = []
    for i in range(tableau.num_stages):
        increment = sum((tableau.a[i, j] * stages[j] for j in range(i)), np.zeros_like(y))
        stages.append(f(t + tableau.c[i] * h, y + h * increment))
    y_new = y + h * sum(b * k for b, k in zip(tableau.b, stages))
    error = h * sum((b - bh) * k for b, bh, k in zip(tableau.b, tableau.b_hat, stages))
    return y_new, error


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


# ----------------------------------------------------------------------------- wrong answers


def rk_step_ignores_c(f, t, y, h, tableau):
    stages = []
    for i in range(tableau.num_stages):
        increment = sum((tableau.a[i, j] * stages[j] for j in range(i)), np.zeros_like(y))
        stages.append(f(t, y + h * increment))
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def rk_step_uses_first_slope(f, t, y, h, tableau):
    k0 = f(t, y)
    stages = [k0]
    for i in range(1, tableau.num_stages):
        stages.append(f(t + tableau.c[i] * h, y + h * tableau.c[i] * k0))
    return y + h * sum(b * k for b, k in zip(tableau.b, stages))


def rk_step_in_place(f, t, y, h, tableau):
    out = rk_step(f, t, y, h, tableau)
    y += 0.0 * out
    y *= 1.0
    y[...] = out
    return y


def embedded_step_low_order(f, t, y, h, tableau):
    y_new, error = embedded_step(f, t, y, h, tableau)
    return y_new - error, error


def embedded_step_wrong_error(f, t, y, h, tableau):
    y_new, error = embedded_step(f, t, y, h, tableau)
    return y_new, 2.0 * error


def ab2_euler_start(f, t0, y0, t1, num_steps):
    h = (t1 - t0) / num_steps
    ys = [np.asarray(y0, dtype=float)]
    f_prev = f(t0, ys[0])
    ys.append(ys[0] + h * f_prev)
    for n in range(1, num_steps):
        f_now = f(t0 + n * h, ys[n])
        ys.append(ys[n] + h * (1.5 * f_now - 0.5 * f_prev))
        f_prev = f_now
    return np.array(ys)


def ab2_swapped_weights(f, t0, y0, t1, num_steps):
    h = (t1 - t0) / num_steps
    ys = [np.asarray(y0, dtype=float)]
    f_prev = f(t0, ys[0])
    predictor = ys[0] + h * f_prev
    ys.append(ys[0] + 0.5 * h * (f_prev + f(t0 + h, predictor)))
    for n in range(1, num_steps):
        f_now = f(t0 + n * h, ys[n])
        ys.append(ys[n] + h * (1.5 * f_prev - 0.5 * f_now))
        f_prev = f_now
    return np.array(ys)


def ab2_wrong_times(f, t0, y0, t1, num_steps):
    return ab2_solve(lambda t, y: f(t - t0, y), t0, y0, t1, num_steps)


def ab2_no_first_row(f, t0, y0, t1, num_steps):
    return ab2_solve(f, t0, y0, t1, num_steps)[1:]


def stub(*args):
    raise NotImplementedError()


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize(
    "check, answer",
    [(checks.rk_step, rk_step), (checks.embedded_step, embedded_step),
     (checks.ab2_solve, ab2_solve)],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    out = capsys.readouterr().out
    assert out.startswith("✅") and "passed" in out


@pytest.mark.parametrize(
    "check, answer, hint",
    [
        (checks.rk_step, rk_step_ignores_c, "time t + c_i h"),
        (checks.rk_step, rk_step_uses_first_slope, "linear system"),
        (checks.rk_step, rk_step_in_place, "in place"),
        (checks.embedded_step, embedded_step_low_order, "weights `b`"),
        (checks.embedded_step, embedded_step_wrong_error, "difference between"),
        (checks.ab2_solve, ab2_euler_start, "first step"),
        (checks.ab2_solve, ab2_swapped_weights, "Adams–Bashforth"),
        (checks.ab2_solve, ab2_wrong_times, "t_n = t0 + n h"),
        (checks.ab2_solve, ab2_no_first_row, "shape"),
    ],
)
def test_wrong_answers_fail_with_a_hint(check, answer, hint):
    with pytest.raises(CheckFailure, match=hint.replace("+", r"\+")) as info:
        check(answer)
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize("check", [checks.rk_step, checks.embedded_step, checks.ab2_solve])
def test_stubs_are_not_attempted(check, capsys):
    check(stub)
    assert "not attempted yet" in capsys.readouterr().out


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
