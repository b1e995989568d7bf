"""Bad input to course_utils.ode raises a clear error, never hangs or answers wrongly."""

import ast
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import course_utils.ode as ode
from course_utils.ode import (
    ButcherTableau,
    NewtonConvergenceError,
    ODESolverError,
    odeint,
)

Y0 = np.array([1.0])
T = [0.0, 1.0]


def decay(t, y):
    return -y


# ----------------------------------------------------------------------------- arguments
def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown `method` 'rk5'.*dopri5.*bdf2"):
        odeint(decay, Y0, T, method="rk5")


@pytest.mark.parametrize(
    "t, match",
    [
        ([0.0, 1.0, 1.0], r"strictly monotonic, but t\[2\] = t\[1\] = 1"),
        ([0.0, 0.0, 1.0], r"t\[1\] = t\[0\] = 0: each output time may appear once"),
        ([0.0, 1.0, 0.5], r"starts increasing but t\[2\]=0.5"),
        ([0.0, 2.0, 1.0], r"strictly increasing or strictly decreasing"),
        ([[0.0, 1.0]], r"`t` must be a 1-D sequence.*shape \(1, 2\)"),
        (1.0, r"`t` must be a 1-D sequence.*scalar"),
        ([], r"at least one time"),
        ([0.0, np.nan], r"`t` contains NaN"),
        ("abc", r"`t` must be a 1-D sequence"),
    ],
)
def test_bad_times(t, match):
    with pytest.raises(ValueError, match=match):
        odeint(decay, Y0, t)


@pytest.mark.parametrize("y0", [np.array([np.nan]), np.array([1.0, np.inf]), np.array([])])
def test_bad_initial_state(y0):
    with pytest.raises(ValueError, match=r"`y0`"):
        odeint(decay, y0, T)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"atol": -1e-9}, r"`atol` must be non-negative"),
        ({"rtol": np.nan}, r"`rtol` must be non-negative and finite"),
        ({"atol": [1e-9, -1.0]}, r"`atol` must be non-negative"),
        ({"rtol": 0.0, "atol": 0.0}, r"both 0"),
        ({"atol": [1e-9, 1e-9]}, r"`atol` of shape \(2,\) does not broadcast"),
        ({"method": "rk4", "step_size": 0.0}, r"`step_size` must be positive"),
        ({"method": "rk4", "step_size": -0.1}, r"`step_size` must be positive"),
        ({"method": "rk4", "step_size": float("nan")}, r"`step_size` must be positive"),
        ({"first_step": 0.0}, r"`first_step` must be positive"),
        ({"max_steps": 0}, r"`max_steps` must be an integer >= 1"),
        ({"method": "bdf2", "step_size": 0.1, "newton_tol": -1.0}, r"`newton_tol`"),
        ({"method": "bdf2", "step_size": 0.1, "max_newton_iters": 0}, r"`max_newton_iters`"),
        ({"method": "theta", "step_size": 0.1, "theta": 1.5}, r"`theta` must be a number in"),
        ({"method": "theta", "step_size": 0.1}, r"needs `theta="),
        # without step_size a fixed-step method steps on t (torchdiffeq); both is an error
        ({"method": "rk4", "step_size": 0.1, "grid_constructor": lambda f, y, t: t},
         r"exclude each other"),
        ({"method": "dopri5", "step_size": 0.1}, r"`step_size` does not apply.*`first_step`"),
        ({"method": "rk4", "step_size": 0.1, "first_step": 0.1}, r"`first_step` does not apply"),
        ({"method": "rk4", "step_size": 0.1, "jac": lambda t, y: 1.0}, r"`jac` does not apply"),
        ({"method": "bdf2", "step_size": 0.1, "theta": 0.5}, r"`theta` does not apply"),
        ({"options": {"stepsize": 0.1}}, r"Unknown option `stepsize` in `options`.*step_size"),
        ({"method": "rk4", "step_size": 0.1, "options": {"step_size": 0.2}}, r"both"),
        ({"method": "rk4", "step_size": 1e-9}, r"needs 1000000000 steps.*`max_steps`"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        odeint(decay, Y0, T, **kwargs)


def test_unknown_keyword_is_a_type_error_listing_the_options():
    with pytest.raises(TypeError, match=r"Unknown option `stepsize`.*step_size, first_step"):
        odeint(decay, Y0, T, stepsize=0.1)


def test_func_must_be_callable():
    with pytest.raises(TypeError, match=r"`func` must be callable"):
        odeint(None, Y0, T)


def test_options_dict_works_like_keywords():
    a = odeint(decay, Y0, T, method="rk4", options={"step_size": 0.1})
    b = odeint(decay, Y0, T, method="rk4", step_size=0.1)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "method, kwargs", [("dopri5", {}), ("rk4", {"step_size": 0.1}), ("bdf2", {"step_size": 0.1})]
)
def test_func_returning_the_wrong_shape(method, kwargs):
    with pytest.raises(
        ValueError, match=r"returned an array of shape \(3,\).*`y0` has shape \(2,\)"
    ):
        odeint(lambda t, y: np.zeros(3), np.ones(2), T, method=method, **kwargs)


