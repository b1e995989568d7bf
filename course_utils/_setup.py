"""Notebook set-up: seeds and one plot style (introduced in ``00_getting_started``)."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

#: The seed every notebook starts from.
DEFAULT_SEED = 0

#: Resolution of every figure. The inline backend renders at ``figure.dpi``; at 80 dpi a
#: 9-point legend was 10 pixels tall and multi-panel figures, shrunk to the page width,
#: were hard to read. 120 dpi is 1.5x sharper and displays a default figure 768 pixels
#: wide. Measured on typical course figures (line, log-log, density, scatter, stability
#: and direction-field plots), a PNG grows by a factor 1.4-1.8 from 80 to 120 dpi; week
#: 0's solutions notebook went from 57 to 90 kB (README, "How a notebook works").
FIGURE_DPI = 120

_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": FIGURE_DPI,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is switched on (``1``, ``true``, ``yes``
    or ``on``, in any case); unset, empty, ``0`` or anything else is off.

    The course's switches: ``COURSE_NO_WIDGETS`` (static figures only, for headless runs;
    :mod:`course_utils.plotting.interactive`) and ``COURSE_FULL_TRACEBACKS`` (IPython's
    usual tracebacks for failed checks; :mod:`course_utils.checks`).
    """
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python's ``random``, NumPy and, if it is already imported, torch."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def setup(seed: int = DEFAULT_SEED, style: bool = True) -> None:
    """Prepare a notebook: seed every random number generator and set the plot style.

    Call it once, in each notebook's set-up cell. It seeds ``random``, NumPy and torch
    (when torch has been imported before the call) and applies the course's matplotlib
    style. In Colab it does nothing more than that.

    Parameters
    ----------
    seed : int
        The seed for every generator.
    style : bool
        Apply the course's matplotlib style (``True``) or leave matplotlib alone.
    """
    seed_everything(seed)
    if style:
        import matplotlib as mpl

        mpl.rcParams.update(_STYLE)
