"""``method='dopri8'`` (Hairer's DOP853): its tableau against the order conditions, its
order 8 and its dense output of order 7 measured on one step, its answers against
``scipy.integrate.solve_ivp(method='DOP853')`` and the closed form ``expm``.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from course_utils.ode import METHODS, odeint
from course_utils.ode._order_conditions import order_conditions

MATRIX = np.array([[-0.3, 2.0], [-2.0, -0.1]])


def nonlinear(t, y):
    return np.array([y[1], -np.sin(y[0]) + 0.1 * np.cos(t)])


def test_the_tableau_satisfies_every_order_condition_up_to_five():
    tableau = METHODS["dopri8"].tableau
    assert max(abs(v) for v in order_conditions(tableau, 5).values()) < 1e-12
    assert tableau.is_fsal and METHODS["dopri8"].order == 8


def _one_step(h, theta=None):
    """y after one step of size h on y' = A y (or at θh by the dense output)."""
    y0 = np.array([1.0, 0.5])
    t = [0.0, h] if theta is None else [0.0, theta * h, h]
    ys = odeint(lambda t, y: MATRIX @ y, y0, t, method="dopri8", first_step=h,
                rtol=1e300, atol=1e300)
    exact = expm(MATRIX * (h if theta is None else theta * h)) @ y0
    return np.max(np.abs(ys[1] - exact))


def test_the_local_error_is_of_order_nine_and_the_dense_output_of_order_eight():
    """Local errors O(h^9) (order 8) at the step's end and O(h^8) (order 7) inside."""
    step = [_one_step(h) for h in (0.8, 0.4)]
    dense = [_one_step(h, theta=0.37) for h in (0.8, 0.4)]
    assert np.log2(step[0] / step[1]) > 8.5
    assert np.log2(dense[0] / dense[1]) > 7.5


@pytest.mark.parametrize("tol", [1e-6, 1e-9, 1e-12])
def test_dopri8_matches_solve_ivp_dop853_with_as_few_evaluations(tol):
    t = np.linspace(0.0, 10.0, 41)  # many outputs inside steps: the dense output
    ref = solve_ivp(nonlinear, (0, 10), [1.0, 0.0], t_eval=t, method="DOP853",
                    rtol=1e-13, atol=1e-13).y.T
    ys, stats = odeint(nonlinear, np.array([1.0, 0.0]), t, method="dopri8", rtol=tol,
                       atol=tol, return_stats=True)
    theirs = solve_ivp(nonlinear, (0, 10), [1.0, 0.0], t_eval=t, method="DOP853", rtol=tol,
                       atol=tol)
    assert np.max(np.abs(ys - ref)) < 10 * tol
    assert stats.nfe <= 1.1 * theirs.nfev
    assert stats.step_times[-1] + stats.step_sizes[-1] == 10.0  # lands on t[-1] exactly


def test_dopri8_on_torch_equals_numpy_and_beats_torchdiffeqs_interpolant():
    """At rtol = 1e-10 ours is within 1e-9 of the truth at every output time; torchdiffeq's
    dopri8 (a fourth-order interpolant) is some 1000 times further off between steps."""
    torch = pytest.importorskip("torch")
    torchdiffeq = pytest.importorskip("torchdiffeq")
    t = np.linspace(0.0, 3.0, 7)
    field = lambda t, y: torch.stack([y[1], -torch.sin(y[0])])
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    ref = solve_ivp(lambda t, y: [y[1], -np.sin(y[0])], (0, 3), [1.0, 0.0], t_eval=t,
                    method="DOP853", rtol=1e-13, atol=1e-13).y.T
    ours = odeint(field, y0, torch.tensor(t), method="dopri8", rtol=1e-10, atol=1e-10)
    numpy = odeint(lambda t, y: np.array([y[1], -np.sin(y[0])]), np.array([1.0, 0.0]), t,
                   method="dopri8", rtol=1e-10, atol=1e-10)
    theirs = torchdiffeq.odeint(field, y0, torch.tensor(t), method="dopri8", rtol=1e-10,
                                atol=1e-10)
    assert np.max(np.abs(ours.numpy() - numpy)) < 1e-13
    ours_error = np.max(np.abs(ours.numpy() - ref))
    assert ours_error < 1e-9
    assert np.max(np.abs(theirs.numpy() - ref)) > 10 * ours_error
