"""The week-4 exercise checks: right answers pass, each plausible wrong answer fails with a
hint that names its mistake (and shows no expected value), stubs print "not attempted yet"."""

import numpy as np
import pytest
import torch
from check_contract import contract_tests
from scipy import stats

from course_utils import checks


# ----------------------------------------------------------------------------- right answers
def pushforward_density(x, inverse, inverse_derivative):
    return stats.norm.pdf(inverse(x)) * np.abs(inverse_derivative(x))


def affine_log_density(x, matrix, shift):
    z = np.linalg.solve(matrix, (x - shift).T).T
    return (-0.5 * (z**2).sum(axis=1) - 0.5 * x.shape[1] * np.log(2 * np.pi)
            - np.linalg.slogdet(matrix)[1])


def affine_log_density_scipy(x, matrix, shift):
    return np.atleast_1d(stats.multivariate_normal(shift, matrix @ matrix.T).logpdf(x))


def gaussianize_1d(x, centres, bandwidth):
    scaled = (x[:, None] - centres[None, :]) / bandwidth
    y = stats.norm.ppf(stats.norm.cdf(scaled).mean(axis=1))
    density = stats.norm.pdf(scaled).mean(axis=1) / bandwidth
    return y, np.log(density) - stats.norm.logpdf(y)


def autograd_log_abs_det(fn, z):
    rows = []
    for point in z:
        jacobian = torch.autograd.functional.jacobian(lambda p: fn(p[None])[0], point)
        rows.append(torch.linalg.slogdet(jacobian).logabsdet)
    return torch.stack(rows)


def _u_hat(w, u):
    w_dot_u = w @ u
    m = -1 + torch.nn.functional.softplus(w_dot_u)
    return u + (m - w_dot_u) * w / (w @ w)


def planar_forward(z, w, u, b):
    u_hat = _u_hat(w, u)
    h = torch.tanh(z @ w + b)
    return z + h[:, None] * u_hat, torch.log(torch.abs(1 + (1 - h**2) * (w @ u_hat)))


def radial_forward(z, z0, alpha, beta):
    offset = z - z0
    radius = offset.norm(dim=1)
    h = 1 / (alpha + radius)
    log_det = ((z.shape[1] - 1) * torch.log1p(beta * h)
               + torch.log1p(beta * h - beta * radius * h**2))
    return z + (beta * h)[:, None] * offset, log_det


def reverse_kl(flow, energy, num_samples):
    x, log_q = flow.sample_with_log_prob(num_samples)
    return (log_q + energy(x)).mean()


def coupling_forward(z, mask, net):
    log_scale, shift = net(mask * z)
    free = 1 - mask
    return mask * z + free * (z * torch.exp(log_scale) + shift), (free * log_scale).sum(dim=1)


RIGHT = {
    "pushforward_density": [pushforward_density],
    "affine_log_density": [affine_log_density, affine_log_density_scipy],
    "gaussianize_1d": [gaussianize_1d],
    "autograd_log_abs_det": [autograd_log_abs_det],
    "planar_forward": [planar_forward],
    "radial_forward": [radial_forward],
    "reverse_kl": [reverse_kl],
    "coupling_forward": [coupling_forward],
}


# ----------------------------------------------------------------------------- wrong answers
def _affine(z_of, log_det_sign=-1.0, constant=True, half=0.5):
    """An affine log-density with one of its parts replaced."""
    def log_density(x, a, b):
        z = z_of(x, a, b)
        value = -half * (z**2).sum(axis=1) + log_det_sign * np.linalg.slogdet(a)[1]
        return value - (0.5 * x.shape[1] * np.log(2 * np.pi) if constant else 0.0)
    return log_density


_solve = lambda x, a, b: np.linalg.solve(a, (x - b).T).T


def _affine_log_det_not_abs(x, a, b):
    z = _solve(x, a, b)
    return (-0.5 * (z**2).sum(axis=1) - 0.5 * x.shape[1] * np.log(2 * np.pi)
            - np.log(np.linalg.det(a)))


def _gauss(y_of=None, log_of=None):
    def answer(x, c, h):
        y, log_slope = gaussianize_1d(x, c, h)
        return (y if y_of is None else y_of(x, c, h, y),
                log_slope if log_of is None else log_of(x, c, h, y, log_slope))
    return answer


def _kde(x, c, h):
    return stats.norm.pdf((x[:, None] - c) / h).mean(axis=1) / h


def _jacobians(fn, z):
    return [torch.autograd.functional.jacobian(lambda p: fn(p[None])[0], point) for point in z]


