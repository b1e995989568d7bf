"""Checks for ``06_neural_odes``.

Every check compares the student's code with independent truth: matrix exponentials
(``scipy.linalg.expm``) and closed-form solutions, central finite differences,
``scipy.integrate.solve_ivp``, full Jacobians from torch autograd, and
``torch.distributions``. Each one also tests the function the way the notebook uses it:
on batches, inside a computation that is differentiated (gradients with respect to the
inputs *and* to the parameters of a model). torch is imported inside the checks, never at
module import.
"""

from __future__ import annotations

import math

import numpy as np

from ._core import CheckFailure, as_array, call, exercise, expect, expect_close

__all__ = ["ode_block", "swap_field", "planar_trace", "hutchinson_trace", "gaussian_kl"]


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / (np.abs(expected).max() + 1e-300))


def _torch_result(torch, value, name: str, shape: tuple):
    """``value`` must be a torch tensor of ``shape`` (the notebook trains through it)."""
    expect(isinstance(value, torch.Tensor),
           f"{name} must return a torch tensor (got {type(value).__name__}): the result is "
           "used inside a model that autograd differentiates, so stay in torch.")
    expect(tuple(value.shape) == shape,
           f"{name} must return shape {shape}; got {tuple(value.shape)}.")
    return value


def _expect_all_used(gradients, names, what: str) -> None:
    """Every input must reach the result through autograd (no detached part)."""
    missing = [f"`{name}`" for gradient, name in zip(gradients, names) if gradient is None]
    expect(not missing,
           f"The {what} does not depend on {' and '.join(missing)} through autograd although "
           "its value does: the notebook trains through it, so do not detach that input.")


def _best_linear_span(matrix: np.ndarray, x: np.ndarray, actual: np.ndarray):
    """The span ``s`` with ``actual = x expm(A s)ᵀ`` to 1e-4, if there is one, else None.

    An accurate solve over a wrong interval lands exactly on the flow at some other time;
    an inaccurate solve over the right interval lands on no such point.
    """
    from scipy.linalg import expm
    from scipy.optimize import minimize_scalar

    def error(span):
        return _relative_error(actual, x @ expm(matrix * span).T)

    grid = np.linspace(-6.0, 6.0, 1201)
    start = grid[int(np.argmin([error(s) for s in grid]))]
    best = minimize_scalar(error, bounds=(start - 0.02, start + 0.02), method="bounded",
                           options={"xatol": 1e-10})
    return float(best.x) if best.fun < 1e-4 else None


