"""Checks of week 6: right answers pass, wrong ones fail with a hint, stubs are 'not attempted'."""

import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import CheckFailure
from course_utils.ode import odeint

# ----------------------------------------------------------------------------- right answers


def ode_block(func, x, final_time):
    return odeint(func, x, torch.tensor([0.0, final_time], dtype=x.dtype), rtol=1e-8,
                  atol=1e-10)[-1]


def swap_field(t, h):
    return np.pi * np.array([-h[1], h[0]])


def planar_trace(z, weight, direction, bias):
    h = torch.tanh(z @ weight.T + bias)
    return (1 - h**2) @ (weight * direction).sum(1)


def hutchinson_trace(f, z, noise):
    vjp = torch.autograd.grad(f(z), z, noise, create_graph=True)[0]
    return (vjp * noise).sum(1)


def gaussian_kl(mean, logvar):
    return 0.5 * (mean**2 + logvar.exp() - logvar - 1).sum(-1)


RIGHT = {
    "ode_block": ode_block,
    "swap_field": swap_field,
    "planar_trace": planar_trace,
    "hutchinson_trace": hutchinson_trace,
    "gaussian_kl": gaussian_kl,
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass(name, capsys):
    getattr(checks, name)(RIGHT[name])
    out = capsys.readouterr().out
    assert out.startswith(f"✅ {name}: passed"), out


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_stubs_are_not_attempted(name, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    getattr(checks, name)(stub)
    assert "not attempted yet" in capsys.readouterr().out


def test_every_check_of_the_week_is_tested():
    from course_utils.checks import week06

    assert set(week06.__all__) == set(RIGHT)


def test_a_swap_by_the_other_rotation_also_passes(capsys):
    checks.swap_field(lambda t, h: np.pi * np.array([h[1], -h[0]]))
    assert "passed" in capsys.readouterr().out


# ----------------------------------------------------------------------------- wrong answers

WRONG = [
    # ode_block
    ("ode_block", lambda func, x, T: odeint(func, x, torch.tensor([0.0, T], dtype=x.dtype)),
     "final state"),
    ("ode_block", lambda func, x, T: odeint(func, x, torch.tensor([0.0, 1.0], dtype=x.dtype))[-1],
     "integrate from 0"),
    ("ode_block", lambda func, x, T: odeint(lambda t, y: func(torch.zeros(()), y), x,
                                            torch.tensor([0.0, T], dtype=x.dtype))[-1],
     "time-dependent"),
    ("ode_block", lambda func, x, T: odeint(func, x.detach(), torch.tensor([0.0, T],
                                                                           dtype=x.dtype))[-1],
     "depend on `x`"),
    # swap_field
    ("swap_field", lambda t, h: np.array([-h[1], h[0]]), "first coordinate"),
    ("swap_field", lambda t, h: -2 * np.asarray(h), "first coordinate"),
    ("swap_field", lambda t, h: np.pi * np.array([-h[1], h[0], 0.0]), "shape"),
    # planar_trace
    ("planar_trace", lambda z, w, u, b: (1 - torch.tanh(z @ w.T + b) ** 2).sum(1),
     "autograd Jacobian"),
    ("planar_trace", lambda z, w, u, b: torch.tanh(z @ w.T + b) @ (w * u).sum(1),
     "autograd Jacobian"),
    ("planar_trace", lambda z, w, u, b: ((1 - torch.tanh(z @ w.T + b) ** 2)
                                         @ (w * u).sum(1)).sum(), "per sample"),
    # hutchinson_trace
    ("hutchinson_trace", lambda f, z, e: torch.autograd.grad(f(z), z, e)[0].sum(1),
     "εᵀ J ε"),
    ("hutchinson_trace", lambda f, z, e: (torch.autograd.grad(f(z), z, e)[0] * e).sum(1),
     "create_graph"),
    ("hutchinson_trace", lambda f, z, e: (f(z) * e).sum(1) * 0
     + (torch.autograd.grad(f(z), z, e, create_graph=True)[0] * e).sum(1), "called 2 times"),
    # gaussian_kl
    ("gaussian_kl", lambda m, lv: (m**2 + lv.exp() - lv - 1).sum(-1), "twice"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + lv - lv.exp() - 1).sum(-1),
     "torch.distributions"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1).sum(), "per row"),
    ("gaussian_kl", lambda m, lv: 0.5 * (m**2 + lv.exp() - lv).sum(-1), "torch.distributions"),
]


@pytest.mark.parametrize("name,wrong,hint", WRONG, ids=[f"{w[0]}-{i}" for i, w in enumerate(WRONG)])
def test_wrong_answers_fail_with_a_hint(name, wrong, hint):
    with pytest.raises(CheckFailure, match=hint):
        getattr(checks, name)(wrong)


def test_a_crashing_answer_becomes_a_hint():
    with pytest.raises(CheckFailure, match="raised"):
        checks.gaussian_kl(lambda m, lv: m @ lv)
