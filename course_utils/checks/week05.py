"""Checks for ``05_adjoint_autodiff``.

Every check compares the student's code with independent truth: torch autograd
(``torch.autograd.grad``, ``torch.func``), central differences, and closed forms
(``scipy.linalg.expm``). torch is imported inside the checks, never at module import.
"""

from __future__ import annotations

import math

import numpy as np

from ._core import CheckFailure, as_array, call, exercise, expect, expect_close

__all__ = [
    "value_ops",
    "backward_pass",
    "dual_ops",
    "forward_jacobian",
    "linear_adjoint_gradient",
    "linear_ode_gradients",
    "augmented_dynamics",
    "event_time_gradient",
]


def _torch_grads(fn, values):
    """Value and gradient of a torch expression ``fn(*inputs)`` at float ``values``."""
    import torch

    inputs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out = fn(*inputs)
    grads = torch.autograd.grad(out, inputs, allow_unused=True)
    return out.item(), [0.0 if g is None else g.item() for g in grads]


# ----------------------------------------------------------------------------- section 1
_UPSTREAM = 2.5  # a made-up out.grad, so that a closure that ignores it is caught
_PRESET = 0.75  # a parent's grad before the closure runs, so that `=` is caught


def _run_closure(out, parents, upstream, preset=0.0):
    """Run ``out._backward()`` alone with ``out.grad = upstream`` and every parent's grad
    set to ``preset``; return what the closure added to each parent."""
    for parent in parents:
        parent.grad = preset
    out.grad = upstream
    call(out._backward)  # a closure that raises becomes a hint
    return [parent.grad - preset for parent in parents]


def _check_closure(out, parents, local, op):
    """The closure of ``out`` adds ``local[k] * out.grad`` to parent k, and accumulates.

    ``local`` are the true local derivatives (from torch); ``op`` names the exercise.
    """
    from ..autodiff import Value

    expect(out._backward is not Value(0.0)._backward,
           f"`{op}`: the new node has no closure — assign your `_backward` function to "
           "`out._backward` before returning `out`.")
    unit = _run_closure(out, parents, 1.0)
    scaled = _run_closure(out, parents, _UPSTREAM)
    expect(not np.allclose(scaled, 0.0, atol=1e-300) or np.allclose(local, 0.0),
           f"`{op}`: running the closure adds nothing to the parents' grads. It must read "
           "`out.grad` when it runs (during the backward sweep); a copy taken when the node "
           "is made is still 0.")
    expect(not (np.allclose(scaled, unit, rtol=1e-12, atol=1e-14)
                and not np.allclose(unit, 0.0)),
           f"`{op}`: the parents' grads do not grow with `out.grad`. The chain rule "
           "multiplies the local derivative by the adjoint of the output, `out.grad`; the "
           "closure must use it.")
    return unit, scaled


