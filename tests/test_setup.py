"""course_utils.setup() and the cheap import."""

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import course_utils
from course_utils import _setup

ROOT = Path(__file__).resolve().parent.parent
#: The most a committed solutions notebook (outputs and figures included) may weigh, so
#: that it opens quickly in JupyterLab, on GitHub and, as a bundle, in Colab. At 120 dpi
#: the largest (week 4) is estimated at 1.5-1.8 MB.
SOLUTIONS_BUDGET_BYTES = 2_500_000


def test_setup_seeds_python_and_numpy():
    course_utils.setup(seed=123)
    first = (random.random(), np.random.rand())
    course_utils.setup(seed=123)
    assert (random.random(), np.random.rand()) == first


def test_setup_seeds_torch_when_imported():
    import torch

    course_utils.setup(seed=7)
    a = torch.rand(3)
    course_utils.setup(seed=7)
    assert torch.equal(a, torch.rand(3))


def test_setup_applies_plot_style():
    import matplotlib as mpl

    course_utils.setup()
    assert mpl.rcParams["axes.grid"] is True
    assert mpl.rcParams["axes.spines.top"] is False


def test_figures_are_sharp_enough_for_multi_panel_layouts():
    import matplotlib as mpl

    course_utils.setup()
    assert mpl.rcParams["figure.dpi"] == mpl.rcParams["savefig.dpi"] == _setup.FIGURE_DPI
    assert _setup.FIGURE_DPI >= 110


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name)
def test_solutions_notebooks_stay_within_the_size_budget(path):
    size = path.stat().st_size
    assert size <= SOLUTIONS_BUDGET_BYTES, (
        f"{path.name} is {size / 1e6:.2f} MB (budget {SOLUTIONS_BUDGET_BYTES / 1e6:.1f} MB): "
        "fewer or smaller figures, or a lower FIGURE_DPI in course_utils/_setup.py"
    )


def test_import_does_not_import_torch():
    code = "import sys, course_utils, course_utils.checks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("value, on", [("1", True), ("yes", True), (" TRUE ", True),
                                       ("on", True), ("0", False), ("", False),
                                       ("no", False), (None, False)])
def test_env_flag(monkeypatch, value, on):
    if value is None:
        monkeypatch.delenv("COURSE_TEST_FLAG", raising=False)
    else:
        monkeypatch.setenv("COURSE_TEST_FLAG", value)
    assert _setup.env_flag("COURSE_TEST_FLAG") is on
