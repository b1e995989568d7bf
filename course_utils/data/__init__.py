"""Datasets of the course, generated or shipped with a package — nothing is downloaded.

Submodules: ``toy`` (2-D point clouds: moons, circles, spirals, checkerboard, Gaussian
mixtures), ``digits`` (scikit-learn's 8×8 digits as tensors) and those that later weeks
add. Every public name of every submodule is available here, imported on first use.
"""

from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__)