@exercise("value_ops")
def value_ops(value_mul, value_tanh) -> str:
    """Check the reverse-mode primitives ``value_mul(a, b)`` and ``value_tanh(a)``.

    Each closure is run on its own with a made-up ``out.grad`` (it must scale with it) and
    with parents whose ``grad`` is already non-zero (it must add, not assign); then a
    composite expression with a shared input is swept by the library's ``backward``.
    Truth: torch autograd of the same expressions (section 1.2).
    """
    import torch

    from ..autodiff import Value

    for xa, xb in [(0.7, -1.3), (-2.0, 0.25)]:
        a, b = Value(xa), Value(xb)
        out = call(value_mul, a, b)
        expect(isinstance(out, Value), "`value_mul` must return a new `Value` node.")
        expect_close(out.data, xa * xb, "`value_mul`: the node's `data` is not the product.",
                     name="value_mul(a, b).data")
        expect(any(p is a for p in out._parents) and any(p is b for p in out._parents),
               "`value_mul`: create the output as `Value(data, (a, b), '*')` so that the "
               "backward pass can find its parents.")
        _, local = _torch_grads(lambda s, t: s * t, [xa, xb])
        _, scaled = _check_closure(out, (a, b), local, "value_mul")
        if np.allclose(scaled, _UPSTREAM * np.array([xa, xb]), rtol=1e-12):
            raise CheckFailure("`value_mul`: each parent received its *own* value times "
                               "`out.grad` — is that ∂(a·b)/∂a? Differentiate the product "
                               "with respect to each factor in turn.")
        expect(np.allclose(scaled, _UPSTREAM * np.array(local), rtol=1e-12, atol=1e-14),
               "`value_mul`: the closure does not add ∂(a·b)/∂a · `out.grad` to `a.grad` and "
               "∂(a·b)/∂b · `out.grad` to `b.grad`.")
        added = _run_closure(out, (a, b), _UPSTREAM, preset=_PRESET)
        expect(np.allclose(added, scaled, rtol=1e-12, atol=1e-14),
               "`value_mul`: a parent's earlier grad is overwritten. A node used by several "
               "children receives one contribution from each — accumulate with `+=`, never "
               "assign with `=`.")
    a = Value(1.5)
    out = call(value_mul, a, a)
    call(out.backward)
    expect(math.isclose(a.grad, 3.0, rel_tol=1e-12),
           "`value_mul(a, a)` gives the wrong gradient: a node used twice must receive both "
           "contributions — accumulate with `+=`, never assign with `=`.")

    for xa in [0.3, -1.7, 0.9]:
        a = Value(xa)
        out = call(value_tanh, a)
        expect(isinstance(out, Value), "`value_tanh` must return a new `Value` node.")
        expect_close(out.data, math.tanh(xa), "`value_tanh`: the node's `data` is wrong.",
                     name="value_tanh(a).data")
        expect(any(p is a for p in out._parents),
               "`value_tanh`: record the input as the new node's parent.")
        _, local = _torch_grads(torch.tanh, [xa])
        _, (scaled,) = _check_closure(out, (a,), local, "value_tanh")
        expect(math.isclose(scaled, _UPSTREAM * local[0], rel_tol=1e-12, abs_tol=1e-14),
               "`value_tanh`: the local derivative is wrong; differentiate tanh and express "
               "it through tanh itself (the output's value).")
        (added,) = _run_closure(out, (a,), _UPSTREAM, preset=_PRESET)
        expect(math.isclose(added, scaled, rel_tol=1e-12, abs_tol=1e-14),
               "`value_tanh`: the input's earlier grad is overwritten — accumulate with "
               "`+=`, never assign with `=`.")

    # a composite expression that uses both, with a shared input, swept by the library
    xa, xb = 0.4, -0.9
    a, b = Value(xa), Value(xb)
    out = call(value_tanh, call(value_mul, call(value_tanh, call(value_mul, a, b)), a))
    call(out.backward)
    value, grads = _torch_grads(lambda s, t: torch.tanh(torch.tanh(s * t) * s), [xa, xb])
    expect_close([out.data, a.grad, b.grad], [value] + grads,
                 "Each closure is right on its own, but the composite tanh(tanh(a·b)·a) is "
                 "not: do the closures change anything besides their parents' `grad` (the "
                 "node's `data`, `out.grad`)?",
                 rtol=1e-10, atol=1e-12, name="value and gradients of the composite")
    return "closures scale with out.grad and accumulate; the composite equals torch autograd"


def _graphs():
    """Expressions over library Values, with their torch twins."""
    import torch

    from .. import autodiff as ad

    def diamond(lib_exp, lib_sin, x, y):
        u = x * y
        v = lib_sin(u) + u * u  # u is used three times
        return lib_exp(-v) * x + v / (1.0 + y * y)

    def chain(lib_tanh, x, y):
        z = x
        for _ in range(40):
            z = lib_tanh(z * y + 0.3)
        return z * x

    cases = []
    for xv, yv in [(0.6, -0.8), (-1.1, 0.35)]:
        cases.append((lambda x, y: diamond(ad.exp, ad.sin, x, y),
                      lambda x, y: diamond(torch.exp, torch.sin, x, y), (xv, yv)))
        cases.append((lambda x, y: chain(ad.tanh, x, y),
                      lambda x, y: chain(torch.tanh, x, y), (xv, yv)))
    return cases


def _instrument(root):
    """Wrap every node's closure so that the check sees which ran, in which order."""
    from ..autodiff import topological_order

    order = topological_order(root)
    calls = []
    for node in order:
        def recorded(node=node, original=node._backward):
            calls.append(id(node))
            original()

        node._backward = recorded
    return order, calls


def _check_sweep(order, calls):
    """Every operation node ran exactly once, and after every node that uses it."""
    children = {id(node): [] for node in order}
    for node in order:
        for parent in node._parents:
            children[id(parent)].append(id(node))
    operations = [node for node in order if node._parents]
    counts = {id(node): calls.count(id(node)) for node in operations}
    expect(all(counts.values()),
           "Some nodes below the root never ran their `_backward`: the depth-first search "
           "must reach every node through `_parents`, not only the root's direct parents.")
    expect(all(count == 1 for count in counts.values()),
           "A node's `_backward` ran more than once in one sweep: a node reachable along "
           "two paths must appear only once in your order — remember the nodes you have "
           "already visited.")
    first_call = {node_id: calls.index(node_id) for node_id in counts}
    for node in operations:
        for child in children[id(node)]:
            expect(first_call[child] < first_call[id(node)],
                   "A node ran its `_backward` before one of the nodes that use it, so its "
                   "grad was not complete yet: sweep the topological order in *reverse* "
                   "(children before parents).")


