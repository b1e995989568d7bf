"""Checks for ``06_neural_odes``.

Every check compares the student's code with independent truth: matrix exponentials
(``scipy.linalg.expm``) and closed-form solutions, ``scipy.integrate.solve_ivp``, full
Jacobians from torch autograd, and ``torch.distributions``. torch is imported inside the
checks, never at module import.
"""

from __future__ import annotations

import math

import numpy as np

from ._core import CheckFailure, as_array, call, exercise, expect, expect_close

__all__ = ["ode_block", "swap_field", "planar_trace", "hutchinson_trace", "gaussian_kl"]


# ----------------------------------------------------------------------------- section 1
@exercise("ode_block")
def ode_block(ode_block) -> str:
    """Check ``ode_block(func, x, final_time)``: ``y(T)`` of ``y' = func(t, y), y(0) = x``.

    Truth: ``expm(A T) x`` for a linear field, the closed form ``x exp(sin T)`` for the
    time-dependent ``y' = cos(t) y``, and the gradient ``expm(A T)ᵀ 1`` of the sum of the
    output with respect to ``x`` (section 1).
    """
    import torch
    from scipy.linalg import expm

    class Linear(torch.nn.Module):
        def __init__(self, matrix):
            super().__init__()
            self.matrix = torch.nn.Parameter(torch.as_tensor(matrix))

        def forward(self, t, y):
            return y @ self.matrix.T

    class Cosine(torch.nn.Module):
        def forward(self, t, y):
            return torch.cos(t) * y

    matrix = np.array([[-0.1, -2.0], [2.0, -0.1]])
    x = torch.tensor([[1.0, 0.0], [0.5, -1.5], [-2.0, 0.3]], dtype=torch.float64)
    for final_time in (0.5, 2.0):
        out = call(ode_block, Linear(matrix), x, final_time)
        expect(isinstance(out, torch.Tensor), "Return a torch tensor (the output of odeint).")
        expect(tuple(out.shape) == tuple(x.shape),
               f"Return only the final state, shape {tuple(x.shape)} like `x`; got "
               f"{tuple(out.shape)} (odeint returns every output time: take the last one).")
        exact = x.numpy() @ expm(matrix * final_time).T
        expect_close(out.detach(), exact,
                     f"For y' = Ay your y(T) differs from expm(AT) x at T = {final_time}: "
                     "integrate from 0 to `final_time`, starting at `x`.",
                     rtol=1e-4, atol=1e-6, name="y(T)")
    out = call(ode_block, Cosine(), x, 1.5)
    expect_close(out.detach(), x.numpy() * math.exp(math.sin(1.5)),
                 "For the time-dependent field y' = cos(t) y the result is wrong: pass the "
                 "times as a tensor [0, T] so that `func` receives the current time t.",
                 rtol=1e-4, atol=1e-6, name="y(T)")
    leaf = x.clone().requires_grad_(True)
    out = call(ode_block, Linear(matrix), leaf, 1.0)
    detached_hint = ("The output does not depend on `x` through autograd: do not detach or "
                     "convert to NumPy; the block must be trainable.")
    expect(isinstance(out, torch.Tensor) and out.requires_grad, detached_hint)
    (gradient,) = torch.autograd.grad(out.sum(), leaf, allow_unused=True)
    expect(gradient is not None, detached_hint)
    expect_close(gradient, np.ones((3, 2)) @ expm(matrix * 1.0),
                 "The gradient with respect to `x` is wrong; it should be expm(AT)ᵀ applied "
                 "to the output gradient.", rtol=1e-4, atol=1e-6, name="∂ sum(y(T)) / ∂x")
    return "y(T) equals expm(AT)x and x·exp(sin T), and gradients flow to x"


# ----------------------------------------------------------------------------- section 4
@exercise("swap_field")
def swap_field(swap_field) -> str:
    """Check ``swap_field(t, h)``: its time-1 flow maps ``(x, 0)`` to ``(-x, 0)``.

    Truth: ``scipy.integrate.solve_ivp`` (DOP853, tight tolerances) of the student's
    field from ``(x, 0)`` for several ``x`` of both signs (section 4).
    """
    from scipy.integrate import solve_ivp

    def field(t, h):
        value = as_array(call(swap_field, float(t), np.array(h, dtype=float)),
                         "swap_field(t, h)")
        expect(value.shape == (2,),
               f"`swap_field(t, h)` for h of shape (2,) must return shape (2,), got "
               f"{value.shape}.")
        return value

    for x in (-2.0, -0.7, 0.0, 0.4, 1.5):
        solution = solve_ivp(field, (0.0, 1.0), [x, 0.0], method="DOP853", rtol=1e-10,
                             atol=1e-12)
        expect(solution.success, "scipy could not integrate your field from t = 0 to 1; is "
                                 "it finite everywhere?")
        end = solution.y[:, -1]
        expect(abs(end[0] + x) < 1e-4 * (1 + abs(x)),
               f"Starting at (x, 0) with x = {x}, the first coordinate at t = 1 is not -x. "
               "Think of a motion of the plane that takes every point (x, 0) to (-x, 0) in "
               "unit time.")
        expect(abs(end[1]) < 1e-4 * (1 + abs(x)),
               f"Starting at (x, 0) with x = {x}, the flow must come back to the axis "
               "(second coordinate 0) at t = 1.")
    return "the time-1 flow maps (x, 0) to (-x, 0) for five x of both signs"


