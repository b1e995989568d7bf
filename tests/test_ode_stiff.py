"""Stiff problems: the implicit methods of course_utils.ode with their default settings.

Regression tests for the bugs found by the week-2 author:

1. the implicit multistep methods (``am*``, ``bdf*``) took their starting steps and a
   shortened last step with explicit rk4, so on a stiff problem they exploded before
   the BDF steps began (``bdf2`` on Robertson, h = 0.1: Newton failed at t = 0.2);
2. ``bdf1`` used another Newton predictor than ``backward_euler`` and converged to a
   non-physical state on Robertson;
3. Newton needed more than its default budget on Robertson's first step (a stale
   Jacobian and a tight budget, not a too strict test);
4. ``plot_stability_region`` could not draw outlines; the PI controller's citation.

Truth: scipy's Radau at tight tolerances (``problem.reference``), the matrix
exponential (``stiff_linear``), closed-form solutions, and the conservation law
``y1 + y2 + y3 = 1`` of Robertson's reactions.
"""

import math

import numpy as np
import pytest

from course_utils.ode import METHODS, ODESolverError, odeint
from course_utils.ode._controllers import PIController
from course_utils.ode._newton import NewtonSolver
from course_utils.ode._registry import OdeMethod
from course_utils.ode._steps import ExtrapolatedEuler
from course_utils.plotting import plot_stability_region
from course_utils.problems import get_problem

ROBERTSON = get_problem("robertson")
T_OUT = np.linspace(0.0, 40.0, 41)


@pytest.fixture(scope="module")
def robertson_reference():
    return ROBERTSON.reference(T_OUT)


def _robertson(method, h, **kwargs):
    return odeint(
        ROBERTSON.func,
        ROBERTSON.y0,
        T_OUT,
        method=method,
        step_size=h,
        return_stats=True,
        **kwargs,
    )


# --------------------------------------------------------------- Robertson, default Newton
# (method, h, bound on max |error| over t = 0, 1, ..., 40; the largest component is 1)
ROBERTSON_CASES = [
    ("backward_euler", 0.1, 2e-3),  # measured 7.3e-4
    ("bdf1", 0.1, 2e-3),
    ("bdf2", 0.1, 1e-4),  # 2.4e-5
    ("bdf3", 0.05, 1e-6),  # 6.5e-8
    ("bdf4", 0.05, 1e-6),  # 2.4e-7
]


@pytest.mark.parametrize("with_jac", [True, False], ids=["jac", "finite-differences"])
@pytest.mark.parametrize("method, h, bound", ROBERTSON_CASES)
def test_robertson_with_default_newton_settings(method, h, bound, with_jac, robertson_reference):
    jac = ROBERTSON.jac if with_jac else None
    ys, stats = _robertson(method, h, jac=jac)
    error = np.abs(ys - robertson_reference)
    assert error.max() < bound, (method, error.max())
    # the small, stiff component y2 (~1e-5) is right too, relative to itself
    relative_y2 = error[1:, 1] / robertson_reference[1:, 1]
    assert relative_y2.max() < 5 * bound, relative_y2.max()
    # physical: no negative concentration, and the linear invariant is kept
    assert ys.min() >= -1e-12
    np.testing.assert_allclose(ys.sum(axis=1), 1.0, atol=1e-10)
    # Newton is cheap once through the initial layer: about two iterations per solve
    assert stats.num_newton_iters < 2.5 * len(stats.step_sizes)
    assert stats.num_rejected == 0 and len(stats.step_sizes) == round(40.0 / h)


def test_robertson_errors_shrink_with_the_order(robertson_reference):
    def error(method, h):
        ys, _ = _robertson(method, h, jac=ROBERTSON.jac)
        return np.abs(ys - robertson_reference).max()

    be = [error("backward_euler", h) for h in (0.1, 0.05)]
    bdf2 = [error("bdf2", h) for h in (0.1, 0.05, 0.025)]
    assert 1.7 < be[0] / be[1] < 2.3  # order 1
    assert all(3.4 < coarse / fine < 4.6 for coarse, fine in zip(bdf2, bdf2[1:]))  # order 2
    assert bdf2[0] < be[0] / 10


def test_dopri5_detects_that_robertson_is_stiff_and_its_advice_works(robertson_reference):
    with pytest.raises(ODESolverError, match=r"became stiff.*'bdf2'") as info:
        odeint(ROBERTSON.func, ROBERTSON.y0, [0.0, 40.0], rtol=1e-6, atol=1e-10, max_steps=3000)
    # Hairer's test stops it within a few hundred steps, long before max_steps
    assert info.value.t < 1.0 and info.value.stats.num_steps < 500
    ys, stats = _robertson("bdf2", 0.1, jac=ROBERTSON.jac)
    assert np.abs(ys - robertson_reference).max() < 1e-4
    assert stats.nfe < 1000  # with the problem's Jacobian: about 2 evaluations per step


