"""Neural network models of weeks 3–6 (residual nets, flows, ODE blocks, CNFs, latent ODEs).

One submodule per family; every public name is available here and its submodule (and
torch) is imported on first use, so ``import course_utils.models`` is cheap.
"""

from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__)
