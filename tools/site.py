"""Render the course as a static site in ``build/html/``.

The site is what a reader without Python sees:

* ``index.html`` — the course's introduction and its syllabus table (weeks, topics,
  readings), parsed from ``README.md`` so that there is one syllabus; each week that has
  landed links to its pages and to its Colab bundles, weeks that have not are listed
  without links;
* ``solutions/NN_name.html`` — each solutions notebook with its committed outputs;
* ``notebooks/NN_name.html`` — each student notebook (exercises as stubs);
* ``colab/*.ipynb`` — the Colab bundles of ``tools/colab.py``, to download and upload;
* ``screenshots/*.png`` — the index and one notebook page as headless Chromium renders
  them, when Chromium is installed (``make html`` prints a note otherwise).

Notebook pages use nbconvert's ``lab`` template. Math is typeset by MathJax, which the
pages load from a CDN (cdnjs.cloudflare.com): online, formulas render; offline, the
LaTeX source shows. The index itself needs nothing from the network.

Usage::

    python tools/site.py                    # build/html/, with screenshots if possible
    python tools/site.py --out DIR --no-screenshots
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mistune
import nbformat
from nbconvert import HTMLExporter

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import colab  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "html"
COURSE = "Neural ODEs, from Euler to FFJORD"
NOTEBOOK_PATH = re.compile(r"(notebooks|solutions)/(\d\d_\w+)\.ipynb")
FOLDER_LABEL = {"solutions": "solutions", "notebooks": "student version"}
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
    for line in text.splitlines():
        if line.startswith("## "):
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


def inline_markdown(text: str) -> str:
    """Markdown of one table cell as inline HTML (no surrounding paragraph)."""
    rendered = mistune.html(text).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", rendered, flags=re.DOTALL)


def notebook_title(path: Path) -> str:
    """The notebook's ``# NN · Title`` heading, without the hashes."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


# ----------------------------------------------------------------------------- pages
INDEX_CSS = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       max-width: 75rem; margin: 2rem auto; padding: 0 1.5rem; color: #1b1f24; }
h1 { font-size: 2rem; margin-bottom: .2rem; } h1 + p.sub { margin-top: 0; color: #57606a; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: .5rem .6rem; vertical-align: top;
         text-align: left; }