def test_func_returning_the_wrong_type():
    with pytest.raises(ValueError, match=r"`func` must return an array"):
        odeint(lambda t, y: "dy", Y0, T)
    # plain floats and lists are accepted for NumPy states
    ys = odeint(lambda t, y: [-y[0]], Y0, T)
    assert abs(ys[-1, 0] - np.exp(-1)) < 1e-8


def test_user_jacobian_of_the_wrong_shape():
    with pytest.raises(
        ValueError, match=r"`jac\(t, y\)` returned shape \(3, 3\); expected \(2, 2\)"
    ):
        odeint(
            lambda t, y: -y,
            np.ones(2),
            T,
            method="backward_euler",
            step_size=0.1,
            jac=lambda t, y: np.eye(3),
        )


# ----------------------------------------------------------------------------- failures
def test_nan_from_func_reports_the_time_adaptive():
    func = lambda t, y: -y if t < 0.5 else np.full_like(y, np.nan)
    with pytest.raises(
        ODESolverError, match=r"NaN or inf appeared in trial steps near t=0\.[45]"
    ) as info:
        odeint(func, Y0, T)
    assert isinstance(info.value, RuntimeError)


def test_nan_from_func_reports_the_time_fixed_step():
    # f(0.6) is NaN, so Euler's y(0.7) is the first non-finite value
    func = lambda t, y: -y if t < 0.55 else np.full_like(y, np.nan)
    with pytest.raises(ODESolverError, match=r"NaN or inf appeared in the solution at t=0\.7"):
        odeint(func, Y0, T, method="euler", step_size=0.1)


def test_blow_up_reports_step_size_underflow_with_the_time():
    # y' = y^2, y(0) = 1 blows up at t = 1
    with pytest.raises(ODESolverError, match=r"Step size underflow at t=(0\.99|1\.0).*'bdf2'"):
        odeint(lambda t, y: y * y, Y0, [0.0, 2.0])


def test_a_stiff_problem_is_detected_and_named():
    stiff = lambda t, y: np.array([y[1], 1000.0 * (1 - y[0] ** 2) * y[1] - y[0]])
    with pytest.raises(ODESolverError, match=r"became stiff.*'bdf2'.*'backward_euler'") as info:
        odeint(stiff, np.array([2.0, 0.0]), [0.0, 100.0])
    assert info.value.stats.num_accepted < 300 and info.value.t < 1.0


def test_max_steps_on_a_non_stiff_problem_does_not_say_stiff():
    oscillator = lambda t, y: np.array([y[1], -y[0]])
    with pytest.raises(ODESolverError, match=r"`max_steps`=50 at t=.*Increase `max_steps`") as e:
        odeint(oscillator, np.array([1.0, 0.0]), [0.0, 1000.0], max_steps=50)
    assert "stiff" not in str(e.value) and e.value.t > 0 and e.value.stats.num_accepted > 40


def test_newton_failure_suggests_a_smaller_step():
    # backward Euler on y' = y^2 with h = 1: y1 = 1 + y1^2 has no real solution
    with pytest.raises(NewtonConvergenceError, match=r"Newton.*t=1.*smaller `step_size`") as info:
        odeint(lambda t, y: y * y, Y0, [0.0, 1.0], method="backward_euler", step_size=1.0)
    assert isinstance(info.value, RuntimeError)


def test_torch_nan_in_fixed_step_reports_the_interval():
    torch = pytest.importorskip("torch")
    func = lambda t, y: -y if t < 0.55 else y * float("nan")
    with pytest.raises(ODESolverError, match=r"between t=0\.5 and t=0\.6"):
        odeint(
            func,
            torch.ones(1, dtype=torch.float64),
            torch.linspace(0, 1, 11),
            method="rk4",
            step_size=0.1,
        )


def test_torch_func_must_return_a_tensor():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"must return a torch tensor"):
        odeint(lambda t, y: np.zeros(1), torch.ones(1), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"returned a torch tensor but `y0` is a NumPy array"):
        odeint(lambda t, y: torch.zeros(1), np.ones(1), [0.0, 1.0])