# ----------------------------------------------------------------------------- section 1
@exercise("ode_block")
def ode_block(ode_block) -> str:
    """Check ``ode_block(func, x, final_time)``: ``y(T)`` of ``y' = func(t, y), y(0) = x``.

    Truth: ``expm(A T) x`` for a linear field, the closed form ``x exp(sin T)`` for the
    time-dependent ``y' = cos(t) y``, the gradient ``expm(A T)ᵀ 1`` of the sum of the
    output with respect to ``x``, and central finite differences of ``expm`` for the
    gradient with respect to the field's parameter ``A`` (section 1: the block must be
    trainable). Float32 and float64 batches are both tried.
    """
    import torch
    from scipy.linalg import expm

    class Linear(torch.nn.Module):
        def __init__(self, matrix, dtype):
            super().__init__()
            self.matrix = torch.nn.Parameter(torch.as_tensor(matrix, dtype=dtype))

        def forward(self, t, y):
            return y @ self.matrix.T

    class Cosine(torch.nn.Module):
        def forward(self, t, y):
            return torch.cos(torch.as_tensor(t, dtype=y.dtype)) * y

    matrix = np.array([[-0.1, -2.0], [2.0, -0.1]])
    x = torch.tensor([[1.0, 0.0], [0.5, -1.5], [-2.0, 0.3]], dtype=torch.float64)
    for final_time in (0.5, 2.0):
        out = call(ode_block, Linear(matrix, torch.float64), x, final_time)
        expect(isinstance(out, torch.Tensor), "Return a torch tensor (the output of odeint).")
        expect(tuple(out.shape) == tuple(x.shape),
               f"Return only the final state, shape {tuple(x.shape)} like `x`; got "
               f"{tuple(out.shape)} (odeint returns every output time: take the last one).")
        actual = as_array(out, "y(T)")
        expect(bool(np.all(np.isfinite(actual))), "y(T) contains NaN or inf.")
        exact = x.numpy() @ expm(matrix * final_time).T
        if np.allclose(actual, exact, rtol=1e-4, atol=1e-6):
            continue
        if np.allclose(actual, x.numpy(), rtol=1e-6, atol=1e-9):
            raise CheckFailure("Your block returns its input unchanged: the state must be "
                               "integrated over a time span of length `final_time`.")
        if np.allclose(actual, x.numpy() @ expm(matrix).T, rtol=1e-4, atol=1e-6):
            raise CheckFailure(f"With final_time = {final_time} your block returns the state "
                               "at t = 1: the end of the time span must be `final_time`.")
        if np.allclose(actual, x.numpy() @ expm(-matrix * final_time).T, rtol=1e-4,
                       atol=1e-6):
            raise CheckFailure("Your block integrates backwards in time: the times must "
                               "increase, from the start (where the state is `x`) to "
                               "`final_time`.")
        span = _best_linear_span(matrix, x.numpy(), actual)
        if span is not None:
            raise CheckFailure(f"With final_time = {final_time} your block returns the exact "
                               f"state after a time span of about {span:.2g}: integrate over "
                               "[0, `final_time`], starting at `x`.")
        raise CheckFailure(
            f"For y' = Ay your y(T) at T = {final_time} is not the state after any time span: "
            "the solver's error is too large (not accurate enough). Use an adaptive method "
            "with tolerances about 1e-6, as the exercise asks.")
    out = call(ode_block, Cosine(), x, 1.5)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == tuple(x.shape),
           "For the field y' = cos(t) y, return the final state as a tensor shaped like `x`.")
    expect_close(out.detach(), x.numpy() * math.exp(math.sin(1.5)),
                 "For the time-dependent field y' = cos(t) y the result is wrong, although "
                 "it is right for an autonomous field: pass the output times to `odeint` "
                 "(a tensor [0, T]) so that `func` receives the current time t.",
                 rtol=1e-4, atol=1e-6, name="y(T)")
    # float32, as the notebook's models use: the result must keep the input's dtype.
    out32 = call(ode_block, Linear(matrix, torch.float32), x.float(), 0.5)
    expect(isinstance(out32, torch.Tensor) and out32.dtype == torch.float32,
           "For a float32 input the result must be float32 too: build the times with "
           "`dtype=x.dtype`.")
    # Trainable: gradients with respect to x and to the field's parameters.
    leaf = x.clone().requires_grad_(True)
    field = Linear(matrix, torch.float64)
    out = call(ode_block, field, leaf, 1.0)
    detached_hint = ("The output does not depend on `x` and on the parameters of `func` "
                     "through autograd: do not detach, convert to NumPy or use "
                     "`torch.no_grad()`; the block must be trainable.")
    expect(isinstance(out, torch.Tensor) and out.requires_grad, detached_hint)
    gradient, matrix_gradient = torch.autograd.grad(out.sum(), [leaf, field.matrix],
                                                    allow_unused=True)
    expect(gradient is not None and matrix_gradient is not None, detached_hint)
    expect_close(gradient, np.ones((3, 2)) @ expm(matrix * 1.0),
                 "The gradient with respect to `x` is wrong; it should be expm(AT)ᵀ applied "
                 "to the output gradient.", rtol=1e-4, atol=1e-6, name="∂ sum(y(T)) / ∂x")
    step, numeric = 1e-6, np.zeros_like(matrix)
    for i in range(2):
        for j in range(2):
            bump = np.zeros_like(matrix)
            bump[i, j] = step
            plus = (x.numpy() @ expm((matrix + bump) * 1.0).T).sum()
            minus = (x.numpy() @ expm((matrix - bump) * 1.0).T).sum()
            numeric[i, j] = (plus - minus) / (2 * step)
    expect_close(matrix_gradient, numeric,
                 "The gradient with respect to the parameters of `func` is wrong: let autograd "
                 "differentiate through `odeint` (or `odeint_adjoint`) without detaching.",
                 rtol=1e-4, atol=1e-6, name="∂ sum(y(T)) / ∂A")
    return "y(T) equals expm(AT)x and x·exp(sin T), and gradients flow to x and to θ"


