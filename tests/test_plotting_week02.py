"""Week 2's helpers (``plotting.multistep``, ``plotting.races``, ``plotting.systems``)
against independent truth: the solver registry's coefficients, closed-form error constants,
Taylor expansions, scipy, and exact solutions."""

import math
from fractions import Fraction

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from course_utils import problems  # noqa: E402
from course_utils.ode import METHODS  # noqa: E402
from course_utils.plotting import (  # noqa: E402
    adams_coefficients,
    bdf_coefficients,
    evaluations_for_error,
    explicit_multistep,
    format_table,
    lmm_error_constants,
    plot_phase_panels,
    solve_from_starts,
    stiff_solver_runs,
    stormer_verlet,
    work_precision_runs,
)


# ----------------------------------------------------------------------------- multistep
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_adams_bashforth_and_bdf_equal_the_registry(k):
    alpha, beta = adams_coefficients(k)
    assert tuple(alpha) == METHODS[f"ab{k}"].alpha and tuple(beta) == METHODS[f"ab{k}"].beta
    alpha, beta = bdf_coefficients(k)
    assert tuple(alpha) == METHODS[f"bdf{k}"].alpha
    assert beta[-1] == METHODS[f"bdf{k}"].beta[-1]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_adams_moulton_equals_the_registry(k):
    alpha, beta = adams_coefficients(k, implicit=True)
    assert tuple(alpha) == METHODS[f"am{k + 1}"].alpha
    assert tuple(beta) == METHODS[f"am{k + 1}"].beta


@pytest.mark.parametrize(
    "coefficients, order",
    [(adams_coefficients(k), k) for k in (1, 2, 3, 4, 5)]
    + [(adams_coefficients(k, implicit=True), k + 1) for k in (1, 2, 3, 4)]
    + [(bdf_coefficients(k), k) for k in (1, 2, 3, 4, 5, 6)],
)
def test_error_constants_vanish_up_to_the_order(coefficients, order):
    constants = lmm_error_constants(*coefficients, max_q=order + 1)
    assert all(c == 0 for c in constants[: order + 1]) and constants[order + 1] != 0


def test_classical_error_constants_need_the_factorial():
    """C_{p+1}/(p+1)! is the textbook constant: 5/12 for AB2, -1/12 for the trapezium
    rule, -2/9 for BDF2 (Hairer, Nørsett & Wanner I, Table III.2.1 and §III.2)."""
    for (alpha, beta), p, classical in [
        (adams_coefficients(2), 2, Fraction(5, 12)),
        (adams_coefficients(1, implicit=True), 2, Fraction(-1, 12)),
        (bdf_coefficients(2), 2, Fraction(-2, 9)),
    ]:
        constant = lmm_error_constants(alpha, beta, max_q=p + 1)[p + 1]
        assert constant / math.factorial(p + 1) == classical


def test_residual_of_a_smooth_function_follows_the_constants():
    """Süli & Mayers 12.12's consistent member: residual (3/2) h² y'' on y = sin."""
    alpha, beta = [1, -2, 0, 1], [0, 0, 1, 0]
    assert lmm_error_constants(alpha, beta, max_q=2) == [0, 0, 3]
    t, h = 0.4, 1e-3
    res = sum(a * np.sin(t + j * h) - h * b * np.cos(t + j * h)
              for j, (a, b) in enumerate(zip(alpha, beta)))
    assert res / (h**2 * -np.sin(t)) == pytest.approx(1.5, rel=1e-2)


def test_explicit_multistep_reproduces_ab2_on_a_linear_problem():
    """AB2 on y' = λy follows the recurrence y_{n+2} = (1 + 3z/2) y_{n+1} - z/2 y_n."""
    lam, h = -0.7, 0.05
    times = h * np.arange(41)
    start = np.exp(lam * times[:2])[:, None]
    ys = explicit_multistep(*adams_coefficients(2), lambda t, y: lam * y, times, start)
    z = h * lam
    expected = [start[0, 0], start[1, 0]]
    for _ in range(39):
        expected.append((1 + 1.5 * z) * expected[-1] - 0.5 * z * expected[-2])
    assert ys.shape == (41, 1)
    np.testing.assert_allclose(ys[:, 0], expected, rtol=1e-13)


def test_explicit_multistep_rejects_implicit_methods_and_wrong_starts():
    with pytest.raises(ValueError, match="explicit"):
        explicit_multistep(*bdf_coefficients(2), lambda t, y: y, np.linspace(0, 1, 5),
                           np.ones((2, 1)))
    with pytest.raises(ValueError, match="starting values"):
        explicit_multistep(*adams_coefficients(3), lambda t, y: y, np.linspace(0, 1, 5),
                           np.ones((2, 1)))
    with pytest.raises(ValueError, match="positive integer"):
        adams_coefficients(0)