@exercise("backward_pass")
def backward_pass(backward_pass) -> str:
    """Check ``backward_pass(root)``: topological sort plus a reverse sweep.

    Every closure is wrapped to record when it runs: each operation node must run once,
    after all the nodes that use it. Truth: torch autograd of the same expressions (a
    diamond with shared nodes, and a 40-step chain), and central differences for an
    intermediate node (section 1.2).
    """
    from ..autodiff import Value

    for lib_fn, torch_fn, (xv, yv) in _graphs():
        x, y = Value(xv), Value(yv)
        root = lib_fn(x, y)
        order, calls = _instrument(root)
        result = call(backward_pass, root)
        expect(result is None or result is root,
               "`backward_pass` should fill in `.grad` on the nodes and return nothing.")
        expect(root.grad == 1.0,
               "After the sweep the root's grad should be ∂root/∂root: seed it, after the "
               "reset, before sweeping.")
        _check_sweep(order, calls)
        _, grads = _torch_grads(torch_fn, [xv, yv])
        expect(np.allclose([x.grad, y.grad], grads, rtol=1e-10, atol=1e-12),
               "The inputs' gradients differ from torch's although every node ran once in "
               "a valid order: do you set any grad other than the root's seed?")
        calls.clear()
        call(backward_pass, root)
        expect(np.allclose([x.grad, y.grad], grads, rtol=1e-10, atol=1e-12),
               "A second call on the same graph gives different gradients: reset every "
               "node's grad to 0 before the sweep.")

    # an intermediate node: ∂root/∂u for root = u**2 + sin(u), u = x * 3
    x = Value(0.2)
    u = x * 3.0
    root = u * u + u.sin()
    call(backward_pass, root)
    step = 1e-6
    plain = lambda w: w * w + math.sin(w)
    central = (plain(0.6 + step) - plain(0.6 - step)) / (2 * step)
    expect(math.isclose(u.grad, central, rel_tol=1e-7),
           "An intermediate node's grad is wrong: the sweep must visit every node below "
           "the root, not only the inputs.")
    return "every node ran once, after its users; gradients equal torch autograd on 5 graphs"


@exercise("dual_ops")
def dual_ops(dual_mul, dual_sin) -> str:
    """Check the forward-mode primitives ``dual_mul(a, b)`` and ``dual_sin(a)``.

    Truth: central differences along the seeded direction, and ``torch.func.jvp``
    (section 1.3).
    """
    import torch

    from ..autodiff import Dual

    step = 1e-6
    for (xa, da), (xb, db) in [((0.7, 1.0), (-1.3, 0.0)), ((-2.0, 0.5), (0.25, -3.0))]:
        out = call(dual_mul, Dual(xa, da), Dual(xb, db))
        expect(isinstance(out, Dual), "`dual_mul` must return a `Dual`.")
        plus = (xa + step * da) * (xb + step * db)
        minus = (xa - step * da) * (xb - step * db)
        central = (plus - minus) / (2 * step)
        expect_close(out.value, xa * xb, "`dual_mul`: the value part is wrong.",
                     name="dual_mul(a, b).value")
        expect_close(out.tangent, central,
                     "`dual_mul`: the tangent is not the product rule applied to the two "
                     "tangents.", rtol=1e-7, atol=1e-9, name="dual_mul(a, b).tangent")
    for xa, da in [(0.3, 1.0), (2.5, -0.7), (0.0, 2.0)]:
        out = call(dual_sin, Dual(xa, da))
        expect(isinstance(out, Dual), "`dual_sin` must return a `Dual`.")
        central = (math.sin(xa + step * da) - math.sin(xa - step * da)) / (2 * step)
        expect_close(out.value, math.sin(xa), "`dual_sin`: the value part is not the sine "
                     "of the input's value.", name="dual_sin(a).value")
        if da != 1.0 and math.isclose(out.tangent, math.cos(xa), rel_tol=1e-9):
            raise CheckFailure("`dual_sin`: the tangent ignores the input's tangent — the "
                               "chain rule multiplies the local derivative by the incoming "
                               "tangent.")
        expect_close(out.tangent, central,
                     "`dual_sin`: the tangent is wrong — check which function is the "
                     "derivative of sin, and its sign.", rtol=1e-7, atol=1e-9,
                     name="dual_sin(a).tangent")
    # composite: sin(x * sin(x * y)) along (dx, dy) against torch.func.jvp
    xv, yv, dx, dy = 0.8, -0.6, 0.3, 1.2
    x, y = Dual(xv, dx), Dual(yv, dy)
    out = call(dual_sin, call(dual_mul, x, call(dual_sin, call(dual_mul, x, y))))
    primals = (torch.tensor(xv, dtype=torch.float64), torch.tensor(yv, dtype=torch.float64))
    tangents = (torch.tensor(dx, dtype=torch.float64), torch.tensor(dy, dtype=torch.float64))
    value, tangent = torch.func.jvp(lambda s, t: torch.sin(s * torch.sin(s * t)), primals,
                                    tangents)
    expect_close([out.value, out.tangent], [value.item(), tangent.item()],
                 "The composite sin(x·sin(x·y)) is wrong although the pieces pass — does "
                 "`dual_mul` use both tangents?", rtol=1e-10, atol=1e-12,
                 name="value and tangent of the composite")
    return "values and tangents equal central differences and torch.func.jvp"