# ----------------------------------------------------------------------------- tableaus
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"a": [[0, 0, 0], [1, 0, 0]], "b": [1, 0], "c": [0, 1]}, r"square"),
        ({"a": [[0, 0], [1, 0]], "b": [1.0], "c": [0, 1]}, r"`b` must have one entry per stage"),
        (
            {"a": [[0, 0], [1, 0]], "b": [0.5, 0.5], "c": [0, 0.9]},
            r"row sums of `a` must equal `c`.*row 1",
        ),
        ({"a": [[0, 0], [1, 0]], "b": [0.5, 0.4], "c": [0, 1]}, r"`b` must sum to 1.*0\.9"),
        (
            {"a": [[0.5, 0], [0.5, 0.5]], "b": [0.5, 0.5], "c": [0.5, 1], "explicit": True},
            r"strictly lower triangular.*a\[0, 0\]",
        ),
        ({"a": [[0, 0], [np.nan, 0]], "b": [0.5, 0.5], "c": [0, 1]}, r"`a` contains NaN"),
        (
            {"a": [[0, 0], [1, 0]], "b": [0.5, 0.5], "c": [0, 1], "b_hat": [1.0, 0.5]},
            r"`b_hat` must sum to 1",
        ),
        ({"a": [[0, 0], [1, 0]], "b": [0.5, 0.5], "c": [0, 1], "order": 0}, r"`order` must be"),
    ],
)
def test_tableau_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ButcherTableau(**kwargs)


def test_a_diagonally_implicit_tableau_is_stepped_like_its_registered_method():
    tableau = ButcherTableau([[1.0]], [1.0], [1.0], explicit=False)
    assert tableau.order == 1 and not tableau.is_explicit
    ours = odeint(decay, Y0, T, method=tableau, step_size=0.1)
    registered = odeint(decay, Y0, T, method="backward_euler", step_size=0.1)
    np.testing.assert_allclose(ours, registered, rtol=1e-13)


def test_a_fully_implicit_tableau_is_refused():
    root3 = 3**0.5 / 6  # two-stage Gauss–Legendre
    gauss = ButcherTableau([[0.25, 0.25 - root3], [0.25 + root3, 0.25]], [0.5, 0.5],
                           [0.5 - root3, 0.5 + root3], explicit=False)
    with pytest.raises(ValueError, match=r"fully implicit.*diagonally implicit"):
        odeint(decay, Y0, T, method=gauss, step_size=0.1)


# ----------------------------------------------------------------------------- hygiene
def test_no_assert_statements_in_the_solver():
    root = pathlib.Path(ode.__file__).parent
    files = list(root.glob("*.py")) + [root.parent / "analysis.py", root.parent / "problems.py"]
    for path in files:
        tree = ast.parse(path.read_text())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not asserts, f"{path.name} uses assert at lines {asserts}"


def test_import_and_numpy_solve_do_not_import_torch():
    code = (
        "import sys, numpy as np, course_utils, course_utils.ode, course_utils.analysis, "
        "course_utils.problems\n"
        "from course_utils.ode import odeint\n"
        "odeint(lambda t, y: -y, np.ones(2), [0.0, 1.0])\n"
        "odeint(lambda t, y: -y, np.ones(2), [0.0, 1.0], method='bdf2', step_size=0.1)\n"
        "course_utils.analysis.tableau_order('rk4')\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- tolerances
def test_pure_absolute_and_pure_relative_control_are_accepted():
    exact = np.exp(-1.0)
    for rtol, atol in ((0.0, 1e-10), (1e-10, 0.0)):
        ys, stats = odeint(decay, Y0, [0.0, 1.0], rtol=rtol, atol=atol, return_stats=True)
        assert abs(ys[-1, 0] - exact) < 1e-8, (rtol, atol)
        assert stats.num_accepted > 10


def test_pure_relative_control_survives_a_component_that_stays_zero():
    func = lambda t, y: np.array([-y[0], 0.0 * y[1]])
    ys = odeint(func, np.array([1.0, 0.0]), [0.0, 1.0], rtol=1e-8, atol=0.0)
    assert ys[-1, 1] == 0.0 and abs(ys[-1, 0] - np.exp(-1.0)) < 1e-7


def test_an_rtol_below_the_dtype_resolution_is_raised_with_a_warning():
    with pytest.warns(RuntimeWarning, match=r"below the resolution of float32"):
        ys = odeint(decay, Y0.astype(np.float32), [0.0, 1.0], rtol=1e-12, atol=1e-12)
    assert ys.dtype == np.float32 and abs(float(ys[-1, 0]) - np.exp(-1.0)) < 1e-5
