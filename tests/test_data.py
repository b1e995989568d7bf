"""course_utils.data: shapes, reproducibility, and the properties each dataset promises."""

import numpy as np
import pytest

from course_utils import data


@pytest.mark.parametrize("name", sorted(data.TOY_DATASETS))
def test_toy_shapes_and_seeding(name):
    a = data.sample_toy(name, 300, seed=1)
    b = data.sample_toy(name, 300, seed=1)
    c = data.sample_toy(name, 300, seed=2)
    assert a.shape == (300, 2) and np.all(np.isfinite(a))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_circles_radii_and_labels():
    x, labels = data.concentric_circles(2000, radii=(1.0, 2.0), noise=0.0)
    radius = np.linalg.norm(x, axis=1)
    assert np.allclose(radius[labels == 0], 1.0) and np.allclose(radius[labels == 1], 2.0)


def test_checkerboard_occupies_alternate_squares():
    x = data.checkerboard(20000)
    counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=4, range=[[-4, 4], [-4, 4]])
    i, j = np.indices((4, 4))
    assert np.all(counts[(i + j) % 2 == 1] == 0)
    assert counts[(i + j) % 2 == 0].min() > 0.8 * 20000 / 8


def test_moons_are_balanced_and_standardised():
    x, labels = data.two_moons(4000, noise=0.0)
    assert labels.mean() == 0.5
    assert np.all(np.abs(x.mean(axis=0)) < 0.15) and np.all(np.abs(x.std(axis=0) - 1) < 0.2)


def test_train_test_split_partitions():
    x, labels = data.two_spirals(100)
    x_tr, y_tr, x_te, y_te = data.train_test_split(x, labels, test_fraction=0.2)
    assert len(x_tr) == 80 and len(x_te) == 20
    rows = {tuple(r) for r in np.concatenate([x_tr, x_te])}
    assert rows == {tuple(r) for r in x}
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(x, labels, test_fraction=1.5)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError, match="two_moons"):
        data.sample_toy("nope")


def test_digits_split():
    x_tr, y_tr, x_te, y_te = data.load_digits_split(test_fraction=0.25)
    assert tuple(x_tr.shape[1:]) == (1, 8, 8) and len(x_tr) + len(x_te) == 1797
    assert float(x_tr.min()) >= 0.0 and float(x_tr.max()) <= 1.0
    assert set(y_te.tolist()) == set(range(10))