# ----------------------------------------------------------------------------- section 2
def _scalar_function(x):
    from .. import autodiff as ad

    a, b, c = x
    return ad.sin(a * b) + ad.exp(-c * c) * a - b / (2.0 + a * a)


def _scalar_function_torch(z):
    import torch

    a, b, c = z
    return torch.sin(a * b) + torch.exp(-c * c) * a - b / (2.0 + a * a)


def _vector_function(x):
    from .. import autodiff as ad

    (s,) = x
    out, z = [], s
    for k in range(4):
        z = ad.tanh(z * (1.0 + 0.5 * k)) + s
        out.append(z)
    return out


def _vector_function_torch(z):
    import torch

    (s,) = z
    out, w = [], s
    for k in range(4):
        w = torch.tanh(w * (1.0 + 0.5 * k)) + s
        out.append(w)
    return torch.stack(out)


@exercise("forward_jacobian")
def forward_jacobian(forward_jacobian) -> str:
    """Check ``forward_jacobian(f, x)``: one dual-number pass per input.

    Truth: ``torch.autograd.functional.jacobian`` of the same functions (section 2).
    """
    import torch

    from .. import autodiff as ad

    cases = [
        (_scalar_function, _scalar_function_torch, [0.4, -1.2, 0.7], (1, 3)),
        (_vector_function, _vector_function_torch, [0.3], (4, 1)),
    ]
    for f, f_torch, x, shape in cases:
        with ad.count_operations() as ops:
            jac = as_array(call(forward_jacobian, f, x), "forward_jacobian(f, x)")
        expect(jac.shape == shape,
               f"For f: R^{shape[1]} -> R^{shape[0]} return an array of shape {shape} "
               "(outputs × inputs; a scalar f gives one row).")
        expect(ops.backward == 0,
               "Use forward mode — `Dual` inputs with unit tangents — not `Value` and "
               "`.backward()`.")
        expect(ops.forward > 0,
               "`f` ran no dual-number operation: call it on a list of `Dual` inputs (value, "
               "tangent) — not on floats, and not through finite differences.")
        exact = torch.autograd.functional.jacobian(f_torch, torch.tensor(x, dtype=torch.float64))
        expect_close(jac, exact.numpy().reshape(shape),
                     "Some entries differ from torch's Jacobian: pass j seeds input j with "
                     "tangent 1 and every other input with tangent 0, and fills column j.",
                     rtol=1e-10, atol=1e-12, name="your Jacobian")
        expect(ops.forward <= shape[1] * 40,
               "More dual operations than one pass per input needs: evaluate `f` once per "
               "input.")
    return "Jacobians of R^3 -> R and R -> R^4 equal torch's, with one pass per input"


# ----------------------------------------------------------------------------- section 3
def _linear_system(num_unknowns, num_params, seed):
    rng = np.random.default_rng(seed)
    a0 = 3.0 * np.eye(num_unknowns) + rng.standard_normal((num_unknowns, num_unknowns)) / 3
    da = rng.standard_normal((num_params, num_unknowns, num_unknowns)) / 4
    b0 = rng.standard_normal(num_unknowns)
    db = rng.standard_normal((num_params, num_unknowns))
    target = rng.standard_normal(num_unknowns)
    p = rng.standard_normal(num_params) / 3
    return a0, da, b0, db, target, p


