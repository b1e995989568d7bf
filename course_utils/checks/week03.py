"""Checks for ``03_resnets_as_odes``.

Each check builds its own residual functions in float64 and compares the student's result
with independent truth: the Euler recursion and ``scipy.linalg.expm`` (a ResNet), central
finite differences (a Jacobian), the block's defining equations (a reversible block's
inverse) and ``scipy.integrate.solve_ivp`` (the order of a Runge–Kutta ResNet).
"""

from __future__ import annotations

import numpy as np

from ._core import CheckFailure, as_array, call, exercise, expect, expect_close

__all__ = ["resnet_forward", "residual_jacobian", "coupling_inverse", "rk2_step"]


def _torch():
    import torch

    return torch


def _random_mlp(rng, dim_in, width, dim_out):
    """A residual function ``x ↦ W2 tanh(W1 x + b1) + b2`` on torch tensors, and its
    parameters as NumPy arrays (for an independent NumPy evaluation)."""
    torch = _torch()
    w1 = rng.standard_normal((width, dim_in)) / np.sqrt(dim_in)
    b1 = 0.3 * rng.standard_normal(width)
    w2 = rng.standard_normal((dim_out, width)) / np.sqrt(width)
    b2 = 0.3 * rng.standard_normal(dim_out)
    tensors = [torch.tensor(a, dtype=torch.float64) for a in (w1, b1, w2, b2)]

    def f(x):
        return torch.tanh(x @ tensors[0].T + tensors[1]) @ tensors[2].T + tensors[3]

    return f, (w1, b1, w2, b2)


def _mlp_numpy(params, x):
    w1, b1, w2, b2 = params
    return np.tanh(x @ w1.T + b1) @ w2.T + b2


def _stacked(result, name):
    """Accept a tensor, or a list of per-layer tensors, as the student's trajectory."""
    if isinstance(result, (list, tuple)):
        torch = _torch()
        try:
            result = torch.stack([torch.as_tensor(r) for r in result])
        except (TypeError, RuntimeError) as error:
            raise CheckFailure(
                f"{name} should be one tensor of shape (N + 1, batch, dim); "
                "`torch.stack` a list of states"
            ) from error
    return as_array(result, name)


