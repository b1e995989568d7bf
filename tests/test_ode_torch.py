"""course_utils.ode on torch tensors: same numbers as NumPy, autograd, dtypes, no_grad.

Truth: closed forms (expm), finite differences (gradcheck) and the NumPy backend's
results compared with torch's (two different code paths, the same mathematics).
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scipy.linalg import expm  # noqa: E402

from course_utils.ode import METHODS, list_methods, odeint  # noqa: E402
from course_utils.problems import get_problem  # noqa: E402

MATRIX = np.array([[-0.3, 1.0], [-1.0, -0.2]])


def _kwargs(method):
    if METHODS[method].adaptive:
        return {"rtol": 1e-8, "atol": 1e-8}
    kwargs = {"step_size": 0.05}
    if method == "theta":
        kwargs["theta"] = 0.4
    return kwargs


@pytest.mark.parametrize("method", list_methods())
def test_torch_and_numpy_give_the_same_numbers(method):
    problem = get_problem("van_der_pol")
    t = np.linspace(0.0, 1.5, 4)
    ys_np, stats_np = odeint(
        problem.func, problem.y0, t, method=method, return_stats=True, **_kwargs(method)
    )
    ys_t, stats_t = odeint(
        problem.func,
        torch.tensor(problem.y0),
        torch.tensor(t),
        method=method,
        return_stats=True,
        **_kwargs(method),
    )
    assert isinstance(ys_t, torch.Tensor) and ys_t.dtype == torch.float64
    np.testing.assert_allclose(ys_t.numpy(), ys_np, rtol=1e-9, atol=1e-11)
    assert stats_t.num_accepted == stats_np.num_accepted


def test_func_receives_a_tensor_time_on_the_state_device_and_dtype():
    seen = []

    def func(t, y):
        seen.append((type(t), t.dtype, t.device, t.shape))
        return -y

    y0 = torch.ones(3, dtype=torch.float32)
    odeint(func, y0, torch.tensor([0.0, 1.0]))
    assert set(seen) == {(torch.Tensor, torch.float32, y0.device, torch.Size([]))}


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4", "ab3"])
def test_gradients_match_finite_differences(method):
    # d y(T) / d(y0, theta) for y' = theta * A y; gradcheck uses central differences
    matrix = torch.tensor(MATRIX)
    tol = 1e-8 if method == "bosh3" else 1e-10
    kwargs = {"rtol": tol, "atol": tol} if METHODS[method].adaptive else {"step_size": 0.02}

    def solve(y0, theta):
        return odeint(
            lambda t, y: theta * (y @ matrix.T),
            y0,
            torch.tensor([0.0, 0.5, 1.0]),
            method=method,
            **kwargs,
        )

    y0 = torch.tensor([1.0, -0.5], dtype=torch.float64, requires_grad=True)
    theta = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(solve, (y0, theta), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradient_with_respect_to_y0_is_the_matrix_exponential():
    matrix = torch.tensor(MATRIX)
    y0 = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ys = odeint(lambda t, y: matrix @ y, y0, [0.0, 2.0], rtol=1e-10, atol=1e-10)
    weights = torch.tensor([0.3, -0.7], dtype=torch.float64)
    (grad,) = torch.autograd.grad((ys[-1] * weights).sum(), y0)
    expected = expm(MATRIX * 2.0).T @ weights.numpy()
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-7)


def test_gradient_through_parameters_of_a_module():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    net = net.double()
    y0 = torch.randn(5, 2, dtype=torch.float64)
    ys = odeint(
        lambda t, y: net(y), y0, torch.tensor([0.0, 1.0], dtype=torch.float64), rtol=1e-9, atol=1e-9
    )
    ys[-1].square().sum().backward()
    weight = net[0].weight
    analytic = weight.grad[0, 0].item()
    # central finite difference of the loss in one weight
    eps = 1e-6
    values = []
    for sign in (1, -1):
        with torch.no_grad():
            weight[0, 0] += sign * eps
            out = odeint(
                lambda t, y: net(y),
                y0,
                torch.tensor([0.0, 1.0], dtype=torch.float64),
                rtol=1e-9,
                atol=1e-9,
            )
            values.append(out[-1].square().sum().item())
            weight[0, 0] -= sign * eps
    assert analytic == pytest.approx((values[0] - values[1]) / (2 * eps), rel=1e-5)


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4", "bdf2"])
def test_float32_works_and_stays_float32(method):
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float32)
    matrix = torch.tensor(MATRIX, dtype=torch.float32)
    kwargs = {"rtol": 1e-5, "atol": 1e-6} if METHODS[method].adaptive else {"step_size": 0.01}
    ys = odeint(lambda t, y: matrix @ y, y0, torch.linspace(0.0, 2.0, 5), method=method, **kwargs)
    assert ys.dtype == torch.float32
    truth = np.stack([expm(MATRIX * ti) @ np.array([1.0, 0.0]) for ti in np.linspace(0, 2, 5)])
    bound = 1e-2 if method == "bdf2" else 1e-4
    assert np.max(np.abs(ys.double().numpy() - truth)) < bound


def test_float32_with_default_tolerances_does_not_underflow():
    # rtol=1e-7 is below float32 resolution; the error estimate h * sum(e_j k_j) still
    # shrinks with h, so the solve finishes
    y0 = torch.tensor([1.0, 0.0])
    ys = odeint(lambda t, y: torch.stack([y[1], -y[0]]), y0, torch.tensor([0.0, 3.0]))
    assert abs(ys[-1, 0].item() - math.cos(3.0)) < 1e-5


def test_no_grad_gives_a_plain_tensor():
    y0 = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():
        ys = odeint(lambda t, y: -y, y0, torch.tensor([0.0, 1.0]))
    assert not ys.requires_grad and ys.grad_fn is None
    ys = odeint(lambda t, y: -y, y0, torch.tensor([0.0, 1.0]))
    assert ys.requires_grad


@pytest.mark.parametrize(
    "method", ["backward_euler", "trapezoidal", "theta", "implicit_midpoint", "am2", "bdf2"]
)
def test_implicit_methods_on_torch_use_autograd_jacobians(method):
    problem = get_problem("stiff_linear", stiffness=500.0)
    y0 = torch.tensor(problem.y0, requires_grad=True)
    kwargs = {"step_size": 0.01}
    if method == "theta":
        kwargs["theta"] = 0.5
    ys, stats = odeint(
        problem.func,
        y0,
        torch.tensor([0.0, 1.0], dtype=torch.float64),
        method=method,
        return_stats=True,
        **kwargs,
    )
    order = METHODS[method].order if method != "theta" else 2
    assert np.max(np.abs(ys[-1].detach().numpy() - problem.exact(1.0))) < 10 * 0.01**order
    assert stats.njev > 0
    # gradient through the Newton iterations: d y(1) / d y0 = expm(A) (approximately)
    (grad,) = torch.autograd.grad(ys[-1].sum(), y0)
    matrix = 0.5 * np.array([[-501.0, -499.0], [-499.0, -501.0]])
    expected = expm(matrix).T @ np.ones(2)
    np.testing.assert_allclose(grad.numpy(), expected, atol=10 * 0.01**order)


def test_implicit_torch_with_user_jacobian_and_batched_state():
    matrix = torch.tensor([[-2.0, 1.0], [1.0, -2.0]], dtype=torch.float64)
    y0 = torch.ones(3, 2, dtype=torch.float64)  # a batch of three states

    def func(t, y):
        return y @ matrix.T

    def jac(t, y):  # (3, 2, 3, 2): block diagonal
        return torch.einsum("ij,ab->aibj", matrix, torch.eye(3, dtype=torch.float64))

    ys, stats = odeint(
        func, y0, [0.0, 1.0], method="bdf2", step_size=0.01, jac=jac, return_stats=True
    )
    truth = expm(matrix.numpy()) @ np.ones(2)
    np.testing.assert_allclose(ys[-1].numpy(), np.tile(truth, (3, 1)), atol=1e-4)
    assert stats.njev > 0


def test_tensor_tolerances():
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    ys = odeint(
        lambda t, y: torch.stack([y[1], -y[0]]),
        y0,
        torch.tensor([0.0, 1.0]),
        rtol=torch.tensor(1e-9),
        atol=torch.full((2,), 1e-9, dtype=torch.float64),
    )
    assert abs(ys[-1, 0].item() - math.cos(1.0)) < 1e-8


def test_problems_work_on_batched_torch_states():
    for name in ["decay", "harmonic_oscillator", "pendulum", "kepler", "stiff_linear"]:
        problem = get_problem(name)
        batch = torch.tensor(np.stack([problem.y0, problem.y0]))
        out = problem.func(0.0, batch)
        np.testing.assert_allclose(out[0].numpy(), problem.func(0.0, problem.y0), rtol=1e-14)