@exercise("linear_adjoint_gradient")
def linear_adjoint_gradient(linear_adjoint_gradient) -> str:
    """Check ``linear_adjoint_gradient(A, dA_dp, b, db_dp, grad_g)`` = dg/dp.

    The system is ``A(p) = A0 + Σ p_k A_k``, ``b(p) = b0 + Σ p_k b_k``; the truth is
    torch autograd through ``torch.linalg.solve`` and central differences (section 3).
    """
    import torch

    for num_unknowns, num_params, seed in [(5, 3, 0), (8, 6, 1)]:
        a0, da, b0, db, target, p = _linear_system(num_unknowns, num_params, seed)

        def objective_np(x, target=target):
            return 0.5 * np.sum((x - target) ** 2) + np.sum(np.sin(x))

        def grad_g(x, target=target):
            x = np.asarray(x, dtype=float)
            return (x - target) + np.cos(x)

        def assemble(q, a0=a0, da=da, b0=b0, db=db):
            return a0 + np.einsum("k,kij->ij", q, da), b0 + q @ db

        a, b = assemble(p)
        result = as_array(call(linear_adjoint_gradient, a, da, b, db, grad_g),
                          "linear_adjoint_gradient(...)")
        expect(result.shape == (num_params,),
               f"Return one derivative per parameter: shape ({num_params},), got "
               f"{result.shape}.")
        # p enters A and b through two copies, so autograd also gives each part alone
        p_in_a = torch.tensor(p, requires_grad=True)
        p_in_b = torch.tensor(p, requires_grad=True)
        at = torch.tensor(a0) + torch.einsum("k,kij->ij", p_in_a, torch.tensor(da))
        bt = torch.tensor(b0) + p_in_b @ torch.tensor(db)
        xt = torch.linalg.solve(at, bt)
        gt = 0.5 * ((xt - torch.tensor(target)) ** 2).sum() + torch.sin(xt).sum()
        part_a, part_b = (g.numpy() for g in torch.autograd.grad(gt, (p_in_a, p_in_b)))
        exact = torch.tensor(part_a + part_b)
        central = np.empty(num_params)
        step = 1e-6
        for k in range(num_params):
            e = np.zeros(num_params)
            e[k] = step
            plus = objective_np(np.linalg.solve(*assemble(p + e)))
            minus = objective_np(np.linalg.solve(*assemble(p - e)))
            central[k] = (plus - minus) / (2 * step)

        def close(candidate, result=result):
            return np.allclose(result, candidate, rtol=1e-6, atol=1e-9)

        if close(part_b):
            raise CheckFailure("Your dg/dp ignores that A depends on p: the term with "
                               "∂A/∂p (applied to x) is missing.")
        if close(part_a):
            raise CheckFailure("Your dg/dp ignores that b depends on p: the term with "
                               "∂b/∂p is missing.")
        if close(part_b - part_a):
            raise CheckFailure("The ∂A/∂p term has the wrong sign: differentiate A x = b "
                               "with the product rule and move the ∂A/∂p term across.")
        if np.allclose(result, -exact.numpy(), rtol=1e-6, atol=1e-9):
            raise CheckFailure("Your gradient has the wrong sign: differentiate A x = b, "
                               "A x_p = b_p - A_p x, before taking the inner product "
                               "with λ.")
        expect_close(result, exact.numpy(),
                     "dg/dp differs from autograd: solve Aᵀλ = ∇g(x) (transpose!) and "
                     "combine λ with ∂b/∂p and ∂A/∂p·x.", rtol=1e-7, atol=1e-10,
                     name="your dg/dp")
        expect_close(result, central, "dg/dp differs from central differences.",
                     rtol=1e-5, atol=1e-7, name="your dg/dp")
    return "dg/dp equals autograd through torch.linalg.solve and central differences"


# ----------------------------------------------------------------------------- section 4
def _ode_case(size, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, size)) / 2 - 0.3 * np.eye(size)
    y0 = rng.standard_normal(size)
    target = rng.standard_normal(size)
    return a, y0, target


