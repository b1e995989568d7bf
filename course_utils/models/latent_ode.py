r"""The latent ODE for irregularly sampled time series, and an RNN baseline (week 6).

A latent ODE (Chen et al. 2018, section 5) is a variational autoencoder whose latent
variable is the *initial state* of an ODE:

1. an RNN reads the observations ``(x_i, t_i)`` backwards in time and outputs the
   mean and log-variance of ``q(z_0 | x_{1:n})`` (:class:`RNNEncoder`);
2. ``z_0 ~ q`` (reparameterised), and ``z(t)`` solves ``dz/dt = f(z)`` — so the latent
   trajectory is defined at *every* time, observed or not, past or future;
3. a decoder maps ``z(t_i)`` to the mean of ``p(x_i | z(t_i)) = N(dec(z(t_i)), σ² I)``.

It is trained by maximising the evidence lower bound

.. math::
   \mathrm{ELBO} = \mathbb{E}_{q(z_0)}\Big[\sum_i \log p(x_i \mid z(t_i))\Big]
                   - \mathrm{KL}\big(q(z_0) \,\|\, N(0, I)\big).

:class:`RNNForecaster` is the baseline: a GRU that reads the observations with their time
gaps and then keeps stepping at the times to predict, feeding back its own predictions.

Introduced in ``06_neural_odes``, section 7.

References
----------
R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud, "Neural Ordinary Differential
Equations", NeurIPS 2018, section 5 and Table 2.
Y. Rubanova, R. T. Q. Chen, D. Duvenaud, "Latent ODEs for Irregularly-Sampled Time
Series", NeurIPS 2019.
D. P. Kingma, M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (the
reparameterisation and the Gaussian KL).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..ode import odeint
from ._sizes import check_sizes
from .neural_ode import ODEFunc

__all__ = [
    "normal_kl",
    "gaussian_log_likelihood",
    "time_gaps",
    "RNNEncoder",
    "LatentODE",
    "RNNForecaster",
]

_LOG_2PI = math.log(2.0 * math.pi)


def normal_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, diag(exp(logvar))) ‖ N(0, I))``, summed over the last dimension.

    ``½ Σ_j (μ_j² + σ_j² - log σ_j² - 1)``. Shapes: ``(..., latent_dim)`` → ``(...)``.
    Introduced in ``06_neural_odes``, section 7 (Exercise 6.9 asks for it).
    """
    return 0.5 * (mean**2 + torch.exp(logvar) - logvar - 1.0).sum(dim=-1)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, std: float,
                            mask: torch.Tensor | None = None) -> torch.Tensor:
    """``Σ log N(x; mean, std² I)`` over time and features, per series.

    Parameters
    ----------
    x, mean : tensor, shape (batch, num_times, dim)
    std : float
        The observation noise ``σ``.
    mask : tensor, shape (batch, num_times), optional
        1 where ``x`` is observed (the terms of missing points are left out).

    Returns
    -------
    tensor, shape (batch,)
    """
    terms = -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * _LOG_2PI   # (b, T, d)
    terms = terms.sum(dim=-1)                                                  # (b, T)
    if mask is not None:
        terms = terms * mask
    return terms.sum(dim=-1)


def time_gaps(obs_times: torch.Tensor, start: float = 0.0) -> torch.Tensor:
    """``t_i - t_{i-1}`` with ``t_0 = start``: shape ``(batch, n)`` → ``(batch, n)``."""
    previous = torch.cat([torch.full_like(obs_times[:, :1], start), obs_times[:, :-1]], dim=1)
    return obs_times - previous


class RNNEncoder(nn.Module):
    """A GRU run backwards in time over ``[x_i, t_i, Δt_i]``, giving ``q(z_0)``.

    Parameters
    ----------
    obs_dim, latent_dim, hidden : int
        Sizes of an observation, of ``z_0`` and of the GRU state.

    Shapes: ``obs_values (batch, n, obs_dim)``, ``obs_times (batch, n)`` (increasing in
    each row) → ``mean, logvar``, each ``(batch, latent_dim)``.
    """

    def __init__(self, obs_dim: int, latent_dim: int, hidden: int = 32):
        super().__init__()
        check_sizes(obs_dim=obs_dim, latent_dim=latent_dim, hidden=hidden)
        self.gru = nn.GRU(obs_dim + 2, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2 * latent_dim)

    def forward(self, obs_values, obs_times):
        inputs = torch.cat([obs_values, obs_times[..., None],
                            time_gaps(obs_times)[..., None]], dim=-1)      # (b, n, d + 2)
        _, last = self.gru(torch.flip(inputs, dims=[1]))                   # (1, b, hidden)
        mean, logvar = self.out(last[0]).chunk(2, dim=-1)                  # (b, L) each
        return mean, logvar