@exercise("resnet_forward")
def resnet_forward(student_fn) -> str:
    """``resnet_forward(x, blocks, step_size)`` returns ``x_0, …, x_N`` with
    ``x_{k+1} = x_k + h f_k(x_k)``, shape ``(N + 1, batch, dim)``.

    Truth: the same recursion evaluated in NumPy with the blocks' parameters, and for tied
    linear blocks ``f(x) = A x`` the exact flow ``exp(T A) x`` (``scipy.linalg.expm``), which
    forward Euler must approach at first order as ``h = T / N → 0``. (Section 2.)
    """
    from scipy.linalg import expm

    torch = _torch()
    rng = np.random.default_rng(3)
    dim, batch, num_blocks, h = 3, 5, 4, 0.3
    blocks, params = zip(*[_random_mlp(rng, dim, 6, dim) for _ in range(num_blocks)])
    x0 = rng.standard_normal((batch, dim))
    states = [x0]
    for p in params:
        states.append(states[-1] + h * _mlp_numpy(p, states[-1]))
    expected = np.stack(states)
    name = "resnet_forward(x, blocks, step_size)"
    x_in = torch.tensor(x0, requires_grad=True)
    result = call(student_fn, x_in, list(blocks), h)
    expect(np.array_equal(x_in.detach().numpy(), x0),
           f"{name} changed its input x in place: build each new state as a new tensor "
           "(x + ..., not x += ...).")
    out = _stacked(result, name)
    expect(
        out.shape != (num_blocks, batch, dim),
        f"{name} returned {num_blocks} states for {num_blocks} blocks: include the input "
        "x_0 as the first state, so there are N + 1.",
    )
    expect(out.shape == expected.shape,
           f"{name} has shape {out.shape}; it should be (N + 1, batch, dim) = {expected.shape}.")
    expect(not all(np.array_equal(out[k], out[-1]) for k in range(1, len(out) - 1)),
           "Every stored state is the same tensor: the update is done in place "
           "(`x += ...` or an indexed assignment), so the list holds N + 1 references to one "
           "tensor. Create a new tensor at every step.")
    expect(np.allclose(out[0], x0, atol=1e-12),
           "The first state of the trajectory should be the input x itself.")
    without_h = [x0]
    for p in params:
        without_h.append(without_h[-1] + _mlp_numpy(p, without_h[-1]))
    expect(not np.allclose(out, np.stack(without_h), atol=1e-8),
           "Your update adds f_k(x_k) unscaled: a residual step of size h adds h * f_k(x_k).")
    from_input = [x0] + [x0 + h * _mlp_numpy(p, x0) for p in params]
    expect(not np.allclose(out, np.stack(from_input), atol=1e-8),
           "Every block is applied to the input x_0: step k must start from the state x_k "
           "that the previous block produced.")
    expect_close(out, expected, "The states differ from the residual recursion "
                 "x_{k+1} = x_k + h f_k(x_k): check which block acts at step k and that each "
                 "step starts from the previous state.", rtol=1e-9, atol=1e-11, name=name)
    final = result[-1]
    gradient = None
    if getattr(final, "requires_grad", False):
        (gradient,) = torch.autograd.grad(final.sum(), x_in, allow_unused=True)
    expect(gradient is not None,
           "The last state carries no gradient back to x: the trajectory must stay in torch's "
           "graph (no torch.no_grad, .detach() or NumPy) so that the network can be trained.")
    reference = torch.tensor(x0, requires_grad=True)
    state = reference
    for block in blocks:
        state = state + h * block(state)
    (expected_gradient,) = torch.autograd.grad(state.sum(), reference)
    expect_close(gradient.detach().numpy(), expected_gradient.numpy(),
                 "The gradient of the last state with respect to x is wrong although the "
                 "states are right: part of the recursion is cut out of the graph (a "
                 ".detach() or torch.no_grad inside the loop).", rtol=1e-8, atol=1e-10,
                 name="d x_N / d x")

    a = np.array([[-0.2, 1.0], [-1.0, -0.2]])
    a_torch = torch.tensor(a)
    x_lin = np.array([[1.0, 0.5]])
    exact = x_lin @ expm(a).T
    errors = []
    for num_steps in (10, 20, 40, 80):
        tied = [lambda x: x @ a_torch.T] * num_steps
        traj = _stacked(call(student_fn, torch.tensor(x_lin), tied, 1.0 / num_steps), name)
        errors.append(np.abs(traj[-1] - exact).max())
    ratio = errors[-2] / errors[-1]
    expect(1.8 < ratio < 2.2,
           f"With tied linear blocks the error should halve when h halves; it changed by a "
           f"factor {ratio:.2f}.")
    return f"matches the Euler recursion; error vs exp(TA) x halves with h (ratio {ratio:.2f})"


