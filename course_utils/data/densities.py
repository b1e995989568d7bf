"""Two-dimensional target densities (week 4; week 6 reuses them for continuous flows).

* The four energy potentials ``U1``–``U4`` of Rezende & Mohamed, "Variational Inference
  with Normalizing Flows" (ICML 2015), Table 1: unnormalised densities
  ``p(z) ∝ exp(-U(z))`` known only through their energy — targets for reverse-KL
  training. Every energy takes a NumPy array or a torch tensor of shape ``(..., 2)`` and
  returns the same kind of object of shape ``(...)``, so the same function feeds a plot
  and a training loss (and autograd flows through it).
* Closed-form log-densities of two toy datasets of :mod:`course_utils.data.toy`
  (``checkerboard``, ``gaussian_mixture``), the bound that a maximum-likelihood fit can
  at best reach.
* Helpers that normalise a target on a grid: :func:`log_partition` and
  :func:`target_density_on_grid`.

``U2``–``U4`` do not grow along ``z1``, so ``exp(-U)`` is not integrable on the plane;
the paper shows them on the box ``[-4, 4]²``. :func:`target_energy` makes every target a
proper density by adding a soft wall that is zero inside that box (see
:func:`box_wall`); inside the box it is exactly ``U``. Introduced in
``04_normalising_flows`` (section 4).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "energy_U1",
    "energy_U2",
    "energy_U3",
    "energy_U4",
    "ENERGIES",
    "box_wall",
    "target_energy",
    "log_partition",
    "target_density_on_grid",
    "sample_target",
    "checkerboard_log_density",
    "gaussian_mixture_log_density",
]

#: Half-width of the box [-4, 4]² on which Rezende & Mohamed show the targets.
BOX = 4.0


def _is_torch(z) -> bool:
    return type(z).__module__.startswith("torch")


def _lib(z):
    """The array library of ``z``: torch for tensors, NumPy for anything else."""
    if _is_torch(z):
        import torch

        return torch
    return np


def _split(z):
    """``(z1, z2)`` from an array of shape ``(..., 2)``; NumPy inputs become float arrays."""
    if not _is_torch(z):
        z = np.asarray(z, dtype=float)
    if z.shape[-1] != 2:
        raise ValueError(f"`z` must have shape (..., 2), got {tuple(z.shape)}")
    return z[..., 0], z[..., 1]


def _w1(z1, lib):
    return lib.sin(2.0 * math.pi * z1 / 4.0)


def _w2(z1, lib):
    return 3.0 * lib.exp(-0.5 * ((z1 - 1.0) / 0.6) ** 2)


def _w3(z1, lib):
    return 3.0 * 0.5 * (1.0 + lib.tanh(0.5 * (z1 - 1.0) / 0.3))   # 3 σ((z1 - 1)/0.3)


def energy_U1(z):
    """Rezende & Mohamed's ``U1``: a ring of radius 2 split into two arcs at ``z1 = ±2``.

    ``U1(z) = ½ ((‖z‖ - 2)/0.4)² - log(exp(-½((z1 - 2)/0.6)²) + exp(-½((z1 + 2)/0.6)²))``.

    Parameters
    ----------
    z : ndarray or tensor, shape (..., 2)

    Returns
    -------
    ndarray or tensor, shape (...)
    """
    z1, z2 = _split(z)
    lib = _lib(z1)
    radius = lib.sqrt(z1**2 + z2**2)
    bumps = lib.logaddexp(-0.5 * ((z1 - 2.0) / 0.6) ** 2, -0.5 * ((z1 + 2.0) / 0.6) ** 2)
    return 0.5 * ((radius - 2.0) / 0.4) ** 2 - bumps


def energy_U2(z):
    """Rezende & Mohamed's ``U2``: a sine wave, ``½ ((z2 - w1(z))/0.4)²``, ``w1 = sin(πz1/2)``.

    Shapes as :func:`energy_U1`.
    """
    z1, z2 = _split(z)
    lib = _lib(z1)
    return 0.5 * ((z2 - _w1(z1, lib)) / 0.4) ** 2


def energy_U3(z):
    """Rezende & Mohamed's ``U3``: the sine wave and a copy shifted down by a bump ``w2``.

    ``U3 = -log(exp(-½((z2 - w1)/0.35)²) + exp(-½((z2 - w1 + w2)/0.35)²))`` with
    ``w2(z) = 3 exp(-½((z1 - 1)/0.6)²)``. Shapes as :func:`energy_U1`.
    """
    z1, z2 = _split(z)
    lib = _lib(z1)
    w1 = _w1(z1, lib)
    return -lib.logaddexp(-0.5 * ((z2 - w1) / 0.35) ** 2,
                          -0.5 * ((z2 - w1 + _w2(z1, lib)) / 0.35) ** 2)


def energy_U4(z):
    """Rezende & Mohamed's ``U4``: the sine wave and a copy shifted by a step ``w3``.

    ``U4 = -log(exp(-½((z2 - w1)/0.4)²) + exp(-½((z2 - w1 + w3)/0.35)²))`` with
    ``w3(z) = 3 σ((z1 - 1)/0.3)``. Shapes as :func:`energy_U1`.
    """
    z1, z2 = _split(z)
    lib = _lib(z1)
    w1 = _w1(z1, lib)
    return -lib.logaddexp(-0.5 * ((z2 - w1) / 0.4) ** 2,
                          -0.5 * ((z2 - w1 + _w3(z1, lib)) / 0.35) ** 2)


#: Name → energy, in the paper's order.
ENERGIES = {"U1": energy_U1, "U2": energy_U2, "U3": energy_U3, "U4": energy_U4}


def box_wall(z, limit: float = BOX, width: float = 0.2):
    """A soft wall, ``Σ_i ½ (max(|z_i| - limit, 0) / width)²``: zero inside the box.

    Parameters
    ----------
    z : ndarray or tensor, shape (..., 2)
    limit : float
        Half-width of the box.
    width : float
        Length scale of the Gaussian fall-off outside the box.

    Returns
    -------
    ndarray or tensor, shape (...)
    """
    z1, z2 = _split(z)
    if _is_torch(z1):
        outside = lambda v: (v.abs() - limit).clamp(min=0.0)
    else:
        outside = lambda v: np.clip(np.abs(v) - limit, 0.0, None)
    return 0.5 * (outside(z1) / width) ** 2 + 0.5 * (outside(z2) / width) ** 2


def _energy(target):
    if callable(target):
        return target
    if target not in ENERGIES:
        raise ValueError(f"unknown target {target!r}; choose one of {sorted(ENERGIES)} "
                         "or pass an energy function")
    return ENERGIES[target]


def target_energy(target, limit: float = BOX, width: float = 0.2):
    """The energy ``U(z) + box_wall(z)`` of a proper target density, as a function.

    Parameters
    ----------
    target : {"U1", "U2", "U3", "U4"} or callable
        A name from :data:`ENERGIES` or an energy ``U(z)``.
    limit, width : float
        The wall of :func:`box_wall`; ``limit=None`` returns ``U`` itself.

    Returns
    -------
    callable
        ``z (..., 2) -> (...)`` for NumPy arrays and torch tensors; ``exp(-energy)`` is
        integrable, equal to ``exp(-U)`` inside ``[-limit, limit]²``.
    """
    energy = _energy(target)
    if limit is None:
        return energy

    def walled(z):
        return energy(z) + box_wall(z, limit, width)

    walled.__name__ = f"{getattr(energy, '__name__', 'energy')}_in_box"
    walled.__doc__ = f"{energy.__name__ if hasattr(energy, '__name__') else 'U'} + box wall"
    return walled


def _quadrature_grid(limits, num_points):
    axis = np.linspace(limits[0], limits[1], num_points)
    xx, yy = np.meshgrid(axis, axis)
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], axis=1), (axis[1] - axis[0]) ** 2


def log_partition(target, limit: float = BOX, width: float = 0.2,
                  num_points: int = 801) -> float:
    """``log Z = log ∫ exp(-U(z) - wall(z)) dz`` by quadrature on a grid.

    The grid covers the box plus ``8 * width`` on each side (where the wall has damped the
    density by ``e^-32``), with ``num_points`` points per axis; the error is far below
    1e-4 for the targets here (compared with a finer grid in the tests).

    Parameters
    ----------
    target : {"U1", "U2", "U3", "U4"} or callable
    limit, width : float
        The wall of :func:`target_energy`.
    num_points : int
        Points per axis.
    """
    energy = target_energy(target, limit, width)
    reach = limit + 8.0 * width
    _, _, points, cell_area = _quadrature_grid((-reach, reach), num_points)
    log_values = -energy(points)
    peak = log_values.max()
    return float(peak + np.log(np.exp(log_values - peak).sum() * cell_area))


def target_density_on_grid(target, limits=(-BOX, BOX), num_points: int = 100,
                           limit: float = BOX, width: float = 0.2):
    """The normalised target density ``exp(-U - wall)/Z`` on a square grid, for plots.

    Parameters
    ----------
    target : {"U1", "U2", "U3", "U4"} or callable
    limits : (float, float)
        The range of both axes of the grid.
    num_points : int
        Points per axis.
    limit, width : float
        The wall of :func:`target_energy`.

    Returns
    -------
    xx, yy : ndarray, shape (num_points, num_points)
    density : ndarray, shape (num_points**2,)
        Normalised over the plane (by :func:`log_partition`), not over the grid, so it can
        share a colour scale with a flow's density on the same grid.
    cell_area : float
        Area of one grid cell: ``density.sum() * cell_area`` is the mass on the grid.
    """
    xx, yy, points, cell_area = _quadrature_grid(limits, num_points)
    energy = target_energy(target, limit, width)
    density = np.exp(-energy(points) - log_partition(target, limit, width))
    return xx, yy, density, cell_area


def sample_target(target, num_samples: int = 1000, limit: float = BOX, seed: int = 0):
    """Exact samples of ``exp(-U)`` restricted to ``[-limit, limit]²``, by rejection.

    Proposals are uniform on the box and accepted with probability ``exp(-(U - U_min))``,
    ``U_min`` the minimum of ``U`` on a fine grid (lowered by a margin). Useful as data for
    maximum-likelihood fits of the same targets.

    Returns
    -------
    ndarray, shape (num_samples, 2)
    """
    energy = _energy(target)
    rng = np.random.default_rng(seed)
    _, _, points, _ = _quadrature_grid((-limit, limit), 401)
    lowest = float(energy(points).min()) - 0.1
    accepted, count = [], 0
    while count < num_samples:
        proposals = rng.uniform(-limit, limit, size=(4 * num_samples, 2))
        keep = rng.uniform(size=len(proposals)) < np.exp(-(energy(proposals) - lowest))
        accepted.append(proposals[keep])
        count += int(keep.sum())
    return np.concatenate(accepted)[:num_samples]


def checkerboard_log_density(x):
    """Log-density of :func:`course_utils.data.toy.checkerboard` (uniform on 8 squares).

    Returns ``log(1/32)`` on the dark squares of the 4×4 board on ``[-4, 4]²`` and
    ``-inf`` elsewhere, for ``x`` of shape ``(..., 2)`` (NumPy).
    """
    x = np.asarray(x, dtype=float)
    inside = np.all(np.abs(x) <= 4.0, axis=-1)
    dark = (np.floor(x[..., 0] / 2.0) + np.floor(x[..., 1] / 2.0)) % 2 == 0
    return np.where(inside & dark, -np.log(32.0), -np.inf)


def gaussian_mixture_log_density(x, num_modes: int = 8, radius: float = 2.5,
                                 std: float = 0.3):
    """Log-density of :func:`course_utils.data.toy.gaussian_mixture` (same parameters).

    Equal-weight isotropic Gaussians with standard deviation ``std`` centred evenly on a
    circle of radius ``radius``; ``x`` of shape ``(..., 2)`` (NumPy), returns ``(...)``.
    """
    x = np.asarray(x, dtype=float)
    angle = 2.0 * np.pi * np.arange(num_modes) / num_modes
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)   # (modes, 2)
    squared = ((x[..., None, :] - centres) ** 2).sum(axis=-1)             # (..., modes)
    log_terms = -0.5 * squared / std**2 - np.log(2.0 * np.pi * std**2 * num_modes)
    peak = log_terms.max(axis=-1, keepdims=True)
    return (peak + np.log(np.exp(log_terms - peak).sum(axis=-1, keepdims=True)))[..., 0]
