"""Fixed-step methods of course_utils.ode reach their theoretical order.

Truth: closed-form solutions (no reference to the code under test). The observed
order is the least-squares slope of log(error) against log(step size).
"""

import math

import numpy as np
import pytest

from course_utils.ode import METHODS, ButcherTableau, list_methods, odeint


def _slope(step_sizes, errors):
    slope, _ = np.polyfit(np.log(step_sizes), np.log(errors), 1)
    return slope


# A non-autonomous nonlinear problem: y' = -2 t y^2, y(0) = 1, y = 1 / (1 + t^2).
def riccati(t, y):
    return -2.0 * t * y * y


def riccati_exact(t):
    return np.array([1.0 / (1.0 + t * t)])


# The harmonic oscillator x'' = -x: y = (cos t, -sin t).
def oscillator(t, y):
    return np.array([y[1], -y[0]])


def oscillator_exact(t):
    return np.array([math.cos(t), -math.sin(t)])


PROBLEMS = {
    "riccati": (riccati, np.array([1.0]), 2.0, riccati_exact),
    "oscillator": (oscillator, np.array([1.0, 0.0]), 2.0, oscillator_exact),
}

FIXED = [name for name in list_methods() if not METHODS[name].adaptive and name != "theta"]


def _step_sizes(order):
    # errors stay far above rounding (~1e-13) and in the asymptotic regime
    coarsest = {1: 0.04, 2: 0.04, 3: 0.04, 4: 0.05}[order]
    return coarsest / 2.0 ** np.arange(4)


def _errors(method, problem, step_sizes, **kwargs):
    """Max error over 11 output times (the final-time error alone can cancel)."""
    func, y0, t1, exact = PROBLEMS[problem]
    t = np.linspace(0.0, t1, 11)
    truth = np.array([exact(ti) for ti in t])
    errors = []
    for h in step_sizes:
        ys = odeint(func, y0, t, method=method, step_size=float(h), **kwargs)
        errors.append(np.max(np.abs(ys - truth)))
    return np.array(errors)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", FIXED)
def test_fixed_step_method_reaches_its_order(name, problem):
    order = METHODS[name].order
    step_sizes = _step_sizes(order)
    errors = _errors(name, problem, step_sizes)
    assert abs(_slope(step_sizes, errors) - order) <= 0.15, (name, problem, errors)


@pytest.mark.parametrize("theta, order", [(0.0, 1), (0.25, 1), (0.5, 2), (0.75, 1), (1.0, 1)])
def test_theta_method_order(theta, order):
    step_sizes = _step_sizes(order)
    errors = _errors("theta", "oscillator", step_sizes, theta=theta)
    assert abs(_slope(step_sizes, errors) - order) <= 0.15, errors


def test_theta_method_special_cases_match_named_methods():
    func, y0, t1, _ = PROBLEMS["riccati"]
    for theta, name in [(0.0, "backward_euler"), (0.5, "trapezoidal"), (1.0, "euler")]:
        a = odeint(func, y0, [0.0, t1], method="theta", theta=theta, step_size=0.1)
        b = odeint(func, y0, [0.0, t1], method=name, step_size=0.1)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_user_tableau_is_a_method():
    # Ralston's third-order method, written by hand
    tableau = ButcherTableau(
        a=[[0, 0, 0], [0.5, 0, 0], [0, 0.75, 0]], b=[2 / 9, 1 / 3, 4 / 9], c=[0, 0.5, 0.75]
    )
    assert tableau.order == 3  # computed from the order conditions
    step_sizes = _step_sizes(3)
    errors = _errors(tableau, "riccati", step_sizes)
    assert abs(_slope(step_sizes, errors) - 3) <= 0.15


