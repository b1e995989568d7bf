"""Render the course as a book-like static site in ``build/html/`` (``make html``).

The generator is Sphinx with MyST-NB and sphinx-book-theme (Jupyter Book's engine); its
configuration is ``book/conf.py``. This script only lays out the sources and runs it:

1. **Stage** the pages in a temporary folder:

   * ``index.md`` — the landing page: the README's introduction and its syllabus table
     (weeks, topics, readings), parsed from ``README.md`` so that there is one syllabus,
     with each week's pages and Colab downloads; weeks that have not landed are listed
     without links. Its table of contents orders the book: the landing page, "How a
     notebook works", the seven weeks (worked solutions), then the seven student
     notebooks;
   * ``how-a-notebook-works.md`` — that section of the README;
   * ``solutions/NN_name.ipynb`` and ``notebooks/NN_name.ipynb`` — copies of the
     notebooks with their committed outputs, each with a line of links under its title
     (its twin and both Colab bundles; a student notebook's title says so) and with
     :func:`join_wrapped_math` applied to its markdown cells.

2. **Build** with Sphinx: notebooks are rendered, never executed. Every page gets the
   sidebar (the weeks; the page's sections on the right), previous/next links, and the
   search box (Sphinx's own client-side index, ``searchindex.js``: it works offline and
   on ``file://``). Formulas are typeset by MathJax 3, copied into ``_static/mathjax/``
   from the ``django-static-mathjax`` package: nothing is loaded from a network.

3. **Add** the Colab bundles of ``tools/colab.py`` under ``colab/`` and, when Chromium is
   installed, screenshots of the index and one week under ``screenshots/``.

Why not the hand-written renderer this replaced: a sidebar, previous/next links, a
search index and offline math are what a documentation generator already does well;
this file keeps only what is particular to the course (the README's syllabus, the
twin and Colab links, the formula fix-up).

Usage::

    python tools/site.py                    # build/html/, with screenshots if possible
    python tools/site.py --out DIR --no-screenshots
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import colab  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"  # Sphinx's configuration directory (conf.py, _static/)
DEFAULT_OUT = ROOT / "build" / "html"
COURSE = "Neural ODEs, from Euler to FFJORD"
NOTEBOOK_PATH = re.compile(r"(notebooks|solutions)/(\d\d_\w+)\.ipynb")
FOLDER_LABEL = {"solutions": "worked solutions", "notebooks": "student version"}
#: The README section that becomes a page of its own, and that page's name.
HOW_IT_WORKS = "How a notebook works"
HOW_IT_WORKS_PAGE = "how-a-notebook-works"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@dataclass
class Week:
    """One row of the README's syllabus table."""

    week: str
    topics: str
    readings: str
    stem: str  # e.g. "01_one_step_methods"

    def has(self, folder: str, root: Path = ROOT) -> bool:
        return (root / folder / f"{self.stem}.ipynb").exists()


