"""course_utils.plotting.ode: what each figure draws, checked against the data it was given."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plotting  # noqa: E402
from course_utils.problems import get_problem  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _quiver(ax):
    return next(c for c in ax.collections if isinstance(c, matplotlib.quiver.Quiver))


@pytest.mark.parametrize("vectorised", [True, False])
def test_direction_field_segments_have_the_slope_of_f(vectorised):
    def slope(t, y):
        if not vectorised and np.ndim(t) > 0:
            raise TypeError("scalars only")
        return t - y**2

    ax = plotting.direction_field(slope, (0.0, 2.0), (-1.0, 1.0), num_arrows=(5, 4))
    quiver = _quiver(ax)
    t, y = quiver.X, quiver.Y
    assert t.size == 20
    np.testing.assert_allclose(quiver.V / quiver.U, t - y**2, rtol=1e-12)
    # Every segment has the same length measured in grid cells.
    cells = np.hypot(quiver.U / 0.5, quiver.V / (2.0 / 3.0))
    np.testing.assert_allclose(cells, 0.7, rtol=1e-12)
    assert ax.get_xlim() == (0.0, 2.0) and ax.get_title() == "Direction field"


def test_direction_field_accepts_array_states_and_skips_infinite_slopes():
    ax = plotting.direction_field(lambda t, y: 1.0 / y, (0, 1), (-1, 1), num_arrows=(3, 3))
    assert _quiver(ax).X.size == 6  # the row y = 0 has no finite slope
    with pytest.raises(ValueError, match="low < high"):
        plotting.direction_field(lambda t, y: y, (1, 0), (0, 1))
    with pytest.raises(ValueError, match="phase_portrait"):
        plotting.direction_field(lambda t, y: np.array([float(t), 1.0]), (0, 1), (0, 1))


@pytest.mark.parametrize("batched", [True, False])
def test_phase_portrait_arrows_point_along_the_field(batched):
    problem = get_problem("lotka_volterra")

    def field(t, y):
        if not batched and np.ndim(y) > 1:
            raise ValueError("one point at a time")
        return problem.func(t, y)

    ax = plotting.phase_portrait(field, (0.5, 10.0), (0.5, 8.0), num_arrows=6)
    quiver = _quiver(ax)
    points = np.stack([quiver.X, quiver.Y], axis=1)
    expected = problem.func(0.0, points)
    cosine = (quiver.U * expected[:, 0] + quiver.V * expected[:, 1]) / (
        np.hypot(quiver.U, quiver.V) * np.hypot(expected[:, 0], expected[:, 1]))
    np.testing.assert_allclose(cosine, 1.0, atol=1e-12)


def test_plot_solutions_draws_exact_and_numerical_curves():
    problem = get_problem("harmonic_oscillator")
    times = np.linspace(0, 10, 21)
    ys = problem.exact(times) + 0.01
    ax = plotting.plot_solutions({"shifted": (times, ys)}, exact=problem.solution, component=1)
    exact_line, numeric_line = ax.get_lines()
    np.testing.assert_allclose(numeric_line.get_ydata(), ys[:, 1])
    np.testing.assert_allclose(exact_line.get_ydata(), problem.exact(exact_line.get_xdata())[:, 1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["exact", "shifted"]
    with pytest.raises(ValueError, match="pair"):
        plotting.plot_solutions({"bad": ys})
    with pytest.raises(ValueError, match="match"):
        plotting.plot_solutions({"bad": (times[:-1], ys)})


def test_plot_phase_uses_the_chosen_components():
    ys = np.random.default_rng(0).standard_normal((30, 3))
    ax = plotting.plot_phase({"a": ys, "b": (np.arange(30), ys[::-1])}, components=(2, 0))
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), ys[:, 2])
    np.testing.assert_array_equal(line.get_ydata(), ys[:, 0])
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_phase({"flat": ys[:, 0]})


def test_reference_slope_has_the_requested_slope_through_the_anchor():
    _, ax = plt.subplots()
    line = plotting.add_reference_slope(ax, [0.1, 0.01, 0.001], 3, (0.1, 2e-3))
    h, e = line.get_xdata(), line.get_ydata()
    slope = np.diff(np.log(e)) / np.diff(np.log(h))
    np.testing.assert_allclose(slope, 3.0)
    assert e[np.argmax(h)] == pytest.approx(2e-3)
    assert line.get_label() == r"$\mathcal{O}(h^{3})$"
    with pytest.raises(ValueError, match="positive"):
        plotting.add_reference_slope(ax, [0.1], 1, (0.1, 0.0))


def test_convergence_plot_reports_fitted_slopes_and_draws_references():
    h = 0.5 ** np.arange(1, 7)
    errors = {"first": 0.3 * h, "second": (h, 2.0 * h**2), "exact": np.zeros_like(h)}
    ax = plotting.convergence_plot(h, errors, reference_orders=[1, 2])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "first (slope 1.00)" in labels and "second (slope 2.00)" in labels
    assert "exact" in labels  # drawn (empty: zero errors have no place on a log scale)
    assert r"$\mathcal{O}(h^{2})$" in labels
    reference = next(ln for ln in ax.get_lines() if ln.get_label() == r"$\mathcal{O}(h^{2})$")
    # anchored just below the second-order series at its largest step size
    assert reference.get_ydata()[np.argmax(reference.get_xdata())] == pytest.approx(
        0.5 * 2.0 * h[0] ** 2)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="no step sizes"):
        plotting.convergence_plot(None, {"a": h})
    with pytest.raises(ValueError, match="equal length"):
        plotting.convergence_plot(h[:-1], {"a": h})


def test_plot_error_and_bound_draws_both_on_a_log_scale():
    t = np.linspace(0, 1, 11)
    error = np.r_[0.0, np.full(10, 1e-3)]
    ax = plotting.plot_error_and_bound(t, -error, np.exp(t) * 1e-2, label="h = 0.1")
    measured, bound = ax.get_lines()
    assert measured.get_xdata().size == 10  # the zero error at t0 is left out
    np.testing.assert_allclose(measured.get_ydata(), 1e-3)  # absolute values
    assert bound.get_linestyle() == "--" and bound.get_color() == measured.get_color()
    assert ax.get_yscale() == "log"
    ax = plotting.plot_error_and_bound(t, error, error + 1.0, ax=ax)
    assert ax.get_lines()[2].get_color() != measured.get_color()
    with pytest.raises(ValueError, match="one shape"):
        plotting.plot_error_and_bound(t, error[:-1], error)


def test_convergence_plot_can_put_its_legend_beside_the_axes():
    h = 0.5 ** np.arange(1, 5)
    fig, (left, right) = plt.subplots(1, 2)
    plotting.convergence_plot(h, {"a": h}, ax=left, legend_outside=True)
    plotting.convergence_plot(h, {"a": h}, ax=right)
    fig.canvas.draw()
    assert left.get_legend().get_window_extent().x0 >= left.get_window_extent().x1
    assert right.get_window_extent().contains(*right.get_legend().get_window_extent().p0)


def test_convergence_plot_labels_a_short_sweep_with_its_step_sizes():
    h = np.array([0.2, 0.1, 0.05])
    ax = plotting.convergence_plot(h, {"a": h})
    np.testing.assert_allclose(sorted(ax.get_xticks()), sorted(h))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.05", "0.1", "0.2"]
