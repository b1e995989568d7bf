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
        z = inverse(xs)
        slope = np.abs(derivative(xs))
        close = lambda candidate, values=values: bool(
            np.allclose(values, candidate, rtol=1e-6, atol=1e-12))
        expect(not close(stats.norm.pdf(z) / slope),
               f"For the map {label} you divide by the derivative of the inverse: where f^-1 "
               "is steep, a small interval of x receives a large interval of z, so its "
               "density rises.")
        expect(not close(stats.norm.pdf(z)),
               f"For the map {label} your density is p_Z(f^-1(x)) alone: the factor that "
               "accounts for f stretching or squeezing the line is missing.")
        expect(not close(stats.norm.pdf(xs) * slope),
               f"For the map {label} you evaluate p_Z at x: p_Z is the density of z, so "
               "evaluate it at the z that f maps to x.")
        expect_close(values, truth.pdf(xs),
                     f"Your density disagrees with the exact one for the map {label}.",
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
        truth = np.atleast_1d(stats.multivariate_normal(shift, matrix @ matrix.T).logpdf(x))
        expect(bool(np.all(np.isfinite(values))),
               f"Your log-density is NaN or inf in dimension {dim}"
               + (": this matrix has a negative determinant, and the log of a negative "
                  "number is NaN — use log|det A| (np.linalg.slogdet)."
                  if np.linalg.det(matrix) < 0 else "."))
        log_det = np.linalg.slogdet(matrix)[1]
        constant = 0.5 * dim * np.log(2 * np.pi)

        def log_density(z, log_det=log_det, constant=constant):
            return -0.5 * (z**2).sum(axis=1) - constant - log_det

        close = lambda candidate, values=values: bool(
            np.allclose(values, candidate, rtol=1e-7, atol=1e-9))
        diagnoses = [
            (log_density((x - shift) @ matrix.T),
             "you map x - b with A itself: z is the point that A sends to x - b, so undo A "
             "(np.linalg.solve) instead of applying it"),
            (log_density((x - shift) @ np.linalg.inv(matrix)),
             "A^-1 is applied from the wrong side (a transpose): with one point per row "
             "of x, z_i = A^-1 (x_i - b), which is not (x_i - b) @ A^-1"),
            (log_density(np.linalg.solve(matrix, x.T).T),
             "the shift b is not removed before undoing A"),
            (truth + 2 * log_det,
             "the log-determinant has the wrong sign: a map that stretches volume "
             "(|det A| > 1) must lower the density"),
            (truth + constant,
             "the normalising constant of the standard normal, (2 pi)^(-d/2), is missing"),
            (truth - 0.5 * (np.linalg.solve(matrix, (x - shift).T) ** 2).sum(axis=0),
             "the squared norm of z needs the factor 1/2 of the Gaussian exponent"),
        ]
        if dim == 1:
            diagnoses = diagnoses[:1] + diagnoses[2:]      # in 1-D A^-1 commutes
        for candidate, mistake in diagnoses:
            expect(not close(candidate),
                   f"Wrong log-density in dimension {dim}: {mistake}.")
        expect_close(values, truth,
                     f"Wrong log-density in dimension {dim}: check z, the standard normal "
                     "log-density of z and the log-determinant term separately on one point.",
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
    expect(bool(np.all(np.isfinite(y))),
           "y contains NaN or inf: F(x) must lie strictly between 0 and 1 — average over "
           "the centres rather than summing.")
    close = lambda a, b, tol=1e-6: bool(np.allclose(a, b, rtol=tol, atol=tol))
    expect(not close(y, cdf),
           "y equals F(x), a number in (0, 1): apply the standard normal quantile "
           "(stats.norm.ppf) to F to make the marginal Gaussian.")
    unscaled = stats.norm.ppf(stats.norm.cdf(x[:, None] - centres[None, :]).mean(axis=1))
    expect(not close(y, unscaled),
           "y ignores the bandwidth: each kernel's CDF is evaluated at (x - c) / h.")
    expect_close(y, stats.norm.ppf(cdf),
                 "y disagrees with the normal quantile of the kernel CDF F.",
                 rtol=1e-6, atol=1e-6, name="y")
    expect(bool(np.all(np.diff(y) > 0)), "y must increase with x: F does.")
    step = 1e-5
    plus = as_array(call(student_fn, x + step, centres, bandwidth)[0])
    minus = as_array(call(student_fn, x - step, centres, bandwidth)[0])
    slope = (plus - minus) / (2 * step)
    truth = np.log(slope)
    log_kde = np.log(kde(x))
    expect(bool(np.all(np.isfinite(log_slope))), "log_dy_dx contains NaN or inf.")
    diagnoses = [
        (slope, "log_dy_dx is dy/dx itself: return its logarithm"),
        (log_kde, "log_dy_dx is log p(x), the log of F': y = Phi^-1(F(x)) also passes "
                  "through the normal quantile, whose derivative is missing"),
        (-truth, "log_dy_dx has the wrong sign"),
        (truth + np.log(bandwidth),
         "log_dy_dx is off by log h: the kernel density p = F' carries the factor 1/h "
         "of the chain rule"),
    ]
    for candidate, mistake in diagnoses:
        expect(not close(log_slope, candidate, 1e-4), mistake + ".")
    expect_close(log_slope, truth,
                 "log_dy_dx disagrees with finite differences of your y: differentiate "
                 "Phi(y) = F(x) with respect to x.",
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
    determinant = np.linalg.det(matrix)
    close = lambda candidate: bool(np.allclose(values, candidate, rtol=1e-9, atol=1e-9))
    expect(bool(np.all(np.isfinite(values))),
           "NaN or inf for a linear map z -> A z whose determinant is negative: the log "
           "must be of the *absolute* determinant (torch.linalg.slogdet).")
    expect(not close(np.full(6, abs(determinant))),
           "You return |det J| for a linear map z -> A z, not its logarithm.")
    expect(not close(np.full(6, np.sign(determinant))),
           "You return the sign of det J (slogdet's first output), not log|det J|.")
    expect(not close(np.full(6, np.log(np.abs(np.diag(matrix))).sum())),
           "You sum the log of the Jacobian's diagonal: that is log|det| only for a "
           "triangular Jacobian, and a linear map z -> A z has a full one.")
    expect_close(values, np.full(6, np.linalg.slogdet(matrix)[1]),
                 "Wrong value for a linear map z -> A z, whose Jacobian is A everywhere.",
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
        slope = 1.0 - activation**2
        for candidate, mistake in [
            (np.log(np.abs(1 + slope * float(w @ u))),
             "log_abs_det uses u, but your map moves points along û"),
            (np.log(np.abs(1 + activation * (direction @ w.numpy()))),
             "log_abs_det uses tanh where the Jacobian has the derivative of tanh"),
        ]:
            expect(not np.allclose(log_abs_det, candidate, rtol=1e-8, atol=1e-10)
                   or np.allclose(candidate, reference.numpy(), rtol=1e-8, atol=1e-10),
                   f"({label}) {mistake}.")
        expect_close(log_abs_det, reference.numpy(),
                     f"({label}) log_abs_det disagrees with log|det| of the autograd Jacobian "
                     "of your map: apply the matrix determinant lemma to I + û ψ(z)^T.",
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
            lambda v, a=alpha_t, b=beta_t: student_fn(v, z0, a, b)[0], z).numpy()
        h = 1.0 / (alpha + radius)
        dim = z.shape[1]
        along_ray = np.log(np.abs(1 + beta * h - beta * radius * h**2))
        for candidate, mistake in [
            (dim * np.log(np.abs(1 + beta * h)) + along_ray,
             "the factor 1 + beta h is counted once too often: it scales only the d - 1 "
             "directions perpendicular to the ray"),
            (dim * np.log(np.abs(1 + beta * h)),
             "the radial direction also feels how h changes with r: its factor is the "
             "derivative of r (1 + beta h(r)) with respect to r"),
            ((dim - 1) * np.log(np.abs(1 + beta * h))
             + np.log(np.abs(1 + beta * h + beta * radius * h**2)),
             "the derivative of h = 1/(alpha + r) has the wrong sign"),
        ]:
            expect(not np.allclose(log_abs_det, candidate, rtol=1e-8, atol=1e-10),
                   f"(alpha = {alpha}, beta = {beta}) {mistake}.")
        expect_close(log_abs_det, reference,
                     f"(alpha = {alpha}, beta = {beta}) log_abs_det disagrees with the "
                     "autograd Jacobian of your map.",
                     rtol=1e-8, atol=1e-10, name="log_abs_det")
    return "map and log|det| (vs autograd) right for a contraction and an expansion in 3-D"


class _RecordingEnergy:
    """An energy ``U`` that remembers the last points it was evaluated at."""

    def __init__(self, energy):
        self.energy = energy
        self.points = None

    def __call__(self, x):
        self.points = x.detach().clone()
        return self.energy(x)


def _reverse_kl_value(student_fn, flow, energy, num_samples, seed):
    """The student's loss, and the diagnosis of a wrong value from the points it used."""
    import torch

    recorder = _RecordingEnergy(energy)
    torch.manual_seed(seed)
    value = call(student_fn, flow, recorder, num_samples)
    expect(hasattr(value, "detach") and value.numel() == 1,
           "Return a scalar torch tensor (so that .backward() trains the flow).")
    expect(recorder.points is not None,
           "Your loss never evaluates the energy U: the target enters through U(x) at the "
           "samples x of the flow.")
    expect(len(recorder.points) == num_samples,
           f"U was evaluated at {len(recorder.points)} points: draw num_samples samples.")
    with torch.no_grad():
        log_q = flow.log_prob(recorder.points)
        u = energy(recorder.points)
    got = float(value.detach())
    right = float((log_q + u).mean())
    diagnoses = [
        (float((log_q + u).sum()), "you sum over the samples: an expectation is estimated "
                                   "by the average over the samples"),
        (float((log_q - u).mean()), "U enters with the wrong sign: p = exp(-U) / Z, so "
                                    "-log p = U + log Z"),
        (float((u - log_q).mean()), "log q enters with the wrong sign"),
        (-right, "the whole loss has the wrong sign: the KL divergence is minimised, so "
                 "training descends E_q[log q + U]"),
        (float(u.mean()), "the log q term is missing (without it q collapses onto the "
                          "minimum of U)"),
        (float(log_q.mean()), "the energy term U is missing"),
    ]
    for candidate, mistake in diagnoses:
        expect(abs(got - candidate) > 1e-9 or abs(candidate - right) < 1e-9,
               f"Wrong value: {mistake}.")
    return value, got


@exercise("reverse_kl")
def reverse_kl(student_fn) -> str:
    """Monte Carlo ``E_q[log q + U]`` (§4). Truth: for ``q = N(m_q, diag σ²)`` and
    ``U = ½‖z - m‖²`` the closed-form Gaussian KL minus ``log Z = log 2π``, and its closed-form
    gradient with respect to ``m_q`` and ``log σ`` (the loss is only useful if its gradient
    is right: a ``.detach()`` on one term keeps the value and breaks training)."""
    import torch

    from ..models.flows import ElementwiseAffine, NormalizingFlow, StandardNormal

    identity = NormalizingFlow(StandardNormal(2).double(), [])
    quadratic = lambda x: 0.5 * (x**2).sum(dim=1)
    _, got = _reverse_kl_value(student_fn, identity, quadratic, 64, seed=0)
    expect(abs(got + math.log(2 * math.pi)) < 1e-9,
           "When q is the target itself every sample gives log q(x) + U(x) = -log Z; yours "
           "does not. Use the log q that flow.sample_with_log_prob returns with the samples.")
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
    value, got = _reverse_kl_value(student_fn, flow, energy, 20000, seed=1)
    expect(abs(got - (kl - math.log(2 * math.pi))) < 0.05,
           "Wrong value for a Gaussian flow and a Gaussian target (where the KL has a closed "
           "form): estimate E_q[log q + U] from samples of the flow itself.")
    expect(bool(getattr(value, "requires_grad", False)),
           "Your loss carries no gradient: draw the samples with flow.sample_with_log_prob "
           "(no torch.no_grad, no .detach()), so that training can differentiate it.")
    value.backward()
    expect(layer.shift.grad is not None and layer.log_scale.grad is not None,
           "No gradient reached some of the flow's parameters: a term of the loss is cut "
           "out of the graph (a .detach() or torch.no_grad on log q or on the samples).")
    # d KL / d shift = shift - target mean;  d KL / d log_scale = sigma^2 - 1.
    shift_error = float((layer.shift.grad - (layer.shift.detach() - target_mean)).abs().max())
    scale_error = float((layer.log_scale.grad - (sigma2 - 1)).abs().max())
    expect(shift_error < 0.1 and scale_error < 0.1,
           "The value is right but its gradient is not: part of the loss is cut out of the "
           "graph (a .detach() or torch.no_grad on log q or on the samples), so training "
           "would follow the wrong direction.")
    return "exact when q = p; value and gradient match the closed-form Gaussian KL"


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
    full_scale, full_shift = (t.numpy() for t in net(z))
    close = lambda a, b: bool(np.allclose(a, b, rtol=1e-9, atol=1e-12))
    free_x = x[:, ~kept]
    expect(not close(free_x, (z.numpy() * np.exp(full_scale) + full_shift)[:, ~kept]),
           "The net is fed all of z: it may see only the kept coordinates (mask * z), or "
           "the Jacobian is no longer triangular and the inverse cannot recover s and t.")
    expect(not close(free_x, (z.numpy() * np.exp(-log_scale) + shift)[:, ~kept]),
           "The free coordinates are scaled by exp(-s): that is the inverse layer's scale.")
    expect(not close(free_x, (z.numpy() * log_scale + shift)[:, ~kept]),
           "The free coordinates are multiplied by s itself: s is a *log*-scale.")
    expect_close(free_x, (z.numpy() * np.exp(log_scale) + shift)[:, ~kept],
                 "The free coordinates (mask = 0) are not the affine map of the exercise, "
                 "with (log_scale, shift) = net(mask * z).",
                 rtol=1e-9, atol=1e-12, name="x")
    reference = _autograd_log_abs_det(lambda v: student_fn(v, mask, net)[0], z).numpy()
    free = ~kept
    for candidate, mistake in [
        (log_scale.sum(axis=1), "the log-scales of the kept coordinates are summed too, "
                                "but those coordinates are not scaled"),
        (np.exp(log_scale[:, free]).sum(axis=1), "you sum exp(s), the scales themselves, "
                                                 "instead of their logarithms"),
        (-log_scale[:, free].sum(axis=1), "log_abs_det has the wrong sign"),
    ]:
        expect(not close(log_abs_det, candidate), f"{mistake}.")
    expect_close(log_abs_det, reference,
                 "log_abs_det disagrees with the autograd Jacobian of your map.",
                 rtol=1e-8, atol=1e-10, name="log_abs_det")
    return "kept coordinates unchanged, free ones affine, log|det| = autograd's"
