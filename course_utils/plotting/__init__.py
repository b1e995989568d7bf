"""Plotting helpers with one consistent look (the style is set by ``course_utils.setup()``).

``base`` holds the shared pieces (colours, figure grids, titles); topic submodules
(``ode``, ``nets``, ``flows``, …) hold the long plotting code that notebooks would
otherwise repeat. Every public name is available here, imported on first use.
"""

from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__)
