"""Irregularly sampled time series (week 6): noisy two-dimensional spirals.

Chen et al. (2018, section 5.1) test the latent ODE on a data set of 2-D spirals, half of
them turning clockwise and half counter-clockwise, each starting at a different point,
observed with noise at irregular times. This module builds a small version of it:

* :func:`noisy_spirals` — ``num_series`` trajectories of the damped rotation
  ``x' = [[-α, -σω], [σω, -α]] x`` (``σ = ±1``: the direction) on a common time grid: an
  *observation window* of ``num_obs_times`` equally spaced times on ``[0, obs_end]``, then
  ``num_future`` times on ``(obs_end, future_end]`` to be predicted; clean values (the
  exact solution ``e^{-αt} R(σωt) x_0``) and noisy ones;
* :func:`subsample_observations` — for each series, ``num_observed`` of the window's times
  drawn at random without replacement (the irregular sampling).

Everything is NumPy and seeded; nothing is downloaded. Introduced in ``06_neural_odes``,
section 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SpiralData", "noisy_spirals", "subsample_observations", "spiral_solution"]


@dataclass
class SpiralData:
    """What :func:`noisy_spirals` returns.

    Attributes
    ----------
    times : ndarray, shape (num_times,)
        The common grid: ``num_obs_times`` times in the observation window, then
        ``num_future`` later ones.
    clean : ndarray, shape (num_series, num_times, 2)
        The exact trajectories.
    noisy : ndarray, shape (num_series, num_times, 2)
        ``clean`` plus independent Gaussian noise.
    clockwise : ndarray of bool, shape (num_series,)
        The direction of each spiral.
    num_obs_times : int
        Length of the observation window at the start of ``times``.
    noise : float
        Standard deviation of the noise.
    """

    times: np.ndarray
    clean: np.ndarray
    noisy: np.ndarray
    clockwise: np.ndarray
    num_obs_times: int
    noise: float

    @property
    def num_series(self) -> int:
        return self.clean.shape[0]

    @property
    def obs_times(self) -> np.ndarray:
        """The observation window's grid, shape ``(num_obs_times,)``."""
        return self.times[: self.num_obs_times]

    @property
    def future_times(self) -> np.ndarray:
        """The prediction window's grid, shape ``(num_future,)``."""
        return self.times[self.num_obs_times:]

    def split(self, num_train: int):
        """``(train, test)``: the first ``num_train`` series and the rest."""
        if not 0 < num_train < self.num_series:
            raise ValueError(f"`num_train` must lie in (0, {self.num_series}), got {num_train}")
        part = lambda rows: SpiralData(self.times, self.clean[rows], self.noisy[rows],
                                       self.clockwise[rows], self.num_obs_times, self.noise)
        return part(slice(0, num_train)), part(slice(num_train, None))


def spiral_solution(x0, times, clockwise, decay: float = 0.1, frequency: float = 1.0):
    """The exact solution ``e^{-αt} R(±ωt) x_0`` of the spiral ODE.

    Parameters
    ----------
    x0 : array, shape (num_series, 2)
    times : array, shape (num_times,)
    clockwise : array of bool, shape (num_series,)
    decay, frequency : float
        ``α`` and ``ω``.

    Returns
    -------
    ndarray, shape (num_series, num_times, 2)
    """
    x0 = np.asarray(x0, dtype=float)
    times = np.asarray(times, dtype=float)
    sign = np.where(np.asarray(clockwise), -1.0, 1.0)[:, None]         # (series, 1)
    angle = sign * frequency * times[None, :]                          # (series, times)
    scale = np.exp(-decay * times)[None, :]                            # (1, times)
    cos, sin = np.cos(angle), np.sin(angle)
    first = cos * x0[:, :1] - sin * x0[:, 1:]
    second = sin * x0[:, :1] + cos * x0[:, 1:]
    return scale[..., None] * np.stack([first, second], axis=-1)


def noisy_spirals(num_series: int = 500, num_obs_times: int = 100, obs_end: float = 5.0,
                  num_future: int = 50, future_end: float = 7.5, noise: float = 0.1,
                  decay: float = 0.1, frequency: float = 1.0, radius_range=(1.0, 2.0),
                  seed: int = 0) -> SpiralData:
    """Noisy clockwise and counter-clockwise spirals on a common time grid.

    Each series starts at a random angle and a radius uniform in ``radius_range`` and
    follows ``x' = [[-α, -σω], [σω, -α]] x`` (``σ = -1``: clockwise, with probability ½).

    Parameters
    ----------
    num_series : int
    num_obs_times : int
        Grid points of the observation window ``[0, obs_end]``.
    obs_end : float
    num_future : int
        Grid points of the prediction window ``(obs_end, future_end]`` (equally spaced,
        ending at ``future_end``).
    future_end : float
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    decay, frequency : float
        ``α`` and ``ω``.
    radius_range : (float, float)
    seed : int

    Returns
    -------
    SpiralData
    """
    if future_end <= obs_end or obs_end <= 0:
        raise ValueError("need 0 < `obs_end` < `future_end`, got "
                         f"{obs_end} and {future_end}")
    if num_obs_times < 2 or num_future < 1 or num_series < 1:
        raise ValueError("`num_obs_times` >= 2, `num_future` >= 1 and `num_series` >= 1 "
                         "are required")
    if noise < 0:
        raise ValueError(f"`noise` must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    obs = np.linspace(0.0, obs_end, num_obs_times)
    future = np.linspace(obs_end, future_end, num_future + 1)[1:]
    times = np.concatenate([obs, future])
    clockwise = rng.uniform(size=num_series) < 0.5
    angle = rng.uniform(0.0, 2.0 * np.pi, num_series)
    radius = rng.uniform(*radius_range, num_series)
    x0 = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    clean = spiral_solution(x0, times, clockwise, decay, frequency)
    noisy = clean + noise * rng.standard_normal(clean.shape)
    return SpiralData(times, clean, noisy, clockwise, num_obs_times, float(noise))


def subsample_observations(data: SpiralData, num_observed: int, seed: int = 0):
    """Irregular observations: ``num_observed`` random times of the window for each series.

    Returns
    -------
    index : ndarray of int, shape (num_series, num_observed)
        Sorted indices into ``data.times`` (all within the observation window), different
        for every series.
    obs_times : ndarray, shape (num_series, num_observed)
    obs_values : ndarray, shape (num_series, num_observed, 2)
        The noisy values at those times.
    """
    if not 1 <= num_observed <= data.num_obs_times:
        raise ValueError(f"`num_observed` must lie in [1, {data.num_obs_times}], got "
                         f"{num_observed}")
    rng = np.random.default_rng(seed)
    index = np.sort(np.stack([rng.choice(data.num_obs_times, num_observed, replace=False)
                              for _ in range(data.num_series)]), axis=1)
    rows = np.arange(data.num_series)[:, None]
    return index, data.times[index], data.noisy[rows, index]