def test_trapezoidal_type_methods_run_on_robertson_but_are_not_l_stable(robertson_reference):
    """am2 is the trapezoidal rule: A-stable, so it runs with the defaults, but R(-inf) = -1
    leaves the stiff component y2 oscillating; L-stable BDF2 damps it."""
    trap, _ = _robertson("trapezoidal", 0.1, jac=ROBERTSON.jac)
    am2, _ = _robertson("am2", 0.1, jac=ROBERTSON.jac)
    np.testing.assert_allclose(am2, trap, rtol=1e-13, atol=1e-16)
    assert np.abs(am2 - robertson_reference)[:, [0, 2]].max() < 0.1
    np.testing.assert_allclose(am2.sum(axis=1), 1.0, atol=1e-10)
    bdf2, _ = _robertson("bdf2", 0.1, jac=ROBERTSON.jac)
    y2_ref = robertson_reference[1:, 1]
    assert np.abs(am2[1:, 1] - y2_ref).max() > 0.5 * y2_ref.max()  # oscillates
    assert np.abs(bdf2[1:, 1] - y2_ref).max() < 1e-3 * y2_ref.max()


# --------------------------------------------------------------- bdf1 is backward Euler
def _van_der_pol(t, y):
    return np.array([y[1], 5.0 * (1.0 - y[0] ** 2) * y[1] - y[0]])


@pytest.mark.parametrize("method", ["bdf1", "am1"])
def test_bdf1_and_am1_are_backward_euler(method):
    # Robertson (stiff) with and without a Jacobian, on a grid that ends in a short step
    for jac in (ROBERTSON.jac, None):
        kwargs = dict(step_size=0.1, jac=jac, return_stats=True)
        t = np.linspace(0.0, 10.05, 8)
        a, stats_a = odeint(ROBERTSON.func, ROBERTSON.y0, t, method=method, **kwargs)
        b, stats_b = odeint(ROBERTSON.func, ROBERTSON.y0, t, method="backward_euler", **kwargs)
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-18)
        assert stats_a.num_newton_iters == stats_b.num_newton_iters
        assert stats_a.nfe == stats_b.nfe and stats_a.njev == stats_b.njev
    # a nonlinear, non-stiff problem (van der Pol, mu = 5)
    t = np.linspace(0.0, 5.0, 11)
    a = odeint(_van_der_pol, np.array([2.0, 0.0]), t, method=method, step_size=0.05)
    b = odeint(_van_der_pol, np.array([2.0, 0.0]), t, method="backward_euler", step_size=0.05)
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_bdf1_is_backward_euler_on_torch():
    torch = pytest.importorskip("torch")
    y0 = torch.tensor(ROBERTSON.y0, dtype=torch.float64)
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    a = odeint(ROBERTSON.func, y0, t, method="bdf1", step_size=0.1)
    b = odeint(ROBERTSON.func, y0, t, method="backward_euler", step_size=0.1)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14, atol=1e-18)
    reference = ROBERTSON.reference(t.numpy())
    assert np.abs(a.numpy() - reference).max() < 2e-3


# --------------------------------------------------------------- the stiff linear system
STIFF = get_problem("stiff_linear", stiffness=1000.0, t1=2.0)


@pytest.mark.parametrize("t1", [2.0, 2.03], ids=["grid", "short-last-step"])
@pytest.mark.parametrize("method", ["bdf2", "bdf3", "bdf4"])
def test_stiff_linear_where_rk4_explodes(method, t1):
    h = 0.05  # h * 1000 = 50, far outside rk4's stability interval (-2.79, 0)
    t = np.array([0.0, 0.5, 1.0, 1.5, t1])  # grid points, and t1 (a short last step)
    truth = STIFF.exact(t)
    with np.errstate(all="ignore"):
        explicit = odeint(STIFF.func, STIFF.y0, t, method="rk4", step_size=h)
    assert np.abs(explicit[-1]).max() > 1e100  # |R(-50)| = 2.4e5 per step
    ys = odeint(STIFF.func, STIFF.y0, t, method=method, step_size=h)
    # the slow mode e^{-t} is resolved with error ~ C h^p (C < 1 here); the fast one,
    # e^{-1000 t}, is damped from the first (starting) step on
    error = np.abs(ys - truth).max()
    assert error < h ** METHODS[method].order, error


# --------------------------------------------------------------- the implicit starter
class _ExtrapolatedEuler(OdeMethod):
    """The starter of the implicit multistep methods as a method of its own (tests only)."""

    adaptive = False
    implicit = True

    def __init__(self, order):
        self.order = order
        self.name = f"extrapolated_backward_euler{order}"

    def make_step(self, evaluator, backend, options, stats):
        newton = NewtonSolver(evaluator, backend, options, stats)
        return ExtrapolatedEuler(self.order, evaluator, newton)


