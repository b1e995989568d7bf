"""Adaptive pairs of course_utils.ode: accuracy, dense output, step control, statistics.

Truth: closed forms and scipy's solve_ivp (DOP853, rtol = atol = 1e-12).
"""

import math

import numpy as np
import pytest

from course_utils.ode import METHODS, list_methods, odeint
from course_utils.problems import get_problem, list_problems

# the pairs of order >= 3; torchdiffeq's low-order pairs (adaptive_heun, fehlberg2) need
# millions of steps at these tolerances and are tested in test_torchdiffeq_compat.py
ADAPTIVE = [m for m in list_methods("adaptive") if METHODS[m].order >= 3]
NON_STIFF = list_problems(stiff=False)


class Recorder:
    """Wrap ``func`` and record every time it is called at."""

    def __init__(self, func):
        self.func = func
        self.times = []

    def __call__(self, t, y):
        self.times.append(float(t))
        return self.func(t, y)


def test_registry_lists_the_adaptive_pairs():
    assert ADAPTIVE == ["bosh3", "dopri5", "fehlberg45", "dopri8", "tsit5"]
    assert {METHODS[m].order for m in ADAPTIVE} == {3, 5, 8}
    assert set(list_methods("adaptive")) - set(ADAPTIVE) == {"fehlberg2", "adaptive_heun"}


@pytest.mark.parametrize("name", ["harmonic_oscillator", "kepler"])
@pytest.mark.parametrize("method", ADAPTIVE)
def test_error_is_proportional_to_tolerance(method, name):
    problem = get_problem(name)
    truth = problem.solution(problem.t1)
    tolerances = (
        10.0 ** -np.arange(4.0, 10.0, 1.5)
        if method != "bosh3"
        else 10.0 ** -np.arange(3.0, 8.0, 1.5)
    )
    errors = []
    for tol in tolerances:
        ys = odeint(
            problem.func, problem.y0, [problem.t0, problem.t1], method=method, rtol=tol, atol=tol
        )
        errors.append(np.max(np.abs(ys[-1] - truth)))
    slope = np.polyfit(np.log(tolerances), np.log(errors), 1)[0]
    assert 0.8 <= slope <= 1.25, (errors, slope)


@pytest.mark.parametrize("name", NON_STIFF)
@pytest.mark.parametrize("method", ADAPTIVE)
def test_agrees_with_scipy_dop853(method, name):
    problem = get_problem(name)
    t = np.linspace(problem.t0, problem.t1, 7)
    reference = problem.reference(t)  # solve_ivp DOP853 at rtol = atol = 1e-12
    tol, bound = (1e-9, 1e-6) if method != "bosh3" else (1e-7, 1e-4)
    ys = odeint(problem.func, problem.y0, t, method=method, rtol=tol, atol=tol)
    scale = max(1.0, np.max(np.abs(reference)))
    assert np.max(np.abs(ys - reference)) <= bound * scale


@pytest.mark.parametrize("method", ADAPTIVE)
def test_dense_output_does_not_change_the_steps_and_is_accurate(method):
    problem = get_problem("kepler", eccentricity=0.6)
    span = [problem.t0, problem.t1]
    tol = 1e-8
    _, coarse = odeint(
        problem.func, problem.y0, span, method=method, rtol=tol, atol=tol, return_stats=True
    )
    step_ends = np.array(coarse.step_times[1:] + [problem.t1])
    midpoints = np.array(coarse.step_times) + 0.5 * np.array(coarse.step_sizes)
    dense_t = np.concatenate([[problem.t0], np.sort(np.concatenate([step_ends, midpoints]))])
    ys_aligned, aligned = odeint(
        problem.func,
        problem.y0,
        np.concatenate([[0.0], step_ends]),
        method=method,
        rtol=tol,
        atol=tol,
        return_stats=True,
    )
    ys_dense, dense = odeint(
        problem.func, problem.y0, dense_t, method=method, rtol=tol, atol=tol, return_stats=True
    )
    # the same steps whatever the output times: they are interpolated, never stepped to
    assert aligned.step_times == coarse.step_times == dense.step_times
    step_error = np.max(np.abs(ys_aligned - problem.exact(np.concatenate([[0.0], step_ends]))))
    interpolated = ys_dense[1::2]  # dense_t alternates midpoint, step end, ...
    mid_error = np.max(np.abs(interpolated - problem.exact(midpoints)))
    assert mid_error <= 10 * step_error + 10 * tol
    np.testing.assert_array_equal(ys_dense[2::2], ys_aligned[1:])


@pytest.mark.parametrize("method", list_methods())
def test_func_is_only_called_inside_the_interval_and_lands_on_t1(method):
    problem = get_problem("harmonic_oscillator")
    t0, t1 = 0.1, 1.2345
    t = np.linspace(t0, t1, 6)
    recorder = Recorder(problem.func)
    kwargs = {} if METHODS[method].adaptive else {"step_size": 0.07}
    if method == "theta":
        kwargs["theta"] = 0.3
    ys = odeint(recorder, problem.y0, t, method=method, **kwargs)
    times = np.array(recorder.times)
    assert times.min() >= t0 and times.max() <= t1
    if METHODS[method].adaptive:
        assert times.max() == t1  # the last step ends exactly at t1 (FSAL / next f)
    assert ys.shape == (6, 2)


