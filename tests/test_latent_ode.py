"""course_utils.models.latent_ode: the KL and the likelihood against torch.distributions
and scipy, shapes of the encoder, the latent ODE and the RNN baseline, and the ODE part
against a direct solve."""

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch.distributions import Normal, kl_divergence

from course_utils.models.latent_ode import (
    LatentODE,
    RNNEncoder,
    RNNForecaster,
    gaussian_log_likelihood,
    normal_kl,
    time_gaps,
)
from course_utils.ode import odeint

DTYPE = torch.float64


def _observations(batch=5, count=7, seed=0):
    generator = torch.Generator().manual_seed(seed)
    times = torch.sort(torch.rand(batch, count, generator=generator) * 3.0, dim=1).values
    values = torch.randn(batch, count, 2, generator=generator)
    return values, times


def test_normal_kl_equals_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(4, 3, generator=generator, dtype=DTYPE)
    logvar = torch.randn(4, 3, generator=generator, dtype=DTYPE)
    expected = kl_divergence(Normal(mean, torch.exp(0.5 * logvar)),
                             Normal(torch.zeros_like(mean), 1.0)).sum(-1)
    assert torch.allclose(normal_kl(mean, logvar), expected, atol=1e-12)
    assert torch.equal(normal_kl(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_gaussian_log_likelihood_equals_scipy_with_a_mask():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 2, generator=generator, dtype=DTYPE)
    mean = torch.randn(3, 4, 2, generator=generator, dtype=DTYPE)
    mask = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]], dtype=DTYPE)
    terms = norm.logpdf(x.numpy(), mean.numpy(), 0.3).sum(-1)           # (3, 4)
    np.testing.assert_allclose(gaussian_log_likelihood(x, mean, 0.3, mask).numpy(),
                               (terms * mask.numpy()).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(gaussian_log_likelihood(x, mean, 0.3).numpy(), terms.sum(-1),
                               rtol=1e-12)


def test_time_gaps():
    times = torch.tensor([[0.5, 1.0, 2.5], [0.0, 0.1, 0.2]])
    assert torch.allclose(time_gaps(times), torch.tensor([[0.5, 0.5, 1.5], [0.0, 0.1, 0.1]]))


def test_encoder_shapes_and_order_dependence():
    torch.manual_seed(0)
    encoder = RNNEncoder(2, 4, hidden=8)
    values, times = _observations()
    mean, logvar = encoder(values, times)
    assert mean.shape == logvar.shape == (5, 4)
    shifted = encoder(values, times + 0.5)[0]
    assert not torch.allclose(shifted, mean)       # the encoder sees the observation times


def test_latent_ode_shapes_elbo_and_determinism():
    torch.manual_seed(0)
    model = LatentODE(obs_dim=2, latent_dim=3, rnn_hidden=8, ode_hidden=8, decoder_hidden=8)
    values, times = _observations()
    grid = torch.linspace(0.0, 4.0, 9)
    predictions, mean, logvar = model(values, times, grid, sample=False)
    assert predictions.shape == (5, 9, 2) and mean.shape == logvar.shape == (5, 3)
    again = model(values, times, grid, sample=False)[0]
    assert torch.equal(predictions, again)
    noisy = model(values, times, grid, generator=torch.Generator().manual_seed(0))[0]
    assert not torch.allclose(noisy, predictions)
    targets = torch.randn(5, 9, 2)
    elbo = model.elbo(values, times, grid, targets, generator=torch.Generator().manual_seed(0))
    assert elbo.shape == (5,)
    (-elbo.mean()).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.last_stats.nfe > 0
    with pytest.raises(ValueError, match="obs_std"):
        LatentODE(obs_std=0.0)


def test_latent_trajectory_is_the_ode_solution_from_z0():
    torch.manual_seed(1)
    model = LatentODE(latent_dim=3, rtol=1e-9, atol=1e-9).double()
    z0 = torch.randn(4, 3, dtype=DTYPE)
    grid = torch.tensor([0.0, 0.7, 1.3, 2.0], dtype=DTYPE)
    path = model.latent_trajectory(z0, grid)                     # (4, T, 3)
    assert torch.equal(path[:, 0], z0)
    with torch.no_grad():
        direct = odeint(model.func, z0, torch.tensor([0.0, 2.0], dtype=DTYPE), rtol=1e-11,
                        atol=1e-11)[-1]
    assert torch.allclose(path[:, -1], direct, atol=1e-7)


def test_rnn_forecaster_shapes_and_time_dependence():
    torch.manual_seed(0)
    rnn = RNNForecaster(obs_dim=2, hidden=8)
    values, times = _observations()
    future = torch.tensor([3.5, 4.0, 5.0])
    out = rnn(values, times, future)
    assert out.shape == (5, 3, 2)
    later = rnn(values, times, future + 1.0)
    assert not torch.allclose(later, out)          # predictions depend on the gaps
    out.sum().backward()
    assert all(p.grad is not None for p in rnn.parameters())
