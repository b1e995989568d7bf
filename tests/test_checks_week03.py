"""The week-3 exercise checks: a right answer passes, wrong ones fail with a hint that does
not give the answer away, and an untouched stub is reported as not attempted."""

import pytest
import torch

from course_utils import checks


def resnet_forward(x, blocks, step_size):
    states = [x]
    for block in blocks:
        states.append(states[-1] + step_size * block(states[-1]))
    return torch.stack(states)


def residual_jacobian(block, x, step_size):
    return torch.autograd.functional.jacobian(lambda z: z + step_size * block(z), x)


def coupling_inverse(F, G, y):
    y1, y2 = torch.chunk(y, 2, dim=1)
    x2 = y2 - G(y1)
    return torch.cat([y1 - F(x2), x2], dim=1)


def midpoint(f, x, step_size):
    return x + step_size * f(x + 0.5 * step_size * f(x))


def heun(f, x, step_size):
    k1 = f(x)
    return x + 0.5 * step_size * (k1 + f(x + step_size * k1))


RIGHT = {
    "resnet_forward": [resnet_forward,
                       lambda x, blocks, h: list(resnet_forward(x, blocks, h))],
    "residual_jacobian": [residual_jacobian],
    "coupling_inverse": [coupling_inverse],
    "rk2_step": [midpoint, heun],
}


def _euler_without_h(x, blocks, h):
    return resnet_forward(x, blocks, 1.0)


def _jacobian_transposed(block, x, h):
    return residual_jacobian(block, x, h).T


def _jacobian_without_identity(block, x, h):
    return residual_jacobian(block, x, h) - torch.eye(len(x), dtype=x.dtype)


def _inverse_with_y2(F, G, y):
    y1, y2 = torch.chunk(y, 2, dim=1)
    return torch.cat([y1 - F(y2), y2 - G(y1)], dim=1)


def _inverse_wrong_order(F, G, y):
    y1, y2 = torch.chunk(y, 2, dim=1)
    x1 = y1 - F(y2)
    return torch.cat([x1, y2 - G(x1)], dim=1)


def _rk4(f, x, h):
    k1 = f(x)
    k2 = f(x + 0.5 * h * k1)
    k3 = f(x + 0.5 * h * k2)
    k4 = f(x + h * k3)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


WRONG = [
    ("resnet_forward", lambda x, blocks, h: resnet_forward(x, blocks, h)[1:], "N \\+ 1"),
    ("resnet_forward", lambda x, blocks, h: resnet_forward(x, blocks, h).flip(0), "first state"),
    ("resnet_forward", _euler_without_h, "unscaled"),
    ("resnet_forward", lambda x, blocks, h: resnet_forward(x, blocks[::-1], h),
     "recursion"),
    ("residual_jacobian", _jacobian_transposed, "transpose"),
    ("residual_jacobian", _jacobian_without_identity, "identity"),
    ("residual_jacobian", lambda b, x, h: residual_jacobian(b, x, 1.0), "step size"),
    ("residual_jacobian", lambda b, x, h: residual_jacobian(b, x, h)[0], "shape"),
    ("coupling_inverse", _inverse_with_y2, "first is off"),
    ("coupling_inverse", _inverse_wrong_order, "second half"),
    ("rk2_step", lambda f, x, h: x + h * f(x), "first-order"),
    ("rk2_step", lambda f, x, h: x + 0.5 * h * f(x), "constant field"),
    ("rk2_step", lambda f, x, h: x + h * f(x) + h * (f(x) - f(x + 1.0)), "converge"),
    ("rk2_step", _rk4, "more than two"),
    ("rk2_step", lambda f, x, h: (x + h * f(x))[0], "shape"),
]


@pytest.mark.parametrize("name, fn", [(n, f) for n, fns in RIGHT.items() for f in fns])
def test_right_answers_pass(name, fn, capsys):
    getattr(checks, name)(fn)
    out = capsys.readouterr().out
    assert out.startswith(f"✅ {name}: passed") and out.count("\n") == 1


@pytest.mark.parametrize("name, fn, hint", WRONG)
def test_wrong_answers_get_a_hint(name, fn, hint):
    with pytest.raises(AssertionError, match=hint):
        getattr(checks, name)(fn)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_stub_is_not_attempted(name, capsys):
    def stub(*args):
        raise NotImplementedError()

    getattr(checks, name)(stub)
    assert "not attempted yet" in capsys.readouterr().out


def test_a_crash_becomes_a_hint():
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        checks.rk2_step(lambda f, x, h: 1 / 0)
