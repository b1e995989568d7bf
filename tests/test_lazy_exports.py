"""The lazily exported subpackages: every exported name exists and is exported once."""

import importlib
import pkgutil
from collections import Counter

import pytest

PACKAGES = ["course_utils.checks", "course_utils.data", "course_utils.models",
            "course_utils.plotting"]


@pytest.mark.parametrize("package_name", PACKAGES)
def test_exported_names_exist_and_are_unique(package_name):
    package = importlib.import_module(package_name)
    prefix = "week" if package_name.endswith("checks") else ""
    names = Counter()
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or not info.name.startswith(prefix):
            continue
        module = importlib.import_module(f"{package_name}.{info.name}")
        exported = getattr(module, "__all__", ())
        for name in exported:
            assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name!r}"
        names.update(exported)
    clashes = sorted(name for name, count in names.items() if count > 1)
    assert not clashes, f"{package_name}: names exported by two submodules: {clashes}"


@pytest.mark.parametrize("package_name", PACKAGES)
def test_unknown_name_is_an_attribute_error(package_name):
    package = importlib.import_module(package_name)
    with pytest.raises(AttributeError):
        package.no_such_name_anywhere  # noqa: B018
