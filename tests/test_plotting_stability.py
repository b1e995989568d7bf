"""course_utils.plotting.stability: the week-2 figures draw what they claim to draw.

Truth is independent of the plotting code: the stability polynomial of rk4 written out
(Σ z^k / k!), the roots of ρ(ζ) - zσ(ζ) computed with NumPy, block maxima computed by
hand, and the known step-size limits of rk4 (2.785/|λ|) and AB2 (1/|λ|).
"""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plotting  # noqa: E402
from course_utils.ode import METHODS  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _rk4_stability(z):
    return sum(z**k / math.factorial(k) for k in range(5))


def _contour_vertices(ax):
    """Vertices of the line contours drawn on ``ax`` (not the filled ones)."""
    vertices = []
    for collection in ax.collections:
        if getattr(collection, "filled", True):
            continue
        for path in collection.get_paths():
            if len(path.vertices):
                vertices.append(path.vertices)
    return np.concatenate(vertices) if vertices else np.empty((0, 2))


# ----------------------------------------------------------------------------- panels
def test_stability_panels_draw_one_panel_per_group_with_the_right_boundaries():
    fig, axes = plotting.plot_stability_panels(
        {"RK": (["rk4"], ["classical rk4"]), "BDF": ["bdf2", "bdf3"]},
        windows={"RK": ((-4.0, 1.0), (-3.5, 3.5)), "BDF": ((-4.0, 10.0), (-7.0, 7.0))},
        outline=["BDF"], resolution=150, suptitle="regions",
    )
    assert len(axes) == 2 and fig._suptitle.get_text() == "regions"
    rk, bdf = axes
    assert rk.get_title() == "RK" and rk.get_xlim() == (-4.0, 1.0)
    assert [t.get_text() for t in rk.get_legend().get_texts()] == ["classical rk4"]
    # the boundary line of the shaded rk4 region is the level set |R(z)| = 1
    boundary = _contour_vertices(rk)
    assert len(boundary) > 50
    z = boundary[:, 0] + 1j * boundary[:, 1]
    assert np.allclose(np.abs(_rk4_stability(z)), 1.0, atol=0.05)
    # the outlined BDF curves: for each z on them ρ(ζ) - zσ(ζ) has a root on the unit circle
    assert [t.get_text() for t in bdf.get_legend().get_texts()] == ["bdf2", "bdf3"]
    assert not [c for c in bdf.collections if getattr(c, "filled", False)]  # no shading
    for line, name in zip(bdf.get_lines()[:2], ["bdf2", "bdf3"]):
        rho = np.array([float(a) for a in METHODS[name].alpha])
        sigma = np.array([float(b) for b in METHODS[name].beta])
        for x, y in list(zip(line.get_xdata(), line.get_ydata()))[1:-1:97]:
            roots = np.roots((rho - (x + 1j * y) * sigma)[::-1])
            assert np.min(np.abs(np.abs(roots) - 1.0)) < 1e-8


def test_outline_of_a_one_step_method_uses_its_level_set():
    _, (ax,) = plotting.plot_stability_panels({"rk4 outline": ["rk4"]},
                                              outline=["rk4 outline"], resolution=150)
    z = _contour_vertices(ax) @ np.array([1.0, 1j])
    assert len(z) > 50 and np.allclose(np.abs(_rk4_stability(z)), 1.0, atol=0.05)


def test_stability_panels_reject_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_stability_panels({})
    with pytest.raises(ValueError, match="do not exist"):
        plotting.plot_stability_panels({"A": ["rk4"]}, windows={"B": ((-1, 0), (-1, 1))})
    with pytest.raises(ValueError, match="do not exist"):
        plotting.plot_stability_panels({"A": ["rk4"]}, outline=["B"])


# ----------------------------------------------------------------------------- work–precision
def test_work_precision_draws_sorted_log_log_curves_and_dashes_references():
    results = {"ours": ([400, 100, 200], [1e-6, 1e-2, 1e-4]),
               "scipy RK45": ([120, 240], [1e-2, 1e-4])}
    ax = plotting.plot_work_precision(results, dashed=["scipy RK45"], title="wp")
    ours, scipy_line = ax.get_lines()
    assert ax.get_xscale() == ax.get_yscale() == "log" and ax.get_title() == "wp"
    assert list(ours.get_xdata()) == [100, 200, 400]
    assert list(ours.get_ydata()) == [1e-2, 1e-4, 1e-6]
    assert ours.get_linestyle() == "-" and scipy_line.get_linestyle() == "--"
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None


