"""Checks of week 5: right answers pass, wrong ones fail with a hint, stubs are 'not attempted'."""

import math

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from course_utils import checks
from course_utils.autodiff import Dual, Value, topological_order

# ----------------------------------------------------------------------------- right answers


def value_mul(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = _backward
    return out


def value_tanh(a):
    out = Value(math.tanh(a.data), (a,), "tanh")

    def _backward():
        a.grad += (1.0 - out.data**2) * out.grad

    out._backward = _backward
    return out


def backward_pass(root):
    order, seen = [], set()

    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            for parent in node._parents:
                visit(parent)
            order.append(node)

    visit(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        node._backward()


def dual_mul(a, b):
    return Dual(a.value * b.value, a.tangent * b.value + a.value * b.tangent)


def dual_sin(a):
    return Dual(math.sin(a.value), math.cos(a.value) * a.tangent)


def forward_jacobian(f, x):
    columns = []
    for j in range(len(x)):
        out = f([Dual(v, 1.0 if i == j else 0.0) for i, v in enumerate(x)])
        out = out if isinstance(out, list) else [out]
        columns.append([o.tangent for o in out])
    return np.array(columns).T


def linear_adjoint_gradient(A, dA_dp, b, db_dp, grad_g):
    x = np.linalg.solve(A, b)
    lam = np.linalg.solve(A.T, grad_g(x))
    return db_dp @ lam - np.einsum("pij,j->pi", dA_dp, x) @ lam


def linear_ode_gradients(A, y0, T, grad_g):
    n = len(y0)
    y_end = expm(A * T) @ y0
    g = grad_g(y_end)
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n] = A.T
    block[:n, n:] = np.outer(g, y0)
    block[n:, n:] = A.T
    grad_a = expm(block * T)[:n, n:]
    return expm(A.T * T) @ g, grad_a


def augmented_dynamics(func, t, y, a):
    params = tuple(func.parameters())
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = func(t, y)
        grads = torch.autograd.grad(f, (y,) + params, -a, allow_unused=True)
    param_dots = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[1:]))
    return f.detach(), grads[0], param_dots


RIGHT = {
    "value_ops": (value_mul, value_tanh),
    "backward_pass": (backward_pass,),
    "dual_ops": (dual_mul, dual_sin),
    "forward_jacobian": (forward_jacobian,),
    "linear_adjoint_gradient": (linear_adjoint_gradient,),
    "linear_ode_gradients": (linear_ode_gradients,),
    "augmented_dynamics": (augmented_dynamics,),
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass(name, capsys):
    getattr(checks, name)(*RIGHT[name])
    out = capsys.readouterr().out
    assert out.startswith(f"✅ {name}: passed"), out


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_stubs_are_not_attempted(name, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    getattr(checks, name)(*[stub] * len(RIGHT[name]))
    assert "not attempted yet" in capsys.readouterr().out


def test_every_check_of_the_week_is_tested():
    from course_utils.checks import week05

    assert set(week05.__all__) == set(RIGHT)


# ----------------------------------------------------------------------------- wrong answers


def _mul_assigning(a, b):  # `=` instead of `+=`: a shared input loses a contribution
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad = b.data * out.grad
        b.grad = a.data * out.grad

    out._backward = _backward
    return out


def _mul_same_factor(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad += a.data * out.grad
        b.grad += b.data * out.grad

    out._backward = _backward
    return out


def _tanh_wrong(a):
    out = Value(math.tanh(a.data), (a,), "tanh")

    def _backward():
        a.grad += (1.0 - a.data**2) * out.grad

    out._backward = _backward
    return out


def _backward_forward_order(root):
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in order:
        node._backward()


def _backward_no_reset(root):
    order = topological_order(root)
    root.grad = 1.0
    for node in reversed(order):
        node._backward()


def _dual_mul_value_only(a, b):
    return Dual(a.value * b.value, a.tangent * b.tangent)


def _dual_sin_no_chain(a):
    return Dual(math.sin(a.value), math.cos(a.value))


def _jacobian_transposed(f, x):
    return forward_jacobian(f, x).T


def _jacobian_by_reverse(f, x):
    from course_utils.autodiff import jacobian_reverse

    return jacobian_reverse(f, x)


def _adjoint_no_transpose(A, dA_dp, b, db_dp, grad_g):
    x = np.linalg.solve(A, b)
    lam = np.linalg.solve(A, grad_g(x))  # A instead of Aᵀ
    return db_dp @ lam - np.einsum("pij,j->pi", dA_dp, x) @ lam


def _adjoint_wrong_sign(A, dA_dp, b, db_dp, grad_g):
    return -linear_adjoint_gradient(A, dA_dp, b, db_dp, grad_g)


def _ode_grad_a_transposed(A, y0, T, grad_g):
    grad_y0, grad_a = linear_ode_gradients(A, y0, T, grad_g)
    return grad_y0, grad_a.T


def _ode_no_transpose(A, y0, T, grad_g):
    g = grad_g(expm(A * T) @ y0)
    return expm(A * T) @ g, linear_ode_gradients(A, y0, T, grad_g)[1]


def _augmented_wrong_sign(func, t, y, a):
    f, a_dot, params = augmented_dynamics(func, t, y, a)
    return f, -a_dot, params


def _augmented_jvp_not_vjp(func, t, y, a):
    f, _, params = augmented_dynamics(func, t, y, a)
    _, jvp = torch.func.jvp(lambda yy: func(t, yy), (y,), (a,))
    return f, -jvp.detach(), params


WRONG = [
    ("value_ops", (_mul_assigning, value_tanh), "accumulate"),
    ("value_ops", (_mul_same_factor, value_tanh), "other"),
    ("value_ops", (value_mul, _tanh_wrong), "local derivative"),
    ("value_ops", (lambda a, b: a.data * b.data, value_tanh), "new `Value`"),
    ("backward_pass", (_backward_forward_order,), "reverse topological"),
    ("backward_pass", (_backward_no_reset,), "reset"),
    ("dual_ops", (_dual_mul_value_only, dual_sin), "product rule"),
    ("dual_ops", (dual_mul, _dual_sin_no_chain), "incoming tangent"),
    ("forward_jacobian", (_jacobian_transposed,), "shape"),
    ("forward_jacobian", (_jacobian_by_reverse,), "forward mode"),
    ("linear_adjoint_gradient", (_adjoint_no_transpose,), "transpose"),
    ("linear_adjoint_gradient", (_adjoint_wrong_sign,), "wrong sign"),
    ("linear_ode_gradients", (_ode_grad_a_transposed,), "transpose of the right"),
    ("linear_ode_gradients", (_ode_no_transpose,), "mind the transpose"),
    ("augmented_dynamics", (_augmented_wrong_sign,), "wrong sign"),
    ("augmented_dynamics", (_augmented_jvp_not_vjp,), "vector–Jacobian"),
]


@pytest.mark.parametrize("name, fns, hint", WRONG, ids=[f"{w[0]}-{w[2]}" for w in WRONG])
def test_wrong_answers_fail_with_a_hint(name, fns, hint):
    with pytest.raises(AssertionError, match=hint) as info:
        getattr(checks, name)(*fns)
    # hints never print long numbers (the expected values)
    assert not any(len(token) > 6 and token.replace(".", "").replace("-", "").isdigit()
                   for token in str(info.value).split())
