"""course_utils.analysis: norms, orders, order conditions, stability functions and regions.

Truth: closed forms (textbook stability functions and polynomials, exact slopes of
synthetic data) and the exact solutions of test problems.
"""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import analysis as an  # noqa: E402
from course_utils.ode import METHODS, TABLEAUS, ButcherTableau, odeint, theta_tableau  # noqa: E402
from course_utils.plotting import plot_stability_region  # noqa: E402
from course_utils.problems import get_problem  # noqa: E402


# ----------------------------------------------------------------------------- norms, orders
def test_norms():
    x = np.array([3.0, -4.0])
    assert an.max_norm(x) == 4.0
    assert an.l2_norm(x) == 5.0
    assert an.rms_norm(x) == pytest.approx(math.sqrt(12.5))
    assert an.error_norm(x, np.zeros(2), "l2") == 5.0
    with pytest.raises(ValueError, match="`norm`"):
        an.error_norm(x, x, "l1")
    with pytest.raises(ValueError, match="shape"):
        an.error_norm(x, np.zeros(3))


def test_norms_accept_torch_tensors():
    torch = pytest.importorskip("torch")
    assert an.max_norm(torch.tensor([1.0, -2.0], requires_grad=True)) == 2.0


@pytest.mark.parametrize("order", [1, 2, 3.5, 4])
def test_empirical_order_recovers_an_exact_power_law(order):
    h = np.array([0.1, 0.05, 0.025, 0.0125])
    assert an.empirical_order(h, 3.0 * h**order) == pytest.approx(order)


def test_empirical_order_rejects_bad_data():
    with pytest.raises(ValueError, match="equal length"):
        an.empirical_order([0.1], [1.0])
    with pytest.raises(ValueError, match="positive"):
        an.empirical_order([0.1, 0.05], [1.0, 0.0])


@pytest.mark.parametrize(
    "method, order, coarsest",
    [("euler", 1, 0.01), ("heun", 2, 0.05), ("rk4", 4, 0.1), ("bdf2", 2, 0.05)],
)
def test_convergence_study(method, order, coarsest):
    h = coarsest * np.array([1.0, 0.5, 0.25])
    errors = an.convergence_study(method, "harmonic_oscillator", h)
    assert errors.shape == (3,)
    assert an.empirical_order(h, errors) == pytest.approx(order, abs=0.15)


def test_richardson_extrapolation_raises_the_order_of_euler():
    problem = get_problem("decay")
    exact = problem.exact(problem.t1)[0]
    errors, extrapolated = [], []
    h_values = [0.1, 0.05, 0.025]
    for h in h_values:
        coarse = odeint(problem.func, problem.y0, [0, problem.t1], method="euler", step_size=h)
        fine = odeint(problem.func, problem.y0, [0, problem.t1], method="euler", step_size=h / 2)
        errors.append(abs(fine[-1, 0] - exact))
        extrapolated.append(abs(an.richardson_extrapolate(coarse[-1, 0], fine[-1, 0], 1) - exact))
    assert an.empirical_order(h_values, errors) == pytest.approx(1, abs=0.1)
    assert an.empirical_order(h_values, extrapolated) == pytest.approx(2, abs=0.15)
    assert an.richardson_extrapolate(1.0, 2.0, order=2, ratio=3) == pytest.approx(17 / 8)
    with pytest.raises(ValueError):
        an.richardson_extrapolate(1.0, 2.0, order=0)


# ----------------------------------------------------------------------------- order conditions
EXPECTED_ORDER = {
    "euler": 1,
    "midpoint": 2,
    "heun": 2,
    "ralston": 2,
    "rk3": 3,
    "rk4": 4,
    "rk38": 4,
    "bosh3": 3,
    "dopri5": 5,
    "fehlberg45": 5,
    # torchdiffeq's methods and tsit5 (issue 13)
    "heun3": 3,
    "adaptive_heun": 2,
    "fehlberg2": 2,
    "tsit5": 5,
}


