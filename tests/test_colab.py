"""Colab bundles (tools/colab.py): self-contained notebooks that carry ``course_utils``.

The end-to-end test runs a bundle as a Colab user would: the notebook file alone, in an
empty directory, in a kernel that has numpy, scipy, matplotlib and torch but cannot import
the repository's ``course_utils``.
"""

import base64
import hashlib
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from tools import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = colab.notebook_paths()
ARCHIVE_LITERAL = re.compile(r'^    """\n([A-Za-z0-9+/=\n]+)\n"""\)$', re.MULTILINE)
SHA_LITERAL = re.compile(r"^    '([0-9a-f]{64})',$", re.MULTILINE)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    out = tmp_path_factory.mktemp("colab")
    return {path.name: path for path in colab.build(out, quiet=True)}


def _embedded(bundle_path: Path) -> tuple[bytes, str, str]:
    nb = nbformat.read(bundle_path, as_version=4)
    source = colab.setup_cell(nb).source
    (archive,) = ARCHIVE_LITERAL.findall(source)
    (sha,) = SHA_LITERAL.findall(source)
    return base64.b64decode("".join(archive.split())), sha, source


def test_every_notebook_has_a_bundle(bundles):
    expected = {colab.bundle_name(folder, path) for folder, path in NOTEBOOKS}
    assert set(bundles) == expected
    for folder in ("notebooks", "solutions"):
        for path in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"):
            assert colab.bundle_name(folder, path) in bundles, path


@pytest.mark.parametrize("folder, path", NOTEBOOKS, ids=lambda x: getattr(x, "name", x))
def test_bundle_is_the_notebook_plus_a_bootstrap(bundles, folder, path):
    original = nbformat.read(path, as_version=4)
    bundle = nbformat.read(bundles[colab.bundle_name(folder, path)], as_version=4)
    nbformat.validate(bundle)
    assert len(bundle.cells) == len(original.cells)
    for before, after in zip(original.cells, bundle.cells):
        assert before.get("id") == after.get("id")
        if "setup" in before.metadata.get("tags", []):
            head, sep, tail = after.source.partition(colab.END_MARK + "\n")
            assert sep and head.startswith(colab.FORM_TITLE + "\n" + colab.BEGIN_MARK)
            assert tail == before.source, "the set-up cell's own code follows the bootstrap"
            assert after.metadata == {**before.metadata, "cellView": "form"}
        else:
            assert after == before
    _, _, source = _embedded(bundles[colab.bundle_name(folder, path)])
    bootstrap = source[: source.index(colab.END_MARK)]
    for forbidden in ("pip install", "-m pip", "http", "urllib", "requests", "subprocess",
                      "os.system", "socket"):
        assert forbidden not in bootstrap, (
            f"the bootstrap must not fetch or install anything ({forbidden!r})"
        )
    assert not re.search(r"^\s*[!%]", bootstrap, re.MULTILINE), "no shell or magic lines"


def test_setup_cell_is_a_collapsed_form_with_short_lines(bundles):
    """Colab shows the set-up cell as one line of intent; its code has no giant line."""
    nb = nbformat.read(bundles["00_getting_started.ipynb"], as_version=4)
    cell = colab.setup_cell(nb)
    first, *rest = cell.source.splitlines()
    assert re.fullmatch(r'#@title [^{}]+ \{ display-mode: "form" \}', first), first
    assert cell.metadata["cellView"] == "form"
    longest = max(len(line) for line in rest)
    assert longest <= 100, f"a line of {longest} characters in the set-up cell"
    assert cell.source.count("\n") > 1000  # the archive, 76 characters a line


