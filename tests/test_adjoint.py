"""course_utils.adjoint.odeint_adjoint: gradients against autograd, backprop and closed forms."""

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from course_utils.adjoint import AdjointStats, adjoint_dynamics, odeint_adjoint
from course_utils.ode import odeint

DTYPE = torch.float64
TIGHT = dict(rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- vector fields
class Linear(torch.nn.Module):
    """y' = A y."""

    def __init__(self, size=3, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.A = torch.nn.Parameter(torch.randn(size, size, generator=gen, dtype=DTYPE) / 2
                                    - 0.4 * torch.eye(size, dtype=DTYPE))

    def forward(self, t, y):
        return y @ self.A.T


class Mlp(torch.nn.Module):
    """An autonomous tanh network (nonlinear)."""

    def __init__(self, size=2, hidden=8, seed=1):
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(size, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, size)).to(DTYPE)

    def forward(self, t, y):
        return self.net(y)


class TimeDependent(torch.nn.Module):
    """y' = tanh(W y + b) * cos(ω t) - c y: explicitly time-dependent."""

    def __init__(self, size=2, seed=2):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(torch.randn(size, size, generator=gen, dtype=DTYPE))
        self.b = torch.nn.Parameter(torch.randn(size, generator=gen, dtype=DTYPE))
        self.omega = torch.nn.Parameter(torch.tensor(2.0, dtype=DTYPE))
        self.c = torch.nn.Parameter(torch.tensor(0.3, dtype=DTYPE))

    def forward(self, t, y):
        return torch.tanh(y @ self.W.T + self.b) * torch.cos(self.omega * t) - self.c * y


class NoParameters(torch.nn.Module):
    """The Van der Pol oscillator: a module with no parameters at all."""

    def forward(self, t, y):
        x, v = y[..., 0], y[..., 1]
        return torch.stack([v, 1.5 * (1 - x**2) * v - x], dim=-1)


FIELDS = {"linear": Linear, "mlp": Mlp, "time-dependent": TimeDependent,
          "no-parameters": NoParameters}


def _weights(shape, seed=3):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def _gradients(solver, func, y0, t, **kwargs):
    """Gradient of a loss that uses every output time, w.r.t. y0 and the parameters."""
    y0 = y0.detach().clone().requires_grad_(True)
    params = [p for p in func.parameters() if p.requires_grad]
    ys = solver(func, y0, t, **kwargs)
    weights = _weights(ys.shape)
    loss = (ys * weights).sum() + 0.5 * (ys[-1] ** 2).sum()
    return torch.autograd.grad(loss, [y0, *params])


def _relative_error(got, want):
    return max((g - w).abs().max().item() / max(w.abs().max().item(), 1e-12)
               for g, w in zip(got, want))


# ----------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("name", sorted(FIELDS))
@pytest.mark.parametrize("times", [[0.0, 0.4, 1.0, 1.5], [1.5, 0.8, 0.0]],
                         ids=["increasing", "decreasing"])
def test_adjoint_equals_backprop_at_tight_tolerance(name, times):
    func = FIELDS[name]()
    y0 = _weights((3, 2) if name != "linear" else (3,), seed=4)
    t = torch.tensor(times, dtype=DTYPE)
    adjoint = _gradients(odeint_adjoint, func, y0, t, **TIGHT)
    backprop = _gradients(odeint, func, y0, t, **TIGHT)
    assert len(adjoint) == len(backprop) == 1 + len(list(func.parameters()))
    assert _relative_error(adjoint, backprop) < 1e-6


def test_linear_system_matches_the_closed_form():
    """L = g(y(T)) for y' = A y: ∂L/∂y0 = e^{AᵀT}∇g and ∂L/∂A from the block exponential."""
    func = Linear(size=3, seed=5)
    a = func.A.detach().numpy()
    y0 = np.array([1.0, -0.5, 0.3])
    horizon = 1.3
    target = np.array([0.2, 0.1, -0.4])
    y0_t = torch.tensor(y0, requires_grad=True)
    ys = odeint_adjoint(func, y0_t, torch.tensor([0.0, horizon], dtype=DTYPE), **TIGHT)
    loss = 0.5 * ((ys[-1] - torch.tensor(target)) ** 2).sum()
    grad_y0, grad_a = torch.autograd.grad(loss, [y0_t, func.A])
    grad_g = expm(a * horizon) @ y0 - target
    block = np.zeros((6, 6))
    block[:3, :3] = block[3:, 3:] = a.T
    block[:3, 3:] = np.outer(grad_g, y0)
    np.testing.assert_allclose(grad_y0.numpy(), expm(a.T * horizon) @ grad_g, rtol=1e-8)
    np.testing.assert_allclose(grad_a.numpy(), expm(block * horizon)[:3, 3:], rtol=1e-7,
                               atol=1e-10)


def test_gradcheck_float64_including_time():
    torch.manual_seed(0)
    func = TimeDependent(size=2, seed=7)
    y0 = torch.tensor([[0.3, -0.6]], dtype=DTYPE, requires_grad=True)
    t = torch.tensor([0.0, 0.5, 1.1], dtype=DTYPE, requires_grad=True)
    params = tuple(func.parameters())

    def solve(y0_, t_, *ps):
        return odeint_adjoint(func, y0_, t_, adjoint_params=ps, **TIGHT)

    assert torch.autograd.gradcheck(solve, (y0, t, *params), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_time_gradients_match_central_differences_backwards_in_time():
    func = TimeDependent(size=2, seed=8)
    y0 = torch.tensor([0.5, 0.2], dtype=DTYPE)
    base = torch.tensor([1.0, 0.6, -0.2], dtype=DTYPE)
    weights = _weights((3, 2), seed=9)
    t = base.clone().requires_grad_(True)
    (grad_t,) = torch.autograd.grad((odeint_adjoint(func, y0, t, **TIGHT) * weights).sum(), t)
    step = 1e-6
    for i in range(3):
        e = torch.zeros(3, dtype=DTYPE)
        e[i] = step
        with torch.no_grad():
            plus = (odeint(func, y0, base + e, **TIGHT) * weights).sum()
            minus = (odeint(func, y0, base - e, **TIGHT) * weights).sum()
        assert grad_t[i].item() == pytest.approx(((plus - minus) / (2 * step)).item(),
                                                 rel=1e-5, abs=1e-8)


def test_fixed_step_method_matches_backprop_to_discretisation_error():
    func = Mlp(seed=10)
    y0 = _weights((2,), seed=11)
    t = torch.tensor([0.0, 1.0], dtype=DTYPE)
    adjoint = _gradients(odeint_adjoint, func, y0, t, method="rk4", step_size=0.01)
    backprop = _gradients(odeint, func, y0, t, method="rk4", step_size=0.01)
    assert _relative_error(adjoint, backprop) < 1e-6


# ----------------------------------------------------------------------------- options
def test_seminorm_saves_backward_evaluations_without_losing_accuracy():
    func = Mlp(size=2, hidden=32, seed=12)
    y0 = _weights((16, 2), seed=13)
    t = torch.tensor([0.0, 2.0], dtype=DTYPE)
    reference = _gradients(odeint, func, y0, t, **TIGHT)
    nfe, grads = {}, {}
    for semi in (False, True):
        y0_ = y0.clone().requires_grad_(True)
        ys, stats = odeint_adjoint(func, y0_, t, rtol=1e-6, atol=1e-8, seminorm=semi,
                                   return_stats=True)
        assert stats.backward.nfe == 0
        weights = _weights(ys.shape)
        loss = (ys * weights).sum() + 0.5 * (ys[-1] ** 2).sum()
        grads[semi] = torch.autograd.grad(loss, [y0_, *func.parameters()])
        nfe[semi] = stats.backward.nfe
        assert stats.num_backward_calls == 1 and stats.forward.nfe > 0
    assert nfe[True] < nfe[False]
    assert _relative_error(grads[True], reference) < 1e-4
    assert _relative_error(grads[False], reference) < 1e-4


def test_backward_tolerances_and_method_can_differ_from_the_forward():
    func = Mlp(seed=14)
    y0 = _weights((2,), seed=15)
    t = torch.tensor([0.0, 1.0], dtype=DTYPE)
    reference = _gradients(odeint, func, y0, t, **TIGHT)
    loose = _gradients(odeint_adjoint, func, y0, t, **TIGHT, adjoint_rtol=1e-4,
                       adjoint_atol=1e-6)
    tight = _gradients(odeint_adjoint, func, y0, t, **TIGHT)
    fixed = _gradients(odeint_adjoint, func, y0, t, **TIGHT, adjoint_method="rk4",
                       adjoint_step_size=0.005)
    assert _relative_error(tight, reference) < _relative_error(loose, reference) < 1e-2
    assert _relative_error(fixed, reference) < 1e-6


def test_memory_is_independent_of_the_number_of_steps():
    """Bytes saved for backward: constant for the adjoint, growing for backprop."""
    func = Mlp(size=2, hidden=16, seed=16)
    y0 = _weights((8, 2), seed=17).requires_grad_(True)

    def saved_bytes(solver, horizon):
        total = [0]

        def pack(tensor):
            total[0] += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            solver(func, y0, torch.tensor([0.0, horizon], dtype=DTYPE), rtol=1e-6,
                   atol=1e-8)
        return total[0]

    adjoint = [saved_bytes(odeint_adjoint, h) for h in (1.0, 20.0)]
    backprop = [saved_bytes(odeint, h) for h in (1.0, 20.0)]
    assert adjoint[0] == adjoint[1]
    assert backprop[1] > 2 * backprop[0] > 2 * adjoint[0]


def test_output_without_grad_and_single_time():
    func = Mlp(seed=18)
    for p in func.parameters():
        p.requires_grad_(False)
    y0 = _weights((2,), seed=19)
    ys = odeint_adjoint(func, y0, torch.tensor([0.0, 1.0], dtype=DTYPE))
    assert not ys.requires_grad
    torch.testing.assert_close(ys, odeint(func, y0, torch.tensor([0.0, 1.0], dtype=DTYPE)))
    y0.requires_grad_(True)
    ys = odeint_adjoint(func, y0, [0.0])
    assert ys.shape == (1, 2)
    (grad,) = torch.autograd.grad(ys.sum(), y0)
    torch.testing.assert_close(grad, torch.ones_like(y0))


def test_adjoint_dynamics_uses_one_vjp():
    func = Mlp(seed=20)
    y = _weights((2,), seed=21)
    a = _weights((2,), seed=22)
    t = torch.tensor(0.0, dtype=DTYPE)
    f, a_dot, param_dots = adjoint_dynamics(func, t, y, a, tuple(func.parameters()))
    jac = torch.autograd.functional.jacobian(lambda z: func(t, z), y)
    torch.testing.assert_close(a_dot, -(a @ jac))
    torch.testing.assert_close(f, func(t, y).detach())
    assert [g.shape for g in param_dots] == [p.shape for p in func.parameters()]


# ----------------------------------------------------------------------------- errors
def test_func_must_be_a_module():
    with pytest.raises(ValueError, match="nn.Module"):
        odeint_adjoint(lambda t, y: -y, torch.ones(2, dtype=DTYPE), [0.0, 1.0])


def test_parameters_that_do_not_require_grad_are_skipped_as_in_torchdiffeq():
    func = Mlp(seed=23)
    params = list(func.parameters())
    params[0].requires_grad_(False)
    y0 = torch.ones(2, dtype=DTYPE, requires_grad=True)
    odeint_adjoint(func, y0, [0.0, 1.0], adjoint_params=params)[-1].sum().backward()
    assert params[0].grad is None and all(p.grad is not None for p in params[1:])


@pytest.mark.parametrize("kwargs, match", [
    (dict(adjoint_rtol=np.array([1e-6, 1e-6])), "must be a number"),
    (dict(adjoint_options=[("max_steps", 10)]), "must be a dict"),
    (dict(adjoint_method="rk4"), "adjoint_step_size"),
])
def test_bad_backward_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        odeint_adjoint(Mlp(seed=24), torch.ones(2, dtype=DTYPE), [0.0, 1.0], **kwargs)


def test_y0_must_be_a_float_tensor():
    with pytest.raises(ValueError, match="floating-point torch tensor"):
        odeint_adjoint(Mlp(seed=25), np.ones(2), [0.0, 1.0])
    with pytest.raises(ValueError, match="floating-point torch tensor"):
        odeint_adjoint(Mlp(seed=25), torch.ones(2, dtype=torch.int64), [0.0, 1.0])


def test_stats_object_reports_both_passes():
    func = Mlp(seed=26)
    y0 = _weights((2,), seed=27).requires_grad_(True)
    ys, stats = odeint_adjoint(func, y0, [0.0, 0.5, 1.0], return_stats=True)
    assert isinstance(stats, AdjointStats) and stats.backward.nfe == 0
    ys.sum().backward()
    assert stats.backward.nfe > 0 and stats.backward.num_accepted >= 2
    assert "backward" in str(stats)


def test_linear_ode_gradients_closed_form_matches_autograd():
    from course_utils.adjoint import linear_ode_gradients

    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3)) / 2
    y0 = rng.standard_normal(3)
    target = rng.standard_normal(3)
    grad_y0, grad_a, adjoint = linear_ode_gradients(a, y0, 1.4, lambda y: y - target,
                                                    times=[0.0, 1.4])
    at = torch.tensor(a, requires_grad=True)
    y0t = torch.tensor(y0, requires_grad=True)
    loss = 0.5 * ((torch.linalg.matrix_exp(1.4 * at) @ y0t - torch.tensor(target)) ** 2).sum()
    exact_a, exact_y0 = torch.autograd.grad(loss, (at, y0t))
    np.testing.assert_allclose(grad_y0, exact_y0.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad_a, exact_a.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(adjoint[0], grad_y0)
    np.testing.assert_allclose(adjoint[1], expm(1.4 * a) @ y0 - target)
    with pytest.raises(ValueError, match="shape"):
        linear_ode_gradients(np.eye(2), y0, 1.0, lambda y: y)


def test_implicit_forward_method_is_inherited_by_the_backward_solve():
    """theta (and step_size) carry over to the backward solve when no adjoint_method is given."""
    func = Mlp(seed=28)
    y0 = _weights((2,), seed=29)
    t = torch.tensor([0.0, 1.0], dtype=DTYPE)
    options = dict(method="theta", theta=0.5, step_size=0.01)
    adjoint = _gradients(odeint_adjoint, func, y0, t, **options)
    backprop = _gradients(odeint, func, y0, t, **options)
    assert _relative_error(adjoint, backprop) < 1e-4  # both O(h^2) from the truth
