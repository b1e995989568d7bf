"""The week-6 exercise checks: right answers pass (written in more than one style), the
plausible wrong ones fail with a hint that names the mistake, and an untouched stub is
reported as not attempted."""

import numpy as np
import pytest
import torch
from check_contract import contract_tests

from course_utils import checks
from course_utils.adjoint import odeint_adjoint
from course_utils.ode import odeint


def _times(x, final_time):
    return torch.tensor([0.0, final_time], dtype=x.dtype)


# ----------------------------------------------------------------------------- right answers
def ode_block(func, x, final_time):
    return odeint(func, x, _times(x, final_time), rtol=1e-8, atol=1e-10)[-1]


def ode_block_linspace(func, x, final_time):
    """Several output times, the last one kept; the notebook's tolerances."""
    times = torch.linspace(0.0, final_time, 5, dtype=x.dtype)
    return odeint(func, x, times, rtol=1e-6, atol=1e-8)[-1]


def ode_block_adjoint(func, x, final_time):
    return odeint_adjoint(func, x, _times(x, final_time), rtol=1e-8, atol=1e-10)[-1]


def swap_field(t, h):
    return np.pi * np.array([-h[1], h[0]])


def planar_trace(z, weight, direction, bias):
    h = torch.tanh(z @ weight.T + bias)
    return (1 - h**2) @ (weight * direction).sum(1)


def planar_trace_einsum(z, weight, direction, bias):
    derivative = 1 - torch.tanh(torch.einsum("bd,md->bm", z, weight) + bias) ** 2
    return torch.einsum("bm,md,md->b", derivative, weight, direction)


def hutchinson_trace(f, z, noise):
    vjp = torch.autograd.grad(f(z), z, noise, create_graph=True)[0]
    return (vjp * noise).sum(1)


def hutchinson_trace_einsum(f, z, noise):
    (vjp,) = torch.autograd.grad(f(z), z, grad_outputs=noise, create_graph=True)
    return torch.einsum("bd,bd->b", vjp, noise)


def gaussian_kl(mean, logvar):
    return 0.5 * (mean**2 + logvar.exp() - logvar - 1).sum(-1)


def gaussian_kl_std(mean, logvar):
    std = torch.exp(0.5 * logvar)
    return (0.5 * mean**2 + 0.5 * std**2 - torch.log(std) - 0.5).sum(dim=1)


RIGHT = {
    "ode_block": [ode_block, ode_block_linspace, ode_block_adjoint],
    "swap_field": [swap_field, lambda t, h: np.pi * np.array([h[1], -h[0]])],
    "planar_trace": [planar_trace, planar_trace_einsum],
    "hutchinson_trace": [hutchinson_trace, hutchinson_trace_einsum],
    "gaussian_kl": [gaussian_kl, gaussian_kl_std],
}


# ----------------------------------------------------------------------------- wrong answers
def _block_no_grad(func, x, final_time):
    with torch.no_grad():
        return ode_block(func, x, final_time)


def _planar_trace_numpy(z, weight, direction, bias):
    h = np.tanh(z.detach().numpy() @ weight.detach().numpy().T + bias.detach().numpy())
    return (1 - h**2) @ (weight * direction).sum(1).detach().numpy()


def _planar_trace_detached_bias(z, weight, direction, bias):
    return planar_trace(z, weight, direction, bias.detach())


def _hutchinson_copy_of_z(f, z, noise):
    z = z.detach().requires_grad_(True)
    return hutchinson_trace(f, z, noise)


def _kl_detached_logvar(mean, logvar):
    return gaussian_kl(mean, logvar.detach())


