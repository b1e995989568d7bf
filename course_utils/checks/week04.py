"""Checks for ``04_normalising_flows``.

Every check compares with independent truth: scipy's densities and quadrature, the
autograd Jacobian's ``slogdet`` (an O(N³) computation that knows nothing of the cheap
formulas), finite differences and closed-form Gaussian KL divergences.
"""

from __future__ import annotations

import math

import numpy as np

from ._core import as_array, call, exercise, expect, expect_close

__all__ = [
    "pushforward_density",
    "affine_log_density",
    "gaussianize_1d",
    "autograd_log_abs_det",
    "planar_forward",
    "radial_forward",
    "reverse_kl",
    "coupling_forward",
]


def _autograd_log_abs_det(fn, z):
    """Reference log|det| per sample from the dense autograd Jacobian."""
    import torch

    rows = []
    for point in z:
        jacobian = torch.autograd.functional.jacobian(lambda p: fn(p[None])[0], point)
        rows.append(torch.linalg.slogdet(jacobian)[1])
    return torch.stack(rows)


def _pair(result, name):
    expect(
        isinstance(result, tuple) and len(result) == 2,
        f"`{name}` should return a pair `(x, log_abs_det)`, got {type(result).__name__}.",
    )
    return result


@exercise("pushforward_density")
def pushforward_density(student_fn) -> str:
    """Density of ``X = f(Z)``, ``Z ~ N(0, 1)``, from ``f⁻¹`` and its derivative (§1).

    Truth: scipy's log-normal (``f = exp``), Johnson SU (``f = sinh``) and normal
    (a decreasing affine ``f``) densities, and ``scipy.integrate.quad`` for the mass.
    """
    from scipy import integrate, stats

    cases = [
        ("exp", np.log, lambda x: 1.0 / x, stats.lognorm(s=1.0), (1e-6, np.inf),
         np.linspace(0.05, 6.0, 40)),
        ("sinh", np.arcsinh, lambda x: 1.0 / np.sqrt(1.0 + x**2), stats.johnsonsu(0.0, 1.0),
         (-np.inf, np.inf), np.linspace(-8.0, 8.0, 41)),
        ("z -> 2 - z/2 (decreasing)", lambda x: 4.0 - 2.0 * x, lambda x: -2.0 + 0.0 * x,
         stats.norm(loc=2.0, scale=0.5), (-np.inf, np.inf), np.linspace(0.0, 4.0, 41)),
    ]
    for label, inverse, derivative, truth, support, xs in cases:
        values = as_array(call(student_fn, xs, inverse, derivative),
                          "pushforward_density(x, inverse, inverse_derivative)")
        expect(values.shape == xs.shape,
               f"For an array of {len(xs)} points return {len(xs)} densities (map {label}); "
               "use NumPy's element-wise functions.")
        expect(bool(np.all(values >= 0)),
               f"A density is never negative, but yours is for the map {label}: the change "
               "of variables uses the *absolute value* of the derivative.")
        expect_close(values, truth.pdf(xs),
                     f"Your density disagrees with the exact one for the map {label}: it is "
                     "p_Z(f^-1(x)) times |(f^-1)'(x)|, with p_Z the standard normal density.",
                     rtol=1e-6, atol=1e-12, name="your density")
        density = lambda x, inverse=inverse, derivative=derivative: float(np.asarray(
            student_fn(np.array([x]), inverse, derivative))[0])
        mass, _ = integrate.quad(density, *support, limit=200)
        expect(abs(mass - 1.0) < 1e-6,
               f"Your density for the map {label} does not integrate to 1 (quadrature).")
    return "matches scipy for exp, sinh and a decreasing map; each integrates to 1"


@exercise("affine_log_density")
def affine_log_density(student_fn) -> str:
    """``log p_X(x)`` for ``X = A Z + b``, ``Z ~ N(0, I)`` (§1). Truth: scipy's
    ``multivariate_normal(b, A Aᵀ).logpdf``."""
    from scipy import stats

    rng = np.random.default_rng(4)
    for dim in (1, 2, 3):
        matrix = rng.standard_normal((dim, dim)) + 0.5 * np.eye(dim)
        if dim == 2:
            matrix[:, 0] *= -1.0          # a negative determinant
        shift = rng.standard_normal(dim)
        x = rng.standard_normal((25, dim)) * 2.0
        values = as_array(call(student_fn, x, matrix, shift),
                          "affine_log_density(x, matrix, shift)")
        expect(values.shape == (25,),
               f"For x of shape (25, {dim}) return one log-density per row, shape (25,).")
        truth = stats.multivariate_normal(shift, matrix @ matrix.T).logpdf(x)
        expect_close(values, np.atleast_1d(truth),
                     f"Wrong log-density in dimension {dim}"
                     + (" (this matrix has a negative determinant: take log|det|)"
                        if dim == 2 else "")
                     + ": log p_Z(A^-1 (x - b)) - log|det A|; solve with the matrix rather "
                     "than multiply by it.",
                     rtol=1e-7, atol=1e-9, name="your log-density")
    return "matches scipy's multivariate normal in dimensions 1, 2 and 3"