# ----------------------------------------------------------------------------- races
@pytest.fixture(scope="module")
def orbit():
    return problems.kepler(eccentricity=0.5)


def test_work_precision_runs_measure_cost_and_error(orbit):
    work = work_precision_runs(orbit, adaptive={"dopri5": [1e-4, 1e-6]},
                               fixed={"rk4, fixed": ("rk4", [400, 800])},
                               scipy={"RK45": [1e-4, 1e-6]})
    assert list(work) == ["dopri5 (ours)", "rk4, fixed", "scipy RK45"]
    nfe, errors = work["rk4, fixed"]
    np.testing.assert_array_equal(nfe, [1600, 3200])  # four evaluations per step
    assert errors[0] / errors[1] == pytest.approx(16, rel=0.25)  # order 4
    for label in ("dopri5 (ours)", "scipy RK45"):
        nfe, errors = work[label]
        assert nfe[1] > nfe[0] and errors[1] < errors[0]


def test_evaluations_for_error_interpolates_in_log_log():
    work = {"a": (np.array([100.0, 10000.0]), np.array([1e-2, 1e-6]))}
    assert evaluations_for_error(work, "a", 1e-4) == pytest.approx(1000.0)
    assert np.isnan(evaluations_for_error(work, "a", 1e-8))


def test_stiff_solver_runs_match_scipy_and_the_exact_solution():
    stiff = problems.stiff_linear(stiffness=1000.0, t1=1.0)
    rows = stiff_solver_runs(stiff, ours=[("bdf2", 0.01)], scipy=["Radau"])
    ours, theirs = rows["our bdf2, h = 0.01"], rows["scipy Radau"]
    exact = stiff.exact(stiff.t1)
    assert ours["steps"] == 100 and ours["newton"] >= ours["steps"]
    assert ours["error"] == pytest.approx(np.abs(ours["values"][-1] - exact).max())
    assert ours["error"] < 1e-4 and theirs["error"] < 1e-5


def test_format_table_aligns_columns_and_leaves_missing_values_blank():
    table = format_table({"first": {"n": 3, "err": 0.5}, "second row": {"n": 12}},
                         {"n": "d", "err": ".1e"})
    lines = table.splitlines()
    assert lines[0].split() == ["solver", "n", "err"]
    assert lines[1].split() == ["first", "3", "5.0e-01"]
    assert lines[2].split() == ["second", "row", "12"]
    assert lines[1].rfind("3") == lines[2].rfind("2")  # right-aligned


# ----------------------------------------------------------------------------- systems
def test_stormer_verlet_is_second_order_and_keeps_energy_bounded():
    """Harmonic oscillator q'' = -q: exact (cos t, -sin t)."""
    errors = []
    for num_outputs in (51, 101):
        times = np.linspace(0.0, 5.0, num_outputs)
        ys = stormer_verlet(lambda q: -q, (1.0, 0.0), times, substeps=1)
        errors.append(np.abs(ys[-1] - [np.cos(5.0), -np.sin(5.0)]).max())
    assert errors[0] / errors[1] == pytest.approx(4, rel=0.1)
    long_times = np.linspace(0.0, 500.0, 5001)
    energy = np.sum(stormer_verlet(lambda q: -q, (1.0, 0.0), long_times) ** 2, axis=1)
    first, last = energy[:1000], energy[-1000:]
    assert np.ptp(last) < 1.1 * np.ptp(first)  # bounded, no drift


def test_solve_from_starts_and_phase_panels():
    vdp = problems.get_problem("van_der_pol", mu=1.0)
    runs = solve_from_starts(vdp.func, {"a": [0.1, 0.0], "b": [3.0, 0.0]},
                             np.linspace(0.0, 5.0, 50), rtol=1e-8, atol=1e-10)
    assert runs["a"].shape == (50, 2)
    np.testing.assert_allclose(runs["b"][0], [3.0, 0.0])
    fig, axes = plot_phase_panels([dict(func=vdp.func, runs=runs, xlim=(-4, 4), ylim=(-4, 4),
                                        title="Van der Pol", xlabel="x", ylabel="v")] * 2)
    assert len(axes) == 2 and axes[0].get_title() == "Van der Pol"
    assert axes[1].get_legend() is not None
    with pytest.raises(ValueError, match="empty"):
        plot_phase_panels([])
    matplotlib.pyplot.close("all")