def test_embedded_archive_is_the_package_with_its_checksum(bundles):
    archive, sha, _ = _embedded(bundles["00_getting_started.ipynb"])
    assert hashlib.sha256(archive).hexdigest() == sha
    assert len(archive) < colab.MAX_ARCHIVE_BYTES
    members = colab.archive_members(archive)
    names = list(members)
    assert "course_utils/__init__.py" in names
    assert all(n.startswith("course_utils/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    expected = {
        "course_utils/" + p.relative_to(ROOT / "course_utils").as_posix()
        for p in colab.package_files()
    }
    assert set(names) == expected
    init = members["course_utils/__init__.py"]
    assert init == (ROOT / "course_utils" / "__init__.py").read_bytes()


def test_bundles_are_deterministic(bundles, tmp_path):
    again = colab.build(tmp_path, quiet=True)
    for path in again:
        assert path.read_bytes() == bundles[path.name].read_bytes(), path.name


def _isolated_python(tmp_path: Path) -> Path:
    """A Python that sees every package of this environment except ``course_utils``.

    Why a new venv: the repository's package reaches this environment through pip's
    editable install, a ``__editable__...pth`` file in site-packages that installs an
    import finder when ``site`` processes it (and any working directory holding
    ``course_utils/`` would do as well). A fresh ``venv --without-pip`` of the same base
    interpreter, whose own site-packages holds one ``.pth`` *naming* this environment's
    site-packages, gets numpy, torch, ipykernel, ... on ``sys.path`` — but ``site`` does
    not process ``.pth`` files inside a directory added that way, so the editable finder
    is never installed. That is the situation on Colab: the scientific stack is there,
    ``course_utils`` is not. The test asserts it instead of trusting it.
    """
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(own) / "course_env.pth").write_text("\n".join(paths) + "\n")
    return python


def _kernel_manager(python: Path, tmp_path: Path) -> KernelManager:
    kernels = tmp_path / "kernels"
    spec = kernels / "colab-like"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab-like (no course_utils)",
                "language": "python",
                # PYTHONPATH could name the repository; user site-packages could hold a copy.
                # No widget front end here; and the one-line hints are what is tested.
                "env": {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1", "COURSE_NO_WIDGETS": "1",
                        "COURSE_FULL_TRACEBACKS": ""},
            }
        )
    )
    ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
    return KernelManager(kernel_name="colab-like", kernel_spec_manager=ksm)


PROBE_BEFORE = (
    "import importlib.util, sys\n"
    "assert importlib.util.find_spec('course_utils') is None, 'course_utils is importable'\n"
    "print('PROBE-BEFORE: course_utils not importable')"
)
PROBE_AFTER = (
    "import course_utils, json\n"
    "print('PROBE-AFTER', json.dumps({'file': course_utils.__file__,\n"
    "      'version': course_utils.__version__}))"
)


WRONG_ANSWER = (
    "def decay_solution(t, y0, lam):\n"
    "    return y0 * np.exp(-lam * np.asarray(t))\n"
    "checks.decay_solution(decay_solution)"
)


def _stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_bundle_runs_where_the_package_is_not_importable(bundles, tmp_path):
    python = _isolated_python(tmp_path)
    workdir = tmp_path / "content"  # what Colab calls /content: the bundle and nothing else
    workdir.mkdir()
    name = "00_getting_started.ipynb"
    (workdir / name).write_bytes(bundles[name].read_bytes())

    nb = nbformat.read(workdir / name, as_version=4)
    nb.cells.insert(0, new_code_cell(PROBE_BEFORE))
    nb.cells.append(new_code_cell(PROBE_AFTER))
    nb.cells.append(new_code_cell(WRONG_ANSWER, metadata={"tags": ["raises-exception"]}))
    client = NotebookClient(
        nb,
        km=_kernel_manager(python, tmp_path),
        timeout=300,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # the whole student notebook, top to bottom

    assert "PROBE-BEFORE" in _stream_text(nb.cells[0])
    setup_output = _stream_text(colab.setup_cell(nb))
    assert setup_output.startswith("course_utils: using the copy embedded in this notebook")
    assert setup_output.count("\n") == 1, "the bootstrap prints exactly one line"
    (line,) = [ln for ln in _stream_text(nb.cells[-2]).splitlines() if "PROBE-AFTER" in ln]
    used = json.loads(line.split(" ", 1)[1])
    bundle_dir = (workdir / colab.BUNDLE_DIR).resolve()
    assert Path(used["file"]).resolve().is_relative_to(bundle_dir), used
    assert not Path(used["file"]).resolve().is_relative_to(ROOT)
    assert used["version"] == colab.package_version()
    # What was extracted is the embedded archive, byte for byte.
    extracted = Path(used["file"]).parent.parent
    archive, _, _ = _embedded(bundles[name])
    for member, content in colab.archive_members(archive).items():
        assert (extracted / member).read_bytes() == content, member
    # A wrong answer fails the cell with one line (the hint), not a traceback.
    (error,) = nb.cells[-1].outputs
    assert error.output_type == "error" and error.ename == "CheckFailure"
    assert "sign in the exponent" in error.evalue
    (shown,) = error.traceback
    assert "❌ decay_solution: Your function satisfies y' = -lam*y" in shown and "%tb" in shown


def test_bootstrap_prefers_an_importable_course_utils(bundles, tmp_path):
    """Where the package is installed (here: this environment), nothing is unpacked."""
    nb = nbformat.read(bundles["00_getting_started.ipynb"], as_version=4)
    source = colab.setup_cell(nb).source
    bootstrap = source[: source.index(colab.END_MARK)]
    script = tmp_path.parent / f"{tmp_path.name}_bootstrap.py"
    script.write_text(bootstrap)  # a file: the archive outgrows one command-line argument
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )
    assert result.stdout.startswith("course_utils: using the installed copy 0")
    assert str(ROOT / "course_utils") in result.stdout
    assert not (tmp_path / colab.BUNDLE_DIR).exists()