def _riccati(t, y):
    return -2.0 * t * y * y  # y(0) = 1: y = 1 / (1 + t^2)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_extrapolated_backward_euler_has_its_order(order):
    t = np.linspace(0.0, 2.0, 11)
    truth = 1.0 / (1.0 + t**2)
    step_sizes = 0.05 / 2.0 ** np.arange(4)
    errors = []
    for h in step_sizes:
        ys = odeint(_riccati, np.array([1.0]), t, method=_ExtrapolatedEuler(order), step_size=h)
        errors.append(np.abs(ys[:, 0] - truth).max())
    slope = np.polyfit(np.log(step_sizes), np.log(errors), 1)[0]
    assert abs(slope - order) <= 0.15, (order, slope, errors)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_extrapolated_backward_euler_damps_stiff_modes(order):
    # one step with h*lambda = -1e5: R(z) -> 0 as z -> -inf (rk4 would multiply by 4e18)
    ys = odeint(
        lambda t, y: -1e6 * y,
        np.array([1.0]),
        [0.0, 0.1],
        method=_ExtrapolatedEuler(order),
        step_size=0.1,
    )
    assert abs(ys[-1, 0]) < 1e-4


def test_implicit_multistep_methods_start_implicitly_explicit_ones_with_rk4():
    def count(method):
        _, stats = odeint(
            lambda t, y: -y,
            np.array([1.0]),
            [0.0, 1.0],
            method=method,
            step_size=0.1,
            return_stats=True,
        )
        return stats

    assert count("ab4").njev == 0  # rk4 starter, no Newton
    stats = count("bdf4")
    # 3 starting steps of 1 + 2 + 3 + 4 = 10 backward-Euler solves, then 7 BDF4 solves
    assert stats.njev == 3 * 10 + 7


# --------------------------------------------------------------- Newton
def test_newton_budget_covers_robertsons_initial_layer():
    # the first backward-Euler step of 0.1 needs 13 iterations (linear convergence of
    # full Newton far from the root); the default budget is 25
    _, stats = odeint(
        ROBERTSON.func,
        ROBERTSON.y0,
        [0.0, 0.1],
        method="backward_euler",
        step_size=0.1,
        jac=ROBERTSON.jac,
        return_stats=True,
    )
    assert 8 <= stats.num_newton_iters <= 20
    with pytest.raises(ODESolverError, match=r"after 10 iterations"):
        odeint(
            ROBERTSON.func,
            ROBERTSON.y0,
            [0.0, 0.1],
            method="backward_euler",
            step_size=0.1,
            jac=ROBERTSON.jac,
            max_newton_iters=10,
        )


def test_newton_converges_in_one_correction_plus_check_on_linear_problems():
    matrix = np.array([[-2.0, 1.0], [1.0, -300.0]])
    _, stats = odeint(
        lambda t, y: matrix @ y,
        np.array([1.0, 1.0]),
        [0.0, 1.0],
        method="bdf2",
        step_size=0.1,
        jac=lambda t, y: matrix,
        return_stats=True,
    )
    solves = stats.njev
    assert stats.num_newton_iters <= 2 * solves


# --------------------------------------------------------------- analysis and citations
def test_plot_stability_region_outlines_without_fill():
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = plt.subplots()
    plot_stability_region(
        ["bdf2", "bdf3", "rk4"], ax=ax, resolution=60, fill=[False, False, True]
    )
    handles = ax.get_legend().legend_handles
    assert [isinstance(h, Line2D) for h in handles] == [True, True, False]
    assert isinstance(handles[2], Patch)
    plt.close(fig)

    def filled_contour_sets(fill):
        fig, ax = plt.subplots()
        plot_stability_region(["bdf2", "bdf4"], ax=ax, resolution=60, fill=fill)
        count = sum(bool(getattr(c, "filled", False)) for c in ax.collections)
        plt.close(fig)
        return count

    assert filled_contour_sets(True) == 2 and filled_contour_sets(False) == 0
    with pytest.raises(ValueError, match=r"`fill` has 1 entries but there are 2 methods"):
        plot_stability_region(["bdf2", "bdf4"], fill=[False])


def test_pi_controller_cites_hairer_wanner_ii():
    doc = PIController.__doc__
    assert "Hairer & Wanner II, Sec. IV.2" in doc
    assert "HNW I Sec. IV" not in doc  # HNW I (non-stiff problems) has no Part IV
    assert math.isclose(PIController(4).beta, 0.04)


def test_pi_controller_clips_and_does_not_grow_right_after_a_rejection():
    controller = PIController(4)
    assert controller.accept_factor(1e-30) == 10.0  # clipped above
    assert controller.reject_factor(1e30) == 0.2  # clipped below
    assert controller.reject_factor(float("nan")) == 0.2
    assert controller.accept_factor(1e-6) == 1.0  # a rejection just happened: no growth
    grown = controller.accept_factor(1e-6)
    assert 1.0 < grown <= 10.0
    # the PI formula itself: 0.92 err^-1/5 err_prev^(0.04)
    fresh = PIController(4)
    fresh.previous_error = 0.5
    assert math.isclose(fresh.accept_factor(0.25), 0.92 * 0.25**-0.2 * 0.5**0.04)
