"""Property tests: y' = A y with random A against the matrix exponential."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.linalg import expm

from course_utils.ode import odeint

ENTRIES = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)


@st.composite
def linear_systems(draw):
    """(A, y0) with A of size 1..4 scaled to spectral norm <= 2, |y0| <= 1."""
    n = draw(st.integers(1, 4))
    matrix = draw(arrays(np.float64, (n, n), elements=ENTRIES))
    norm = np.linalg.norm(matrix, 2)
    if norm > 2.0:
        matrix = matrix * (2.0 / norm)
    y0 = draw(arrays(np.float64, (n,), elements=ENTRIES))
    return matrix, y0


def _truth(matrix, y0, t):
    return np.stack([expm(matrix * ti) @ y0 for ti in t])


T = np.linspace(0.0, 1.0, 5)


@settings(max_examples=25, deadline=None)
@given(linear_systems())
def test_dopri5_matches_expm(system):
    matrix, y0 = system
    ys = odeint(lambda t, y: matrix @ y, y0, T, rtol=1e-10, atol=1e-10)
    assert np.max(np.abs(ys - _truth(matrix, y0, T))) <= 1e-7


@settings(max_examples=25, deadline=None)
@given(linear_systems(), st.sampled_from(["rk4", "rk38", "ab4", "abm4", "bdf4", "am4"]))
def test_fourth_order_fixed_step_matches_expm(system, method):
    matrix, y0 = system
    ys = odeint(lambda t, y: matrix @ y, y0, T, method=method, step_size=0.0125)
    # local error ~ (|A| h)^4 / 24 per unit time, amplified by at most e^{|A|}
    assert np.max(np.abs(ys - _truth(matrix, y0, T))) <= 1e-5


@settings(max_examples=25, deadline=None)
@given(linear_systems())
def test_backward_euler_is_one_resolvent_per_step(system):
    matrix, y0 = system
    ys = odeint(
        lambda t, y: matrix @ y,
        y0,
        [0.0, 0.5],
        method="backward_euler",
        step_size=0.1,
        jac=lambda t, y: matrix,
    )
    step = np.linalg.solve(np.eye(len(y0)) - 0.1 * matrix, np.eye(len(y0)))
    np.testing.assert_allclose(ys[-1], np.linalg.matrix_power(step, 5) @ y0, atol=1e-12)