@exercise("linear_ode_gradients")
def linear_ode_gradients(linear_ode_gradients) -> str:
    """Check ``linear_ode_gradients(A, y0, T, grad_g) = (∂L/∂y0, ∂L/∂A)`` for
    ``L = g(y(T))``, ``y' = A y``.

    Truth: torch autograd through ``torch.linalg.matrix_exp`` and central differences
    through ``scipy.linalg.expm`` (section 4).
    """
    import torch
    from scipy.linalg import expm

    for size, horizon, seed in [(2, 1.0, 0), (3, 1.7, 1)]:
        a, y0, target = _ode_case(size, seed)

        def grad_g(y, target=target):
            y = np.asarray(y, dtype=float)
            return (y - target) + y**2

        def loss_np(a_, y0_, horizon=horizon, target=target):
            y_end = expm(a_ * horizon) @ y0_
            return 0.5 * np.sum((y_end - target) ** 2) + np.sum(y_end**3) / 3

        result = call(linear_ode_gradients, a, y0, horizon, grad_g)
        expect(isinstance(result, (tuple, list)) and len(result) == 2,
               "Return a pair `(grad_y0, grad_A)`.")
        grad_y0 = as_array(result[0], "grad_y0")
        grad_a = as_array(result[1], "grad_A")
        expect(grad_y0.shape == (size,) and grad_a.shape == (size, size),
               f"For a {size}-dimensional system grad_y0 has shape ({size},) and grad_A "
               f"({size}, {size}); got {grad_y0.shape} and {grad_a.shape}.")
        at = torch.tensor(a, requires_grad=True)
        y0t = torch.tensor(y0, requires_grad=True)
        y_end = torch.linalg.matrix_exp(at * horizon) @ y0t
        loss = 0.5 * ((y_end - torch.tensor(target)) ** 2).sum() + (y_end**3).sum() / 3
        exact_a, exact_y0 = (g.numpy() for g in torch.autograd.grad(loss, (at, y0t)))
        step = 1e-6
        central = np.empty(size)
        for i in range(size):
            e = np.zeros(size)
            e[i] = step
            central[i] = (loss_np(a, y0 + e) - loss_np(a, y0 - e)) / (2 * step)
        y_end_np = expm(a * horizon) @ y0
        grad_end = grad_g(y_end_np)
        if np.allclose(grad_y0, expm(a.T * horizon) @ grad_g(y0), rtol=1e-6, atol=1e-9):
            raise CheckFailure("∂L/∂y0 uses ∇g at the wrong point: the adjoint starts at "
                               "t = T from ∇g evaluated at the final state y(T), not at y0.")
        expect_close(grad_y0, exact_y0,
                     "∂L/∂y0 is wrong: it is the adjoint a(0), from a' = -Aᵀa solved backwards "
                     "from t = T — mind the transpose and the direction of time.",
                     rtol=1e-7, atol=1e-10, name="grad_y0")
        expect_close(grad_y0, central, "∂L/∂y0 differs from central differences.",
                     rtol=1e-5, atol=1e-7, name="grad_y0")
        if np.allclose(grad_a, exact_a.T, rtol=1e-6, atol=1e-9) and size > 1:
            raise CheckFailure("grad_A is the transpose of the right answer: ∂L/∂A_ij "
                               "pairs a_i with y_j, i.e. ∫ a(t) y(t)ᵀ dt.")
        shortcut = horizon * expm(a.T * horizon) @ np.outer(grad_end, y0)
        if np.allclose(grad_a, shortcut, rtol=1e-6, atol=1e-9):
            raise CheckFailure("grad_A pulls the two exponentials of the integrand together, "
                               "which is only allowed when the matrices commute — here they "
                               "do not. Evaluate the integral ∫ a(t) y(t)ᵀ dt itself.")
        expect_close(grad_a, exact_a,
                     "∂L/∂A is wrong: it is ∫₀ᵀ a(t) y(t)ᵀ dt; evaluate the integral exactly "
                     "(the block-matrix exponential) or with an accurate quadrature.",
                     rtol=1e-6, atol=1e-9, name="grad_A")
    return "gradients equal autograd through matrix_exp, for 2x2 and 3x3 systems"


# ----------------------------------------------------------------------------- section 5
def _small_field():
    import torch

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            generator = torch.Generator().manual_seed(5)
            self.lin1 = torch.nn.Linear(3, 6).double()
            self.lin2 = torch.nn.Linear(6, 2).double()
            self.scale = torch.nn.Parameter(torch.tensor(0.7, dtype=torch.float64))
            # a parameter that f does not use (a frozen layer, a decoder's weights, ...)
            self.unused = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
            with torch.no_grad():
                for p in (self.lin1.weight, self.lin1.bias, self.lin2.weight, self.lin2.bias):
                    p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64))

        def forward(self, t, y):
            t_col = t * torch.ones_like(y[..., :1])
            h = torch.tanh(self.lin1(torch.cat([y, t_col], dim=-1)))
            return self.scale * self.lin2(h) - 0.1 * y**2

    return Field()