@pytest.mark.parametrize("method", ADAPTIVE + ["rk4", "bdf3", "abm4", "trapezoidal"])
def test_backward_in_time(method):
    problem = get_problem("harmonic_oscillator")
    t = np.linspace(2.0, -1.0, 7)  # decreasing
    y_start = problem.exact(2.0)
    recorder = Recorder(problem.func)
    kwargs = {"rtol": 1e-10, "atol": 1e-10} if METHODS[method].adaptive else {"step_size": 0.01}
    if METHODS[method].adaptive and METHODS[method].order < 3:
        kwargs = {"rtol": 1e-8, "atol": 1e-8}  # order 2: 1e-10 would take ~1e5 steps
    ys = odeint(recorder, y_start, t, method=method, **kwargs)
    bound = 1e-3 if method in ("bdf3", "trapezoidal") else 1e-6
    assert np.max(np.abs(ys - problem.exact(t))) < bound
    assert min(recorder.times) >= -1.0 and max(recorder.times) <= 2.0
    assert min(recorder.times) == -1.0 or not METHODS[method].adaptive


@pytest.mark.parametrize("method", list_methods())
def test_stats_count_what_happened(method):
    problem = get_problem("van_der_pol")
    recorder = Recorder(problem.func)
    kwargs = {"rtol": 1e-5, "atol": 1e-5} if METHODS[method].adaptive else {"step_size": 0.05}
    if method == "theta":
        kwargs["theta"] = 0.6
    _, stats = odeint(recorder, problem.y0, [0.0, 2.0], method=method, return_stats=True, **kwargs)
    assert stats.nfe == len(recorder.times)
    assert stats.num_accepted == len(stats.step_sizes) == len(stats.step_times)
    assert math.isclose(sum(stats.step_sizes), 2.0, rel_tol=1e-12)
    assert stats.step_times[0] == 0.0
    assert all(b > a for a, b in zip(stats.step_times, stats.step_times[1:]))
    if METHODS[method].implicit:
        assert stats.njev > 0 and stats.num_newton_iters >= stats.num_accepted
    else:
        assert stats.njev == 0 and stats.num_newton_iters == 0
    if not METHODS[method].adaptive:
        assert stats.num_rejected == 0
    assert "nfe=" in str(stats)


def test_rejections_happen_and_are_counted():
    # a sharp pulse forces the controller to reject steps
    func = lambda t, y: -y + 50.0 * np.exp(-((t - 5.0) ** 2) / 0.01) * np.ones_like(y)
    _, stats = odeint(func, np.array([1.0]), [0.0, 10.0], rtol=1e-6, atol=1e-9, return_stats=True)
    assert stats.num_rejected > 0
    assert stats.nfe == 1 + 1 + 6 * (stats.num_accepted + stats.num_rejected)


def test_default_method_and_tolerances_match_torchdiffeq():
    _, stats = odeint(lambda t, y: -y, np.array([1.0]), [0.0, 1.0], return_stats=True)
    # dopri5, rtol=1e-7, atol=1e-9: an accurate solution with few steps
    ys = odeint(lambda t, y: -y, np.array([1.0]), [0.0, 1.0])
    assert abs(ys[-1, 0] - math.exp(-1.0)) < 1e-8
    assert 5 <= stats.num_accepted <= 40


def test_first_step_is_used_and_clipped_to_the_interval():
    _, stats = odeint(
        lambda t, y: -y, np.array([1.0]), [0.0, 1.0], first_step=1e-3, return_stats=True
    )
    assert stats.step_sizes[0] == pytest.approx(1e-3)
    ys, stats = odeint(
        lambda t, y: -y, np.array([1.0]), [0.0, 0.01], first_step=5.0, return_stats=True
    )
    assert stats.step_sizes[0] <= 0.01
    assert abs(ys[-1, 0] - math.exp(-0.01)) < 1e-9


def test_componentwise_tolerances():
    problem = get_problem("harmonic_oscillator")
    ys = odeint(
        problem.func, problem.y0, [0.0, 10.0], rtol=[1e-9, 1e-9], atol=np.array([1e-9, 1e-9])
    )
    assert np.max(np.abs(ys[-1] - problem.exact(10.0))) < 1e-7


def test_single_output_time_returns_y0_without_calling_func():
    recorder = Recorder(lambda t, y: -y)
    ys = odeint(recorder, np.array([1.0, 2.0]), [0.5])
    assert ys.shape == (1, 2) and recorder.times == []


def test_state_of_any_shape():
    y0 = np.arange(6.0).reshape(2, 3)
    t = [0.0, 0.5, 1.0]
    for method, kwargs in [
        ("dopri5", {}),
        ("rk4", {"step_size": 0.01}),
        ("bdf2", {"step_size": 0.01}),
    ]:
        ys = odeint(lambda t, y: -2.0 * y, y0, t, method=method, **kwargs)
        assert ys.shape == (3, 2, 3)
        np.testing.assert_allclose(ys[-1], y0 * math.exp(-2.0), rtol=1e-3)
    # scalar state
    ys = odeint(lambda t, y: -y, 1.0, [0.0, 1.0])
    assert ys.shape == (2,) and abs(ys[-1] - math.exp(-1.0)) < 1e-8