# ----------------------------------------------------------------------------- section 4
@exercise("swap_field")
def swap_field(swap_field) -> str:
    """Check ``swap_field(t, h)``: its time-1 flow maps ``(x, 0)`` to ``(-x, 0)``.

    Truth: ``scipy.integrate.solve_ivp`` (DOP853, tight tolerances) of the student's
    field from ``(x, 0)`` for several ``x`` of both signs; the field must also be finite on
    a grid of ``(t, h)`` (a Neural ODE's field is Lipschitz, section 4).
    """
    from scipy.integrate import solve_ivp

    def field(t, h):
        value = as_array(call(swap_field, float(t), np.array(h, dtype=float)),
                         "swap_field(t, h)")
        expect(value.shape == (2,),
               f"`swap_field(t, h)` for h of shape (2,) must return shape (2,), got "
               f"{value.shape}.")
        return value

    with np.errstate(all="ignore"):
        for t in np.linspace(0.0, 1.0, 9):
            for h0 in (-2.0, -0.5, 0.0, 0.5, 2.0):
                for h1 in (-1.0, 0.0, 1.0):
                    value = field(t, [h0, h1])
                    expect(bool(np.all(np.isfinite(value))) and np.abs(value).max() < 1e6,
                           f"Your field is not finite at t = {t:g}, h = ({h0:g}, {h1:g}): a "
                           "Neural ODE's field is Lipschitz and bounded on bounded sets, so "
                           "trajectories cannot meet — find a smooth motion of the plane "
                           "instead.")
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
    ``torch.autograd.functional.jacobian``; and, since a CNF is trained through its trace,
    the gradient of the summed trace with respect to ``W``, ``U``, ``b`` and ``z`` from
    autograd applied to that Jacobian (section 5).
    """
    import torch

    generator = torch.Generator().manual_seed(6)
    for dim, width, batch in [(2, 1, 3), (2, 5, 4), (3, 4, 2)]:
        z = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
        weight = torch.randn(width, dim, generator=generator, dtype=torch.float64)
        direction = torch.randn(width, dim, generator=generator, dtype=torch.float64)
        bias = torch.randn(width, generator=generator, dtype=torch.float64)
        inputs = [tensor.clone().requires_grad_(True)
                  for tensor in (z, weight, direction, bias)]
        out = call(planar_trace, *inputs)
        out = _torch_result(torch, out, "`planar_trace`", (batch,))

        def field(point, weight, direction, bias):
            return torch.tanh(point @ weight.T + bias) @ direction

        leaves = [tensor.clone().requires_grad_(True)
                  for tensor in (z, weight, direction, bias)]
        exact = torch.stack([
            torch.trace(torch.autograd.functional.jacobian(
                lambda p, params=leaves[1:]: field(p, *params), leaves[0][i],
                create_graph=True))
            for i in range(batch)])
        expect_close(out.detach(), exact.detach(),
                     f"Your trace differs from the trace of the autograd Jacobian (d = {dim}, "
                     f"M = {width}). Differentiate u tanh(wᵀz + b) with respect to z and take "
                     "the diagonal; tanh'(a) = 1 - tanh(a)².",
                     rtol=1e-8, atol=1e-10, name="planar_trace")
        detached = ("The trace does not depend on z, W, U and b through autograd: a CNF "
                    "trains through it, so do not detach, call `.item()` or convert to NumPy.")
        expect(out.requires_grad, detached)
        got = torch.autograd.grad(out.sum(), inputs, allow_unused=True)
        _expect_all_used(got, ("z", "weight", "direction", "bias"), "trace")
        want = torch.autograd.grad(exact.sum(), leaves)
        for g, w, name in zip(got, want, ("z", "weight", "direction", "bias")):
            expect_close(g, w.detach(),
                         f"The trace's gradient with respect to `{name}` is wrong although "
                         "its value is right: is part of the computation detached?",
                         rtol=1e-8, atol=1e-10, name=f"∂ tr / ∂{name}")
    return "equals the autograd Jacobian's trace, with its gradients, for three (d, M) pairs"


# ----------------------------------------------------------------------------- section 6
@exercise("hutchinson_trace")
def hutchinson_trace(hutchinson_trace) -> str:
    """Check ``hutchinson_trace(f, z, noise)`` = ``εᵀ (∂f/∂z) ε`` per sample.

    Truth: the full Jacobian from ``torch.autograd.functional.jacobian`` contracted with
    the noise on both sides; ``f`` must be evaluated once, and the result must stay
    differentiable with respect to ``z`` and to the parameters of ``f`` (section 6: the
    CNF is trained through the estimate).
    """
    import torch

    generator = torch.Generator().manual_seed(7)
    dim, batch = 4, 5
    layer1 = torch.randn(dim, 16, generator=generator, dtype=torch.float64)
    layer2 = torch.randn(16, dim, generator=generator, dtype=torch.float64) / 4
    layer2.requires_grad_(True)
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
    exact_leaf = z.clone().requires_grad_(True)
    exact = torch.stack([
        probe @ torch.autograd.functional.jacobian(lambda p: f(p[None])[0], point,
                                                   create_graph=True) @ probe
        for point, probe in zip(exact_leaf, noise)])
    expect_close(out.detach(), exact.detach(),
                 "Your estimate differs from εᵀ J ε with the autograd Jacobian J: compute "
                 "εᵀ J by one vector–Jacobian product, then take the dot product with ε "
                 "sample by sample.", rtol=1e-8, atol=1e-10, name="hutchinson_trace")
    expect(out.requires_grad,
           "The estimate is detached: pass `create_graph=True` to `torch.autograd.grad` so "
           "that a CNF can be trained through it.")
    got = torch.autograd.grad(out.sum(), [leaf, layer2], allow_unused=True)
    expect(got[0] is not None and got[1] is not None,
           "The estimate does not depend on `z` or on the parameters of `f` through "
           "autograd: differentiate `f(z)` with respect to the `z` you were given (do not "
           "detach or copy it) and pass `create_graph=True`.")
    want = torch.autograd.grad(exact.sum(), [exact_leaf, layer2])
    for g, w, name in zip(got, want, ("z", "the parameters of f")):
        expect_close(g, w.detach(),
                     f"The estimate's gradient with respect to {name} is wrong although its "
                     "value is right: is part of the computation detached?",
                     rtol=1e-8, atol=1e-10, name=f"gradient with respect to {name}")
    return "equals εᵀJε with the autograd Jacobian, one call of f, differentiable in z and θ"


# ----------------------------------------------------------------------------- section 7
@exercise("gaussian_kl")
def gaussian_kl(gaussian_kl) -> str:
    """Check ``gaussian_kl(mean, logvar)`` = ``KL(N(mean, e^logvar) ‖ N(0, I))`` per row.

    Truth: ``torch.distributions.kl_divergence`` of independent normals, summed over the
    last dimension, and its autograd gradients with respect to ``mean`` and ``logvar``
    (section 7: the ELBO is trained through it). The mean and the variance are first
    varied one at a time, so that the hint can say which of the two is handled wrongly.
    """
    import torch
    from torch.distributions import Normal, kl_divergence

    def truth(mean, logvar):
        return kl_divergence(Normal(mean, torch.exp(0.5 * logvar)),
                             Normal(torch.zeros_like(mean), 1.0)).sum(-1)

    def run(mean, logvar):
        out = as_array(call(gaussian_kl, mean, logvar), "gaussian_kl(mean, logvar)")
        expect(out.shape == (mean.shape[0],),
               f"Return one KL per row, shape ({mean.shape[0]},); got {out.shape}. Sum over "
               "the latent dimensions (the last axis).")
        return out

    double = torch.float64
    generator = torch.Generator().manual_seed(8)
    zero = run(torch.zeros(2, 3, dtype=double), torch.zeros(2, 3, dtype=double))
    expect(np.allclose(zero, 0.0, atol=1e-12),
           "For mean = 0 and logvar = 0 the two Gaussians are the same, so the KL must be 0; "
           "yours is not — check the terms that do not vanish there.")
    mean = torch.randn(4, 3, generator=generator, dtype=double)
    out = run(mean, torch.zeros(4, 3, dtype=double))
    exact = truth(mean, torch.zeros(4, 3, dtype=double)).numpy()
    if np.allclose(out, 2 * exact, rtol=1e-8):
        raise CheckFailure("Your KL is twice too large.")
    expect_close(out, exact,
                 "With unit variances (logvar = 0) your KL is wrong: its dependence on the "
                 "mean is not right.", rtol=1e-8, atol=1e-10, name="gaussian_kl")
    logvar = torch.randn(4, 3, generator=generator, dtype=double)
    out = run(torch.zeros(4, 3, dtype=double), logvar)
    exact = truth(torch.zeros(4, 3, dtype=double), logvar).numpy()
    if np.allclose(out, 2 * exact, rtol=1e-8):
        raise CheckFailure("Your KL is twice too large.")
    expect_close(out, exact,
                 "With zero means your KL is wrong: its dependence on the variance is not "
                 "right. `logvar` is the log of the variance σ², not of σ, and the KL must be "
                 "0 only at σ² = 1.", rtol=1e-8, atol=1e-10, name="gaussian_kl")
    for shape in [(3, 4), (5, 1)]:
        mean = torch.randn(shape, generator=generator, dtype=double)
        logvar = torch.randn(shape, generator=generator, dtype=double)
        expect_close(run(mean, logvar), truth(mean, logvar).numpy(),
                     "Your KL is right when only the mean or only the variance varies, but "
                     "not when both do.", rtol=1e-8, atol=1e-10, name="gaussian_kl")
    # Trained through: gradients with respect to both inputs.
    mean = torch.randn(3, 2, generator=generator, dtype=double)
    logvar = torch.randn(3, 2, generator=generator, dtype=double)
    leaves = [mean.clone().requires_grad_(True), logvar.clone().requires_grad_(True)]
    out = call(gaussian_kl, *leaves)
    out = _torch_result(torch, out, "`gaussian_kl`", (3,))
    detached = ("The KL does not depend on `mean` and `logvar` through autograd: the ELBO "
                "is trained through it, so do not detach or convert to NumPy.")
    expect(out.requires_grad, detached)
    got = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    _expect_all_used(got, ("mean", "logvar"), "KL")
    exact_leaves = [mean.clone().requires_grad_(True), logvar.clone().requires_grad_(True)]
    want = torch.autograd.grad(truth(*exact_leaves).sum(), exact_leaves)
    for g, w, name in zip(got, want, ("mean", "logvar")):
        expect_close(g, w,
                     f"The KL's gradient with respect to `{name}` is wrong although its value "
                     "is right: is part of the computation detached?",
                     rtol=1e-8, atol=1e-10, name=f"∂ KL / ∂{name}")
    return "equals torch.distributions.kl_divergence summed over the latent dimensions"