@exercise("residual_jacobian")
def residual_jacobian(student_fn) -> str:
    """``residual_jacobian(block, x, step_size)`` is the Jacobian ``I + h ∂f/∂x`` of the residual
    map ``x ↦ x + h f(x)`` at one point ``x`` of shape ``(dim,)``, shape ``(dim, dim)``.

    Truth: central finite differences of the residual map. (Section 3.)
    """
    torch = _torch()
    rng = np.random.default_rng(5)
    name = "residual_jacobian(block, x, step_size)"
    cases = []
    for dim, h in [(3, 0.3), (4, 0.05)]:
        block, params = _random_mlp(rng, dim, 7, dim)
        cases.append((block, params, rng.standard_normal(dim), h))
    for block, params, x, h in cases:
        dim = x.shape[0]
        delta = 1e-6
        expected = np.empty((dim, dim))
        for j in range(dim):
            e = np.zeros(dim)
            e[j] = delta
            plus, minus = x + e, x - e
            expected[:, j] = (plus + h * _mlp_numpy(params, plus)
                              - minus - h * _mlp_numpy(params, minus)) / (2 * delta)
        out = as_array(call(student_fn, block, torch.tensor(x), h), name)
        expect(out.shape == (dim, dim),
               f"{name} has shape {out.shape} for a state of size {dim}; it should be "
               f"({dim}, {dim}).")
        close = lambda a, b: np.allclose(a, b, rtol=1e-6, atol=1e-7)
        expect(not close(out, expected.T) or close(expected, expected.T),
               "Your matrix is the transpose of the Jacobian: row i should hold the "
               "derivatives of output i.")
        expect(not close(out, expected - np.eye(dim)),
               "You are missing the identity that the skip connection x ↦ x contributes.")
        expect(not close(out, np.eye(dim) + (expected - np.eye(dim)) / h),
               "Scale the Jacobian of the residual function by the step size h.")
        expect_close(out, expected, "Your Jacobian does not match central finite differences "
                     "of x ↦ x + h f(x).", rtol=1e-6, atol=1e-7, name=name)
    return "matches central differences of x + h f(x) for two blocks"


@exercise("coupling_inverse")
def coupling_inverse(student_fn) -> str:
    """``coupling_inverse(F, G, y)`` inverts the RevNet block ``y1 = x1 + F(x2)``,
    ``y2 = x2 + G(y1)`` (halves along dimension 1) to round-off.

    Truth: the block's defining equations, evaluated here on a random input. (Section 4.)
    """
    torch = _torch()
    rng = np.random.default_rng(7)
    name = "coupling_inverse(F, G, y)"
    for half, batch in [(2, 6), (3, 1)]:
        F, _ = _random_mlp(rng, half, 5, half)
        G, _ = _random_mlp(rng, half, 5, half)
        x1 = torch.tensor(rng.standard_normal((batch, half)))
        x2 = torch.tensor(rng.standard_normal((batch, half)))
        y1 = x1 + F(x2)
        y2 = x2 + G(y1)
        y = torch.cat([y1, y2], dim=1)
        expected = torch.cat([x1, x2], dim=1).numpy()
        y_before = y.clone()
        out = as_array(call(student_fn, F, G, y), name)
        expect(torch.equal(y, y_before),
               f"{name} changed y in place (torch.chunk returns views of y, so `y2 -= ...` "
               "writes into y): compute new tensors instead.")
        expect(out.shape == expected.shape,
               f"{name} has shape {out.shape}; it should have the shape of y, "
               f"{tuple(y.shape)}.")
        close = lambda a, b: np.allclose(a, b, atol=1e-12)
        x1_np, x2_np = expected[:, :half], expected[:, half:]
        expect(not (close(out[:, :half], x2_np) and close(out[:, half:], x1_np)),
               "Both halves are right but in the wrong order: x = (x1, x2), concatenated "
               "along dimension 1.")
        wrong_sign = (y2 + G(y1)).detach().numpy()
        expect(not close(out[:, half:], wrong_sign),
               "The second half has the wrong sign: y2 = x2 + G(y1) was an addition, so "
               "undoing it subtracts.")
        error = np.abs(out - expected).max()
        second_ok = close(out[:, half:], x2_np)
        expect(second_ok,
               "The second half x2 is wrong. Undo the block's last update first: which "
               "quantity that G was applied to do you already know from y?")
        expect(error < 1e-12,
               f"The second half is right but the first is off by {error:.1e}: recover x1 "
               "with the x2 you just reconstructed, and subtract F(x2).")
    return "the input is recovered to round-off (error < 1e-12)"


