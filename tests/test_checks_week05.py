"""The week-5 exercise checks: right answers pass (written in more than one style), wrong
ones fail with a hint that names the mistake without giving the answer away, and an
untouched stub is reported as not attempted."""

import math

import numpy as np
import torch
from check_contract import contract_tests
from scipy.integrate import quad_vec
from scipy.linalg import expm, lu_factor, lu_solve

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


def value_tanh_recomputed(a):
    """Recomputing tanh inside the closure is slower but just as right."""
    out = Value(math.tanh(a.data), (a,), "tanh")

    def _backward():
        a.grad += out.grad / math.cosh(a.data) ** 2

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


def backward_pass_iterative(root):
    """An explicit stack instead of recursion."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in seen:
            seen.add(node)
            stack.append((node, True))
            stack.extend((parent, False) for parent in node._parents if parent not in seen)
    for node in order:
        node.grad = 0
    root.grad = 1
    for node in order[::-1]:
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


def forward_jacobian_filled(f, x):
    """Preallocate and fill column by column."""
    jac = None
    for j in range(len(x)):
        seeds = np.eye(len(x))[j]
        outputs = f([Dual(float(v), float(s)) for v, s in zip(x, seeds)])
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if jac is None:
            jac = np.zeros((len(outputs), len(x)))
        jac[:, j] = [out.tangent for out in outputs]
    return jac


def linear_adjoint_gradient(A, dA_dp, b, db_dp, grad_g):
    x = np.linalg.solve(A, b)
    lam = np.linalg.solve(A.T, grad_g(x))
    return db_dp @ lam - np.einsum("pij,j->pi", dA_dp, x) @ lam


def linear_adjoint_gradient_lu(A, dA_dp, b, db_dp, grad_g):
    """One LU factorisation serves both solves (trans=1 solves with Aᵀ)."""
    lu = lu_factor(A)
    x = lu_solve(lu, b)
    lam = lu_solve(lu, grad_g(x), trans=1)
    return np.array([lam @ (db_dp[k] - dA_dp[k] @ x) for k in range(len(db_dp))])


def linear_ode_gradients(A, y0, T, grad_g):
    n = len(y0)
    g = grad_g(expm(A * T) @ y0)
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n] = A.T
    block[:n, n:] = np.outer(g, y0)
    block[n:, n:] = A.T
    return expm(A.T * T) @ g, expm(block * T)[:n, n:]


def linear_ode_gradients_quadrature(A, y0, T, grad_g):
    """∫ a(t) y(t)ᵀ dt by adaptive quadrature instead of the block exponential."""
    a_end = grad_g(expm(A * T) @ y0)

    def integrand(t):
        return np.outer(expm(A.T * (T - t)) @ a_end, expm(A * t) @ y0)

    grad_a, _ = quad_vec(integrand, 0.0, T, epsabs=1e-13, epsrel=1e-12)
    return expm(A.T * T) @ a_end, grad_a


def augmented_dynamics(func, t, y, a):
    params = tuple(func.parameters())
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = func(t, y)
        grads = torch.autograd.grad(f, (y,) + params, -a, allow_unused=True)
    param_dots = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[1:]))
    return f.detach(), grads[0], param_dots


def augmented_dynamics_vjp(func, t, y, a):
    """torch.func.vjp over (y, parameters) is the same vector–Jacobian product."""
    from torch.func import functional_call, vjp

    names = [name for name, _ in func.named_parameters()]
    params = {name: p.detach() for name, p in func.named_parameters()}
    f, pullback = vjp(lambda p, yy: functional_call(func, p, (t, yy)), params, y.detach())
    grad_params, a_dot = pullback(-a)
    return f, a_dot, tuple(grad_params[name] for name in names)


def event_time_gradient(func, event_fn, t_event, y_event, dy_dp):
    tau = t_event.detach().clone().requires_grad_(True)
    y = y_event.detach().clone().requires_grad_(True)
    g = event_fn(tau, y)
    dg_dt, dg_dy = torch.autograd.grad(g, (tau, y), allow_unused=True)
    dg_dt = torch.zeros((), dtype=y.dtype) if dg_dt is None else dg_dt
    speed = dg_dt + dg_dy @ func(tau, y).detach()
    return -(dg_dy @ dy_dp) / speed


def event_time_gradient_by_grad(func, event_fn, t_event, y_event, dy_dp):
    """The same, with the derivatives of g taken one at a time by torch.func.grad."""
    g_of_t = lambda tt: event_fn(tt, y_event)
    g_of_y = lambda yy: event_fn(t_event, yy)
    try:
        dg_dt = torch.func.grad(g_of_t)(t_event)
    except RuntimeError:  # g does not depend on t
        dg_dt = torch.zeros((), dtype=y_event.dtype)
    dg_dy = torch.func.grad(g_of_y)(y_event)
    return -(dg_dy @ dy_dp) / (dg_dt + dg_dy @ func(t_event, y_event))


RIGHT = {
    "value_ops": [(value_mul, value_tanh), (value_mul, value_tanh_recomputed)],
    "backward_pass": [backward_pass, backward_pass_iterative],
    "dual_ops": [(dual_mul, dual_sin)],
    "forward_jacobian": [forward_jacobian, forward_jacobian_filled],
    "linear_adjoint_gradient": [linear_adjoint_gradient, linear_adjoint_gradient_lu],
    "linear_ode_gradients": [linear_ode_gradients, linear_ode_gradients_quadrature],
    "augmented_dynamics": [augmented_dynamics, augmented_dynamics_vjp],
    "event_time_gradient": [event_time_gradient, event_time_gradient_by_grad],
}


# ----------------------------------------------------------------------------- wrong answers
def _make_mul(local_a, local_b, *, assign=False, scale=True, early=False):
    """A `value_mul` whose closure adds local_a(a, b) and local_b(a, b) (times out.grad)."""

    def mul(a, b):
        out = Value(a.data * b.data, (a, b), "*")
        captured = out.grad  # 0 when the node is made

        def _backward():
            upstream = captured if early else (out.grad if scale else 1.0)
            if assign:
                a.grad = local_a(a, b) * upstream
                b.grad = local_b(a, b) * upstream
            else:
                a.grad += local_a(a, b) * upstream
                b.grad += local_b(a, b) * upstream

        out._backward = _backward
        return out

    return mul


_other_a, _other_b = (lambda a, b: b.data), (lambda a, b: a.data)
_mul_assigning = _make_mul(_other_a, _other_b, assign=True)  # `=` instead of `+=`
_mul_same_factor = _make_mul(lambda a, b: a.data, lambda a, b: b.data)
_mul_no_upstream = _make_mul(_other_a, _other_b, scale=False)  # forgot `* out.grad`
_mul_captured_grad = _make_mul(_other_a, _other_b, early=True)  # out.grad read too early


def _mul_no_closure(a, b):
    return Value(a.data * b.data, (a, b), "*")  # `out._backward = _backward` forgotten


def _make_tanh(local, *, scale=True, assign=False):
    def tanh(a):
        out = Value(math.tanh(a.data), (a,), "tanh")

        def _backward():
            contribution = local(a, out) * (out.grad if scale else 1.0)
            if assign:
                a.grad = contribution
            else:
                a.grad += contribution

        out._backward = _backward
        return out

    return tanh


_tanh_of_input = _make_tanh(lambda a, out: 1.0 - a.data**2)  # u instead of tanh(u)
_tanh_unsquared = _make_tanh(lambda a, out: 1.0 - out.data)
_tanh_no_upstream = _make_tanh(lambda a, out: 1.0 - out.data**2, scale=False)
_tanh_assigning = _make_tanh(lambda a, out: 1.0 - out.data**2, assign=True)


def _backward_forward_order(root):
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in order:  # parents before children
        node._backward()


def _backward_no_reset(root):
    order = topological_order(root)
    root.grad = 1.0
    for node in reversed(order):
        node._backward()


def _backward_no_visited_set(root):
    order = []

    def visit(node):  # a shared node is appended once per path
        for parent in node._parents:
            visit(parent)
        order.append(node)

    visit(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        node._backward()


def _backward_seed_then_reset(root):
    order = topological_order(root)
    root.grad = 1.0
    for node in order:  # the reset also wipes the seed
        node.grad = 0.0
    for node in reversed(order):
        node._backward()


def _backward_breadth_first(root):
    order, queue, seen = [], [root], {id(root)}
    while queue:  # breadth-first from the root is not a topological order
        node = queue.pop(0)
        order.append(node)
        for parent in node._parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                queue.append(parent)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in order:
        node._backward()


def _backward_direct_parents(root):
    for node in (root, *root._parents):  # no search: only the top of the graph
        node.grad = 0.0
    root.grad = 1.0
    root._backward()


def _dual_mul_tangents_only(a, b):
    return Dual(a.value * b.value, a.tangent * b.tangent)


def _dual_mul_one_term(a, b):
    return Dual(a.value * b.value, a.tangent * b.value)


def _dual_sin_no_chain(a):
    return Dual(math.sin(a.value), math.cos(a.value))


def _dual_sin_wrong_derivative(a):
    return Dual(math.sin(a.value), -math.sin(a.value) * a.tangent)


def _jacobian_transposed(f, x):
    return forward_jacobian(f, x).T


def _jacobian_by_reverse(f, x):
    from course_utils.autodiff import jacobian_reverse

    return jacobian_reverse(f, x)


def _jacobian_all_seeded(f, x):
    out = f([Dual(v, 1.0) for v in x])  # every input seeded at once: J @ ones
    out = out if isinstance(out, list) else [out]
    return np.tile([[o.tangent] for o in out], (1, len(x)))


def _jacobian_finite_differences(f, x, step=1e-6):
    def plain(z):
        out = f(list(z))
        return np.atleast_1d(np.array(out, dtype=float))

    columns = [(plain(np.add(x, step * e)) - plain(np.subtract(x, step * e))) / (2 * step)
               for e in np.eye(len(x))]
    return np.array(columns).T


def _jacobian_flat(f, x):
    return forward_jacobian(f, x).ravel()  # a scalar f gives (n,), not (1, n)


def _adjoint_no_transpose(A, dA_dp, b, db_dp, grad_g):
    x = np.linalg.solve(A, b)
    lam = np.linalg.solve(A, grad_g(x))  # A instead of Aᵀ
    return db_dp @ lam - np.einsum("pij,j->pi", dA_dp, x) @ lam


def _adjoint_wrong_sign(A, dA_dp, b, db_dp, grad_g):
    return -linear_adjoint_gradient(A, dA_dp, b, db_dp, grad_g)


def _adjoint_without_dA(A, dA_dp, b, db_dp, grad_g):
    x = np.linalg.solve(A, b)
    return db_dp @ np.linalg.solve(A.T, grad_g(x))


def _adjoint_dA_plus(A, dA_dp, b, db_dp, grad_g):
    x = np.linalg.solve(A, b)
    lam = np.linalg.solve(A.T, grad_g(x))
    return db_dp @ lam + np.einsum("pij,j->pi", dA_dp, x) @ lam


def _adjoint_without_db(A, dA_dp, b, db_dp, grad_g):
    x = np.linalg.solve(A, b)
    return -np.einsum("pij,j->pi", dA_dp, x) @ np.linalg.solve(A.T, grad_g(x))


def _ode_grad_a_transposed(A, y0, T, grad_g):
    grad_y0, grad_a = linear_ode_gradients(A, y0, T, grad_g)
    return grad_y0, grad_a.T


def _ode_no_transpose(A, y0, T, grad_g):
    g = grad_g(expm(A * T) @ y0)
    return expm(A * T) @ g, linear_ode_gradients(A, y0, T, grad_g)[1]


def _ode_grad_at_start(A, y0, T, grad_g):
    g = grad_g(y0)  # ∇g at y0 instead of y(T)
    return expm(A.T * T) @ g, linear_ode_gradients(A, y0, T, grad_g)[1]


def _ode_commuting_shortcut(A, y0, T, grad_g):
    g = grad_g(expm(A * T) @ y0)
    return expm(A.T * T) @ g, T * expm(A.T * T) @ np.outer(g, y0)


def _ode_block_without_transpose(A, y0, T, grad_g):
    n = len(y0)
    g = grad_g(expm(A * T) @ y0)
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n] = A  # A where Aᵀ belongs
    block[:n, n:] = np.outer(g, y0)
    block[n:, n:] = A
    return expm(A.T * T) @ g, expm(block * T)[:n, n:]


def _ode_coarse_quadrature(A, y0, T, grad_g):
    g = grad_g(expm(A * T) @ y0)
    times = np.linspace(0.0, T, 11)
    values = [np.outer(expm(A.T * (T - t)) @ g, expm(A * t) @ y0) for t in times]
    return expm(A.T * T) @ g, np.trapezoid(values, times, axis=0)


def _augmented_wrong_sign(func, t, y, a):
    f, a_dot, params = augmented_dynamics(func, t, y, a)
    return f, -a_dot, params


def _augmented_params_wrong_sign(func, t, y, a):
    f, a_dot, params = augmented_dynamics(func, t, y, a)
    return f, a_dot, tuple(-p for p in params)


def _augmented_jvp_not_vjp(func, t, y, a):
    f, _, params = augmented_dynamics(func, t, y, a)
    with torch.enable_grad():
        _, jvp = torch.func.jvp(lambda yy: func(t, yy), (y,), (a,))
    return f, -jvp.detach(), params


def _augmented_no_enable_grad(func, t, y, a):
    params = tuple(func.parameters())
    y = y.detach().requires_grad_(True)
    f = func(t, y)  # under torch.no_grad() this records no graph
    grads = torch.autograd.grad(f, (y,) + params, -a, allow_unused=True)
    param_dots = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[1:]))
    return f.detach(), grads[0], param_dots


def _augmented_not_allow_unused(func, t, y, a):
    params = tuple(func.parameters())
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = func(t, y)
        grads = torch.autograd.grad(f, (y,) + params, -a)
    return f.detach(), grads[0], grads[1:]


def _augmented_none_for_unused(func, t, y, a):
    params = tuple(func.parameters())
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = func(t, y)
        grads = torch.autograd.grad(f, (y,) + params, -a, allow_unused=True)
    return f.detach(), grads[0], grads[1:]  # None where zeros belong


def _augmented_in_place(func, t, y, a):
    params = tuple(func.parameters())
    with torch.enable_grad():
        y.requires_grad_(True)  # changes the caller's tensor
        f = func(t, y)
        grads = torch.autograd.grad(f, (y,) + params, -a, allow_unused=True)
    param_dots = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[1:]))
    return f.detach(), grads[0], param_dots


def _augmented_create_graph(func, t, y, a):
    params = tuple(func.parameters())
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = func(t, y)
        grads = torch.autograd.grad(f, (y,) + params, -a, allow_unused=True, create_graph=True)
    param_dots = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[1:]))
    return f, grads[0], param_dots


def _event_time_wrong_sign(func, event_fn, t_event, y_event, dy_dp):
    return -event_time_gradient(func, event_fn, t_event, y_event, dy_dp)


def _event_time_no_denominator(func, event_fn, t_event, y_event, dy_dp):
    y = y_event.detach().clone().requires_grad_(True)
    (dg_dy,) = torch.autograd.grad(event_fn(t_event, y), y)
    return -(dg_dy @ dy_dp)


def _event_time_without_dg_dt(func, event_fn, t_event, y_event, dy_dp):
    y = y_event.detach().clone().requires_grad_(True)
    (dg_dy,) = torch.autograd.grad(event_fn(t_event, y), y)
    return -(dg_dy @ dy_dp) / (dg_dy @ func(t_event, y_event))


def _event_time_without_f(func, event_fn, t_event, y_event, dy_dp):
    tau = t_event.detach().clone().requires_grad_(True)
    y = y_event.detach().clone().requires_grad_(True)
    dg_dt, dg_dy = torch.autograd.grad(event_fn(tau, y), (tau, y), allow_unused=True)
    dg_dt = torch.zeros(()) if dg_dt is None else dg_dt
    return -(dg_dy @ dy_dp) / (dg_dt + dg_dy.sum())  # ∂g/∂y summed instead of ∂g/∂y·f


def _event_time_speed_minus(func, event_fn, t_event, y_event, dy_dp):
    tau = t_event.detach().clone().requires_grad_(True)
    y = y_event.detach().clone().requires_grad_(True)
    dg_dt, dg_dy = torch.autograd.grad(event_fn(tau, y), (tau, y), allow_unused=True)
    dg_dt = torch.zeros((), dtype=y.dtype) if dg_dt is None else dg_dt
    return -(dg_dy @ dy_dp) / (dg_dt - dg_dy @ func(tau, y).detach())  # - where + belongs


WRONG = [
    ("value_ops", (_mul_assigning, value_tanh), "accumulate"),
    ("value_ops", (_mul_same_factor, value_tanh), "own\\* value"),
    ("value_ops", (_mul_no_upstream, value_tanh), "grow with `out.grad`"),
    ("value_ops", (_mul_captured_grad, value_tanh), "when it runs"),
    ("value_ops", (_mul_no_closure, value_tanh), "no closure"),
    ("value_ops", (lambda a, b: a.data * b.data, value_tanh), "new `Value`"),
    ("value_ops", (value_mul, _tanh_of_input), "local derivative"),
    ("value_ops", (value_mul, _tanh_unsquared), "local derivative"),
    ("value_ops", (value_mul, _tanh_no_upstream), "grow with `out.grad`"),
    ("value_ops", (value_mul, _tanh_assigning), "accumulate"),
    ("backward_pass", _backward_forward_order, "reverse"),
    ("backward_pass", _backward_breadth_first, "reverse"),
    ("backward_pass", _backward_no_reset, "reset"),
    ("backward_pass", _backward_no_visited_set, "only once"),
    ("backward_pass", _backward_seed_then_reset, "seed"),
    ("backward_pass", _backward_direct_parents, "never ran"),
    ("dual_ops", (_dual_mul_tangents_only, dual_sin), "product rule"),
    ("dual_ops", (_dual_mul_one_term, dual_sin), "product rule"),
    ("dual_ops", (dual_mul, _dual_sin_no_chain), "incoming tangent"),
    ("dual_ops", (dual_mul, _dual_sin_wrong_derivative), "derivative of sin"),
    ("forward_jacobian", _jacobian_transposed, "shape"),
    ("forward_jacobian", _jacobian_flat, "shape"),
    ("forward_jacobian", _jacobian_by_reverse, "forward mode"),
    ("forward_jacobian", _jacobian_all_seeded, "every other input with tangent 0"),
    ("forward_jacobian", _jacobian_finite_differences, "no dual-number operation"),
    ("linear_adjoint_gradient", _adjoint_no_transpose, "transpose"),
    ("linear_adjoint_gradient", _adjoint_wrong_sign, "wrong sign"),
    ("linear_adjoint_gradient", _adjoint_without_dA, "A depends on p"),
    ("linear_adjoint_gradient", _adjoint_without_db, "b depends on p"),
    ("linear_adjoint_gradient", _adjoint_dA_plus, "∂A/∂p term has the wrong sign"),
    ("linear_ode_gradients", _ode_grad_a_transposed, "transpose of the right"),
    ("linear_ode_gradients", _ode_no_transpose, "mind the transpose"),
    ("linear_ode_gradients", _ode_grad_at_start, "final state"),
    ("linear_ode_gradients", _ode_commuting_shortcut, "commute"),
    ("linear_ode_gradients", _ode_block_without_transpose, "∂L/∂A is wrong"),
    ("linear_ode_gradients", _ode_coarse_quadrature, "accurate quadrature"),
    ("augmented_dynamics", _augmented_wrong_sign, "`a_dot` has the wrong sign"),
    ("augmented_dynamics", _augmented_params_wrong_sign, "parameter part .* wrong sign"),
    ("augmented_dynamics", _augmented_jvp_not_vjp, "vector–Jacobian"),
    ("augmented_dynamics", _augmented_no_enable_grad, "enable_grad"),
    ("augmented_dynamics", _augmented_not_allow_unused, "allow_unused"),
    ("augmented_dynamics", _augmented_none_for_unused, "use zeros"),
    ("augmented_dynamics", _augmented_in_place, "detached copy"),
    ("augmented_dynamics", _augmented_create_graph, "detached"),
    ("event_time_gradient", _event_time_wrong_sign, "wrong sign"),
    ("event_time_gradient", _event_time_no_denominator, "is a ratio"),
    ("event_time_gradient", _event_time_without_dg_dt, "moves with t"),
    ("event_time_gradient", _event_time_without_f, "is a ratio"),
    ("event_time_gradient", _event_time_speed_minus, "wrong sign"),
]

globals().update(contract_tests("week05", RIGHT, WRONG))
