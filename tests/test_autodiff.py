"""course_utils.autodiff: both engines agree with torch autograd and central differences."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import autodiff as ad


def _expression(lib):
    """One expression written once, evaluated with floats, Values, Duals or torch."""
    exp, log, sin, cos, tanh, sqrt = lib

    def f(x):
        a, b, c = x
        u = a * b + sin(c) / (1.0 + a * a)
        v = exp(-0.5 * b) * cos(a - c) - tanh(u) ** 3
        w = log(2.0 + a * a) + sqrt(1.5 + c * c) + 2.0**b - 3.0 / (2.0 + b * b)
        return u * v + w - (a - 1.0) ** 2

    return f


AD_FUNCS = (ad.exp, ad.log, ad.sin, ad.cos, ad.tanh, ad.sqrt)
TORCH_FUNCS = (torch.exp, torch.log, torch.sin, torch.cos, torch.tanh, torch.sqrt)
POINTS = [(0.3, -0.7, 1.1), (-1.2, 0.4, 0.0), (2.0, 1.5, -2.5)]


def _torch_grad(x):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = _expression(TORCH_FUNCS)(list(xt))
    (grad,) = torch.autograd.grad(out, xt)
    return out.item(), grad.numpy()


def _central(f, x, step=1e-6):
    x = np.asarray(x, dtype=float)
    grad = np.empty_like(x)
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = step
        grad[j] = (f(list(x + e)) - f(list(x - e))) / (2 * step)
    return grad


@pytest.mark.parametrize("x", POINTS)
def test_reverse_mode_matches_torch_and_central_differences(x):
    value, grad = ad.gradient(_expression(AD_FUNCS), x)
    torch_value, torch_grad = _torch_grad(x)
    assert value == pytest.approx(torch_value, rel=1e-12)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, _central(_expression(AD_FUNCS), x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("x", POINTS)
def test_forward_mode_matches_torch(x):
    jac = ad.jacobian_forward(_expression(AD_FUNCS), x)
    assert jac.shape == (1, 3)
    np.testing.assert_allclose(jac[0], _torch_grad(x)[1], rtol=1e-10, atol=1e-12)


def _vector_function(x):
    a, b = x
    return [a * b, ad.sin(a) + b**2, ad.exp(a - b), 3.0]


def test_jacobians_of_a_vector_function_agree_and_match_torch():
    x = [0.4, -1.3]
    forward = ad.jacobian_forward(_vector_function, x)
    reverse = ad.jacobian_reverse(_vector_function, x)
    xt = torch.tensor(x, dtype=torch.float64)
    exact = torch.autograd.functional.jacobian(
        lambda z: torch.stack([z[0] * z[1], torch.sin(z[0]) + z[1] ** 2,
                               torch.exp(z[0] - z[1]), torch.tensor(3.0, dtype=z.dtype)]), xt)
    assert forward.shape == reverse.shape == (4, 2)
    np.testing.assert_allclose(forward, exact.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(reverse, exact.numpy(), rtol=1e-12, atol=1e-14)


def test_jvp_is_jacobian_times_vector():
    x, v = [0.4, -1.3], [0.7, 2.0]
    value, tangent = ad.jvp(_vector_function, x, v)
    np.testing.assert_allclose(value, [x[0] * x[1], math.sin(0.4) + 1.69, math.exp(1.7), 3.0])
    np.testing.assert_allclose(tangent, ad.jacobian_forward(_vector_function, x) @ v)


def test_backward_resets_and_handles_shared_nodes():
    a = ad.Value(3.0)
    b = a * a  # a is used twice: gradients from both uses accumulate
    c = b + a
    c.backward()
    assert a.grad == pytest.approx(2 * 3.0 + 1)
    c.backward()  # a second sweep starts from zero, unlike torch's accumulation
    assert a.grad == pytest.approx(7.0)


def test_long_chain_needs_no_recursion():
    x = ad.Value(0.5)
    y = x
    for _ in range(5000):
        y = ad.sin(y) * 0.5 + 0.1
    y.backward()
    assert math.isfinite(x.grad)


def test_topological_order_puts_parents_first():
    a, b = ad.Value(1.0), ad.Value(2.0)
    c = a * b
    d = c + a
    order = ad.topological_order(d)
    assert order[-1] is d and len(order) == 4
    assert order.index(a) < order.index(c) and order.index(b) < order.index(c)


def test_operation_counts_show_the_cost_of_each_mode():
    def chain(x):  # f: R^n -> R with n - 1 multiplications
        total = x[0]
        for xi in x[1:]:
            total = total * xi
        return total

    n = 20
    with ad.count_operations() as fwd:
        ad.jacobian_forward(chain, [1.0] * n)
    with ad.count_operations() as rev:
        ad.jacobian_reverse(chain, [1.0] * n)
    assert fwd.forward == n * (n - 1) and fwd.backward == 0
    assert rev.forward == n - 1 and rev.backward == n - 1
    with ad.count_operations() as outer:
        with ad.count_operations() as inner:
            ad.Value(1.0) * 2.0
        ad.Dual(1.0) * 2.0
    assert inner.forward == 1 and outer.forward == 1


def test_mixing_the_engines_and_bad_input_raise_clear_errors():
    with pytest.raises(TypeError, match="cannot mix"):
        ad.Value(1.0) * ad.Dual(1.0)
    with pytest.raises(ValueError, match="1-D"):
        ad.gradient(lambda x: x[0], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="must return"):
        ad.gradient(lambda x: "nope", [1.0])
    with pytest.raises(ValueError, match="non-positive"):
        ad.log(ad.Value(-1.0))


def test_elementary_functions_work_on_plain_numbers_and_arrays():
    assert ad.sin(0.5) == math.sin(0.5)
    np.testing.assert_allclose(ad.exp(np.array([0.0, 1.0])), [1.0, math.e])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_property_forward_equals_reverse(x):
    forward = ad.jacobian_forward(_expression(AD_FUNCS), x)[0]
    _, reverse = ad.gradient(_expression(AD_FUNCS), x)
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-9)