@pytest.mark.parametrize("name", list(TABLEAUS))
def test_tableau_satisfies_its_order_conditions_and_fails_the_next(name):
    tableau = TABLEAUS[name]
    order = EXPECTED_ORDER[name]
    assert tableau.order == order
    assert an.tableau_order(tableau) == order
    residuals = an.order_conditions(tableau, max_order=min(order + 1, 5))
    assert len(an.order_conditions(tableau, max_order=4)) == 8
    conditions_of = {1: 1, 2: 2, 3: 4, 4: 8, 5: 17}
    up_to = list(residuals.values())
    assert max(abs(r) for r in up_to[: conditions_of[order]]) < 1e-13
    if order < 5:
        assert max(abs(r) for r in up_to[conditions_of[order] :]) > 1e-3


@pytest.mark.parametrize("name, order", [("bosh3", 2), ("dopri5", 4), ("fehlberg45", 4)])
def test_embedded_weights_have_the_lower_order(name, order):
    assert an.tableau_order(TABLEAUS[name], weights="b_hat") == order


def test_simpler_order_conditions_by_hand():
    residuals = an.order_conditions(TABLEAUS["heun"], max_order=3)
    assert residuals["sum(b) = 1"] == pytest.approx(0)
    assert residuals["b·c = 1/2"] == pytest.approx(0)
    assert residuals["b·c² = 1/3"] == pytest.approx(0.5 - 1 / 3)
    assert residuals["b·Ac = 1/6"] == pytest.approx(0 - 1 / 6)


def test_tableau_class_validates_and_prints():
    tableau = ButcherTableau([[0, 0], [1, 0]], [0.5, 0.5], [0, 1], name="heun")
    assert tableau.order == 2 and tableau.is_explicit and not tableau.is_embedded
    assert "heun" in repr(tableau) and "|" in str(tableau)
    assert TABLEAUS["dopri5"].is_fsal and TABLEAUS["bosh3"].is_fsal
    assert not TABLEAUS["fehlberg45"].is_fsal and not TABLEAUS["rk4"].is_fsal


# ----------------------------------------------------------------------------- stability
Z = np.array([-2.5, -1.0 + 0.5j, 0.3 - 1.2j, 0.8j, -0.1])


@pytest.mark.parametrize(
    "name, closed_form",
    [
        ("euler", lambda z: 1 + z),
        ("heun", lambda z: 1 + z + z**2 / 2),
        ("rk3", lambda z: 1 + z + z**2 / 2 + z**3 / 6),
        ("rk4", lambda z: 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24),
        ("rk38", lambda z: 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24),
        ("backward_euler", lambda z: 1 / (1 - z)),
        ("trapezoidal", lambda z: (1 + z / 2) / (1 - z / 2)),
        ("implicit_midpoint", lambda z: (1 + z / 2) / (1 - z / 2)),
    ],
)
def test_rk_stability_functions_match_closed_forms(name, closed_form):
    stability = an.rk_stability_function(name)
    np.testing.assert_allclose(stability(Z), closed_form(Z), rtol=1e-12)


def test_rk4_stability_polynomial_coefficients():
    np.testing.assert_allclose(an.rk_stability_function("rk4").coef, [1, 1, 1 / 2, 1 / 6, 1 / 24])


@pytest.mark.parametrize("theta", [0.0, 0.3, 0.5, 1.0])
def test_theta_stability_function_matches_its_tableau(theta):
    closed = an.theta_stability_function(theta)
    from_tableau = an.rk_stability_function(theta_tableau(theta))
    np.testing.assert_allclose(closed(Z), from_tableau(Z), rtol=1e-12)
    np.testing.assert_allclose(closed(Z), (1 + theta * Z) / (1 - (1 - theta) * Z), rtol=1e-14)


def test_stability_function_predicts_the_solver():
    # one step of size h on y' = lam y multiplies y by R(h lam)
    lam, h = -3.0, 0.2
    for name in ["rk4", "heun", "backward_euler", "trapezoidal", "implicit_midpoint"]:
        ys = odeint(lambda t, y: lam * y, np.array([1.0]), [0.0, h], method=name, step_size=h)
        assert ys[-1, 0] == pytest.approx(an.rk_stability_function(name)(h * lam).real, rel=1e-9)


