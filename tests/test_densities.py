"""course_utils.data.densities: the Rezende & Mohamed energies and the closed-form
densities of the toy datasets, against independent references."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from course_utils.data import densities, toy

NAMES = sorted(densities.ENERGIES)


def _paper_energy(name, z1, z2):
    """Table 1 of Rezende & Mohamed, written out with plain math, one point at a time."""
    w1 = math.sin(2 * math.pi * z1 / 4)
    w2 = 3 * math.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
    w3 = 3 / (1 + math.exp(-(z1 - 1) / 0.3))
    if name == "U1":
        return (0.5 * ((math.hypot(z1, z2) - 2) / 0.4) ** 2
                - math.log(math.exp(-0.5 * ((z1 - 2) / 0.6) ** 2)
                           + math.exp(-0.5 * ((z1 + 2) / 0.6) ** 2)))
    if name == "U2":
        return 0.5 * ((z2 - w1) / 0.4) ** 2
    if name == "U3":
        return -math.log(math.exp(-0.5 * ((z2 - w1) / 0.35) ** 2)
                         + math.exp(-0.5 * ((z2 - w1 + w2) / 0.35) ** 2))
    return -math.log(math.exp(-0.5 * ((z2 - w1) / 0.4) ** 2)
                     + math.exp(-0.5 * ((z2 - w1 + w3) / 0.35) ** 2))


@pytest.mark.parametrize("name", NAMES)
def test_energies_match_the_paper_on_numpy_and_torch(name):
    rng = np.random.default_rng(0)
    z = rng.uniform(-4, 4, size=(50, 2))
    truth = np.array([_paper_energy(name, *point) for point in z])
    energy = densities.ENERGIES[name]
    assert np.allclose(energy(z), truth, rtol=1e-12, atol=1e-12)
    tensor = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    values = energy(tensor)
    assert isinstance(values, torch.Tensor) and values.shape == (50,)
    assert np.allclose(values.detach().numpy(), truth, rtol=1e-12, atol=1e-12)
    values.sum().backward()
    assert torch.all(torch.isfinite(tensor.grad))


def test_energies_keep_leading_shapes_and_reject_wrong_ones():
    grid = np.zeros((3, 5, 2))
    assert densities.energy_U3(grid).shape == (3, 5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        densities.energy_U1(np.zeros((4, 3)))


@pytest.mark.parametrize("name", NAMES)
def test_wall_leaves_the_box_alone(name):
    rng = np.random.default_rng(1)
    inside = rng.uniform(-4, 4, size=(100, 2))
    walled = densities.target_energy(name)
    assert np.array_equal(walled(inside), densities.ENERGIES[name](inside))
    outside = inside * np.array([0.1, 1.0]) + np.array([5.0, 0.0])   # z1 in [4.6, 5.4]
    wall = 0.5 * ((outside[:, 0] - 4.0) / 0.2) ** 2
    assert np.allclose(walled(outside), densities.ENERGIES[name](outside) + wall)
    assert densities.target_energy(name, limit=None) is densities.ENERGIES[name]


def test_log_partition_of_u2_in_closed_form():
    # exp(-U2) is a Gaussian of width 0.4 in z2 for every z1; along z1 the box has
    # length 8 and each side of the wall adds a half-Gaussian of width 0.2.
    exact = 0.4 * math.sqrt(2 * math.pi) * (8 + 2 * 0.2 * math.sqrt(math.pi / 2))
    assert densities.log_partition("U2") == pytest.approx(math.log(exact), abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_log_partition_is_converged_in_the_grid(name):
    coarse = densities.log_partition(name)
    fine = densities.log_partition(name, num_points=1601)
    assert coarse == pytest.approx(fine, abs=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_target_density_on_grid_is_normalised(name):
    xx, yy, density, area = densities.target_density_on_grid(
        name, limits=(-5.6, 5.6), num_points=561)
    assert xx.shape == (561, 561) and density.shape == (561 * 561,)
    assert density.sum() * area == pytest.approx(1.0, abs=1e-3)


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(ValueError, match="U1"):
        densities.target_energy("U9")


def test_sample_target_follows_the_density():
    samples = densities.sample_target("U2", 4000, seed=3)
    assert samples.shape == (4000, 2) and np.all(np.abs(samples) <= 4)
    # U2 says z2 | z1 ~ N(sin(pi z1 / 2), 0.4²)
    residual = samples[:, 1] - np.sin(np.pi * samples[:, 0] / 2)
    assert stats.kstest(residual / 0.4, "norm").pvalue > 1e-3
    # and z1 is uniform on the box
    assert stats.kstest(samples[:, 0], stats.uniform(-4, 8).cdf).pvalue > 1e-3


def test_checkerboard_log_density_matches_the_sampler():
    x = toy.checkerboard(5000, seed=1)
    assert np.all(densities.checkerboard_log_density(x) == -math.log(32))
    light = np.array([[1.0, -1.0], [-3.0, 3.0], [3.0, 1.0]])
    assert np.all(np.isneginf(densities.checkerboard_log_density(light)))
    axis = np.linspace(-3.995, 3.995, 800)
    points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    area = (axis[1] - axis[0]) ** 2
    mass = np.exp(densities.checkerboard_log_density(points)).sum() * area
    assert mass == pytest.approx(1.0, abs=1e-2)


def test_gaussian_mixture_log_density_matches_scipy():
    x = toy.gaussian_mixture(50, num_modes=5, radius=2.0, std=0.4, seed=2)
    angle = 2 * np.pi * np.arange(5) / 5
    centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    truth = np.log(np.mean([stats.multivariate_normal(c, 0.16 * np.eye(2)).pdf(x)
                            for c in centres], axis=0))
    values = densities.gaussian_mixture_log_density(x, num_modes=5, radius=2.0, std=0.4)
    assert np.allclose(values, truth, rtol=1e-10)
