"""The interpolating adjoint and ``odeint_gradient``: against backprop, closed forms and
finite differences."""

import numpy as np
import pytest
import torch

from course_utils.adjoint import linear_ode_gradients, odeint_adjoint
from course_utils.adjoint_checkpoint import odeint_interpolated_adjoint, solve_dense
from course_utils.gradients import GRADIENTS, odeint_gradient
from course_utils.ode import odeint

DTYPE = torch.float64
TIGHT = dict(rtol=1e-10, atol=1e-12)


class Linear(torch.nn.Module):
    def __init__(self, A):
        super().__init__()
        self.A = torch.nn.Parameter(torch.as_tensor(A, dtype=DTYPE).clone())

    def forward(self, t, y):
        return y @ self.A.T


class Mlp(torch.nn.Module):
    def __init__(self, size=2, hidden=8, seed=1):
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(size, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, size)).to(DTYPE)

    def forward(self, t, y):
        return self.net(y)


class TimeDependent(torch.nn.Module):
    def __init__(self, size=2, seed=2):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(torch.randn(size, size, generator=gen, dtype=DTYPE))
        self.b = torch.nn.Parameter(torch.randn(size, generator=gen, dtype=DTYPE))
        self.omega = torch.nn.Parameter(torch.tensor(2.0, dtype=DTYPE))

    def forward(self, t, y):
        return torch.tanh(y @ self.W.T + self.b) * torch.cos(self.omega * t) - 0.3 * y


def _random_linear(seed=0, size=3):
    gen = torch.Generator().manual_seed(seed)
    return Linear(torch.randn(size, size, generator=gen, dtype=DTYPE) / 2
                  - 0.4 * torch.eye(size, dtype=DTYPE))


FIELDS = {"linear": _random_linear, "mlp": Mlp, "time-dependent": TimeDependent}


def _gradients(solve, func, y0, t, **kwargs):
    y0 = y0.detach().clone().requires_grad_(True)
    params = [p for p in func.parameters() if p.requires_grad]
    ys = solve(func, y0, t, **kwargs)
    weights = torch.randn(ys.shape, generator=torch.Generator().manual_seed(3), dtype=DTYPE)
    loss = (ys * weights).sum() + 0.5 * (ys[-1] ** 2).sum()
    return torch.autograd.grad(loss, [y0, *params])


def _assert_close(got, want, tol):
    for g, w in zip(got, want):
        scale = max(1.0, float(w.abs().max()))
        assert float((g - w).abs().max()) <= tol * scale, (g, w)


@pytest.mark.parametrize("name", list(FIELDS))
@pytest.mark.parametrize("times", [[0.0, 1.5], [0.0, 0.4, 1.0, 1.5], [1.5, 0.7, 0.0]],
                         ids=["one-interval", "four-outputs", "backwards"])
def test_interpolated_adjoint_equals_backprop_at_tight_tolerance(name, times):
    func = FIELDS[name]()
    y0 = torch.tensor([[0.5, -0.3, 0.2], [1.0, 0.1, -0.4]], dtype=DTYPE)[:, :2] \
        if name != "linear" else torch.tensor([0.5, -0.3, 0.2], dtype=DTYPE)
    t = torch.tensor(times, dtype=DTYPE)
    want = _gradients(odeint, func, y0, t, **TIGHT)
    got = _gradients(odeint_interpolated_adjoint, func, y0, t, **TIGHT)
    _assert_close(got, want, 1e-7)


def test_gradient_within_1e_6_of_backprop_at_rtol_1e_8():
    """The issue's target, on the MLP field in float64."""
    func, y0 = Mlp(hidden=16), torch.randn(16, 2, dtype=DTYPE,
                                           generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.0, 5.0], dtype=DTYPE)
    want = _gradients(odeint, func, y0, t, rtol=1e-8, atol=1e-8)
    got = _gradients(odeint_interpolated_adjoint, func, y0, t, rtol=1e-8, atol=1e-8)
    _assert_close(got, want, 1e-6)