@exercise("gaussianize_1d")
def gaussianize_1d(student_fn) -> str:
    """Marginal Gaussianisation ``y = Φ⁻¹(F(x))`` by a kernel density estimate (§2).

    Truth: the CDF from ``scipy.stats.gaussian_kde(...).integrate_box_1d`` and
    ``norm.ppf``; the log-derivative against central differences of the student's ``y``.
    """
    from scipy import stats

    rng = np.random.default_rng(2)
    centres = np.concatenate([rng.normal(-1.5, 0.4, 60), rng.normal(1.0, 0.7, 90)])
    bandwidth = 0.3
    x = np.linspace(-3.0, 3.5, 27)
    out = call(student_fn, x, centres, bandwidth)
    expect(isinstance(out, tuple) and len(out) == 2,
           "`gaussianize_1d` should return a pair `(y, log_dy_dx)`.")
    y = as_array(out[0], "y")
    log_slope = as_array(out[1], "log_dy_dx")
    expect(y.shape == x.shape and log_slope.shape == x.shape,
           "Return one y and one log-derivative per input point (arrays of x's shape).")
    kde = stats.gaussian_kde(centres, bw_method=bandwidth / centres.std(ddof=1))
    cdf = np.array([kde.integrate_box_1d(-np.inf, value) for value in x])
    expect_close(y, stats.norm.ppf(cdf),
                 "y is off: F is the mean over the centres of Phi((x - c)/h), and y is the "
                 "standard normal quantile of F.", rtol=1e-6, atol=1e-6, name="y")
    expect(bool(np.all(np.diff(y) > 0)), "y must increase with x: F does.")
    step = 1e-5
    plus = as_array(call(student_fn, x + step, centres, bandwidth)[0])
    minus = as_array(call(student_fn, x - step, centres, bandwidth)[0])
    slope = (plus - minus) / (2 * step)
    expect_close(log_slope, np.log(slope),
                 "log_dy_dx disagrees with finite differences of your y: dy/dx = p(x) / "
                 "phi(y), with p the kernel density estimate and phi the normal density.",
                 rtol=1e-4, atol=1e-5, name="log_dy_dx")
    return "y matches scipy's KDE CDF + normal quantile; log dy/dx matches finite differences"


@exercise("autograd_log_abs_det")
def autograd_log_abs_det(student_fn) -> str:
    """log|det ∂f/∂z| from the autograd Jacobian (§3). Truth: closed forms for a linear
    map (``slogdet`` of its matrix, NumPy) and an element-wise map."""
    import torch

    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((4, 4))
    linear = torch.as_tensor(matrix, dtype=torch.float64)
    z = torch.as_tensor(rng.standard_normal((6, 4)), dtype=torch.float64)
    values = as_array(call(student_fn, lambda v: v @ linear.T, z),
                      "autograd_log_abs_det(fn, z)")
    expect(values.shape == (6,), "Return one log|det| per row of z: shape (batch,).")
    expect_close(values, np.full(6, np.linalg.slogdet(matrix)[1]),
                 "Wrong value for a linear map z -> A z, whose Jacobian is A everywhere: "
                 "take the log of the *absolute* determinant (torch.linalg.slogdet).",
                 rtol=1e-9, atol=1e-9, name="your log|det|")
    values = as_array(call(student_fn, torch.tanh, z))
    truth = np.log(1.0 - np.tanh(z.numpy()) ** 2).sum(axis=1)
    expect_close(values, truth,
                 "Wrong value for the element-wise map tanh(z), whose Jacobian is diagonal: "
                 "compute the Jacobian at each point separately (one row of z at a time).",
                 rtol=1e-9, atol=1e-9, name="your log|det|")
    return "exact for a linear and an element-wise map"


def _m(a):
    return -1.0 + math.log1p(math.exp(a))


