"""Exercise checks, one module per week (``week00``, ``week01``, …).

Use them in a notebook as ``from course_utils import checks`` and then
``checks.<exercise>(your_function)``. The convention (pass line, hint on a wrong
answer, "not attempted yet" on ``NotImplementedError``) is in :mod:`._core`.
Every public check of every ``weekNN`` module is available here by name; the week
modules are imported on first use, so ``import course_utils.checks`` stays cheap.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._core import CheckFailure, exercise, expect, expect_close

__all__ = ["CheckFailure", "exercise", "expect", "expect_close", "week_modules"]


def week_modules() -> list[str]:
    """Names of the per-week check modules, in order."""
    return sorted(
        info.name for info in pkgutil.iter_modules(__path__) if info.name.startswith("week")
    )


def __getattr__(name: str):
    if name.startswith("_"):
        raise AttributeError(name)
    for module_name in week_modules():
        module = importlib.import_module(f"{__name__}.{module_name}")
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(
        f"`course_utils.checks` has no check named {name!r}; "
        "did you run the set-up cell, and is the name spelled as in the notebook?"
    )


def __dir__() -> list[str]:
    names = set(__all__)
    for module_name in week_modules():
        module = importlib.import_module(f"{__name__}.{module_name}")
        names.update(getattr(module, "__all__", ()))
    return sorted(names)
