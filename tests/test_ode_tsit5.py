"""Tsitouras 5(4) (``method='tsit5'``): its coefficients against the order conditions,
its dense output against the continuous order conditions, its answers against scipy.

Truth: the rooted-tree order conditions (Hairer, Nørsett & Wanner I, Sec. II.2) and
``scipy.integrate.solve_ivp`` (DOP853 at rtol = atol = 1e-13).
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from course_utils.ode import TABLEAUS, odeint
from course_utils.ode._interp import dense_weights
from course_utils.ode._order_conditions import order_conditions, rooted_tree_conditions

TSIT5 = TABLEAUS["tsit5"]


def test_the_published_coefficients_satisfy_the_order_conditions():
    assert max(abs(v) for v in order_conditions(TSIT5, 5, "b").values()) < 1e-14
    embedded = order_conditions(TSIT5, 5, "b_hat")
    trees = rooted_tree_conditions(TSIT5.a, TSIT5.c)
    order4 = [label for order, label, _, _ in trees if order <= 4]
    assert max(abs(embedded[label]) for label in order4) < 1e-14
    assert max(abs(v) for v in embedded.values()) > 1e-5  # b_hat is of order 4, not 5
    assert TSIT5.is_fsal and TSIT5.order == 5 and TSIT5.embedded_order == 4


@pytest.mark.parametrize("theta", [0.1, 0.37, 0.5, 0.81, 1.0])
def test_the_dense_output_is_of_order_four_at_every_theta(theta):
    """Σ b_i(θ) Φ_i(tree) = θ^ρ / γ(tree) for every tree of order <= 4."""
    w = dense_weights(TSIT5.dense, theta)
    for order, label, fn, target in rooted_tree_conditions(TSIT5.a, TSIT5.c):
        if order <= 4:
            assert abs(fn(w) - float(target) * theta**order) < 1e-13, label


def pendulum(t, y):
    return np.array([y[1], -np.sin(y[0]) + 0.1 * np.cos(t)])


def test_tsit5_is_accurate_and_its_dense_output_too():
    t = np.linspace(0.0, 10.0, 41)  # many outputs between steps: the dense output
    ref = solve_ivp(pendulum, (0.0, 10.0), [1.0, 0.0], t_eval=t, method="DOP853",
                    rtol=1e-13, atol=1e-13).y.T
    ys, stats = odeint(pendulum, np.array([1.0, 0.0]), t, method="tsit5", rtol=1e-9,
                       atol=1e-9, return_stats=True)
    assert np.max(np.abs(ys - ref)) < 1e-7
    _, coarse = odeint(pendulum, np.array([1.0, 0.0]), [0.0, 10.0], method="tsit5",
                       rtol=1e-9, atol=1e-9, return_stats=True)
    assert coarse.num_accepted == stats.num_accepted  # outputs never shorten a step
    assert stats.nfe == 6 * stats.num_steps + 2  # FSAL: 6 per step, + f0 and first step


def test_tsit5_needs_no_more_evaluations_than_dopri5_at_equal_error():
    t = [0.0, 10.0]
    truth = solve_ivp(pendulum, (0.0, 10.0), [1.0, 0.0], method="DOP853", rtol=1e-13,
                      atol=1e-13).y[:, -1]
    errors = {}
    for name in ("dopri5", "tsit5"):
        ys, stats = odeint(pendulum, np.array([1.0, 0.0]), t, method=name, rtol=1e-8,
                           atol=1e-8, return_stats=True)
        errors[name] = (np.max(np.abs(ys[-1] - truth)), stats.nfe)
    assert errors["tsit5"][0] < 3 * errors["dopri5"][0]
    assert errors["tsit5"][1] <= 1.1 * errors["dopri5"][1]