@exercise("planar_forward")
def planar_forward(student_fn) -> str:
    """A planar layer with Rezende & Mohamed's ``û`` (§4). Truth: the autograd Jacobian
    for the log-determinant; for invertibility, monotonicity along ``w`` even when
    ``wᵀu < -1``; for the map, its rank-one form and the paper's ``wᵀû = m(wᵀu)``."""
    import torch

    rng = np.random.default_rng(7)
    z = torch.as_tensor(rng.standard_normal((12, 2)) * 1.5, dtype=torch.float64)
    w = torch.tensor([1.2, -0.7], dtype=torch.float64)
    cases = {
        "w·u > 0": torch.tensor([0.8, 0.4], dtype=torch.float64),
        "w·u < -1": -2.5 * w / (w @ w) + torch.tensor([0.3, 0.51], dtype=torch.float64),
    }
    b = torch.tensor(0.3, dtype=torch.float64)
    for label, u in cases.items():
        x, log_abs_det = _pair(call(student_fn, z, w, u, b), "planar_forward")
        x, log_abs_det = as_array(x, "x"), as_array(log_abs_det, "log_abs_det")
        expect(x.shape == (12, 2) and log_abs_det.shape == (12,),
               "For z of shape (batch, dim) return x of shape (batch, dim) and "
               "log_abs_det of shape (batch,).")
        displacement = x - z.numpy()
        activation = np.tanh(z.numpy() @ w.numpy() + float(b))           # (batch,)
        widest = int(np.argmax(np.abs(activation)))
        direction = displacement[widest] / activation[widest]              # û, if rank one
        expect(np.allclose(displacement, activation[:, None] * direction, rtol=1e-8,
                           atol=1e-10),
               f"({label}) x - z should be tanh(w·z + b) times one fixed vector û.")
        expect(abs(direction @ w.numpy() - _m(float(w @ u))) < 1e-8,
               f"({label}) û does not satisfy the invertibility condition of the paper's "
               "Appendix A, w·û = m(w·u) with m(a) = -1 + log(1 + e^a).")
        reference = _autograd_log_abs_det(lambda v, u=u: student_fn(v, w, u, b)[0], z)
        expect_close(log_abs_det, reference.numpy(),
                     f"({label}) log_abs_det disagrees with log|det| of the autograd Jacobian "
                     "of your map: it is log|1 + û·ψ(z)| with ψ = tanh'(w·z + b) w.",
                     rtol=1e-8, atol=1e-10, name="log_abs_det")
        along = torch.linspace(-4, 4, 81, dtype=torch.float64)[:, None] * w
        projected = as_array(call(student_fn, along, w, u, b)[0]) @ w.numpy()
        expect(bool(np.all(np.diff(projected) > 0)),
               f"({label}) your map is not invertible: w·x should increase along w.")
    return "rank-one form, w·û = m(w·u), log|det| = autograd's, invertible when w·u < -1"


@exercise("radial_forward")
def radial_forward(student_fn) -> str:
    """A radial layer (§4). Truth: the autograd Jacobian's ``slogdet``; the map's defining
    properties (fixes ``z₀``, moves points along rays, by ``β r/(α + r)``)."""
    import torch

    rng = np.random.default_rng(8)
    z = torch.as_tensor(rng.standard_normal((10, 3)) * 1.5, dtype=torch.float64)
    z0 = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    for alpha, beta in [(0.7, 1.3), (1.1, -0.9)]:
        alpha_t = torch.tensor(alpha, dtype=torch.float64)
        beta_t = torch.tensor(beta, dtype=torch.float64)
        x, log_abs_det = _pair(call(student_fn, z, z0, alpha_t, beta_t), "radial_forward")
        x, log_abs_det = as_array(x, "x"), as_array(log_abs_det, "log_abs_det")
        expect(x.shape == (10, 3) and log_abs_det.shape == (10,),
               "For z of shape (batch, dim) return x of shape (batch, dim) and "
               "log_abs_det of shape (batch,).")
        offset = z.numpy() - z0.numpy()
        radius = np.linalg.norm(offset, axis=1)
        expect_close(x - z.numpy(), (beta / (alpha + radius))[:, None] * offset,
                     f"(alpha = {alpha}, beta = {beta}) x - z should be beta h(alpha, r) "
                     "(z - z0) with h = 1/(alpha + r) and r = |z - z0|.",
                     rtol=1e-9, atol=1e-12, name="x")
        reference = _autograd_log_abs_det(
            lambda v, a=alpha_t, b=beta_t: student_fn(v, z0, a, b)[0], z)
        expect_close(log_abs_det, reference.numpy(),
                     f"(alpha = {alpha}, beta = {beta}) log_abs_det disagrees with the "
                     "autograd Jacobian: in d dimensions the factor 1 + beta h appears d - 1 "
                     "times, and once more with the derivative of h.",
                     rtol=1e-8, atol=1e-10, name="log_abs_det")
    return "map and log|det| (vs autograd) right for a contraction and an expansion in 3-D"