@exercise("augmented_dynamics")
def augmented_dynamics(augmented_dynamics) -> str:
    """Check ``augmented_dynamics(func, t, y, a) = (f, -aᵀ ∂f/∂y, -aᵀ ∂f/∂θ)``.

    Called as the backward pass of ``odeint_adjoint`` calls it: under ``torch.no_grad()``,
    on a single state and on a batch of states, for a field with a parameter that ``f``
    does not use. Truth: full Jacobians from ``torch.func.jacrev`` contracted with ``a``
    by hand (section 5).
    """
    import torch
    from torch.func import functional_call, jacrev

    func = _small_field()
    names = [name for name, _ in func.named_parameters()]
    params = {name: p.detach() for name, p in func.named_parameters()}
    generator = torch.Generator().manual_seed(0)
    for shape in [(2,), (4, 2)]:
        t = torch.tensor(0.4, dtype=torch.float64)
        y = torch.randn(shape, generator=generator, dtype=torch.float64)
        a = torch.randn(shape, generator=generator, dtype=torch.float64)
        try:
            with torch.no_grad():  # the context of the backward pass (section 5)
                result = call(augmented_dynamics, func, t, y, a)
        except CheckFailure:
            call(augmented_dynamics, func, t, y.clone(), a)  # re-raises if it fails here too
            raise CheckFailure("`augmented_dynamics` works with grad enabled but fails "
                               "without, and the backward pass of `odeint_adjoint` runs "
                               "without grad: build the graph inside `torch.enable_grad()`."
                               ) from None
        expect(not y.requires_grad,
               "`augmented_dynamics` switched on `requires_grad` of the caller's `y`: work "
               "on a detached copy (`y.detach().requires_grad_()`), not on the solver's "
               "state.")
        expect(isinstance(result, (tuple, list)) and len(result) == 3,
               "Return a triple `(f, a_dot, param_dots)`.")
        f, a_dot, param_dots = result
        param_dots = tuple(param_dots)
        expect(len(param_dots) == len(names),
               f"`param_dots` needs one tensor per parameter of `func` ({len(names)}), in "
               f"the order of `func.parameters()`; got {len(param_dots)}.")
        for name, got in zip(names, param_dots):
            expect(got is not None and tuple(got.shape) == tuple(params[name].shape),
                   f"The entry of `param_dots` for `{name}` should have that parameter's "
                   "shape (use zeros for a parameter that does not influence f).")
        expect(not (f.requires_grad or a_dot.requires_grad
                    or any(g.requires_grad for g in param_dots)),
               "Return tensors detached from the graph (`torch.autograd.grad` without "
               "`create_graph=True` already does that).")

        def field(p, yy, t=t):
            return functional_call(func, p, (t, yy))

        jac_y = jacrev(field, argnums=1)(params, y)  # (*shape, *shape)
        jac_p = jacrev(field, argnums=0)(params, y)  # name -> (*shape, *param_shape)
        with torch.no_grad():
            f_exact = field(params, y)
        dims = len(shape)
        a_dot_exact = -torch.tensordot(a, jac_y, dims=dims)
        expect_close(f.detach(), f_exact.numpy(), "`f` should be func(t, y).",
                     rtol=1e-12, atol=1e-12, name="f")
        if torch.allclose(a_dot, -a_dot_exact, rtol=1e-8, atol=1e-10):
            raise CheckFailure("`a_dot` has the wrong sign: the adjoint obeys "
                               "a' = -aᵀ ∂f/∂y.")
        expect_close(a_dot.detach(), a_dot_exact.numpy(),
                     "`a_dot` differs from -aᵀ ∂f/∂y: contract `a` with the Jacobian's "
                     "*output* index (a vector–Jacobian product, `grad_outputs=a`).",
                     rtol=1e-9, atol=1e-11, name="a_dot")
        for name, got in zip(names, param_dots):
            exact = -torch.tensordot(a, jac_p[name], dims=dims)
            if exact.abs().max() > 0 and torch.allclose(got, -exact, rtol=1e-8, atol=1e-10):
                raise CheckFailure(f"The parameter part for `{name}` has the wrong sign: "
                                   "it is -aᵀ ∂f/∂θ, like `a_dot`.")
            expect_close(got.detach(), exact.numpy(),
                         f"The parameter part for `{name}` differs from -aᵀ ∂f/∂θ.",
                         rtol=1e-9, atol=1e-11, name=f"param_dots[{name}]")
    return "f, -aᵀ∂f/∂y and -aᵀ∂f/∂θ equal torch.func.jacrev contractions"


