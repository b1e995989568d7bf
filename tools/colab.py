"""Write self-contained Colab bundles of every notebook to ``build/colab/``.

A Colab user uploads one notebook file and runs it, with nothing else. Each bundle is a
copy of a course notebook whose set-up cell (the one tagged ``setup``) starts with a
short bootstrap carrying ``course_utils`` itself, as a base64-encoded ``.tar.xz``
archive of the ``course_utils/`` package directory (in lines of 76 characters) with its
SHA-256. The cell's first line is a Colab form title (:data:`FORM_TITLE`) and its
metadata says ``cellView: form``, so Colab shows it collapsed, as one line saying what
it does (double-click it to see the code); elsewhere the title is a comment.

* if ``import course_utils`` already works (a local install, or a second run), the
  bootstrap does nothing but say which copy is used;
* otherwise it decodes the archive, checks its SHA-256, extracts it into
  ``course_utils_bundle/<sha256 prefix>/`` in the kernel's working directory
  (``/content`` on Colab) and puts that directory first on ``sys.path``. Nothing is
  fetched and nothing is pip-installed: ``course_utils`` is pure Python and needs only
  packages Colab already has (numpy, scipy, matplotlib, torch, scikit-learn, tqdm).

Either way it prints one line, ``course_utils: using ...``, naming the copy.

Bundles are deterministic: the archive lists files in sorted order with fixed
timestamps, owners and permissions, so rebuilding from the same sources gives identical
files. (xz, in Python's standard library, compresses the package about 30% better than a
zip, as it compresses across files.)

Output names: ``build/colab/NN_name.ipynb`` for the student notebook and
``build/colab/NN_name_solutions.ipynb`` for the solutions (with their outputs).

Usage::

    python tools/colab.py                 # write build/colab/
    python tools/colab.py --out DIR       # somewhere else
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import io
import lzma
import sys
import tarfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "course_utils"
DEFAULT_OUT = ROOT / "build" / "colab"
#: Folders holding course notebooks, and the suffix their bundles get.
SOURCES = {"notebooks": "", "solutions": "_solutions"}
#: The folder, in the kernel's working directory, that the embedded copy goes to.
BUNDLE_DIR = "course_utils_bundle"
#: Refuse to embed an archive larger than this: the package is meant to be small, pure
#: Python; a data file that slipped in would make every notebook huge.
MAX_ARCHIVE_BYTES = 2_000_000
#: Marker lines framing the bootstrap (used to recognise and to strip it).
BEGIN_MARK = "# >>> course_utils bootstrap for Colab (written by `make colab`; do not edit) >>>"
END_MARK = "# <<< end of the course_utils bootstrap <<<"
_EXCLUDED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".so"}

#: The first line of a bundle's set-up cell: Colab shows the cell as a collapsed form with
#: this title (``#@title``); elsewhere it is a comment.
FORM_TITLE = ('#@title Run this cell first: set up course_utils, imports, seeds and plot '
              'style { display-mode: "form" }')
#: Characters per line of the embedded base64 archive (as in MIME, RFC 2045).
ARCHIVE_LINE_LENGTH = 76

BOOTSTRAP = '''\
{title}
{begin}
# This notebook carries its own copy of `course_utils` (the course's Python package), so it
# runs on Colab with nothing but this file. If `course_utils` is already importable, that
# copy is used; otherwise the archive at the end of this bootstrap is checked, unpacked into
# the working directory and put on sys.path. Nothing is downloaded or pip-installed.
def _course_utils_bootstrap(sha256, version, archive_b64):
    import base64, hashlib, importlib, io, os, shutil, sys, tarfile, tempfile
    try:
        import course_utils
    except ImportError:
        pass
    else:
        print(f"course_utils: using the installed copy "
              f"{{getattr(course_utils, '__version__', '?')}} "
              f"({{os.path.dirname(course_utils.__file__)}})")
        return
    data = base64.b64decode("".join(archive_b64.split()))
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError("the course_utils archive in this notebook is damaged "
                           "(SHA-256 mismatch); download the notebook again")
    root = os.path.abspath(os.path.join({bundle_dir!r}, sha256[:12]))
    if not os.path.isfile(os.path.join(root, "course_utils", "__init__.py")):
        os.makedirs(os.path.dirname(root), exist_ok=True)
        scratch = tempfile.mkdtemp(dir=os.path.dirname(root))
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as archive:
            safe = {{"filter": "data"}} if hasattr(tarfile, "data_filter") else {{}}
            archive.extractall(scratch, **safe)
        try:
            os.replace(scratch, root)
        except OSError:  # another kernel unpacked the same archive first
            shutil.rmtree(scratch, ignore_errors=True)
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    import course_utils
    print(f"course_utils: using the copy embedded in this notebook, version {{version}}, "
          f"sha256 {{sha256[:12]}} ({{os.path.dirname(course_utils.__file__)}})")
_course_utils_bootstrap(
    {sha256!r},
    {version!r},
    """
{archive}
""")
del _course_utils_bootstrap
{end}
'''


def package_files(package: Path = PACKAGE) -> list[Path]:
    """The files of the package directory that go into the archive, in sorted order."""
    files = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if any(part in _EXCLUDED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _EXCLUDED_SUFFIXES:
            files.append(path)
    return files


def package_archive(package: Path = PACKAGE) -> bytes:
    """A deterministic ``.tar.xz`` of ``package`` (paths start with the package's name)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for path in package_files(package):
            content = path.read_bytes()
            info = tarfile.TarInfo((Path(package.name) / path.relative_to(package)).as_posix())
            info.size, info.mtime, info.mode = len(content), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(content))
    data = lzma.compress(buffer.getvalue(), preset=9 | lzma.PRESET_EXTREME)
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ValueError(
            f"the {package.name} archive is {len(data)} bytes (limit {MAX_ARCHIVE_BYTES}); "
            "is a data file or build output inside the package directory?"
        )
    return data