def test_damaged_archive_is_refused(bundles, tmp_path):
    nb = nbformat.read(bundles["00_getting_started.ipynb"], as_version=4)
    source = colab.setup_cell(nb).source
    bootstrap = source[: source.index(colab.END_MARK)]
    _, sha, _ = _embedded(bundles["00_getting_started.ipynb"])
    damaged = bootstrap.replace(sha, "0" * 64)
    # Hide the installed package exactly as above, but cheaply: no meta-path finders
    # other than the standard ones, and no repository on sys.path.
    hide = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "sys.path[:] = [p for p in sys.path if p not in ('', " + repr(str(ROOT)) + ")]\n"
    )
    script = tmp_path.parent / f"{tmp_path.name}_damaged.py"
    script.write_text(hide + damaged)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "SHA-256 mismatch" in result.stderr
    assert not (tmp_path / colab.BUNDLE_DIR).exists()


IMPORT_EVERY_MODULE = (
    "import importlib, pkgutil, course_utils\n"
    "names = [m.name for m in pkgutil.walk_packages(course_utils.__path__, 'course_utils.')]\n"
    "for name in names:\n"
    "    importlib.import_module(name)\n"
    "print('IMPORTED', len(names), course_utils.__file__)"
)


@pytest.mark.parametrize(
    "name", [path.name for folder, path in NOTEBOOKS if folder == "notebooks"]
)
def test_every_bundle_setup_cell_works_alone(bundles, tmp_path, name):
    """Each week's set-up cell, run where only the bundle exists, imports all it needs.

    The whole-notebook run above covers week 0; this runs every other week's set-up cell
    (its imports: torch, the models, the plotting modules…) in the same Colab-like kernel,
    then imports every module of the embedded package, so a file missing from the archive
    or an import that only works from the repository fails here.
    """
    python = _isolated_python(tmp_path)
    workdir = tmp_path / "content"
    workdir.mkdir()
    (workdir / name).write_bytes(bundles[name].read_bytes())
    nb = nbformat.read(workdir / name, as_version=4)
    nb.cells = [colab.setup_cell(nb), new_code_cell(IMPORT_EVERY_MODULE)]
    client = NotebookClient(
        nb, km=_kernel_manager(python, tmp_path), timeout=300,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    assert _stream_text(nb.cells[0]).startswith(
        "course_utils: using the copy embedded in this notebook"
    )
    (line,) = [ln for ln in _stream_text(nb.cells[1]).splitlines() if ln.startswith("IMPORTED")]
    assert int(line.split()[1]) > 20
    assert Path(line.split()[2]).resolve().is_relative_to((workdir / colab.BUNDLE_DIR).resolve())
