"""Notebook set-up: seeds and one plot style (introduced in ``00_getting_started``)."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

#: The seed every notebook starts from.
DEFAULT_SEED = 0

_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
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
