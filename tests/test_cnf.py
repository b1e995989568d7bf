"""course_utils.models.cnf: traces against autograd Jacobians, the Hutchinson estimator's
mean and variance, the noise held fixed within a solve, and CNF densities against closed
forms and grid quadrature."""

import math

import numpy as np
import pytest
import torch
from scipy.linalg import expm
from scipy.stats import multivariate_normal

from course_utils.models.cnf import (
    CNF,
    FreeFormDynamics,
    PlanarCNFDynamics,
    divergence_exact,
    divergence_hutchinson,
    ffjord_cnf,
    planar_cnf,
    sample_noise,
)

DTYPE = torch.float64


def _randomise(module, scale, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


def _jacobians(field, z):
    """Full per-sample Jacobians, shape (batch, d, d), from torch.autograd.functional."""
    return torch.stack([torch.autograd.functional.jacobian(lambda p: field(p[None])[0], point)
                        for point in z])


@pytest.mark.parametrize("dim", [1, 2, 3, 5])
def test_exact_divergence_equals_the_autograd_jacobian_trace(dim):
    torch.manual_seed(dim)
    dynamics = FreeFormDynamics(dim, hidden=16).double()
    t = torch.tensor(0.3, dtype=DTYPE)
    z = torch.randn(6, dim, dtype=DTYPE)
    velocity, divergence = dynamics.velocity_and_divergence(t, z)
    traces = _jacobians(lambda p: dynamics(t, p), z).diagonal(dim1=1, dim2=2).sum(-1)
    assert velocity.shape == (6, dim) and divergence.shape == (6,)
    assert torch.allclose(divergence, traces, rtol=1e-10, atol=1e-12)
    zz = z.clone().requires_grad_(True)
    assert torch.allclose(divergence_exact(dynamics(t, zz), zz), traces, atol=1e-12)


@pytest.mark.parametrize("dim,width", [(1, 3), (2, 2), (2, 8), (4, 5)])
def test_planar_cnf_trace_equals_the_autograd_jacobian_trace(dim, width):
    dynamics = _randomise(PlanarCNFDynamics(dim, width).double(), 0.7, seed=width)
    t = torch.tensor(0.6, dtype=DTYPE)
    z = torch.randn(5, dim, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    velocity, divergence = dynamics.velocity_and_divergence(t, z)
    assert torch.allclose(velocity, dynamics(t, z))
    traces = _jacobians(lambda p: dynamics(t, p), z).diagonal(dim1=1, dim2=2).sum(-1)
    assert torch.allclose(divergence, traces, rtol=1e-10, atol=1e-12)
    weight, direction, bias = dynamics.parameters_at(t)
    assert weight.shape == direction.shape == (width, dim) and bias.shape == (width,)


def test_one_hutchinson_probe_is_the_quadratic_form_of_the_jacobian():
    torch.manual_seed(0)
    dynamics = FreeFormDynamics(4, hidden=16).double()
    t = torch.tensor(0.2, dtype=DTYPE)
    z = torch.randn(3, 4, dtype=DTYPE, requires_grad=True)
    noise = torch.randn(3, 4, dtype=DTYPE)
    estimate = divergence_hutchinson(dynamics(t, z), z, noise)
    jacobians = _jacobians(lambda p: dynamics(t, p), z.detach())
    expected = torch.einsum("bi,bij,bj->b", noise, jacobians, noise)
    assert torch.allclose(estimate, expected, atol=1e-12)
    assert estimate.requires_grad
    with pytest.raises(ValueError, match="noise"):
        divergence_hutchinson(dynamics(t, z), z, noise[:, :2])


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_hutchinson_estimator_is_unbiased_with_the_predicted_variance(kind):
    torch.manual_seed(3)
    dim, probes = 6, 20000
    dynamics = FreeFormDynamics(dim, hidden=32).double()
    t = torch.tensor(0.5, dtype=DTYPE)
    point = torch.randn(1, dim, dtype=DTYPE)
    jacobian = _jacobians(lambda p: dynamics(t, p), point)[0]
    symmetric = 0.5 * (jacobian + jacobian.T)
    variance = 2 * (symmetric**2).sum()
    if kind == "rademacher":
        variance = variance - 2 * (jacobian.diagonal() ** 2).sum()
    z = point.repeat(probes, 1).requires_grad_(True)
    noise = sample_noise(z.shape, kind, torch.Generator().manual_seed(4), DTYPE)
    estimates = divergence_hutchinson(dynamics(t, z), z, noise, create_graph=False)
    standard_error = math.sqrt(variance / probes)
    assert abs(estimates.mean().item() - torch.trace(jacobian).item()) < 4 * standard_error
    assert estimates.var().item() == pytest.approx(variance.item(), rel=0.05)


def test_sample_noise_moments_and_values():
    generator = torch.Generator().manual_seed(0)
    for kind in ("gaussian", "rademacher"):
        noise = sample_noise((200000, 3), kind, generator, DTYPE)
        assert noise.shape == (200000, 3) and noise.dtype == DTYPE
        assert torch.allclose(noise.mean(0), torch.zeros(3, dtype=DTYPE), atol=0.01)
        assert torch.allclose(torch.cov(noise.T), torch.eye(3, dtype=DTYPE), atol=0.01)
    rademacher = sample_noise((1000, 4), "rademacher", generator)
    assert set(rademacher.unique().tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="noise"):
        sample_noise((2, 2), "uniform")


class LinearDynamics(torch.nn.Module):
    def __init__(self, matrix):
        super().__init__()
        self.matrix = matrix

    def velocity_and_divergence(self, t, z):
        return z @ self.matrix.T, torch.trace(self.matrix).expand(z.shape[0])


def test_cnf_of_a_linear_field_is_the_pushed_forward_gaussian():
    matrix = torch.tensor([[0.3, -1.0], [0.6, -0.5]], dtype=DTYPE)
    cnf = CNF(LinearDynamics(matrix), 2, final_time=1.5, rtol=1e-10, atol=1e-10)
    x = torch.randn(20, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(2))
    propagator = expm(1.5 * matrix.numpy())
    exact = multivariate_normal(np.zeros(2), propagator @ propagator.T).logpdf(x.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(cnf.log_prob(x).numpy(), exact, atol=1e-8)
        # at time 0 the density is the base's; at time T/2 the half-way Gaussian
        np.testing.assert_allclose(cnf.log_prob(x, time=0.0).numpy(),
                                   multivariate_normal(np.zeros(2)).logpdf(x.numpy()))
        half = expm(0.75 * matrix.numpy())
        np.testing.assert_allclose(cnf.log_prob(x, time=0.75).numpy(),
                                   multivariate_normal(np.zeros(2), half @ half.T).logpdf(
                                       x.numpy()), atol=1e-8)


@pytest.mark.parametrize("kind", ["planar", "ffjord"])
def test_cnf_log_density_integrates_to_one_on_a_grid(kind):
    torch.manual_seed(5)
    if kind == "planar":
        cnf = _randomise(planar_cnf(2, 8, rtol=1e-6, atol=1e-6).double(), 0.5, seed=5)
    else:
        cnf = _randomise(ffjord_cnf(2, hidden=16, rtol=1e-6, atol=1e-6).double(), 0.5, seed=6)
    axis = torch.linspace(-7.0, 7.0, 141, dtype=DTYPE)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([xx.ravel(), yy.ravel()], dim=1)
    with torch.no_grad():
        density = torch.exp(cnf.log_prob(points))
    mass = (density.sum() * (axis[1] - axis[0]) ** 2).item()
    assert mass == pytest.approx(1.0, abs=5e-3)


def test_sampling_and_density_evaluation_agree():
    torch.manual_seed(7)
    cnf = _randomise(planar_cnf(2, 4, rtol=1e-9, atol=1e-9).double(), 0.6, seed=7)
    with torch.no_grad():
        x, log_q = cnf.sample_with_log_prob(50, torch.Generator().manual_seed(0))
        assert x.shape == (50, 2) and log_q.shape == (50,)
        assert torch.allclose(cnf.log_prob(x), log_q, atol=1e-7)
        z = torch.randn(4, 2, dtype=DTYPE)
        pushed, change = cnf(z)
        assert pushed.shape == (4, 2) and change.shape == (4,)
        path = cnf.trajectory(z, torch.linspace(0.0, 1.0, 6, dtype=DTYPE))
        assert path.shape == (6, 4, 2) and torch.allclose(path[-1], pushed, atol=1e-8)
    assert cnf.sample(3).shape == (3, 2)
    with pytest.raises(ValueError, match="shape"):
        cnf.log_prob(torch.zeros(3, 3, dtype=DTYPE))


def test_hutchinson_noise_is_fixed_within_a_solve_and_redrawn_between_solves():
    seen = []

    class Recording(FreeFormDynamics):
        def velocity_and_divergence(self, t, z):
            seen.append(self.noise.clone())
            return super().velocity_and_divergence(t, z)

    torch.manual_seed(8)
    cnf = CNF(Recording(2, 8, estimator="hutchinson"), 2, rtol=1e-5, atol=1e-5)
    x = torch.randn(10, 2)
    with torch.no_grad():
        cnf.log_prob(x)
        first = list(seen)
        seen.clear()
        cnf.log_prob(x)
    assert len(first) == cnf.last_stats.nfe > 6
    assert all(torch.equal(noise, first[0]) for noise in first)
    assert all(torch.equal(noise, seen[0]) for noise in seen)
    assert not torch.equal(first[0], seen[0])


def test_hutchinson_without_noise_and_bad_estimator_fail_clearly():
    dynamics = FreeFormDynamics(2, 4, estimator="hutchinson")
    with pytest.raises(RuntimeError, match="begin_solve"):
        dynamics.velocity_and_divergence(torch.tensor(0.0), torch.randn(3, 2))
    with pytest.raises(ValueError, match="estimator"):
        FreeFormDynamics(2, estimator="exactly")
    with pytest.raises(ValueError, match="final_time"):
        planar_cnf(2, 2, final_time=-1.0)


@pytest.mark.parametrize("kind", ["planar", "ffjord"])
def test_adjoint_and_backprop_give_the_same_likelihood_gradient(kind):
    torch.manual_seed(9)
    x = torch.randn(8, 2, dtype=DTYPE)
    grads = {}
    for adjoint in (False, True):
        torch.manual_seed(9)
        if kind == "planar":
            cnf = planar_cnf(2, 4, rtol=1e-10, atol=1e-10, adjoint=adjoint).double()
        else:
            cnf = ffjord_cnf(2, hidden=8, rtol=1e-10, atol=1e-10, adjoint=adjoint).double()
        (-cnf.log_prob(x).mean()).backward()
        grads[adjoint] = torch.cat([p.grad.flatten() for p in cnf.parameters()])
    assert torch.allclose(grads[False], grads[True], rtol=1e-6, atol=1e-9)