WRONG = [
    # ode_block
    ("ode_block", lambda func, x, T: odeint(func, x, _times(x, T)), "final state"),
    ("ode_block", lambda func, x, T: odeint(func, x, _times(x, 1.0))[-1], "at t = 1"),
    ("ode_block", lambda func, x, T: odeint(func, x, _times(x, T / 2))[-1], "time span"),
    ("ode_block", lambda func, x, T: odeint(func, x, torch.tensor([T, 0.0],
                                                                  dtype=x.dtype))[-1],
     "backwards"),
    ("ode_block", lambda func, x, T: odeint(func, x, _times(x, T), method="euler",
                                            step_size=T / 20)[-1], "not accurate enough"),
    ("ode_block", lambda func, x, T: odeint(func, x, _times(x, T), rtol=1e-1, atol=1e-1)[-1],
     "not accurate enough"),
    ("ode_block", lambda func, x, T: odeint(lambda t, y: func(torch.zeros(()), y), x,
                                            _times(x, T))[-1], "time-dependent"),
    ("ode_block", lambda func, x, T: odeint(func, x.detach(), _times(x, T))[-1], "trainable"),
    ("ode_block", _block_no_grad, "trainable"),
    ("ode_block", lambda func, x, T: x, "unchanged"),
    # swap_field
    ("swap_field", lambda t, h: np.array([-h[1], h[0]]), "first coordinate"),
    ("swap_field", lambda t, h: np.pi / 2 * np.array([-h[1], h[0]]), "first coordinate"),
    ("swap_field", lambda t, h: 2 * np.pi * np.array([-h[1], h[0]]), "first coordinate"),
    ("swap_field", lambda t, h: -2 * np.asarray(h), "first coordinate"),
    ("swap_field", lambda t, h: np.array([-2 * h[0] / (1 - 2 * t), 0.0]), "not finite"),
    ("swap_field", lambda t, h: np.pi * np.array([-h[1], h[0], 0.0]), "shape"),
    # planar_trace
    ("planar_trace", lambda z, w, u, b: (1 - torch.tanh(z @ w.T + b) ** 2).sum(1),
     "autograd Jacobian"),
    ("planar_trace", lambda z, w, u, b: torch.tanh(z @ w.T + b) @ (w * u).sum(1),
     "autograd Jacobian"),
    ("planar_trace", lambda z, w, u, b: (1 - torch.tanh(z @ w.T) ** 2) @ (w * u).sum(1),
     "autograd Jacobian"),
    ("planar_trace", lambda z, w, u, b: ((1 - torch.tanh(z @ w.T + b) ** 2)
                                         @ (w * u).sum(1)).sum(), "shape"),
    ("planar_trace", _planar_trace_numpy, "torch tensor"),
    ("planar_trace", lambda z, w, u, b: planar_trace(z, w, u, b).detach(), "autograd"),
    ("planar_trace", _planar_trace_detached_bias, "depend on `bias`"),
    # hutchinson_trace
    ("hutchinson_trace", lambda f, z, e: torch.autograd.grad(f(z), z, e)[0].sum(1),
     "εᵀ J ε"),
    ("hutchinson_trace", lambda f, z, e: (torch.autograd.grad(f(z), z, e)[0] * e).mean(1),
     "εᵀ J ε"),
    ("hutchinson_trace", lambda f, z, e: (torch.autograd.grad(f(z), z, e)[0] * e).sum(1),
     "create_graph"),
    ("hutchinson_trace", lambda f, z, e: (f(z) * e).sum(1) * 0
     + (torch.autograd.grad(f(z), z, e, create_graph=True)[0] * e).sum(1), "called 2 times"),
    ("hutchinson_trace", _hutchinson_copy_of_z, "do not detach or copy"),
    # gaussian_kl
    ("gaussian_kl", lambda m, lv: (m**2 + lv.exp() - lv - 1).sum(-1), "twice"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + lv.exp() - lv).sum(-1), "must be 0"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + lv - lv.exp() - 1).sum(-1), "must be 0"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + lv.exp() - 1).sum(-1), "variance"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + (2 * lv).exp() - 2 * lv - 1).sum(-1),
     "log of the variance"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m + lv.exp() - lv - 1).sum(-1), "the mean"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 * lv.exp() + lv.exp() - lv - 1).sum(-1),
     "both"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1).sum(), "per row"),
    ("gaussian_kl", _kl_detached_logvar, "depend on `logvar`"),
]


globals().update(contract_tests("week06", RIGHT, WRONG))


def test_a_crashing_answer_becomes_a_hint():
    with pytest.raises(AssertionError, match="raised"):
        checks.gaussian_kl(lambda m, lv: m @ lv)


def test_the_ode_block_hint_for_an_inaccurate_solver_does_not_blame_the_interval():
    with pytest.raises(AssertionError) as info:
        checks.ode_block(lambda func, x, T: odeint(func, x, _times(x, T), method="euler",
                                                   step_size=T / 20)[-1])
    assert "final_time" not in str(info.value) or "accurate" in str(info.value)


def test_the_gaussian_kl_hints_never_spell_out_the_formula():
    for _, answer, _ in [w for w in WRONG if w[0] == "gaussian_kl"]:
        with pytest.raises(AssertionError) as info:
            checks.gaussian_kl(answer)
        message = str(info.value)
        assert "μ²" not in message and "log σ²" not in message and "- 1)" not in message