# ----------------------------------------------------------------------------- README
def readme_sections(text: str) -> dict[str, str]:
    """Split a markdown document at its ``## `` headings; the preamble is under ``""``."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if line.startswith("## ") and not fence:
            current = line[3:].strip()
            sections[current] = []
        else:
            sections[current].append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def parse_syllabus(readme: str) -> list[Week]:
    """The rows of the ``## Syllabus`` table of the README, in order."""
    table = readme_sections(readme).get("Syllabus", "")
    rows = [line for line in table.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise ValueError("README.md has no syllabus table under '## Syllabus'")
    header = [cell.strip().lower() for cell in rows[0].strip("|").split("|")]
    column = {name: header.index(name) for name in ("week", "topics", "readings")}
    weeks = []
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        match = NOTEBOOK_PATH.search(row)
        if not match:
            raise ValueError(f"syllabus row names no notebook: {row}")
        weeks.append(
            Week(
                week=cells[column["week"]],
                topics=cells[column["topics"]],
                readings=cells[column["readings"]],
                stem=match.group(2),
            )
        )
    return weeks


def notebook_title(path: Path) -> str:
    """The notebook's ``# NN · Title`` heading, without the hashes."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def page_path(folder: str, stem: str) -> str:
    """A notebook page's path relative to the site root."""
    return f"{folder}/{stem}.html"


# ----------------------------------------------------------------------------- markdown
#: A line that markdown reads as the start of a new block, cutting a paragraph: a list
#: item (``+``, ``-``, ``*``, ``1.``, ``1)``), a heading or a block quote.
_BLOCK_START = re.compile(r"^[ \t]*(?:[-+*]|\d{1,9}[.)]|#{1,6}|>)(?:[ \t]|$)")
_CODE_SPAN = re.compile(r"(`+).+?\1")
_DOLLARS = re.compile(r"\\\$|\$\$|\$")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")


def join_wrapped_math(markdown: str) -> str:
    """Join a wrapped line back onto the formula it continues.

    A formula ``$…$`` (or ``$$…$$`` inside a paragraph) wrapped so that its next line
    starts with ``+`` (or ``-``, ``1.``, ``#``, ``>``) is cut by markdown: that line
    starts a list item, and both halves show as raw LaTeX. Such a line is appended to
    the one before it, which is what the author meant; lines outside math and inside
    code fences are left alone.

    >>> join_wrapped_math("where $a = b\\n+ c$ holds")
    'where $a = b + c$ holds'
    >>> join_wrapped_math("a list:\\n\\n+ $x$\\n+ $y$")
    'a list:\\n\\n+ $x$\\n+ $y$'
    """
    lines: list[str] = []
    inline = display = False  # inside $…$ / $$…$$ at the end of the previous line
    fence = None
    for line in markdown.split("\n"):
        if fence is not None:
            if line.lstrip().startswith(fence):
                fence = None
            lines.append(line)
            continue
        if match := _FENCE.match(line):
            fence = match.group(1)
            lines.append(line)
            continue
        if not line.strip():
            inline = display = False  # a blank line ends a paragraph, and its math
            lines.append(line)
            continue
        if (inline or display) and lines and _BLOCK_START.match(line):
            lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
        else:
            lines.append(line)
        for token in _DOLLARS.findall(_CODE_SPAN.sub("", line)):
            if token == "$$" and not inline:
                display = not display
            elif token == "$" and not display:
                inline = not inline
    return "\n".join(lines)


def _table_cell(text: str) -> str:
    return text.replace("|", "\\|")


# ----------------------------------------------------------------------------- staging
def _week_links(week: Week, folder: str, root: Path, prefix: str) -> list[str]:
    """Markdown links to a week's twin page and its Colab bundles, from ``prefix``."""
    links = []
    other = "notebooks" if folder == "solutions" else "solutions"
    for target in (folder, other) if prefix == "" else (other,):
        if week.has(target, root):
            links.append(f"[{FOLDER_LABEL[target]}]({prefix}{target}/{week.stem}.ipynb)")
    for target, label in (("notebooks", "Colab: student"), ("solutions", "Colab: solutions")):
        if week.has(target, root):
            bundle = colab.bundle_name(target, root / target / f"{week.stem}.ipynb")
            links.append(f'<a href="{prefix}colab/{bundle}" download>{label} (.ipynb)</a>')
    return links


def index_markdown(weeks: list[Week], readme: str, root: Path = ROOT) -> str:
    """The landing page: introduction, syllabus with links, and the book's contents."""
    intro = re.sub(r"^# .*\n", "", readme_sections(readme)[""]).strip()
    rows = []
    for week in weeks:
        if week.has("solutions", root):
            title = notebook_title(root / "solutions" / f"{week.stem}.ipynb")
            links = _week_links(week, "solutions", root, prefix="")
            pages = f"**{title}**<br>" + " · ".join(links)
        else:
            pages = f"*{week.stem} — not yet available*"
        rows.append(
            f"| {week.week} | {_table_cell(week.topics)} | {_table_cell(week.readings)} | {pages} |"
        )
    landed = [w for w in weeks if w.has("solutions", root)]
    students = [w for w in weeks if w.has("notebooks", root)]
    contents = "\n".join(f"solutions/{w.stem}" for w in landed)
    student_contents = "\n".join(f"notebooks/{w.stem}" for w in students)
    return f"""# {COURSE}

{intro}

## How to follow the course

* **Read**: each week has a page with the worked solutions (every derivation and figure)
  and a page with the student version; the sidebar lists them in order, and the arrows
  at the bottom of each page lead to the previous and next one. Start with
  [](./{HOW_IT_WORKS_PAGE}.md).
* **On Colab**: download a week's Colab notebook below, then in Colab choose
  *File → Upload notebook*. The notebook carries the course's Python package inside its
  set-up cell; nothing else is needed.
* **On your computer**: clone the repository and run `make lab`.

## Syllabus

| Week | Topics | Readings | Pages |
|---|---|---|---|
{chr(10).join(rows)}

```{{toctree}}
:hidden:
:caption: Start here

{HOW_IT_WORKS_PAGE}
```

## Contents

```{{toctree}}
:caption: Weeks (worked solutions)
:maxdepth: 2

{contents}
```

```{{toctree}}
:caption: Student notebooks
:hidden:

{student_contents}
```
"""


def how_it_works_markdown(readme: str) -> str:
    sections = readme_sections(readme)
    if HOW_IT_WORKS not in sections:
        raise ValueError(f"README.md has no '## {HOW_IT_WORKS}' section")
    colab_section = sections.get("Working on Colab", "")
    text = f"# {HOW_IT_WORKS}\n\n{sections[HOW_IT_WORKS]}\n"
    if colab_section:
        text += f"\n## Working on Colab\n\n{colab_section}\n"
    return text


def stage_notebook(path: Path, folder: str, week: Week, root: Path) -> nbformat.NotebookNode:
    """A copy of a notebook for the site: links under its title, formulas joined."""
    nb = nbformat.read(path, as_version=4)
    links = _week_links(week, folder, root, prefix="../")
    banner = (
        f'<div class="course-links">\n\n**This week** ({FOLDER_LABEL[folder]}): '
        + " · ".join(links)
        + "\n\n</div>"
    )
    placed = False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        cell.source = join_wrapped_math(cell.source)
        if not placed:
            head, _, rest = cell.source.partition("\n")
            if head.startswith("# "):
                if folder == "notebooks":  # tell the twins apart in search results
                    head += " (student version)"
                cell.source = f"{head}\n\n{banner}\n\n{rest.lstrip()}"
            else:
                cell.source = f"{banner}\n\n{cell.source}"
            placed = True
    return nb


def stage(src: Path, weeks: list[Week], readme: str, root: Path = ROOT) -> None:
    """Write the Sphinx sources of the site into ``src``."""
    by_stem = {week.stem: week for week in weeks}
    src.mkdir(parents=True, exist_ok=True)
    (src / "index.md").write_text(index_markdown(weeks, readme, root), encoding="utf-8")
    (src / f"{HOW_IT_WORKS_PAGE}.md").write_text(how_it_works_markdown(readme), encoding="utf-8")
    for folder in ("solutions", "notebooks"):
        (src / folder).mkdir(exist_ok=True)
        for path in sorted((root / folder).glob("[0-9][0-9]_*.ipynb")):
            if path.stem not in by_stem:
                raise ValueError(f"{folder}/{path.name} is not in the README's syllabus table")
            nb = stage_notebook(path, folder, by_stem[path.stem], root)
            nbformat.write(nb, src / folder / path.name)


# ----------------------------------------------------------------------------- build
def run_sphinx(src: Path, out: Path, doctrees: Path, quiet: bool = True) -> None:
    """``sphinx-build -b html`` with ``book/`` as the configuration; warnings are errors."""
    from sphinx.cmd.build import build_main

    args = ["-b", "html", "-E", "-q", "-W", "--keep-going", "-c", str(BOOK)]
    args += ["-d", str(doctrees), str(src), str(out)]
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        status = build_main(args)
    if status != 0:
        raise RuntimeError(
            f"Sphinx failed (exit {status}); its warnings are above. Fix the page named in "
            f"the first warning, then run `make html` again.\n{log.getvalue()[-2000:]}"
        )


def site_pages(out: Path) -> list[Path]:
    """The site's HTML pages (not the theme's template fragments under ``_static/``)."""
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.relative_to(out).parts)