@pytest.mark.parametrize(
    "name, rho, sigma",
    [
        ("ab1", [-1, 1], [1, 0]),
        ("ab2", [0, -1, 1], [-1 / 2, 3 / 2, 0]),
        ("am2", [-1, 1], [1 / 2, 1 / 2]),
        ("am3", [0, -1, 1], [-1 / 12, 8 / 12, 5 / 12]),
        ("bdf2", [1 / 3, -4 / 3, 1], [0, 0, 2 / 3]),
        ("abm3", [0, -1, 1], [-1 / 12, 8 / 12, 5 / 12]),  # the corrector
    ],
)
def test_characteristic_polynomials(name, rho, sigma):
    r, s = an.lmm_characteristic_polynomials(name)
    np.testing.assert_allclose(r.coef, rho, atol=1e-15)
    np.testing.assert_allclose(s.coef, sigma, atol=1e-15)


@pytest.mark.parametrize(
    "name", [f"{family}{p}" for family in ("ab", "am", "bdf") for p in (1, 2, 3, 4)]
)
def test_multistep_coefficients_have_their_order_and_are_zero_stable(name):
    rho, sigma = an.lmm_characteristic_polynomials(name)
    assert an.lmm_order(rho, sigma) == METHODS[name].order
    assert an.lmm_root_condition(rho)


def test_root_condition_detects_unstable_methods():
    # the explicit 2-step method of order 3 (Dahlquist's example) is not zero-stable
    rho = [-5.0, 4.0, 1.0]  # ζ² + 4ζ - 5 = (ζ - 1)(ζ + 5)
    sigma = [2.0, 4.0, 0.0]
    assert an.lmm_order(rho, sigma) == 3
    assert not an.lmm_root_condition(rho)
    assert not an.lmm_root_condition([1.0, -2.0, 1.0])  # double root at 1
    assert an.lmm_root_condition([0.0, -1.0, 1.0])


def test_boundary_locus_of_euler_is_a_circle():
    rho, sigma = an.lmm_characteristic_polynomials("ab1")
    locus = an.lmm_boundary_locus(rho, sigma, num_points=64)
    np.testing.assert_allclose(np.abs(locus + 1.0), 1.0, atol=1e-12)


@pytest.mark.parametrize(
    "method, z, expected",
    [
        ("ab1", -1.9, True),
        ("ab1", -2.1, False),
        ("ab2", -0.9, True),
        ("ab2", -1.1, False),  # real interval (-1, 0)
        ("am3", -5.9, True),
        ("am3", -6.1, False),  # real interval (-6, 0)
        ("bdf2", -1000.0, True),
        ("bdf2", 0.5, False),
        ("bdf3", -50.0 + 1.0j, True),
        ("rk4", -2.78, True),
        ("rk4", -2.8, False),  # real interval about (-2.785, 0)
        ("backward_euler", 2.5, True),
        ("backward_euler", 0.5, False),
        ("trapezoidal", -1e4, True),
        ("trapezoidal", 0.1, False),
    ],
)
def test_absolute_stability(method, z, expected):
    assert an.is_absolutely_stable(method, z) is expected


def test_absolute_stability_vectorised_and_theta():
    z = np.array([-1.0, -3.0])
    np.testing.assert_array_equal(an.is_absolutely_stable("theta", z, theta=1.0), [True, False])
    np.testing.assert_array_equal(an.is_absolutely_stable(("theta", 0.0), z), [True, True])


def test_plot_stability_region():
    import matplotlib.pyplot as plt

    ax = plot_stability_region(["euler", "rk4", "bdf2", ("theta", 0.3), "ab3"])
    assert ax.get_title() == "Absolute stability regions"
    assert ax.get_xlabel() == "Re(hλ)" and ax.get_ylabel() == "Im(hλ)"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["euler", "rk4", "bdf2", "θ = 0.3", "ab3"]
    plt.close(ax.figure)
    fig, ax = plt.subplots()
    assert plot_stability_region("backward_euler", ax=ax, resolution=50) is ax
    plt.close(fig)
    with pytest.raises(ValueError, match="corrector"):
        plot_stability_region("abm2")
