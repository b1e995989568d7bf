"""course_utils.problems: exact solutions solve their ODEs, references are accurate.

Truth: finite differences of the exact solutions, conserved quantities, and
scipy's solve_ivp (the references themselves are checked against closed forms).
"""

import numpy as np
import pytest

from course_utils.problems import PROBLEMS, Problem, get_problem, list_problems

WITH_EXACT = ["decay", "logistic", "harmonic_oscillator", "kepler", "stiff_linear"]


def test_registry():
    assert set(PROBLEMS) == {
        "decay",
        "logistic",
        "harmonic_oscillator",
        "pendulum",
        "lotka_volterra",
        "van_der_pol",
        "kepler",
        "stiff_linear",
        "robertson",
        "hires",
        "van_der_pol_scaled",
    }
    assert set(list_problems(stiff=True)) == {
        "stiff_linear", "robertson", "hires", "van_der_pol_scaled"}
    assert len(list_problems()) == 11
    for name in PROBLEMS:
        problem = get_problem(name)
        assert isinstance(problem, Problem) and problem.name == name
        assert problem.y0.shape == (problem.dim,) and problem.t1 > problem.t0
        assert problem.description
        assert problem.func(problem.t0, problem.y0).shape == problem.y0.shape
    with pytest.raises(ValueError, match="Unknown problem 'brusselator'"):
        get_problem("brusselator")
    with pytest.raises(ValueError, match="Bad parameters for problem 'decay'"):
        get_problem("decay", omega=2.0)
    with pytest.raises(ValueError, match="`eccentricity`"):
        get_problem("kepler", eccentricity=1.0)


@pytest.mark.parametrize("name", WITH_EXACT)
def test_exact_solution_solves_the_ode(name):
    problem = get_problem(name)
    np.testing.assert_allclose(problem.exact(problem.t0), problem.y0, atol=1e-14)
    t = np.linspace(problem.t0 + 0.1, problem.t1, 9)
    eps = 1e-6
    derivative = (problem.exact(t + eps) - problem.exact(t - eps)) / (2 * eps)
    rhs = np.stack([problem.func(ti, yi) for ti, yi in zip(t, problem.exact(t))])
    np.testing.assert_allclose(derivative, rhs, rtol=1e-6, atol=1e-6)
    assert problem.exact(t).shape == (9, problem.dim)
    assert problem.solution(1.0).shape == (problem.dim,)


@pytest.mark.parametrize("name", ["decay", "logistic", "harmonic_oscillator", "kepler"])
def test_reference_matches_the_exact_solution(name):
    problem = get_problem(name)
    t = np.linspace(problem.t0, problem.t1, 6)
    np.testing.assert_allclose(problem.reference(t), problem.exact(t), atol=1e-9)
    np.testing.assert_allclose(problem.reference(problem.t1), problem.exact(problem.t1), atol=1e-9)


@pytest.mark.parametrize("name", [n for n in PROBLEMS if get_problem(n).jac is not None])
def test_jacobian_matches_finite_differences(name):
    problem = get_problem(name)
    y = problem.y0 + 0.1 * np.arange(1, problem.dim + 1)
    eps = 1e-6
    columns = [
        (problem.func(0.3, y + eps * e) - problem.func(0.3, y - eps * e)) / (2 * eps)
        for e in np.eye(problem.dim)
    ]
    np.testing.assert_allclose(
        problem.jac(0.3, y),
        np.stack(columns, axis=1),
        rtol=1e-6,
        atol=1e-6 * max(1.0, np.abs(problem.jac(0.3, y)).max()),
    )


def test_conserved_quantities_of_the_references():
    t = np.linspace(0.0, 10.0, 11)
    pendulum = get_problem("pendulum")
    theta, omega = pendulum.reference(t).T
    energy = 0.5 * omega**2 - 9.81 * np.cos(theta)
    np.testing.assert_allclose(energy, energy[0], atol=1e-9)

    lv = get_problem("lotka_volterra")
    x, y = lv.reference(t).T
    invariant = 1.0 * x - 3.0 * np.log(x) + 1.0 * y - 1.5 * np.log(y)  # δx - γ ln x + βy - α ln y
    np.testing.assert_allclose(invariant, invariant[0], atol=1e-8)

    robertson = get_problem("robertson")
    states = robertson.reference(np.linspace(0.0, 40.0, 5))
    np.testing.assert_allclose(states.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(states[-1] > 0) and states[-1, 1] < 1e-4


def test_kepler_exact_solution_conserves_energy_and_angular_momentum():
    problem = get_problem("kepler", eccentricity=0.7)
    q1, q2, p1, p2 = problem.exact(np.linspace(0.0, 20.0, 50)).T
    energy = 0.5 * (p1**2 + p2**2) - 1.0 / np.hypot(q1, q2)
    momentum = q1 * p2 - q2 * p1
    np.testing.assert_allclose(energy, -0.5, atol=1e-12)  # -1 / (2a), a = 1
    np.testing.assert_allclose(momentum, np.sqrt(1 - 0.7**2), atol=1e-12)


def test_stiff_van_der_pol_uses_a_stiff_reference():
    problem = get_problem("van_der_pol", mu=20.0)
    assert problem.stiff and problem.reference_method == "Radau"
    states = problem.reference(np.linspace(0.0, problem.t1, 5))
    assert np.all(np.abs(states[:, 0]) <= 2.05)  # the relaxation oscillation stays in [-2, 2]


def test_funcs_accept_batched_numpy_states():
    for name in PROBLEMS:
        problem = get_problem(name)
        batch = np.stack([problem.y0, 0.5 * problem.y0 + 0.1])
        out = problem.func(0.0, batch)
        assert out.shape == batch.shape
        np.testing.assert_allclose(out[0], problem.func(0.0, problem.y0), rtol=1e-14)


def test_decay_follows_the_courses_convention_y_prime_equals_lambda_y():
    """Weeks 0-2 teach y' = λy (λ < 0 decays); the test problem uses the same sign."""
    problem = get_problem("decay", lam=-3.0)
    assert float(problem.func(0.0, np.array([2.0]))[0]) == -6.0
    assert np.isclose(problem.solution(1.0)[0], np.exp(-3.0))
    assert get_problem("decay").params["lam"] == -1.0
    assert get_problem("decay", lam=-1000.0).stiff and not get_problem("decay").stiff
