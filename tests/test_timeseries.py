"""course_utils.data.timeseries: the spirals solve their ODE (scipy), directions, noise
level, irregular subsampling and argument checks."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from course_utils.data.timeseries import noisy_spirals, spiral_solution, subsample_observations


def test_shapes_and_grid():
    data = noisy_spirals(num_series=12, num_obs_times=20, obs_end=2.0, num_future=5,
                         future_end=3.0, seed=1)
    assert data.times.shape == (25,)
    assert data.clean.shape == data.noisy.shape == (12, 25, 2)
    assert data.clockwise.shape == (12,) and data.num_series == 12
    np.testing.assert_allclose(data.obs_times, np.linspace(0.0, 2.0, 20))
    np.testing.assert_allclose(data.future_times, np.linspace(2.0, 3.0, 6)[1:])
    assert np.all(np.diff(data.times) > 0)


@pytest.mark.parametrize("clockwise", [False, True])
def test_spirals_solve_the_damped_rotation(clockwise):
    x0 = np.array([[1.3, -0.4]])
    times = np.linspace(0.0, 4.0, 9)
    values = spiral_solution(x0, times, np.array([clockwise]), decay=0.2, frequency=1.5)
    sign = -1.0 if clockwise else 1.0
    matrix = np.array([[-0.2, -sign * 1.5], [sign * 1.5, -0.2]])
    reference = solve_ivp(lambda t, y: matrix @ y, (0.0, 4.0), x0[0], t_eval=times,
                          rtol=1e-11, atol=1e-12).y.T
    np.testing.assert_allclose(values[0], reference, atol=1e-8)
    # the angular velocity x1 x2' - x2 x1' has the sign of the direction
    velocity = values[0] @ matrix.T
    cross = values[0, :, 0] * velocity[:, 1] - values[0, :, 1] * velocity[:, 0]
    assert np.all(np.sign(cross) == sign)


def test_both_directions_and_the_noise_level():
    data = noisy_spirals(num_series=400, noise=0.2, seed=3)
    assert 0.4 < data.clockwise.mean() < 0.6
    residual = data.noisy - data.clean
    assert residual.std() == pytest.approx(0.2, rel=0.02)
    radius = np.linalg.norm(data.clean[:, 0], axis=1)
    assert radius.min() >= 1.0 and radius.max() <= 2.0
    again = noisy_spirals(num_series=400, noise=0.2, seed=3)
    np.testing.assert_array_equal(again.noisy, data.noisy)


def test_subsampled_observations_are_irregular_sorted_and_in_the_window():
    data = noisy_spirals(num_series=30, seed=0)
    index, times, values = subsample_observations(data, 30, seed=1)
    assert index.shape == times.shape == (30, 30) and values.shape == (30, 30, 2)
    assert np.all(np.diff(index, axis=1) > 0)
    assert index.max() < data.num_obs_times
    rows = np.arange(30)[:, None]
    np.testing.assert_array_equal(values, data.noisy[rows, index])
    np.testing.assert_array_equal(times, data.times[index])
    assert len({tuple(row) for row in index}) > 1              # different for every series
    full, _, _ = subsample_observations(data, 100, seed=2)
    np.testing.assert_array_equal(full, np.tile(np.arange(100), (30, 1)))


def test_split_and_argument_checks():
    data = noisy_spirals(num_series=10, seed=0)
    train, test = data.split(7)
    assert train.num_series == 7 and test.num_series == 3
    np.testing.assert_array_equal(test.clean, data.clean[7:])
    with pytest.raises(ValueError, match="num_train"):
        data.split(10)
    with pytest.raises(ValueError, match="num_observed"):
        subsample_observations(data, 0)
    with pytest.raises(ValueError, match="obs_end"):
        noisy_spirals(obs_end=3.0, future_end=2.0)
    with pytest.raises(ValueError, match="noise"):
        noisy_spirals(noise=-0.1)