th { background: #f6f8fa; }
td.week { font-weight: 600; text-align: center; }
td.links a { display: inline-block; margin: 0 .4rem .2rem 0; }
td.pending { color: #57606a; font-style: italic; }
code { background: #f6f8fa; padding: 0 .25rem; border-radius: 3px; }
footer { margin-top: 3rem; color: #57606a; font-size: .9rem; }
"""

NAV_CSS = (
    "<style>.course-nav{font:15px/1.4 system-ui,sans-serif;padding:.6rem 1rem;"
    "background:#f6f8fa;border-bottom:1px solid #d0d7de}"
    ".course-nav a{margin-right:1.2rem;color:#0969da;text-decoration:none}"
    "</style>"
)


def page_path(folder: str, stem: str) -> str:
    """A notebook page's path relative to the site root."""
    return f"{folder}/{stem}.html"


def render_index(weeks: list[Week], readme: str, root: Path = ROOT) -> str:
    sections = readme_sections(readme)
    intro = re.sub(r"^# .*\n", "", sections[""]).strip()
    rows = []
    for week in weeks:
        links = []
        if week.has("solutions", root):
            title = html.escape(notebook_title(root / "solutions" / f"{week.stem}.ipynb"))
        else:
            title = html.escape(week.stem)
        for folder, label in (("notebooks", "student notebook"), ("solutions", "solutions")):
            if week.has(folder, root):
                links.append(f'<a href="{page_path(folder, week.stem)}">{label}</a>')
        for folder, label in (("notebooks", "Colab: student"), ("solutions", "Colab: solutions")):
            if week.has(folder, root):
                bundle = colab.bundle_name(folder, root / folder / f"{week.stem}.ipynb")
                links.append(f'<a href="colab/{bundle}" download>{label} (.ipynb)</a>')
        cell = (
            f'<td class="links"><strong>{title}</strong><br>' + " ".join(links) + "</td>"
            if links
            else f'<td class="pending">{title} — not yet available</td>'
        )
        rows.append(
            "<tr>"
            f'<td class="week">{html.escape(week.week)}</td>'
            f"<td>{inline_markdown(week.topics)}</td>"
            f"<td>{inline_markdown(week.readings)}</td>"
            f"{cell}</tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(COURSE)} — course site</title>
<style>{INDEX_CSS}</style>
</head>
<body>
<header>
<h1>{html.escape(COURSE)}</h1>
<p class="sub">A six-week course from Euler's method to continuous normalising flows.</p>
</header>
<main>
{mistune.html(intro)}
<h2>How to follow the course</h2>
<ul>
<li><strong>Read</strong>: each week has a page with the worked solutions (every derivation
and figure) and a page with the student version.</li>
<li><strong>On Colab</strong>: download a week's Colab notebook below, then in
<a href="https://colab.research.google.com">Colab</a> choose <em>File → Upload notebook</em>.
The notebook carries the course's Python package inside its set-up cell; nothing else is
needed.</li>
<li><strong>On your computer</strong>: clone the repository and run <code>make lab</code>.</li>
</ul>
<h2>Syllabus</h2>
<table>
<thead><tr><th>Week</th><th>Topics</th><th>Readings</th><th>Notebooks</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</main>
<footer>Built from the repository by <code>make html</code>. Formulas on the notebook pages
are typeset by MathJax, loaded from a CDN.</footer>
</body>
</html>
"""


def render_notebook(path: Path, folder: str, bundle: str | None) -> str:
    """One notebook as a page (nbconvert ``lab`` template) with a navigation bar."""
    nb = nbformat.read(path, as_version=4)
    title = f"{notebook_title(path)} — {FOLDER_LABEL[folder]} · {COURSE}"
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    other = "notebooks" if folder == "solutions" else "solutions"
    links = ['<a href="../index.html">← Course index</a>']
    if (path.parent.parent / other / path.name).exists():
        links.append(f'<a href="../{page_path(other, path.stem)}">{FOLDER_LABEL[other]}</a>')
    if bundle:
        links.append(f'<a href="../colab/{bundle}" download>Colab notebook (.ipynb)</a>')
    nav = f'{NAV_CSS}<nav class="course-nav">{" ".join(links)}</nav>'
    body, count = re.subn(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + nav, body, count=1)
    if count != 1:
        raise ValueError(f"{path}: no <body> in nbconvert's output")
    return body


def build(out: Path = DEFAULT_OUT, root: Path = ROOT, quiet: bool = False) -> list[Path]:
    """Write the site into ``out`` (replacing what was there); return the pages written."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    weeks = parse_syllabus(readme)
    listed = {week.stem for week in weeks}
    if out.exists():
        if any(out.iterdir()) and not (out / "index.html").exists():
            raise FileExistsError(f"{out} is not empty and holds no site; not replacing it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    bundles = {p.name for p in colab.build(out / "colab", root=root, quiet=True)}
    pages = []
    for folder in ("solutions", "notebooks"):
        for path in sorted((root / folder).glob("[0-9][0-9]_*.ipynb")):
            if path.stem not in listed:
                raise ValueError(f"{folder}/{path.name} is not in the README's syllabus table")
            bundle = colab.bundle_name(folder, path)
            target = out / page_path(folder, path.stem)
            target.parent.mkdir(exist_ok=True)
            target.write_text(
                render_notebook(path, folder, bundle if bundle in bundles else None),
                encoding="utf-8",
            )
            pages.append(target)
            if not quiet:
                print(f"wrote {target.relative_to(out.parent)}")
    index = out / "index.html"
    index.write_text(render_index(weeks, readme, root), encoding="utf-8")
    pages.insert(0, index)
    if not quiet:
        print(f"wrote {index.relative_to(out.parent)} ({len(pages)} pages in all)")
    return pages


# ----------------------------------------------------------------------------- Chromium
def find_chromium() -> str | None:
    """Debian's ``chromium`` (or ``$CHROMIUM``, or another Chrome on the PATH)."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def screenshot(page: Path, png: Path, chromium: str | None = None, timeout: float = 120) -> str:
    """Render ``page`` in headless Chromium, save a 1280×900 PNG and return the DOM.

    The DOM (``--dump-dom``) is the page after its scripts ran, so the caller can check
    the title and headings that a reader would see.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("Chromium is not installed (Debian: apt-get install chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                "--window-size=1280,900",
                # Let scripts (MathJax, when online) run before the picture is taken.
                "--virtual-time-budget=5000",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "HOME": profile},
        )
    if result.returncode != 0 or not png.exists():
        raise RuntimeError(
            f"chromium failed on {page} (exit {result.returncode}):\n{result.stderr[-2000:]}"
        )
    return result.stdout


def take_screenshots(out: Path, quiet: bool = False) -> list[Path]:
    """Screenshot the index and the first solutions page into ``out/screenshots``."""
    pages = [out / "index.html", *sorted((out / "solutions").glob("*.html"))[:1]]
    pngs = []
    for page in pages:
        png = out / "screenshots" / f"{page.parent.name}_{page.stem}.png"
        if page.parent == out:
            png = out / "screenshots" / f"{page.stem}.png"
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
