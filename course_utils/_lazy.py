"""Lazy re-export of the public names of a package's submodules.

``checks``, ``data``, ``models`` and ``plotting`` are packages with one submodule per
topic (or week). Their ``__init__`` calls :func:`lazy_exports`, so that
``course_utils.models.PlanarFlow`` works without the package importing every submodule
(and torch) up front: the submodule is imported on first access.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable


def lazy_exports(package: str, path, prefix: str = "") -> tuple[Callable, Callable]:
    """Return ``(__getattr__, __dir__)`` for a package exporting its submodules' ``__all__``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    path : list of str
        The package's ``__path__``.
    prefix : str
        Only submodules whose name starts with this are searched (e.g. ``"week"``).
    """

    def submodules() -> list[str]:
        return sorted(
            info.name
            for info in pkgutil.iter_modules(path)
            if info.name.startswith(prefix) and not info.name.startswith("_")
        )

    def getattr_(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        for module_name in submodules():
            module = importlib.import_module(f"{package}.{module_name}")
            if name in getattr(module, "__all__", ()):
                return getattr(module, name)
        raise AttributeError(f"module `{package}` has no attribute {name!r}")

    def dir_() -> list[str]:
        names = set(submodules())
        for module_name in submodules():
            module = importlib.import_module(f"{package}.{module_name}")
            names.update(getattr(module, "__all__", ()))
        return sorted(names)

    return getattr_, dir_
