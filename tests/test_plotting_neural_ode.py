"""Smoke tests of week 6's figures: every panel drawn, labelled, nothing hidden."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from course_utils.plotting import plot_nfe_study  # noqa: E402


def _runs(with_flops=True):
    tolerance_runs = {"tolerances": [1e-1, 1e-2, 1e-3], "nfe": [14, 20, 20],
                      "error": [3e-3, 6e-3, 9e-4], "seconds": [0.01, 0.012, 0.013]}
    if with_flops:
        tolerance_runs["flops"] = [5.4e7, 7.6e7, 7.6e7]
    backward_runs = {"adjoint": ([14, 20], [10, 26]), "adjoint + seminorm": ([14, 20], [10, 26])}
    return tolerance_runs, backward_runs, [14] * 5 + [20] * 5 + [26] * 30


def test_nfe_study_draws_four_labelled_panels_and_the_operation_counts():
    fig = plot_nfe_study(*_runs())
    axes = fig.axes
    assert len(axes) == 5                                   # four panels and (b)'s twin axis
    for ax in axes[:4]:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert axes[4].get_ylabel() == "MFLOP per forward pass"
    labels = [text.get_text() for text in axes[0].texts]
    assert labels == ["1e-01", "1e-02", "1e-03"]
    assert all(text.get_fontsize() >= 9 for text in axes[0].texts)


def test_nfe_study_draws_every_training_step_above_the_window_means():
    fig = plot_nfe_study(*_runs(with_flops=False), window=10)
    panel = fig.axes[3]
    lines = {line.get_label(): line for line in panel.get_lines()}
    every, means = lines["every step"], lines["mean over 10 steps"]
    assert every.get_zorder() > means.get_zorder()
    np.testing.assert_allclose(means.get_ydata(), [17.0, 26.0, 26.0, 26.0])
    assert len(fig.axes) == 4                               # no twin without flops
