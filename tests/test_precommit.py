"""The pre-commit hooks (.pre-commit-config.yaml) agree with the repository's own tooling."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
HOOKS = {hook["id"]: hook for repo in CONFIG["repos"] for hook in repo["hooks"]}
BIN = Path(sys.executable).parent


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = str(req.specifier)
    return pins


def test_the_three_hooks_exist():
    assert {"ruff", "nbstripout", "student-notebooks-regenerated"} <= set(HOOKS)


def test_hook_versions_match_requirements():
    pins = _pins()
    for hook in HOOKS.values():
        for dependency in hook.get("additional_dependencies", []):
            req = Requirement(dependency)
            assert str(req.specifier) == pins[canonicalize_name(req.name)], (
                f"hook {hook['id']}: {dependency} differs from requirements.txt"
            )


def test_nbstripout_touches_notebooks_only():
    files = re.compile(HOOKS["nbstripout"]["files"])
    assert files.search("notebooks/01_one_step_methods.ipynb")
    assert not files.search("solutions/01_one_step_methods.ipynb")
    assert not files.search("tools/make_student.py")


def test_nbstripout_hook_leaves_generated_notebooks_unchanged(tmp_path):
    """The nbstripout hook and `make student` must never fight over a file."""
    entry = shlex.split(HOOKS["nbstripout"]["entry"])
    executable = BIN / entry[0]
    assert executable.exists(), "nbstripout is installed by `make setup` (requirements.txt)"
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    copies = []
    for path in notebooks:
        shutil.copy(path, tmp_path / path.name)
        copies.append(tmp_path / path.name)
    subprocess.run([str(executable), *entry[1:], *map(str, copies)], check=True, timeout=120)
    for path, copy in zip(notebooks, copies):
        assert copy.read_bytes() == path.read_bytes(), f"nbstripout rewrites {path.name}"


def test_student_hook_runs_the_sync_check():
    hook = HOOKS["student-notebooks-regenerated"]
    assert hook["entry"] == "python tools/make_student.py --check"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in ("solutions/00_getting_started.ipynb", "notebooks/00_getting_started.ipynb"):
        assert files.search(path)