# ----------------------------------------------------------------------------- section 5.3
def _event_cases():
    """(func, event_fn, t_event, y_event, dy_dp, exact dτ/dp) with closed forms.

    1. A ball dropped from height h (p = h): y = (x, v), g = x, τ = sqrt(2h/G),
       dτ/dh = 1/sqrt(2Gh). ``dy_dp`` is ∂y(τ)/∂h at fixed τ = (1, 0).
    2. A ball thrown up at speed u from x = 0 with p = (h0, u) and a *moving* event
       surface g(t, y) = x - c t (a lift that rises at speed c): here ∂g/∂t ≠ 0.
    3. Damped linear decay x' = -k x from x0 with the level g = x - ℓ and p = (x0, k):
       τ = log(x0/ℓ)/k.
    """
    import torch

    dt = torch.float64
    cases = []
    gravity, h = 9.81, 2.0
    tau = math.sqrt(2 * h / gravity)
    ball = lambda t, y: torch.stack([y[1], torch.full_like(y[1], -gravity)])
    floor = lambda t, y: y[0]
    cases.append((ball, floor, torch.tensor(tau, dtype=dt),
                  torch.tensor([0.0, -gravity * tau], dtype=dt),
                  torch.tensor([[1.0], [0.0]], dtype=dt),
                  np.array([1 / math.sqrt(2 * gravity * h)])))
    # thrown up: x = h0 + u t - G t²/2 meets x = c t at the later root
    h0, u, c = 0.5, 3.0, 0.4
    a, b, k0 = gravity / 2, c - u, -h0  # a τ² + b τ + k0 = 0
    tau = (-b + math.sqrt(b * b - 4 * a * k0)) / (2 * a)
    # dτ/dp from F(τ, p) = h0 + u τ - G τ²/2 - c τ = 0: dτ/dp = -F_p / F_τ
    f_tau = u - gravity * tau - c
    exact = np.array([-1.0 / f_tau, -tau / f_tau])
    lift = lambda t, y: y[0] - c * t
    y_tau = torch.tensor([c * tau, u - gravity * tau], dtype=dt)
    dy_dp = torch.tensor([[1.0, tau], [0.0, 1.0]], dtype=dt)  # ∂(x, v)/∂(h0, u) at fixed t
    cases.append((ball, lift, torch.tensor(tau, dtype=dt), y_tau, dy_dp, exact))
    x0, rate, level = 3.0, 0.7, 1.2
    tau = math.log(x0 / level) / rate
    decay = lambda t, y: -rate * y
    cases.append((decay, lambda t, y: y[0] - level, torch.tensor(tau, dtype=dt),
                  torch.tensor([level], dtype=dt),
                  torch.tensor([[math.exp(-rate * tau), -tau * level]], dtype=dt),
                  np.array([1 / (rate * x0), -tau / rate])))
    return cases


@exercise("event_time_gradient")
def event_time_gradient(event_time_gradient) -> str:
    """Check ``event_time_gradient(func, event_fn, t_event, y_event, dy_dp) = dτ/dp``.

    Truth: closed-form event times of a dropped ball, a ball meeting a rising lift (an
    event surface that moves with ``t``) and an exponential decay reaching a level,
    differentiated by hand (section 5.3).
    """
    for func, event_fn, tau, y_tau, dy_dp, exact in _event_cases():
        result = call(event_time_gradient, func, event_fn, tau.clone(), y_tau.clone(),
                      dy_dp.clone())
        got = as_array(result.detach() if hasattr(result, "detach") else result, "dτ/dp")
        got = got.reshape(-1)
        expect(got.shape == exact.shape,
               f"Return one derivative per parameter: shape ({exact.size},) for a `dy_dp` "
               f"of shape {tuple(dy_dp.shape)}; got {got.shape}.")
        if np.allclose(got, -exact, rtol=1e-6, atol=1e-12):
            raise CheckFailure("dτ/dp has the wrong sign: raising the drop height makes "
                               "the ball land later, so dτ/dh > 0.")
        speed_y = float(np.ravel(as_array(func(tau, y_tau), "f")) @ _grad_y(event_fn, tau, y_tau))
        numerator = _grad_y(event_fn, tau, y_tau) @ dy_dp.numpy()
        if np.allclose(got, -numerator, rtol=1e-6, atol=1e-12) or \
                np.allclose(got, numerator, rtol=1e-6, atol=1e-12):
            raise CheckFailure("dτ/dp is a ratio: divide ∂g/∂y·∂y/∂p by how fast g "
                               "changes along the solution at the event.")
        if abs(speed_y) > 0 and np.allclose(got, -numerator / speed_y, rtol=1e-6, atol=1e-12) \
                and not np.allclose(exact, -numerator / speed_y, rtol=1e-6):
            raise CheckFailure("The event surface moves with t here: the denominator is "
                               "the total rate dg/dt = ∂g/∂t + ∂g/∂y·f, not ∂g/∂y·f alone.")
        expect_close(got, exact,
                     "dτ/dp differs from the closed form: by the implicit function theorem "
                     "dτ/dp = -(∂g/∂y·∂y/∂p) / (∂g/∂t + ∂g/∂y·f) at (τ, y(τ)).",
                     rtol=1e-8, atol=1e-12, name="dτ/dp")
    return "dτ/dp equals the closed forms (a drop, a rising lift, a decay to a level)"


def _grad_y(event_fn, tau, y_tau):
    import torch

    y = y_tau.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(event_fn(tau, y), y)
    return grad.numpy()