def _planar_log_det(log_det_of):
    def answer(z, w, u, b):
        x, _ = planar_forward(z, w, u, b)
        return x, log_det_of(z, w, u, b)
    return answer


def _radial_log_det(log_det_of):
    def answer(z, z0, a, b):
        x, _ = radial_forward(z, z0, a, b)
        radius = (z - z0).norm(dim=1)
        return x, log_det_of(z.shape[1], radius, 1 / (a + radius), b)
    return answer


def _kl_sampling_twice(flow, energy, n):
    x, log_q = flow.sample_with_log_prob(n)
    return (log_q + energy(flow.sample_with_log_prob(n)[0])).mean()


def _kl_energy_sign(flow, energy, n):
    x, log_q = flow.sample_with_log_prob(n)
    return (log_q - energy(x)).mean()


def _kl_log_q_detached(flow, energy, n):
    x, log_q = flow.sample_with_log_prob(n)
    return (log_q.detach() + energy(x)).mean()


def _kl_samples_detached(flow, energy, n):
    x, log_q = flow.sample_with_log_prob(n)
    return (log_q + energy(x.detach())).mean()


def _coupling(x_of=None, log_det_of=None):
    def answer(z, mask, net):
        x, log_det = coupling_forward(z, mask, net)
        s, t = net(mask * z)
        return (x if x_of is None else x_of(z, mask, net, s, t),
                log_det if log_det_of is None else log_det_of(mask, s))
    return answer


