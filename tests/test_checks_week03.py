"""The week-3 exercise checks: right answers pass (written in more than one style), each
plausible wrong answer fails with a hint that names its mistake, and an untouched stub is
reported as not attempted."""

import pytest
import torch
from check_contract import contract_tests

from course_utils import checks


# ----------------------------------------------------------------------------- right answers
def resnet_forward(x, blocks, step_size):
    states = [x]
    for block in blocks:
        states.append(states[-1] + step_size * block(states[-1]))
    return torch.stack(states)


def resnet_forward_preallocated(x, blocks, step_size):
    """Indexed writes into one preallocated tensor (autograd handles these)."""
    states = x.new_zeros((len(blocks) + 1, *x.shape))
    states[0] = x
    for k, block in enumerate(blocks):
        states[k + 1] = states[k] + step_size * block(states[k])
    return states


def residual_jacobian(block, x, step_size):
    return torch.autograd.functional.jacobian(lambda z: z + step_size * block(z), x)


def residual_jacobian_jacrev(block, x, step_size):
    return torch.eye(len(x), dtype=x.dtype) + step_size * torch.func.jacrev(block)(x)


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
    "resnet_forward": [resnet_forward, resnet_forward_preallocated,
                       lambda x, blocks, h: list(resnet_forward(x, blocks, h))],
    "residual_jacobian": [residual_jacobian, residual_jacobian_jacrev],
    "coupling_inverse": [coupling_inverse],
    "rk2_step": [midpoint, heun],
}


# ----------------------------------------------------------------------------- wrong answers
def _euler_without_h(x, blocks, h):
    return resnet_forward(x, blocks, 1.0)


def _euler_in_place(x, blocks, h):
    state = x.clone()
    states = [x]
    for block in blocks:
        state += h * block(state)          # one tensor, updated in place
        states.append(state)
    return torch.stack(states)


def _euler_detached(x, blocks, h):
    states = [x]
    for block in blocks:
        states.append((states[-1] + h * block(states[-1])).detach())
    return torch.stack(states)


def _euler_no_grad(x, blocks, h):
    with torch.no_grad():
        return resnet_forward(x, blocks, h)


def _euler_from_input(x, blocks, h):
    return torch.stack([x] + [x + h * block(x) for block in blocks])


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


def _inverse_wrong_sign(F, G, y):
    y1, y2 = torch.chunk(y, 2, dim=1)
    x2 = y2 + G(y1)
    return torch.cat([y1 + F(x2), x2], dim=1)


def _inverse_halves_swapped(F, G, y):
    x1, x2 = torch.chunk(coupling_inverse(F, G, y), 2, dim=1)
    return torch.cat([x2, x1], dim=1)


def _inverse_in_place(F, G, y):
    y1, y2 = torch.chunk(y, 2, dim=1)      # views of y
    y2 -= G(y1)
    y1 -= F(y2)
    return torch.cat([y1, y2], dim=1)


def _rk4(f, x, h):
    k1 = f(x)
    k2 = f(x + 0.5 * h * k1)
    k3 = f(x + 0.5 * h * k2)
    k4 = f(x + h * k3)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


WRONG = [
    ("resnet_forward", lambda x, blocks, h: resnet_forward(x, blocks, h)[1:], r"N \+ 1"),
    ("resnet_forward", lambda x, blocks, h: resnet_forward(x, blocks, h).flip(0), "first state"),
    ("resnet_forward", _euler_without_h, "unscaled"),
    ("resnet_forward", lambda x, blocks, h: resnet_forward(x, blocks[::-1], h), "recursion"),
    ("resnet_forward", _euler_in_place, "in place"),
    ("resnet_forward", _euler_detached, "detach"),
    ("resnet_forward", _euler_no_grad, "no gradient"),
    ("resnet_forward", _euler_from_input, "applied to the input"),
    ("residual_jacobian", _jacobian_transposed, "transpose"),
    ("residual_jacobian", _jacobian_without_identity, "identity"),
    ("residual_jacobian", lambda b, x, h: residual_jacobian(b, x, 1.0), "step size"),
    ("residual_jacobian", lambda b, x, h: residual_jacobian(b, x, h)[0], "shape"),
    ("coupling_inverse", _inverse_with_y2, "first is off"),
    ("coupling_inverse", _inverse_wrong_order, "second half x2 is wrong"),
    ("coupling_inverse", _inverse_wrong_sign, "wrong sign"),
    ("coupling_inverse", _inverse_halves_swapped, "wrong order"),
    ("coupling_inverse", _inverse_in_place, "in place"),
    ("rk2_step", lambda f, x, h: x + h * f(x), "first-order"),
    ("rk2_step", lambda f, x, h: x + 0.5 * h * f(x), "constant field"),
    ("rk2_step", lambda f, x, h: x + h * f(x) + h * (f(x) - f(x + 1.0)), "converge"),
    ("rk2_step", _rk4, "more than two"),
    ("rk2_step", lambda f, x, h: (x + h * f(x))[0], "shape"),
    ("rk2_step", lambda f, x, h: x + h * f(x + h * f(x)), "first-order"),
    ("rk2_step", lambda f, x, h: x + h * f(x + 0.5 * h * f(x)).mean(0), "mixes the points"),
]

globals().update(contract_tests("week03", RIGHT, WRONG))


def test_a_crash_becomes_a_hint():
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        checks.rk2_step(lambda f, x, h: 1 / 0)
