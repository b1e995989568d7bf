"""course_utils: the shared package of the course *Neural ODEs, from Euler to FFJORD*.

Every notebook imports it. ``import course_utils`` is cheap and never imports torch;
the torch-based modules (``models``, ``adjoint``, ``training``) import it themselves.
"""

from ._setup import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