def test_work_precision_keeps_one_colour_per_solver_across_panels():
    results = {"a": ([1, 2], [1e-2, 1e-3]), "b": ([1, 2], [1e-1, 1e-2])}
    left = plotting.plot_work_precision(results, colors={"b": "#123456"})
    right = plotting.plot_work_precision({"b": results["b"]}, colors={"b": "#123456"})
    assert left.get_lines()[1].get_color() == right.get_lines()[0].get_color() == "#123456"
    assert left.get_lines()[0].get_color() != "#123456"


def test_work_precision_rejects_malformed_results():
    with pytest.raises(ValueError, match="equal length"):
        plotting.plot_work_precision({"a": ([1, 2], [1.0])})
    with pytest.raises(ValueError, match="pair"):
        plotting.plot_work_precision({"a": [1, 2, 3]})


# ----------------------------------------------------------------------------- energy drift
def test_energy_drift_plots_relative_errors_and_block_maxima():
    times = np.arange(10.0)
    energy = 2.0 + np.array([0, 1, -3, 2, 0, 0, 5, -1, 0, 4]) * 1e-3
    ax = plotting.plot_energy_drift(times, {"method": energy, "exact": np.full(10, 2.0)})
    line, exact = ax.get_lines()
    assert np.allclose(line.get_ydata()[1:], np.abs(energy - 2.0)[1:] / 2.0)
    assert np.all(exact.get_ydata() == 1e-16)  # a conserved energy sits on the floor
    ax = plotting.plot_energy_drift(times, {"method": energy}, window=3)
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [2.0, 5.0, 8.0]
    assert np.allclose(line.get_ydata(), np.array([3e-3, 2e-3, 5e-3]) / 2.0)


def test_energy_drift_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_energy_drift(np.arange(3.0), {"a": np.ones(4)})
    with pytest.raises(ValueError, match="window"):
        plotting.plot_energy_drift(np.arange(3.0), {"a": np.ones(3)}, window=0)


# ----------------------------------------------------------------------------- step history
def test_step_history_draws_absolute_step_sizes_and_a_limit():
    ax = plotting.plot_step_history([0.0, 0.1, 0.3], [0.1, -0.2, 0.05], logx=False,
                                    limit=([0.0, 0.3], [1.0, 2.0]), title="steps")
    steps, limit = ax.get_lines()
    assert list(steps.get_ydata()) == [0.1, 0.2, 0.05] and list(limit.get_ydata()) == [1.0, 2.0]
    assert ax.get_yscale() == "log" and ax.get_title() == "steps"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["accepted steps", "stability limit"]
    with pytest.raises(ValueError, match="equal length"):
        plotting.plot_step_history([0.0, 1.0], [0.1])


# ----------------------------------------------------------------------------- interactive figure
@pytest.mark.parametrize("step_size, rk4_stable, ab2_stable", [(0.0008, True, True),
                                                              (0.002, True, False),
                                                              (0.003, False, False)])
def test_stiff_step_figure_shows_the_known_step_size_limits(step_size, rk4_stable, ab2_stable):
    # rk4 is stable for 1000 h <= 2.785, AB2 for 1000 h < 1; BDF2 always
    fig, errors = plotting.stiff_step_figure(step_size, stiffness=1000.0, t1=0.2)
    assert set(errors) == {"rk4", "ab2", "bdf2"}
    assert (errors["rk4"][-1] < 1e-3) == rk4_stable
    assert (errors["ab2"][-1] < 1e-3) == ab2_stable
    assert errors["bdf2"][-1] < 1e-3
    left, right = fig.axes[:2]
    marks = [line for line in left.get_lines() if line.get_marker() == "x"]
    assert len(marks) == 1
    assert np.allclose(sorted(marks[0].get_xdata()), sorted(step_size * np.array([-1.0, -1000.0])))
    assert len(right.get_lines()) >= 3 and right.get_title() and right.get_legend() is not None
    blown = [t.get_text() for t in right.get_legend().get_texts() if "unstable" in t.get_text()]
    assert len(blown) == (not rk4_stable) + (not ab2_stable)


def test_stiff_step_figure_rejects_a_bad_step():
    with pytest.raises(ValueError, match="positive"):
        plotting.stiff_step_figure(0.0)