def test_fixed_step_on_uniform_grid_is_exact_method_solution():
    # t a multiple of step_size: the outputs are exactly the Euler iterates
    h, lam = 0.1, -1.5
    t = np.linspace(0.0, 1.0, 11)
    ys = odeint(lambda t, y: lam * y, np.array([1.0]), t, method="euler", step_size=h)
    np.testing.assert_allclose(ys[:, 0], (1 + lam * h) ** np.arange(11), rtol=1e-14)


def test_fixed_step_interpolates_between_grid_points():
    # outputs every 0.03 with steps of 0.1: cubic Hermite between rk4 steps
    t = 0.03 * np.arange(70)  # up to 2.07
    func, y0, _, exact = PROBLEMS["oscillator"]
    ys, stats = odeint(func, y0, t, method="rk4", step_size=0.1, return_stats=True)
    truth = np.array([exact(ti) for ti in t])
    assert np.max(np.abs(ys - truth)) < 1e-5
    assert stats.num_accepted == 21  # 20 full steps and a short last one (2.0 -> 2.07)
    assert stats.step_times[-1] + stats.step_sizes[-1] == pytest.approx(t[-1], abs=1e-15)


def test_last_step_is_shortened_to_land_on_t1():
    ys, stats = odeint(
        lambda t, y: np.ones(1),
        np.zeros(1),
        [0.0, 1.05],
        method="euler",
        step_size=0.1,
        return_stats=True,
    )
    assert ys[-1, 0] == pytest.approx(1.05, abs=1e-14)
    assert stats.num_accepted == 11
    assert stats.step_sizes[-1] == pytest.approx(0.05)


def test_multistep_uses_rk4_starting_values_and_one_evaluation_per_step():
    _, stats = odeint(
        oscillator,
        np.array([1.0, 0.0]),
        [0.0, 1.0],
        method="ab4",
        step_size=0.01,
        return_stats=True,
    )
    # 3 rk4 starting steps (4 evaluations each, the first reused) + 97 AB4 steps
    assert stats.nfe == 3 * 4 + 97
    _, stats = odeint(
        oscillator,
        np.array([1.0, 0.0]),
        [0.0, 1.0],
        method="abm4",
        step_size=0.01,
        return_stats=True,
    )
    assert stats.nfe == 3 * 4 + 97 * 2  # PECE: two evaluations per step


def test_implicit_methods_count_newton_work():
    _, stats = odeint(
        oscillator,
        np.array([1.0, 0.0]),
        [0.0, 1.0],
        method="bdf2",
        step_size=0.1,
        return_stats=True,
    )
    assert stats.njev >= 9 and stats.num_newton_iters >= 9
    assert stats.num_rejected == 0 and len(stats.step_sizes) == 10


def test_implicit_method_with_user_jacobian_is_exact_on_linear_problem():
    # backward Euler on y' = A y is (I - hA)^{-1} per step: compare with linear algebra
    matrix = np.array([[-2.0, 1.0], [1.0, -3.0]])
    y0 = np.array([1.0, 2.0])
    ys, stats = odeint(
        lambda t, y: matrix @ y,
        y0,
        [0.0, 0.5],
        method="backward_euler",
        step_size=0.1,
        jac=lambda t, y: matrix,
        return_stats=True,
    )
    step = np.linalg.inv(np.eye(2) - 0.1 * matrix)
    np.testing.assert_allclose(ys[-1], np.linalg.matrix_power(step, 5) @ y0, rtol=1e-12)
    assert stats.njev == 5


def test_a_stable_methods_are_stable_on_stiff_problem():
    # y' = -1000 (y - cos t): explicit Euler with h = 0.01 explodes, implicit do not
    func = lambda t, y: -1000.0 * (y - np.cos(t))
    for name in ["backward_euler", "trapezoidal", "implicit_midpoint", "bdf1", "bdf2", "am2"]:
        ys = odeint(func, np.array([0.0]), [0.0, 1.0], method=name, step_size=0.01)
        assert abs(ys[-1, 0] - math.cos(1.0)) < 1e-2, name
