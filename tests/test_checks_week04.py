"""Checks of week 4: right answers pass, typical mistakes fail with a hint, stubs print
"not attempted yet"."""

import numpy as np
import pytest
import torch
from scipy import stats

from course_utils import checks
from course_utils.checks import week04

# ------------------------------------------------------------------ right answers


def pushforward_density(x, inverse, inverse_derivative):
    return stats.norm.pdf(inverse(x)) * np.abs(inverse_derivative(x))


def affine_log_density(x, matrix, shift):
    z = np.linalg.solve(matrix, (x - shift).T).T
    return (-0.5 * (z**2).sum(axis=1) - 0.5 * x.shape[1] * np.log(2 * np.pi)
            - np.linalg.slogdet(matrix)[1])


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
    "pushforward_density": pushforward_density,
    "affine_log_density": affine_log_density,
    "gaussianize_1d": gaussianize_1d,
    "autograd_log_abs_det": autograd_log_abs_det,
    "planar_forward": planar_forward,
    "radial_forward": radial_forward,
    "reverse_kl": reverse_kl,
    "coupling_forward": coupling_forward,
}

# ------------------------------------------------------------------ typical mistakes

WRONG = {
    "pushforward_density": [
        (lambda x, inv, d: stats.norm.pdf(inv(x)) * d(x), "absolute value"),
        (lambda x, inv, d: stats.norm.pdf(inv(x)), "disagrees"),
        (lambda x, inv, d: float(stats.norm.pdf(inv(x))[0]), "element-wise"),
    ],
    "affine_log_density": [
        (lambda x, a, b: affine_log_density(x, a, b) + np.linalg.slogdet(a)[1], "log|det A|"),
        (lambda x, a, b: affine_log_density(x, a, b)[:, None], "shape"),
    ],
    "gaussianize_1d": [
        (lambda x, c, h: (gaussianize_1d(x, c, h)[0], gaussianize_1d(x, c, h)[1] * 0),
         "log_dy_dx"),
        (lambda x, c, h: (stats.norm.cdf((x[:, None] - c) / h).mean(axis=1),
                          gaussianize_1d(x, c, h)[1]), "quantile"),
        (lambda x, c, h: gaussianize_1d(x, c, h)[0], "pair"),
    ],
    "autograd_log_abs_det": [
        (lambda fn, z: torch.stack([torch.linalg.slogdet(torch.autograd.functional.jacobian(
            lambda p: fn(p[None])[0], p))[0] for p in z]), "absolute"),
        (lambda fn, z: autograd_log_abs_det(fn, z)[:1], "one log|det| per row"),
    ],
    "planar_forward": [
        (lambda z, w, u, b: (z + torch.tanh(z @ w + b)[:, None] * u,
                             torch.log(torch.abs(1 + (1 - torch.tanh(z @ w + b) ** 2) * (w @ u)))),
         "Appendix A"),
        (lambda z, w, u, b: (planar_forward(z, w, u, b)[0], torch.zeros(len(z))), "autograd"),
    ],
    "radial_forward": [
        (lambda z, z0, a, b: (radial_forward(z, z0, a, b)[0],
                              torch.log1p(b / (a + (z - z0).norm(dim=1))) * 3), "d - 1"),
        (lambda z, z0, a, b: (z + (b / (a + (z - z0).norm(dim=1)))[:, None] * z,
                              radial_forward(z, z0, a, b)[1]), "z - z0"),
    ],
    "reverse_kl": [
        (lambda flow, energy, n: (flow.sample_with_log_prob(n)[1]
                                  - energy(flow.sample_with_log_prob(n)[0])).mean(),
         "target itself"),
        (lambda flow, energy, n: reverse_kl(flow, energy, n).detach(), "carries no gradient"),
        (lambda flow, energy, n: reverse_kl(flow, energy, n) * n, "not sum"),
    ],
    "coupling_forward": [
        (lambda z, mask, net: (z * torch.exp(net(mask * z)[0]) + net(mask * z)[1],
                               net(mask * z)[0].sum(dim=1)), "unchanged"),
        (lambda z, mask, net: (coupling_forward(z, mask, net)[0],
                               net(mask * z)[0].sum(dim=1)), "free coordinates only"),
        (lambda z, mask, net: coupling_forward(z, 1 - mask, net), "unchanged"),
    ],
}


def test_every_exercise_has_right_and_wrong_answers_here():
    assert set(RIGHT) == set(week04.__all__) == set(WRONG)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answer_passes(name, capsys):
    torch.manual_seed(0)
    getattr(checks, name)(RIGHT[name])
    out = capsys.readouterr().out
    assert out.startswith(f"✅ {name}: passed") and out.count("\n") == 1


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_stub_is_not_attempted(name, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    getattr(checks, name)(stub)
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize("name, wrong, hint",
                         [(name, wrong, hint) for name, cases in sorted(WRONG.items())
                          for wrong, hint in cases])
def test_wrong_answer_fails_with_a_hint(name, wrong, hint):
    torch.manual_seed(0)
    with pytest.raises(AssertionError, match=hint):
        getattr(checks, name)(wrong)


def test_hints_do_not_reveal_the_expected_values():
    with pytest.raises(AssertionError) as info:
        checks.affine_log_density(lambda x, a, b: np.zeros(len(x)))
    message = str(info.value)
    assert not any(char.isdigit() and char not in "123" for char in message.replace(
        "dimension 1", ""))
    with pytest.raises(AssertionError) as info:
        checks.pushforward_density(lambda x, inv, d: 0.5 * np.ones_like(x))
    assert "0.39" not in str(info.value) and "0.24" not in str(info.value)


def test_a_crashing_answer_becomes_a_hint():
    with pytest.raises(AssertionError, match="NameError"):
        checks.planar_forward(lambda z, w, u, b: undefined_name)  # noqa: F821
