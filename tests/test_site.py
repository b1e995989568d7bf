"""The static course site (tools/site.py): index, one page per notebook, screenshots."""

import html
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import numpy as np
import pytest

from tools import WEEK_STEMS, site

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [
    (folder, path)
    for folder in ("solutions", "notebooks")
    for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            self.links.append(attrs["src"])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def _formulas(path: Path) -> list[str]:
    """The LaTeX of a notebook's markdown cells, delimiters included."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return re.findall(r"\$\$.+?\$\$|\$[^$\n]+\$", text, re.DOTALL)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _local_links(page: Path) -> list[str]:
    """Links of a page that point into the site (not http(s), mailto, data: or #anchors)."""
    out = []
    for link in _parse(page).links:
        parts = urlsplit(link)
        if parts.scheme or link.startswith("#"):
            continue
        out.append(unquote(parts.path))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "html"
    assert site.main(["--out", str(out), "--no-screenshots"]) == 0
    return out


def test_syllabus_comes_from_the_readme():
    weeks = site.parse_syllabus((ROOT / "README.md").read_text(encoding="utf-8"))
    assert [w.stem for w in weeks] == WEEK_STEMS
    assert [w.week for w in weeks] == [str(n) for n in range(7)]
    assert all(w.topics and w.readings for w in weeks), "every week has topics and readings"


def test_every_link_on_the_index_resolves_to_a_built_page(built):
    links = _local_links(built / "index.html")
    assert links, "the index links to nothing"
    for link in links:
        target = (built / link).resolve()
        assert target.is_relative_to(built.resolve()), f"{link} leaves the site"
        assert target.is_file(), f"index links to {link}, which was not built"


def test_index_links_every_notebook_and_only_those(built):
    links = set(_local_links(built / "index.html"))
    for folder, path in NOTEBOOKS:
        assert site.page_path(folder, path.stem) in links, f"{folder}/{path.name} not linked"
    pages = {p.relative_to(built).as_posix() for p in built.glob("*/*.html")}
    assert pages == {site.page_path(folder, path.stem) for folder, path in NOTEBOOKS}
    assert {link for link in links if link.endswith(".html")} == pages


def test_index_has_syllabus_readings_and_title(built):
    text = (built / "index.html").read_text(encoding="utf-8")
    assert _parse(built / "index.html").title.startswith(site.COURSE)
    assert "<th>Readings</th>" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for week in site.parse_syllabus(readme):
        assert site.inline_markdown(week.readings) in text, week.readings
    assert text.count("<tr>") == 1 + len(WEEK_STEMS)


@pytest.mark.parametrize("folder, path", NOTEBOOKS, ids=lambda x: getattr(x, "name", x))
def test_notebook_page(built, folder, path):
    page = built / site.page_path(folder, path.stem)
    text = page.read_text(encoding="utf-8")
    title = _parse(page).title
    assert site.notebook_title(path) in title and site.COURSE in title
    # Working math: MathJax is loaded and the notebook's LaTeX reaches the page intact.
    assert re.search(r'<script[^>]+src="[^"]*mathjax[^"]*"', text, re.IGNORECASE)
    formulas = _formulas(path)
    assert formulas, "no LaTeX in the notebook's markdown"
    missing = [f for f in formulas if f not in text and html.escape(f, quote=False) not in text]
    # Tolerate an odd `$` in prose that is not math; a broken renderer loses them all.
    assert len(missing) <= len(formulas) // 10, f"formulas lost on the page: {missing[:5]}"
    if folder == "solutions":
        assert "data:image/png;base64" in text or "jp-OutputArea-output" in text
    for link in _local_links(page):
        assert (page.parent / link).resolve().is_file(), f"{page.name} links to {link}"


def test_weeks_not_landed_are_listed_without_links(tmp_path):
    """A checkout where only week 0 exists: the other weeks appear, unlinked."""
    root = tmp_path / "repo"
    for folder in ("solutions", "notebooks"):
        (root / folder).mkdir(parents=True)
        shutil.copy(ROOT / folder / "00_getting_started.ipynb", root / folder)
    shutil.copy(ROOT / "README.md", root)
    (root / "course_utils").symlink_to(ROOT / "course_utils")
    out = tmp_path / "html"
    site.build(out, root=root, quiet=True)
    index = (out / "index.html").read_text(encoding="utf-8")
    for stem in WEEK_STEMS[1:]:
        assert f"{stem} — not yet available" in index
        assert f"{stem}.html" not in index
    assert sorted(p.name for p in out.glob("*/*.html")) == ["00_getting_started.html"] * 2


def _nonblank(png: Path) -> None:
    from matplotlib.image import imread

    pixels = imread(png)[..., :3]
    assert pixels.shape[:2] == (900, 1280)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    ink = np.abs(pixels - background).sum(axis=-1) > 0.1
    assert ink.mean() > 0.01, f"{png.name} is (almost) blank: {ink.mean():.2%} ink"
    assert pixels.std() > 0.02


@pytest.mark.skipif(
    site.find_chromium() is None,
    reason="Chromium is not installed: `make browser` installs Debian's chromium (as root)",
)
def test_screenshots_of_the_index_and_a_notebook_page(built):
    shots = built / "screenshots"
    index_dom = site.screenshot(built / "index.html", shots / "index.png")
    _nonblank(shots / "index.png")
    assert f"<title>{site.COURSE} — course site</title>" in index_dom
    assert f"<h1>{site.COURSE}</h1>" in index_dom

    folder, path = NOTEBOOKS[0]
    page = built / site.page_path(folder, path.stem)
    png = shots / f"{folder}_{path.stem}.png"
    dom = site.screenshot(page, png)
    _nonblank(png)
    title = site.notebook_title(path)
    assert re.search(rf"<title>{re.escape(title)} — [^<]*</title>", dom)
    assert re.search(rf"<h1[^>]*>{re.escape(title)}", dom), "the heading is not rendered"
