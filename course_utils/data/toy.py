"""Two-dimensional toy datasets (weeks 3, 4 and 6), generated — nothing is downloaded.

Every sampler takes ``num_samples`` and a ``seed`` and returns NumPy arrays, so a
notebook is reproducible whatever it did before. Convert with ``torch.as_tensor(x,
dtype=torch.float32)`` where a model needs tensors.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "two_moons",
    "concentric_circles",
    "two_spirals",
    "checkerboard",
    "gaussian_mixture",
    "train_test_split",
    "TOY_DATASETS",
    "sample_toy",
]


def _rng(seed):
    return np.random.default_rng(seed)


def two_moons(num_samples: int = 1000, noise: float = 0.08, seed: int = 0):
    """Two interleaving half circles.

    Returns ``(x, labels)``: ``x`` of shape ``(num_samples, 2)``, roughly centred and
    scaled to unit variance per axis, ``labels`` of shape ``(num_samples,)`` in {0, 1}.
    """
    rng = _rng(seed)
    num_upper = num_samples // 2
    num_lower = num_samples - num_upper
    angle_upper = rng.uniform(0.0, np.pi, num_upper)
    angle_lower = rng.uniform(0.0, np.pi, num_lower)
    upper = np.stack([np.cos(angle_upper), np.sin(angle_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(angle_lower), 0.5 - np.sin(angle_lower)], axis=1)
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((num_samples, 2))
    labels = np.concatenate([np.zeros(num_upper, int), np.ones(num_lower, int)])
    x = (x - np.array([0.5, 0.25])) / np.array([0.87, 0.5])
    order = rng.permutation(num_samples)
    return x[order], labels[order]


def concentric_circles(num_samples: int = 1000, radii=(1.0, 2.0), noise: float = 0.08,
                       seed: int = 0):
    """Points on concentric circles; the label is the circle's index.

    Returns ``(x, labels)`` with ``x`` of shape ``(num_samples, 2)``. With two circles this
    is the classic problem that no homeomorphism of the plane can make linearly separable
    while keeping the inner disc inside (week 6, augmented Neural ODEs).
    """
    rng = _rng(seed)
    labels = rng.integers(0, len(radii), num_samples)
    angle = rng.uniform(0.0, 2.0 * np.pi, num_samples)
    radius = np.asarray(radii, dtype=float)[labels]
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return x + noise * rng.standard_normal((num_samples, 2)), labels


def two_spirals(num_samples: int = 1000, turns: float = 1.5, noise: float = 0.05,
                seed: int = 0):
    """Two interleaved Archimedean spirals; the label says which spiral.

    Returns ``(x, labels)`` with ``x`` of shape ``(num_samples, 2)`` inside about [-1, 1]².
    """
    rng = _rng(seed)
    labels = rng.integers(0, 2, num_samples)
    fraction = np.sqrt(rng.uniform(0.05, 1.0, num_samples))
    angle = 2.0 * np.pi * turns * fraction + np.pi * labels
    x = fraction[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return x + noise * rng.standard_normal((num_samples, 2)), labels


def checkerboard(num_samples: int = 1000, seed: int = 0):
    """Uniform samples on the dark squares of a 4×4 checkerboard on [-4, 4]².

    Returns ``x`` of shape ``(num_samples, 2)`` (a density-estimation target, no labels).
    """
    rng = _rng(seed)
    x1 = rng.uniform(-4.0, 4.0, num_samples)
    x2 = rng.uniform(0.0, 2.0, num_samples) - 4.0 * rng.integers(0, 2, num_samples)
    x2 = x2 + 2.0 * (np.floor(x1 / 2.0) % 2)
    return np.stack([x1, x2], axis=1)


def gaussian_mixture(num_samples: int = 1000, num_modes: int = 8, radius: float = 2.5,
                     std: float = 0.3, seed: int = 0):
    """Isotropic Gaussians whose means sit evenly on a circle.

    Returns ``x`` of shape ``(num_samples, 2)``.
    """
    rng = _rng(seed)
    mode = rng.integers(0, num_modes, num_samples)
    angle = 2.0 * np.pi * mode / num_modes
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres + std * rng.standard_normal((num_samples, 2))


#: Name → sampler, for loops over datasets in notebooks and tests.
TOY_DATASETS = {
    "two_moons": two_moons,
    "concentric_circles": concentric_circles,
    "two_spirals": two_spirals,
    "checkerboard": checkerboard,
    "gaussian_mixture": gaussian_mixture,
}


def sample_toy(name: str, num_samples: int = 1000, seed: int = 0):
    """Points only (labels dropped) from the named toy dataset, shape ``(num_samples, 2)``."""
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(TOY_DATASETS)}")
    out = TOY_DATASETS[name](num_samples=num_samples, seed=seed)
    return out[0] if isinstance(out, tuple) else out


def train_test_split(x, labels, test_fraction: float = 0.25, seed: int = 0):
    """Shuffle and split arrays into ``(x_train, y_train, x_test, y_test)``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must lie in (0, 1), got {test_fraction}")
    order = _rng(seed).permutation(len(x))
    num_test = int(round(test_fraction * len(x)))
    test, train = order[:num_test], order[num_test:]
    return x[train], labels[train], x[test], labels[test]