class LatentODE(nn.Module):
    """RNN encoder → ``z_0`` → ODE in latent space → decoder (Chen et al. 2018, §5).

    Parameters
    ----------
    obs_dim : int
        Size of an observation (2 for the spirals).
    latent_dim : int
        Size of ``z``.
    rnn_hidden, ode_hidden, decoder_hidden : int
        Widths of the encoder's GRU, of the latent vector field (:class:`ODEFunc`, one
        hidden layer, time-invariant, ELU) and of the decoder MLP.
    obs_std : float
        ``σ`` of the Gaussian likelihood.
    method, rtol, atol
        The latent solve (:func:`course_utils.ode.odeint`, dense output to every time).

    Notes
    -----
    Introduced in ``06_neural_odes``, section 7.
    """

    def __init__(self, obs_dim: int = 2, latent_dim: int = 4, rnn_hidden: int = 32,
                 ode_hidden: int = 32, decoder_hidden: int = 32, obs_std: float = 0.1,
                 method: str = "dopri5", rtol: float = 1e-3, atol: float = 1e-4):
        super().__init__()
        if obs_std <= 0:
            raise ValueError(f"`obs_std` must be positive, got {obs_std}")
        check_sizes(obs_dim=obs_dim, latent_dim=latent_dim, rnn_hidden=rnn_hidden,
                    ode_hidden=ode_hidden, decoder_hidden=decoder_hidden)
        self.latent_dim = latent_dim
        self.encoder = RNNEncoder(obs_dim, latent_dim, rnn_hidden)
        self.func = ODEFunc(latent_dim, ode_hidden, time_dependent=False, activation="elu")
        self.decoder = nn.Sequential(nn.Linear(latent_dim, decoder_hidden), nn.Tanh(),
                                     nn.Linear(decoder_hidden, obs_dim))
        self.obs_std = obs_std
        self.method, self.rtol, self.atol = method, rtol, atol
        self.last_stats = None

    def latent_trajectory(self, z0, times):
        """``z(t)`` at ``times`` (1-D, increasing, ``times[0] = 0``): ``(batch, T, latent)``."""
        times = torch.as_tensor(times, dtype=z0.dtype)
        zs, self.last_stats = odeint(self.func, z0, times, method=self.method,
                                     rtol=self.rtol, atol=self.atol, return_stats=True)
        return zs.transpose(0, 1)                                          # (b, T, L)

    def forward(self, obs_values, obs_times, times, generator=None, sample: bool = True):
        """Predicted means at ``times`` for each series, and ``q(z_0)``.

        Parameters
        ----------
        obs_values : tensor, shape (batch, n, obs_dim)
        obs_times : tensor, shape (batch, n)
        times : tensor, shape (num_times,)
            Common output grid, increasing, starting at 0.
        generator : torch.Generator, optional
            For the reparameterised draw of ``z_0``.
        sample : bool
            Draw ``z_0 ~ q`` (training) or use its mean (prediction).

        Returns
        -------
        predictions : tensor, shape (batch, num_times, obs_dim)
        mean, logvar : tensor, shape (batch, latent_dim)
        """
        mean, logvar = self.encoder(obs_values, obs_times)
        z0 = mean
        if sample:
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
            z0 = mean + torch.exp(0.5 * logvar) * noise                     # (b, L)
        return self.decoder(self.latent_trajectory(z0, times)), mean, logvar

    def elbo(self, obs_values, obs_times, times, targets, target_mask=None, generator=None):
        """The ELBO per series (one-sample estimate), shape ``(batch,)``.

        ``targets`` of shape ``(batch, num_times, obs_dim)`` on the grid ``times``;
        ``target_mask`` of shape ``(batch, num_times)`` marks the points that count.
        """
        predictions, mean, logvar = self(obs_values, obs_times, times, generator)
        log_likelihood = gaussian_log_likelihood(targets, predictions, self.obs_std,
                                                 target_mask)
        return log_likelihood - normal_kl(mean, logvar)


class RNNForecaster(nn.Module):
    """The RNN baseline: a GRU over ``[x_i, Δt_i]``, then stepped at the target times.

    After reading the observations forwards in time, the GRU cell is run once per target
    time with input ``[x̂_prev, Δt]`` (its previous prediction, starting from the last
    observation, and the time since the previous step), and a linear layer reads the
    prediction from its state — time gaps as inputs, the usual way to feed irregular
    times to an RNN.

    Parameters
    ----------
    obs_dim, hidden : int

    Shapes: ``obs_values (batch, n, obs_dim)``, ``obs_times (batch, n)``,
    ``target_times (num_targets,)`` (increasing, after every observation) →
    ``(batch, num_targets, obs_dim)``.

    Notes
    -----
    Introduced in ``06_neural_odes``, section 7.
    """

    def __init__(self, obs_dim: int = 2, hidden: int = 32):
        super().__init__()
        check_sizes(obs_dim=obs_dim, hidden=hidden)
        self.encoder = nn.GRU(obs_dim + 1, hidden, batch_first=True)
        self.cell = nn.GRUCell(obs_dim + 1, hidden)
        self.readout = nn.Linear(hidden, obs_dim)

    def forward(self, obs_values, obs_times, target_times):
        inputs = torch.cat([obs_values, time_gaps(obs_times)[..., None]], dim=-1)
        _, state = self.encoder(inputs)                                    # (1, b, hidden)
        state = state[0]
        previous_value = obs_values[:, -1]                                 # (b, d)
        previous_time = obs_times[:, -1]                                   # (b,)
        predictions = []
        for time in target_times:
            gap = (time - previous_time)[:, None]                          # (b, 1)
            state = self.cell(torch.cat([previous_value, gap], dim=1), state)
            previous_value = self.readout(state)                           # (b, d)
            previous_time = torch.full_like(previous_time, float(time))
            predictions.append(previous_value)
        return torch.stack(predictions, dim=1)                             # (b, T, d)