@exercise("reverse_kl")
def reverse_kl(student_fn) -> str:
    """Monte Carlo ``E_q[log q + U]`` (§4). Truth: for ``q = N(m_q, diag σ²)`` and
    ``U = ½‖z - m‖²`` the closed-form Gaussian KL minus ``log Z = log 2π``."""
    import torch

    from ..models.flows import ElementwiseAffine, NormalizingFlow, StandardNormal

    identity = NormalizingFlow(StandardNormal(2).double(), [])
    quadratic = lambda x: 0.5 * (x**2).sum(dim=1)
    torch.manual_seed(0)
    value = call(student_fn, identity, quadratic, 64)
    expect(hasattr(value, "backward") and value.numel() == 1,
           "Return a scalar torch tensor (so that .backward() trains the flow).")
    expect(abs(float(value.detach()) + math.log(2 * math.pi)) < 1e-9,
           "When q is the target itself every sample gives log q(x) + U(x) = -log Z; yours "
           "does not. Use flow.sample_with_log_prob and average (not sum) log q + U.")
    layer = ElementwiseAffine(2).double()
    with torch.no_grad():
        layer.log_scale.copy_(torch.tensor([0.4, -0.3]))
        layer.shift.copy_(torch.tensor([0.5, -1.0]))
    flow = NormalizingFlow(StandardNormal(2).double(), [layer])
    target_mean = torch.tensor([1.0, 0.5], dtype=torch.float64)
    energy = lambda x: 0.5 * ((x - target_mean) ** 2).sum(dim=1)
    sigma2 = torch.exp(2 * layer.log_scale.detach())
    kl = 0.5 * float((sigma2 + (layer.shift.detach() - target_mean) ** 2 - 1
                      - torch.log(sigma2)).sum())
    torch.manual_seed(1)
    value = call(student_fn, flow, energy, 20000)
    expect(hasattr(value, "detach") and value.numel() == 1,
           "Return a scalar torch tensor (so that .backward() trains the flow).")
    expect(abs(float(value.detach()) - (kl - math.log(2 * math.pi))) < 0.05,
           "Wrong value for a Gaussian flow and a Gaussian target (where the KL has a closed "
           "form): average log q(x) + U(x) over samples x of the flow (a mean, not a sum).")
    expect(bool(getattr(value, "requires_grad", False)),
           "Your loss carries no gradient: draw the samples with flow.sample_with_log_prob "
           "(no torch.no_grad, no .detach()), so that training can differentiate it.")
    value.backward()
    expect(layer.shift.grad is not None and float(layer.shift.grad.abs().sum()) > 0,
           "No gradient reached the flow's parameters: draw the samples with "
           "flow.sample_with_log_prob (no torch.no_grad, no .detach()).")
    return "exact when q = p, and matches the closed-form Gaussian KL"


@exercise("coupling_forward")
def coupling_forward(student_fn) -> str:
    """An affine coupling layer (§5). Truth: the autograd Jacobian (its ``slogdet`` and its
    triangular structure) and the defining formula on the free coordinates."""
    import torch

    torch.manual_seed(3)
    dim = 4
    weights = torch.randn(dim, 2 * dim, dtype=torch.float64) * 0.5
    net = lambda kept: tuple(torch.tanh(kept @ weights).chunk(2, dim=1))
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    z = torch.randn(8, dim, dtype=torch.float64)
    x, log_abs_det = _pair(call(student_fn, z, mask, net), "coupling_forward")
    x, log_abs_det = as_array(x, "x"), as_array(log_abs_det, "log_abs_det")
    expect(x.shape == (8, dim) and log_abs_det.shape == (8,),
           "For z of shape (batch, dim) return x of shape (batch, dim) and log_abs_det of "
           "shape (batch,).")
    kept = mask.bool().numpy()
    expect(np.array_equal(x[:, kept], z.numpy()[:, kept]),
           "The coordinates where mask = 1 must pass through unchanged.")
    log_scale, shift = (t.numpy() for t in net(mask * z))
    expect_close(x[:, ~kept], (z.numpy() * np.exp(log_scale) + shift)[:, ~kept],
                 "The free coordinates (mask = 0) should be z * exp(s) + t, with (s, t) = "
                 "net(mask * z) — the net sees only the kept coordinates.",
                 rtol=1e-9, atol=1e-12, name="x")
    reference = _autograd_log_abs_det(lambda v: student_fn(v, mask, net)[0], z)
    expect_close(log_abs_det, reference.numpy(),
                 "log_abs_det disagrees with the autograd Jacobian: sum s over the free "
                 "coordinates only.", rtol=1e-8, atol=1e-10, name="log_abs_det")
    return "kept coordinates unchanged, free ones affine, log|det| = autograd's"