def _order_on(student_fn, field, field_numpy, x0, final_time, name):
    """Errors of ``num_steps`` applications of the student's step against ``solve_ivp``."""
    from scipy.integrate import solve_ivp

    torch = _torch()
    reference = solve_ivp(lambda t, y: field_numpy(y), (0.0, final_time), x0, method="DOP853",
                          rtol=1e-13, atol=1e-13).y[:, -1]
    errors = []
    for num_steps in (8, 16, 32, 64):
        h = final_time / num_steps
        x = torch.tensor(x0[None, :])
        for _ in range(num_steps):
            x = call(student_fn, field, x, h)
        out = as_array(x, name)
        expect(out.shape == (1, x0.shape[0]),
               f"{name} returned shape {out.shape}; it should keep the shape of x, "
               f"(batch, dim) = (1, {x0.shape[0]}).")
        expect(bool(np.all(np.isfinite(out))), f"{name} produced NaN or inf.")
        errors.append(np.abs(out[0] - reference).max())
    return np.log2(errors[-2] / errors[-1])


@exercise("rk2_step")
def rk2_step(student_fn) -> str:
    """``rk2_step(f, x, step_size)`` is one step of a second-order Runge–Kutta ResNet.

    Truth: consistency (a constant field moves ``x`` by exactly ``h c``) and the empirical
    order of convergence against ``scipy.integrate.solve_ivp`` on a linear and a nonlinear
    field, which must be 2. (Section 8.)
    """
    torch = _torch()
    name = "rk2_step(f, x, step_size)"
    c = torch.tensor([[0.5, -1.5]], dtype=torch.float64)
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    moved = as_array(call(student_fn, lambda z: 0.0 * z + c, x, 0.1), name)
    expect_close(moved, (x + 0.1 * c).numpy(),
                 "For a constant field f = c one step should move x by exactly h * c; weight "
                 "your stages so that their weights add up to one.", rtol=1e-12, atol=1e-13,
                 name=name)
    a = np.array([[-0.3, 2.0], [-2.0, -0.3]])
    a_torch = torch.tensor(a)
    batch = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.5, 0.5]], dtype=torch.float64)
    together = as_array(call(student_fn, lambda z: torch.tanh(z) @ a_torch.T, batch, 0.2), name)
    alone = np.concatenate([as_array(call(student_fn, lambda z: torch.tanh(z) @ a_torch.T,
                                          batch[i:i + 1], 0.2), name) for i in range(3)])
    expect(together.shape == alone.shape,
           f"{name} returned shape {together.shape} for a batch of 3 points; it should keep "
           "the shape of x, (batch, dim).")
    expect(np.allclose(together, alone, rtol=1e-12, atol=1e-13),
           f"{name} mixes the points of a batch: each row of x is its own state, so the "
           "result for a batch must equal the results for its rows one at a time (no sums, "
           "means or indexing across dimension 0).")
    orders = [
        _order_on(student_fn, lambda z: z @ a_torch.T, lambda y: a @ y, np.array([1.0, 0.0]),
                  2.0, name)
    ]
    rng = np.random.default_rng(11)
    f, params = _random_mlp(rng, 3, 8, 3)
    orders.append(_order_on(student_fn, f, lambda y: _mlp_numpy(params, y[None, :])[0],
                            np.array([0.5, -1.0, 0.3]), 1.0, name))
    for order in orders:
        expect(order > 0.8,
               f"Your steps do not converge to the ODE's solution as h → 0 (measured order "
               f"{order:.2f}); each step should approximate x(t + h).")
        expect(order > 1.7,
               f"Measured order {order:.2f}: that is a first-order (Euler-like) step. Evaluate "
               "f a second time at a better point and combine the two stages.")
        expect(order < 2.5,
               f"Measured order {order:.2f} — more than two. That is a fine method, but this "
               "exercise asks for a two-stage, second-order Runge–Kutta step.")
    return f"order {orders[0]:.2f} (linear field) and {orders[1]:.2f} (tanh field)"
