"""The repository's promises: one environment, notebook shape, solutions/student twins."""

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools import WEEK_STEMS

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUDENTS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pyproject_names():
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def _requirements():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = req
    return pins


def test_environment_yml_names_the_same_packages_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {canonicalize_name(Requirement(p).name) for p in dep["pip"]}
        else:
            name = re.split(r"[=<>! ]", dep)[0]
            if name not in ("python", "pip"):
                names.add(canonicalize_name(name))
    assert names == _pyproject_names()


def test_requirements_pin_every_package_within_pyproject_bounds():
    pins = _requirements()
    project = _pyproject()["project"]
    loose = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        loose += extra
    assert set(pins) == _pyproject_names()
    for spec in loose:
        req = Requirement(spec)
        pin = pins[canonicalize_name(req.name)]
        (exact,) = pin.specifier
        assert exact.operator == "==", f"{pin} should be an exact pin"
        assert req.specifier.contains(exact.version), f"{pin} violates {spec}"


def test_torch_pinned_for_setup_and_loose_in_metadata():
    assert str(_requirements()["torch"].specifier) == "==2.13.0"
    assert "torch>=2.1" in _pyproject()["project"]["dependencies"]


def test_notebook_names_follow_the_design():
    for path in SOLUTIONS:
        assert path.stem in WEEK_STEMS, f"{path.name} is not one of the course's notebook names"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebook_shape(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    number = path.stem[:2]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {number} ·"), (
        "the first cell is the title, '# NN · Title'"
    )
    setup_cells = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])]
    assert len(setup_cells) == 1, "exactly one cell tagged 'setup'"
    assert nb.cells.index(setup_cells[0]) <= 2, "the setup cell comes right after the intro"
    assert "course_utils.setup(" in setup_cells[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "solutions are committed executed"
    assert any(c.outputs for c in code)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_exercise_has_a_check_after_it(path):
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in nb.cells]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "### BEGIN SOLUTION" not in cell.source:
            continue
        names = set()
        enclosing = None
        for line in cell.source.splitlines():
            top = re.match(r"(?:def|class) (\w+)", line)
            if top:
                enclosing = top.group(1)
            elif "### BEGIN SOLUTION" in line:
                assert enclosing, f"cell {index}: an exercise region outside a function"
                names.add(enclosing)
        later = "\n".join(sources[index:])
        for name in names:
            if name.startswith("_"):
                continue
            assert re.search(rf"checks\.\w+\([^)]*\b{name}\b", later), (
                f"cell {index}: exercise `{name}` has no `checks.<exercise>({name})` cell"
            )


@pytest.mark.parametrize("path", STUDENTS, ids=lambda p: p.name)
def test_student_notebooks_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "BEGIN SOLUTION" not in cell.source


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_notebook_and_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    for path in SOLUTIONS:
        assert f"solutions/{path.name}" in readme
        assert f"notebooks/{path.name}" in readme
