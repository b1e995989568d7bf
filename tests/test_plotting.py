"""course_utils.plotting: shared helpers."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plotting  # noqa: E402


def test_density_grid_integrates_a_gaussian():
    xx, yy, points, cell_area = plotting.density_grid((-6, 6), 200)
    assert xx.shape == (200, 200) and points.shape == (40000, 2)
    density = np.exp(-0.5 * (points**2).sum(1)) / (2 * np.pi)
    assert density.sum() * cell_area == pytest.approx(1.0, abs=2e-2)


def test_subplots_grid_hides_unused_axes():
    fig, axes = plotting.subplots_grid(5, num_cols=3)
    assert len(axes) == 5 and len(fig.axes) == 6 and not fig.axes[-1].get_visible()
    plt.close(fig)


def test_slider_figure_draws_static_default_without_a_kernel():
    drawn = []
    shown = plotting.slider_figure(lambda v: drawn.append(v), "h", [0.1, 0.2], 0.2)
    assert shown is False and drawn == [0.2]
    with pytest.raises(ValueError, match="not one of"):
        plotting.slider_figure(lambda v: None, "h", [0.1], 0.3)
