"""Exercise checks, one module per week (``week00``, ``week01``, …).

Use them in a notebook as ``from course_utils import checks`` and then
``checks.<exercise>(your_function)``. The convention (pass line, hint on a wrong
answer, "not attempted yet" on ``NotImplementedError``) is in :mod:`._core`.
Every public check of every ``weekNN`` module is available here by name; the week
modules are imported on first use, so ``import course_utils.checks`` stays cheap.

Inside IPython a failed check shows its one-line hint, not a traceback; ``%tb`` in the
next cell prints the full traceback, and ``COURSE_FULL_TRACEBACKS=1`` in the kernel's
environment turns the short form off (see :func:`._core.install_hint_handler`).
"""

from __future__ import annotations

from .._lazy import lazy_exports
from ._core import CheckFailure, exercise, expect, expect_close, install_hint_handler

__all__ = ["CheckFailure", "exercise", "expect", "expect_close"]

install_hint_handler()

_getattr, __dir__ = lazy_exports(__name__, __path__, prefix="week")


def __getattr__(name: str):
    try:
        return _getattr(name)
    except AttributeError:
        raise AttributeError(
            f"`course_utils.checks` has no check named {name!r}; "
            "did you run the set-up cell, and is the name spelled as in the notebook?"
        ) from None
