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


class _KernelShell:
    """Looks like a Jupyter kernel's shell to `slider_figure` (it has a `kernel`)."""

    kernel = object()


@pytest.mark.parametrize("value, live", [("1", False), ("TRUE", False), ("0", True), ("", True)])
def test_slider_figure_honours_course_no_widgets(monkeypatch, capsys, value, live):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr("IPython.get_ipython", lambda: _KernelShell())
    monkeypatch.setenv("COURSE_NO_WIDGETS", value)
    drawn = []
    shown = plotting.slider_figure(lambda v: drawn.append(v), "h", [0.1, 0.2], 0.1)
    assert shown is live and plotting.widgets_enabled() is live
    assert drawn[0] == 0.1  # the static figure comes first either way
    plt.close("all")


def test_test_kernels_are_headless():
    """The root conftest.py sets the switch for nbval's and the tests' kernels."""
    assert not plotting.widgets_enabled()


def test_execute_runs_notebooks_headless(tmp_path, monkeypatch):
    """`make solutions` (tools/execute.py) gives its kernel COURSE_NO_WIDGETS=1 itself."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from tools import execute

    monkeypatch.delenv("COURSE_NO_WIDGETS", raising=False)  # as in a plain shell
    path = tmp_path / "slider.ipynb"
    nb = new_notebook(cells=[new_code_cell(
        "import matplotlib\nmatplotlib.use('Agg')\n"
        "from course_utils.plotting import slider_figure\n"
        "print('live:', slider_figure(lambda v: None, 'h', [0.1, 0.2], 0.1))"
    )])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    execute.execute(path, timeout=120)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [o.get("text") for o in outputs] == ["live: False\n"]


def test_depth_snapshots_have_a_class_legend_and_short_titles():
    trajectory = np.random.default_rng(0).standard_normal((5, 12, 2))
    labels = np.arange(12) % 2
    fig, axes = plt.subplots(1, 2)
    legend = plotting.plot_depth_snapshots(axes, trajectory, labels, [0, 4], step_size=0.25)
    assert [text.get_text() for text in legend.get_texts()] == ["class 0", "class 1"]
    assert axes[1].get_title() == "$k = 4$\n$t = kh = 1$"
    plt.close(fig)


def test_gaussianization_panels_explain_the_circles():
    latents = [np.random.default_rng(seed).standard_normal((4000, 2)) for seed in range(2)]
    fig = plotting.gaussianization_panels(latents, steps=[0, 1])
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels == ["$|y| = 1$: 39% of $N(0, I)$", "$|y| = 2$: 86% of $N(0, I)$"]
    shown = fig.axes[1].texts[0].get_text()        # standard normal data: close to 39 / 86
    inside = [int(part.strip(" %")) for part in shown.split(":")[1].split("/")]
    assert abs(inside[0] - 39) <= 3 and abs(inside[1] - 86) <= 3
    plt.close(fig)


def test_density_panels_by_row_never_saturate():
    xx, yy, points, _ = plotting.density_grid((-3, 3), 20)
    peak = lambda width: np.exp(-(points**2).sum(1) / (2 * width**2)) / (2 * np.pi * width**2)
    fig = plotting.density_panels(xx, yy, [peak(1.0), peak(0.5)], ["wide", "sharp"],
                                  num_cols=2, scale="row")
    meshes = [ax.collections[0] for ax in fig.axes[:2]]
    assert all(mesh.norm.vmax >= mesh.get_array().max() for mesh in meshes)
    plt.close(fig)