# ----------------------------------------------------------------------------- section 5
@exercise("planar_trace")
def planar_trace(planar_trace) -> str:
    """Check ``planar_trace(z, weight, direction, bias)`` = ``tr ∂f/∂z`` for
    ``f(z) = tanh(z Wᵀ + b) U``.

    Truth: the trace of each sample's full Jacobian from
    ``torch.autograd.functional.jacobian`` (section 5).
    """
    import torch

    generator = torch.Generator().manual_seed(6)
    for dim, width, batch in [(2, 1, 3), (2, 5, 4), (3, 4, 2)]:
        z = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
        weight = torch.randn(width, dim, generator=generator, dtype=torch.float64)
        direction = torch.randn(width, dim, generator=generator, dtype=torch.float64)
        bias = torch.randn(width, generator=generator, dtype=torch.float64)
        out = as_array(call(planar_trace, z, weight, direction, bias),
                       "planar_trace(z, weight, direction, bias)")
        expect(out.shape == (batch,),
               f"Return one trace per sample, shape ({batch},); got {out.shape}. Sum over the "
               "hidden units, not over the batch.")

        def field(point, weight=weight, direction=direction, bias=bias):
            return torch.tanh(point @ weight.T + bias) @ direction

        exact = [torch.trace(torch.autograd.functional.jacobian(field, point)).item()
                 for point in z]
        expect_close(out, exact,
                     f"Your trace differs from the trace of the autograd Jacobian (d = {dim}, "
                     f"M = {width}). Differentiate u tanh(wᵀz + b) with respect to z and take "
                     "the diagonal; tanh'(a) = 1 - tanh(a)².",
                     rtol=1e-8, atol=1e-10, name="planar_trace")
    return "equals the trace of the autograd Jacobian for three (d, M) pairs"


# ----------------------------------------------------------------------------- section 6
@exercise("hutchinson_trace")
def hutchinson_trace(hutchinson_trace) -> str:
    """Check ``hutchinson_trace(f, z, noise)`` = ``εᵀ (∂f/∂z) ε`` per sample.

    Truth: the full Jacobian from ``torch.autograd.functional.jacobian`` contracted with
    the noise on both sides; ``f`` must be evaluated once and the result must stay
    differentiable (section 6).
    """
    import torch

    generator = torch.Generator().manual_seed(7)
    dim, batch = 4, 5
    layer1 = torch.randn(dim, 16, generator=generator, dtype=torch.float64)
    layer2 = torch.randn(16, dim, generator=generator, dtype=torch.float64) / 4
    calls = []

    def f(z):
        calls.append(1)
        return torch.tanh(z @ layer1) @ layer2 + 0.3 * z**2

    z = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    noise = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    leaf = z.clone().requires_grad_(True)
    out = call(hutchinson_trace, f, leaf, noise)
    expect(isinstance(out, torch.Tensor), "Return a torch tensor of shape (batch,).")
    expect(tuple(out.shape) == (batch,),
           f"Return one estimate per sample, shape ({batch},); got {tuple(out.shape)}.")
    expect(len(calls) == 1,
           f"`f` was called {len(calls)} times; one evaluation and one vector–Jacobian "
           "product (`torch.autograd.grad` with `grad_outputs=noise`) are enough.")
    exact = []
    for point, probe in zip(z, noise):
        jacobian = torch.autograd.functional.jacobian(lambda p: f(p[None])[0], point)
        exact.append((probe @ jacobian @ probe).item())
    expect_close(out.detach(), exact,
                 "Your estimate differs from εᵀ J ε with the autograd Jacobian J: compute "
                 "εᵀ J by one vector–Jacobian product, then take the dot product with ε "
                 "sample by sample.", rtol=1e-8, atol=1e-10, name="hutchinson_trace")
    expect(out.requires_grad,
           "The estimate is detached: pass `create_graph=True` to `torch.autograd.grad` so "
           "that a CNF can be trained through it.")
    return "equals εᵀJε with the autograd Jacobian, one call of f, differentiable"


# ----------------------------------------------------------------------------- section 7
@exercise("gaussian_kl")
def gaussian_kl(gaussian_kl) -> str:
    """Check ``gaussian_kl(mean, logvar)`` = ``KL(N(mean, e^logvar) ‖ N(0, I))`` per row.

    Truth: ``torch.distributions.kl_divergence`` of independent normals, summed over the
    last dimension (section 7).
    """
    import torch
    from torch.distributions import Normal, kl_divergence

    generator = torch.Generator().manual_seed(8)
    for shape in [(3, 4), (5, 1)]:
        mean = torch.randn(shape, generator=generator, dtype=torch.float64)
        logvar = torch.randn(shape, generator=generator, dtype=torch.float64)
        out = as_array(call(gaussian_kl, mean, logvar), "gaussian_kl(mean, logvar)")
        expect(out.shape == (shape[0],),
               f"Return one KL per row, shape ({shape[0]},); got {out.shape}. Sum over the "
               "latent dimensions (the last axis).")
        exact = kl_divergence(Normal(mean, torch.exp(0.5 * logvar)),
                              Normal(torch.zeros(shape, dtype=torch.float64), 1.0)).sum(-1)
        if np.allclose(out, exact.numpy() * 2, rtol=1e-8):
            raise CheckFailure("Your KL is twice too large: remember the factor ½.")
        expect_close(out, exact.numpy(),
                     "Your KL differs from torch.distributions: use σ² = exp(logvar), and "
                     "check each of the four terms of ½ Σ (μ² + σ² - log σ² - 1).",
                     rtol=1e-8, atol=1e-10, name="gaussian_kl")
    zero = as_array(call(gaussian_kl, torch.zeros(2, 3, dtype=torch.float64),
                         torch.zeros(2, 3, dtype=torch.float64)))
    expect(np.allclose(zero, 0.0, atol=1e-12),
           "KL(N(0, I) ‖ N(0, I)) must be 0; check the constant term.")
    return "equals torch.distributions.kl_divergence summed over the latent dimensions"