def build(out: Path = DEFAULT_OUT, root: Path = ROOT, quiet: bool = False) -> list[Path]:
    """Write the site into ``out`` (replacing what was there); return the pages written."""
    start = time.perf_counter()
    readme = (root / "README.md").read_text(encoding="utf-8")
    weeks = parse_syllabus(readme)
    if out.exists():
        if any(out.iterdir()) and not (out / "index.html").exists():
            raise FileExistsError(f"{out} is not empty and holds no site; not replacing it")
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        src = Path(tmp) / "src"
        stage(src, weeks, readme, root)
        run_sphinx(src, out, Path(tmp) / "doctrees", quiet=quiet)
    # Not for readers: Sphinx's rebuild stamp and the themes' source maps (3.5 MB).
    for leftover in [out / ".buildinfo", *out.glob("_static/**/*.map")]:
        leftover.unlink(missing_ok=True)
    colab.build(out / "colab", root=root, quiet=True)
    pages = site_pages(out)
    if not quiet:
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(
            f"wrote {out} ({len(pages)} pages, {size / 2**20:.1f} MiB) "
            f"in {time.perf_counter() - start:.1f} s"
        )
    return pages


# ----------------------------------------------------------------------------- Chromium
def find_chromium() -> str | None:
    """Debian's ``chromium`` (or ``$CHROMIUM``, or another Chrome on the PATH)."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def render(
    page: str | Path,
    png: Path | None = None,
    chromium: str | None = None,
    timeout: float = 120,
    budget_ms: int = 10000,
) -> str:
    """Open ``page`` (a path, or a ``file://`` URL with a query) in headless Chromium.

    Returns the DOM after the page's scripts ran (``--dump-dom`` with a virtual-time
    budget, so MathJax and the search have finished), and saves a 1280×900 PNG to
    ``png`` when one is given. The network is switched off, as on a train.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("Chromium is not installed (Debian: apt-get install chromium)")
    url = page if isinstance(page, str) else page.resolve().as_uri()
    shot = []
    if png is not None:
        png.parent.mkdir(parents=True, exist_ok=True)
        shot = [f"--screenshot={png}", "--window-size=1280,900"]
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                # Offline: any request that leaves the machine fails at once.
                "--proxy-server=127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>",
                f"--user-data-dir={profile}",
                *shot,
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "HOME": profile},
        )
    if result.returncode != 0 or (png is not None and not png.exists()):
        raise RuntimeError(
            f"chromium failed on {url} (exit {result.returncode}):\n{result.stderr[-2000:]}"
        )
    return result.stdout


def screenshot(page: Path, png: Path, chromium: str | None = None, timeout: float = 120) -> str:
    """Render ``page``, save a 1280×900 PNG and return the DOM (see :func:`render`)."""
    return render(page, png, chromium=chromium, timeout=timeout)


def take_screenshots(out: Path, quiet: bool = False) -> list[Path]:
    """Screenshot the index and the first week's page into ``out/screenshots``."""
    pages = [out / "index.html", *sorted((out / "solutions").glob("*.html"))[1:2]]
    pngs = []
    for page in pages:
        name = page.stem if page.parent == out else f"{page.parent.name}_{page.stem}"
        png = out / "screenshots" / f"{name}.png"
        screenshot(page, png)
        pngs.append(png)
        if not quiet:
            print(f"wrote {png.relative_to(out.parent)}")
    return pngs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--no-screenshots", action="store_true", help="skip Chromium")
    args = parser.parse_args(argv)
    build(args.out)
    if args.no_screenshots:
        return 0
    if find_chromium() is None:
        print("note: Chromium not found, no screenshots (Debian: apt-get install chromium)")
        return 0
    take_screenshots(args.out)
    print(f"open {(args.out / 'index.html').resolve().as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