WRONG = [
    ("pushforward_density", lambda x, inv, d: stats.norm.pdf(inv(x)) * d(x), "absolute value"),
    ("pushforward_density", lambda x, inv, d: stats.norm.pdf(inv(x)), "factor"),
    ("pushforward_density", lambda x, inv, d: float(stats.norm.pdf(inv(x))[0]), "element-wise"),
    ("pushforward_density", lambda x, inv, d: stats.norm.pdf(inv(x)) / np.abs(d(x)), "divide"),
    ("pushforward_density", lambda x, inv, d: stats.norm.pdf(x) * np.abs(d(x)),
     "evaluate p_Z at x"),
    ("affine_log_density", _affine(_solve, log_det_sign=1.0), "wrong sign"),
    ("affine_log_density", lambda x, a, b: affine_log_density(x, a, b)[:, None], "shape"),
    ("affine_log_density", _affine(lambda x, a, b: (x - b) @ a.T), "undo A"),
    ("affine_log_density", _affine(lambda x, a, b: (x - b) @ np.linalg.inv(a)), "wrong side"),
    ("affine_log_density", _affine(lambda x, a, b: np.linalg.solve(a, x.T).T), "shift b"),
    ("affine_log_density", _affine(_solve, constant=False), "normalising constant"),
    ("affine_log_density", _affine(_solve, half=1.0), "factor 1/2"),
    ("affine_log_density", _affine_log_det_not_abs, "negative determinant"),
    ("gaussianize_1d", _gauss(log_of=lambda x, c, h, y, ls: ls * 0), "log_dy_dx disagrees"),
    ("gaussianize_1d", _gauss(y_of=lambda x, c, h, y: stats.norm.cdf((x[:, None] - c) / h)
                              .mean(axis=1)), "quantile"),
    ("gaussianize_1d", lambda x, c, h: gaussianize_1d(x, c, h)[0], "pair"),
    ("gaussianize_1d", _gauss(log_of=lambda x, c, h, y, ls: np.log(_kde(x, c, h))),
     "derivative is missing"),
    ("gaussianize_1d", _gauss(log_of=lambda x, c, h, y, ls: ls + np.log(h)), "off by log h"),
    ("gaussianize_1d", _gauss(log_of=lambda x, c, h, y, ls: np.exp(ls)), "logarithm"),
    ("gaussianize_1d", _gauss(y_of=lambda x, c, h, y: stats.norm.ppf(
        stats.norm.cdf(x[:, None] - c).mean(axis=1))), "bandwidth"),
    ("gaussianize_1d", _gauss(y_of=lambda x, c, h, y: stats.norm.ppf(
        stats.norm.cdf((x[:, None] - c) / h).sum(axis=1))), "average"),
    ("autograd_log_abs_det", lambda fn, z: torch.stack(
        [torch.linalg.slogdet(j)[0] for j in _jacobians(fn, z)]), "sign of det"),
    ("autograd_log_abs_det", lambda fn, z: autograd_log_abs_det(fn, z)[:1],
     "one log\\|det\\| per row"),
    ("autograd_log_abs_det", lambda fn, z: torch.stack(
        [torch.log(torch.linalg.det(j)) for j in _jacobians(fn, z)]), "absolute"),
    ("autograd_log_abs_det", lambda fn, z: torch.stack(
        [torch.linalg.det(j).abs() for j in _jacobians(fn, z)]), "not its logarithm"),
    ("autograd_log_abs_det", lambda fn, z: torch.stack(
        [torch.log(torch.diagonal(j).abs()).sum() for j in _jacobians(fn, z)]), "diagonal"),
    ("autograd_log_abs_det", lambda fn, z: autograd_log_abs_det(fn, z[:1]).expand(len(z)),
     "each point separately"),
    ("planar_forward", lambda z, w, u, b: (
        z + torch.tanh(z @ w + b)[:, None] * u,
        torch.log(torch.abs(1 + (1 - torch.tanh(z @ w + b) ** 2) * (w @ u)))), "Appendix A"),
    ("planar_forward", _planar_log_det(lambda z, w, u, b: torch.zeros(len(z))), "autograd"),
    ("planar_forward", _planar_log_det(lambda z, w, u, b: torch.log(torch.abs(
        1 + (1 - torch.tanh(z @ w + b) ** 2) * (w @ u)))), "uses u"),
    ("planar_forward", _planar_log_det(lambda z, w, u, b: torch.log(torch.abs(
        1 + torch.tanh(z @ w + b) * (w @ _u_hat(w, u))))), "derivative of tanh"),
    ("planar_forward", lambda z, w, u, b: (
        z + torch.tanh(z @ w + b)[:, None] * (u + (-1 + torch.nn.functional.softplus(w @ u)
                                                    - w @ u) * w / w.norm()),
        planar_forward(z, w, u, b)[1]), "Appendix A"),
    ("radial_forward", _radial_log_det(lambda d, r, h, b: torch.log1p(b * h) * d),
     "derivative of r"),
    ("radial_forward", lambda z, z0, a, b: (z + (b / (a + (z - z0).norm(dim=1)))[:, None] * z,
                                            radial_forward(z, z0, a, b)[1]), "z - z0"),
    ("radial_forward", _radial_log_det(lambda d, r, h, b: d * torch.log1p(b * h)
                                       + torch.log1p(b * h - b * r * h**2)), "once too often"),
    ("radial_forward", _radial_log_det(lambda d, r, h, b: (d - 1) * torch.log1p(b * h)
                                       + torch.log1p(b * h + b * r * h**2)), "wrong sign"),
    ("reverse_kl", _kl_energy_sign, "U enters with the wrong sign"),
    ("reverse_kl", lambda flow, energy, n: reverse_kl(flow, energy, n).detach(),
     "carries no gradient"),
    ("reverse_kl", lambda flow, energy, n: reverse_kl(flow, energy, n) * n, "sum over"),
    ("reverse_kl", _kl_sampling_twice, "log q that flow.sample_with_log_prob returns"),
    ("reverse_kl", _kl_log_q_detached, "gradient is not"),
    ("reverse_kl", _kl_samples_detached, "detach"),
    ("reverse_kl", lambda flow, energy, n: energy(flow.sample(n)).mean(), "log q term"),
    ("reverse_kl", lambda flow, energy, n: -reverse_kl(flow, energy, n), "whole loss"),
    ("reverse_kl", lambda flow, energy, n: _kl_energy_sign(flow, energy, n) * -1, "log q enters"),
    ("coupling_forward", lambda z, mask, net: (z * torch.exp(net(mask * z)[0]) + net(mask * z)[1],
                                               net(mask * z)[0].sum(dim=1)), "unchanged"),
    ("coupling_forward", _coupling(log_det_of=lambda mask, s: s.sum(dim=1)), "kept coordinates"),
    ("coupling_forward", lambda z, mask, net: coupling_forward(z, 1 - mask, net), "unchanged"),
    ("coupling_forward", _coupling(x_of=lambda z, mask, net, s, t: mask * z + (1 - mask) * (
        z * torch.exp(net(z)[0]) + net(z)[1])), "fed all of z"),
    ("coupling_forward", _coupling(x_of=lambda z, mask, net, s, t: mask * z + (1 - mask) * (
        z * torch.exp(-s) + t)), "exp\\(-s\\)"),
    ("coupling_forward", _coupling(log_det_of=lambda mask, s: ((1 - mask) * torch.exp(s))
                                   .sum(dim=1)), "scales themselves"),
]

globals().update(contract_tests("week04", RIGHT, WRONG))


def test_a_crashing_answer_becomes_a_hint():
    with pytest.raises(AssertionError, match="NameError"):
        checks.planar_forward(lambda z, w, u, b: undefined_name)  # noqa: F821