def test_linear_system_matches_the_closed_form():
    A = np.array([[-0.3, 1.0], [-1.0, -0.2]])
    y0 = np.array([1.0, 0.5])
    want_y0, want_A = linear_ode_gradients(A, y0, 2.0, lambda yT: yT)  # L = |y(T)|²/2
    func = Linear(A)
    start = torch.tensor(y0, dtype=DTYPE, requires_grad=True)
    ys = odeint_interpolated_adjoint(func, start, [0.0, 2.0], **TIGHT)
    (0.5 * (ys[-1] ** 2).sum()).backward()
    np.testing.assert_allclose(start.grad.numpy(), want_y0, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(func.A.grad.numpy(), want_A, rtol=1e-8, atol=1e-10)


def test_dissipative_field_breaks_backsolve_but_not_the_interpolated_adjoint():
    """y' = A y with a fast decaying mode: backwards, that mode grows like e^{30 t} and the
    backsolve's reconstruction of y from y(T) is swamped by its errors (ANODE)."""
    A = np.diag([-30.0, -1.0]) + np.array([[0.0, 0.5], [0.0, 0.0]])
    y0 = np.array([1.0, 1.0])
    T = 3.0
    want_y0, want_A = linear_ode_gradients(A, y0, T, lambda yT: np.ones(2))  # L = sum y(T)
    errors = {}
    for name, solve in [("backsolve", odeint_adjoint),
                        ("interpolated", odeint_interpolated_adjoint)]:
        func = Linear(A)
        start = torch.tensor(y0, dtype=DTYPE, requires_grad=True)
        solve(func, start, [0.0, T], rtol=1e-6, atol=1e-8)[-1].sum().backward()
        errors[name] = float(np.abs(func.A.grad.numpy() - want_A).max()
                             / np.abs(want_A).max())
    assert errors["interpolated"] < 1e-4
    assert errors["backsolve"] > 100 * errors["interpolated"]


@pytest.mark.parametrize("method", ["bosh3", "fehlberg45", "dopri5"])
def test_hermite_and_dense_interpolants_reproduce_the_forward_solution(method):
    func = Mlp()
    y0 = torch.tensor([[0.5, -0.3], [1.0, 0.1]], dtype=DTYPE)
    fine = torch.linspace(0.0, 2.0, 41, dtype=DTYPE)
    with torch.no_grad():
        ys, dense, stats = solve_dense(func, y0, fine, method=method, rtol=1e-9, atol=1e-11,
                                       return_stats=True)
        plain = odeint(func, y0, fine, method=method, rtol=1e-9, atol=1e-11)
    assert torch.equal(ys, plain)  # the recorder does not change the solve
    assert dense.num_steps == stats.num_accepted
    for i, time in enumerate(fine.tolist()):
        assert float((dense(time) - ys[i]).abs().max()) < 1e-8


def test_memory_kept_is_five_states_per_step():
    func = Mlp()
    y0 = torch.zeros(4, 2, dtype=DTYPE)
    with torch.no_grad():
        _, dense, stats = solve_dense(func, y0, [0.0, 3.0], return_stats=True)
    assert dense.nbytes == 5 * y0.numel() * 8 * stats.num_accepted


def test_fixed_step_method_matches_backprop_to_discretisation_error():
    func = Mlp()
    y0 = torch.tensor([0.5, -0.3], dtype=DTYPE)
    t = torch.tensor([0.0, 1.0], dtype=DTYPE)
    want = _gradients(odeint, func, y0, t, method="rk4", step_size=0.01)
    got = _gradients(odeint_interpolated_adjoint, func, y0, t, method="rk4", step_size=0.01,
                     adjoint_method="dopri5", adjoint_rtol=1e-10, adjoint_atol=1e-12)
    _assert_close(got, want, 1e-6)


def test_time_gradients_match_central_differences():
    func = TimeDependent()
    y0 = torch.tensor([0.3, -0.2], dtype=DTYPE)
    t = torch.tensor([0.2, 0.9, 1.6], dtype=DTYPE, requires_grad=True)
    ys = odeint_interpolated_adjoint(func, y0, t, **TIGHT)
    ys.sum().backward()
    for i in range(3):
        step = 1e-5
        plus, minus = t.detach().clone(), t.detach().clone()
        plus[i] += step
        minus[i] -= step
        with torch.no_grad():
            diff = (odeint(func, y0, plus, **TIGHT).sum()
                    - odeint(func, y0, minus, **TIGHT).sum()) / (2 * step)
        assert abs(float(t.grad[i]) - float(diff)) < 1e-6


def test_seminorm_saves_backward_evaluations_and_keeps_the_gradient():
    func = Mlp(hidden=16)
    y0 = torch.randn(8, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([0.0, 4.0], dtype=DTYPE)
    nfe, grads = {}, {}
    for semi in (False, True):
        start = y0.clone().requires_grad_(True)
        ys, stats = odeint_interpolated_adjoint(func, start, t, rtol=1e-6, atol=1e-6,
                                                seminorm=semi, return_stats=True)
        grads[semi] = torch.autograd.grad((ys[-1] ** 2).sum(), [start])[0]
        nfe[semi] = stats.backward.nfe
    assert nfe[True] < nfe[False]
    assert float((grads[True] - grads[False]).abs().max()) < 1e-4


def test_backward_costs_fewer_evaluations_than_backsolve():
    func = Mlp(hidden=16)
    y0 = torch.randn(8, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([0.0, 4.0], dtype=DTYPE)
    backward = {}
    for name, solve in [("backsolve", odeint_adjoint),
                        ("interpolated", odeint_interpolated_adjoint)]:
        ys, stats = solve(func, y0.clone().requires_grad_(True), t, rtol=1e-6, atol=1e-6,
                          return_stats=True)
        (ys[-1] ** 2).sum().backward()
        backward[name] = stats.backward.nfe
    assert backward["interpolated"] < backward["backsolve"]


@pytest.mark.parametrize("gradient", GRADIENTS)
def test_odeint_gradient_dispatches_to_each_method(gradient):
    func = Mlp()
    y0 = torch.tensor([0.5, -0.3], dtype=DTYPE)
    t = torch.tensor([0.0, 1.0], dtype=DTYPE)
    want = _gradients(odeint, func, y0, t, **TIGHT)
    got = _gradients(lambda *a, **k: odeint_gradient(*a, gradient=gradient, **k),
                     func, y0, t, **TIGHT)
    _assert_close(got, want, 1e-7)


@pytest.mark.parametrize("call, match", [
    (lambda f, y: odeint_gradient(f, y, [0.0, 1.0], gradient="adjoint"), "gradient"),
    (lambda f, y: odeint_gradient(f, y, [0.0, 1.0], gradient="backprop", seminorm=True),
     "seminorm"),
    (lambda f, y: odeint_interpolated_adjoint(lambda t, u: -u, y, [0.0, 1.0]), "Module"),
    (lambda f, y: odeint_interpolated_adjoint(f, y, [0.0, 1.0], adjoint_method="bdf2",
                                              adjoint_step_size=0.1), "explicit"),
    (lambda f, y: odeint_interpolated_adjoint(f, y.numpy(), [0.0, 1.0]), "y0"),
])
def test_user_errors_say_what_to_do(call, match):
    with pytest.raises(ValueError, match=match):
        call(Mlp(), torch.tensor([0.5, -0.3], dtype=DTYPE))


def test_stats_report_both_passes_and_the_memory_kept():
    func = Mlp()
    y0 = torch.tensor([0.5, -0.3], dtype=DTYPE, requires_grad=True)
    ys, stats = odeint_interpolated_adjoint(func, y0, [0.0, 1.0], return_stats=True)
    assert stats.backward.nfe == 0 and stats.dense_bytes > 0
    ys[-1].sum().backward()
    assert stats.backward.nfe > 0 and stats.num_backward_calls == 1


def test_backsolve_adjoint_with_per_sample_forward_steps_matches_backprop():
    """per_sample=True shapes the forward solve only; the backward solve's flat state is
    not a batch, so odeint_adjoint must not inherit the option."""
    func = Mlp()
    y0 = torch.tensor([[0.5, -0.3], [1.0, 0.1], [-2.0, 0.4]], dtype=DTYPE)
    t = torch.tensor([0.0, 1.0], dtype=DTYPE)
    want = _gradients(odeint, func, y0, t, per_sample=True, **TIGHT)
    got = _gradients(odeint_adjoint, func, y0, t, per_sample=True, **TIGHT)
    _assert_close(got, want, 1e-7)
    with pytest.raises(ValueError, match="per_sample"):
        odeint_interpolated_adjoint(func, y0, t, per_sample=True)
