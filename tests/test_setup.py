"""course_utils.setup() and the cheap import."""

import random
import subprocess
import sys

import numpy as np

import course_utils


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


def test_import_does_not_import_torch():
    code = "import sys, course_utils, course_utils.checks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