def archive_members(data: bytes) -> dict[str, bytes]:
    """The files of an archive made by :func:`package_archive`, by name."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}


def package_version(package: Path = PACKAGE) -> str:
    for line in (package / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def bootstrap_source(archive: bytes, version: str) -> str:
    """The code that is prepended to a bundle's set-up cell."""
    encoded = base64.b64encode(archive).decode("ascii")
    lines = [encoded[i : i + ARCHIVE_LINE_LENGTH]
             for i in range(0, len(encoded), ARCHIVE_LINE_LENGTH)]
    return BOOTSTRAP.format(
        title=FORM_TITLE,
        begin=BEGIN_MARK,
        end=END_MARK,
        bundle_dir=BUNDLE_DIR,
        archive="\n".join(lines),
        sha256=hashlib.sha256(archive).hexdigest(),
        version=version,
    )


def setup_cell(nb):
    """The notebook's one cell tagged ``setup``."""
    cells = [c for c in nb.cells if "setup" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected exactly one cell tagged 'setup', found {len(cells)}")
    return cells[0]


def make_bundle(nb, bootstrap: str, name: str):
    """Return the Colab bundle of a notebook (a new object)."""
    bundle = copy.deepcopy(nb)
    cell = setup_cell(bundle)
    cell.source = bootstrap + cell.source
    cell.metadata["cellView"] = "form"  # what Colab writes for a collapsed form cell
    bundle.metadata["colab"] = {"name": name, "provenance": []}
    bundle.metadata.pop("widgets", None)
    return bundle


def bundle_name(source_dir: str, notebook: Path) -> str:
    return f"{notebook.stem}{SOURCES[source_dir]}.ipynb"


def notebook_paths(root: Path = ROOT) -> list[tuple[str, Path]]:
    """Every course notebook as ``(folder, path)``: student notebooks, then solutions."""
    return [
        (folder, path)
        for folder in SOURCES
        for path in sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))
    ]


def build(out: Path = DEFAULT_OUT, root: Path = ROOT, quiet: bool = False) -> list[Path]:
    """Write a bundle of every notebook into ``out``; return the paths written."""
    archive = package_archive(root / "course_utils")
    bootstrap = bootstrap_source(archive, package_version(root / "course_utils"))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for folder, path in notebook_paths(root):
        name = bundle_name(folder, path)
        nb = nbformat.read(path, as_version=4)
        text = nbformat.writes(make_bundle(nb, bootstrap, name), version=4) + "\n"
        target = out / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
        if not quiet:
            print(f"wrote {target} ({len(text.encode()) // 1024} KiB)")
    for stale in sorted(set(out.glob("[0-9][0-9]_*.ipynb")) - set(written)):
        stale.unlink()  # the bundle of a notebook that was renamed or removed
        if not quiet:
            print(f"removed {stale}")
    if not quiet:
        print(f"course_utils archive: {len(archive)} bytes, embedded in {len(written)} bundles")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    build(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
