"""The course site (tools/site.py, book/conf.py): a book with offline math and search.

The site is built once per test session (shared by pytest-xdist workers through a lock).
Without Chromium the tests that open pages in a browser skip and say why; the static
checks (links, order, raw TeX in the HTML) always run.
"""

import fcntl
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from tools import WEEK_STEMS, colab, site

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [
    (folder, path)
    for folder in ("solutions", "notebooks")
    for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
]
#: The order of the book: previous/next links walk it, the sidebar lists it.
BOOK_ORDER = [
    "index.html",
    f"{site.HOW_IT_WORKS_PAGE}.html",
    *(site.page_path("solutions", stem) for stem in WEEK_STEMS),
    *(site.page_path("notebooks", stem) for stem in WEEK_STEMS),
]
#: TeX that must never be visible as text: display delimiters, MathJax's own delimiters
#: left unprocessed, and any control word (``\frac``, ``\begin``, ``\zeta``, ...).
RAW_TEX = re.compile(r"\$\$|\\[()\[\]]|\\[A-Za-z]{2,}")
# Sphinx 9 deprecates APIs that myst-parser and sphinx-book-theme still use.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Check CHANGES for Sphinx API")
needs_chromium = pytest.mark.skipif(
    site.find_chromium() is None,
    reason="Chromium is not installed: `make browser` installs Debian's chromium (as root)",
)


# ----------------------------------------------------------------------------- helpers
class _Page(HTMLParser):
    """Links, title, element ids and visible text of an HTML page.

    Visible text leaves out scripts, styles, code, MathJax's output and, with
    ``skip_math``, Sphinx's math elements (whose TeX MathJax typesets).
    """

    SKIP = {"script", "style", "pre", "code", "svg", "mjx-assistive-mml", "template", "title"}

    def __init__(self, skip_math=False):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.title = ""
        self.text: list[str] = []
        self.skip_math = skip_math
        self._hidden: tuple[str, int] | None = None  # (tag, nesting) of the hidden element
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name) and tag in ("a", "img", "script", "link"):
                self.links.append(attrs[name])
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        self._in_title = tag == "title"
        if self._hidden is not None:
            if tag == self._hidden[0]:
                self._hidden = (tag, self._hidden[1] + 1)
        elif tag in self.SKIP or (self.skip_math and "math" in (attrs.get("class") or "").split()):
            self._hidden = (tag, 1)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self._hidden == (tag, 1):
            self._hidden = None

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if self._hidden is not None and tag == self._hidden[0]:
            depth = self._hidden[1] - 1
            self._hidden = (tag, depth) if depth else None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._hidden is None:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text))


def _parse(html: str, skip_math=False) -> _Page:
    parser = _Page(skip_math=skip_math)
    parser.feed(html)
    return parser


def _read(page: Path, skip_math=False) -> _Page:
    return _parse(page.read_text(encoding="utf-8"), skip_math=skip_math)


def _local_links(page: Path) -> list[tuple[str, str]]:
    """``(path, fragment)`` of a page's links into the site (no scheme, not ``#...``)."""
    out = []
    for link in _read(page).links:
        parts = urlsplit(link)
        if parts.scheme or link.startswith("#"):
            continue
        out.append((unquote(parts.path), parts.fragment))
    return out


def _raw_tex(text: str) -> list[str]:
    return [text[max(m.start() - 30, 0) : m.end() + 30] for m in RAW_TEX.finditer(text)]


def _nonblank(png: Path) -> None:
    from matplotlib.image import imread

    pixels = imread(png)[..., :3]
    assert pixels.shape[:2] == (900, 1280)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    ink = np.abs(pixels - background).sum(axis=-1) > 0.1
    assert ink.mean() > 0.01, f"{png.name} is (almost) blank: {ink.mean():.2%} ink"
    assert pixels.std() > 0.02


def _next_links(page: Path) -> dict[str, str]:
    """The previous/next links at the bottom of a page, by class."""
    text = page.read_text(encoding="utf-8")
    area = text[text.index('class="prev-next-area"') :]
    area = area[: area.index("</footer>")]
    return dict(re.findall(r'class="(left-prev|right-next)"\s+href="([^"]+)"', area))


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The site, built once per session (workers of pytest-xdist share it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, above each worker's own
    out = base / "course-site" / "html"
    out.parent.mkdir(exist_ok=True)
    with open(out.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out.parent / "done").exists():
            assert site.main(["--out", str(out), "--no-screenshots"]) == 0
            (out.parent / "done").touch()
    return out


# ----------------------------------------------------------------------------- sources
def test_syllabus_comes_from_the_readme():
    weeks = site.parse_syllabus((ROOT / "README.md").read_text(encoding="utf-8"))
    assert [w.stem for w in weeks] == WEEK_STEMS
    assert [w.week for w in weeks] == [str(n) for n in range(7)]
    assert all(w.topics and w.readings for w in weeks), "every week has topics and readings"


#: Formulas as they were committed in weeks 2 and 6 (the 12.11 answer; the ResNet block)
#: and week 5 (a wrapped display formula): the line after the break starts with `+`.
WRAPPED = [
    "(c) $\\rho(\\zeta) = \\zeta^3 + \\alpha\\zeta^2 - \\alpha\\zeta - 1 = (\\zeta - 1)"
    "(\\zeta^2 + (1 + \\alpha)\\zeta\n+ 1)$. For $\\alpha = 9$ the roots are real.",
    "* **ResNet**: 6 residual blocks $y + \\tfrac{1}{6} f_k(y)$, $f_k(y) = W_2 "
    "\\tanh(W_1 y + b_1)\n  + b_2$ with 64 hidden units;\n* **RK-Net**: one field",
    "by parts:\n$$\\frac{dG}{dp} = \\int_0^T \\big( g_u + \\lambda'^\\top \\big) u_p\\, dt\n"
    "+ \\int_0^T g_p\\, dt.$$\nChoose $\\lambda$.",
]


def _markdown_tokens(text: str) -> list[str]:
    md = MarkdownIt("commonmark").use(dollarmath_plugin, allow_space=True, double_inline=True)
    tokens = []
    for token in md.parse(text):
        tokens.append(token.type)
        tokens += [child.type for child in token.children or []]
    return tokens


@pytest.mark.parametrize("text", WRAPPED, ids=["week2", "week6", "week5"])
def test_wrapped_formulas_are_joined_before_rendering(text):
    joined = site.join_wrapped_math(text)
    before, after = _markdown_tokens(text), _markdown_tokens(joined)
    # As committed, markdown cuts the formula: a list item starts inside it.
    assert before.count("bullet_list_open") > after.count("bullet_list_open")
    # Joined, every formula is one math element again.
    formulas = re.findall(r"\$\$.+?\$\$|\$[^$]+\$", joined, re.DOTALL)
    math = [t for t in after if t.startswith("math_inline")]
    assert len(math) == len(formulas)
    assert len([t for t in before if t.startswith("math_inline")]) < len(formulas)


def test_join_wrapped_math_leaves_lists_code_and_prose_alone():
    lists = "Steps:\n\n+ $a$ first\n+ $b$ then\n- plain\n1. one"
    assert site.join_wrapped_math(lists) == lists
    code = "```python\nx = '$'\n+ 1\n```\nand `$` in code\n+ not math"
    assert site.join_wrapped_math(code) == code
    escaped = "costs \\$5\n+ tax"
    assert site.join_wrapped_math(escaped) == escaped


def test_raw_tex_detector():
    assert _raw_tex("(c) \\rho(\\zeta) = \\zeta^3 + 1)")
    assert _raw_tex("$$ x $$") and _raw_tex("where \\(x\\) is")
    assert not _raw_tex("plain prose, costs $5, a path C:\\ and 1 \\ 2")


# ----------------------------------------------------------------------------- the site
def test_every_internal_link_resolves(built):
    pages = site.site_pages(built)
    assert {p.relative_to(built).as_posix() for p in pages} >= set(BOOK_ORDER)
    ids = {}
    for page in pages:
        for path, fragment in _local_links(page):
            target = (page.parent / path).resolve() if path else page.resolve()
            assert target.is_relative_to(built.resolve()), f"{page.name}: {path} leaves the site"
            assert target.is_file(), f"{page.relative_to(built)} links to {path}, not built"
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _read(target).ids
                assert fragment in ids[target], f"{page.name}: no #{fragment} in {path}"


def test_nothing_is_loaded_from_the_network(built):
    for page in site.site_pages(built):
        text = page.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link|img|iframe)[^>]*="(?:https?:)?//[^"]*"', text)
        assert not remote, f"{page.relative_to(built)} loads {remote[:3]}"
    assert (built / "_static" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000


def test_index_is_the_syllabus_with_every_page_and_bundle(built):
    index = _read(built / "index.html")
    assert index.title.startswith(site.COURSE)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for week in site.parse_syllabus(readme):
        # (Sphinx prints typographic apostrophes.)
        assert week.readings.replace("*", "") in index.visible.replace("’", "'"), week.readings
    links = {path for path, _ in _local_links(built / "index.html")}
    for folder, path in NOTEBOOKS:
        assert site.page_path(folder, path.stem) in links, f"{folder}/{path.name} not linked"
        assert f"colab/{colab.bundle_name(folder, path)}" in links
    assert f"{site.HOW_IT_WORKS_PAGE}.html" in links


def test_previous_next_and_the_sidebar_reach_every_week(built):
    chain = ["index.html"]
    while next_link := _next_links(built / chain[-1]).get("right-next"):
        chain.append((Path(chain[-1]).parent / next_link).as_posix().removeprefix("./"))
        chain[-1] = os.path.normpath(chain[-1])
    assert chain == BOOK_ORDER
    for before, page in zip(BOOK_ORDER, BOOK_ORDER[1:]):
        prev = _next_links(built / page)["left-prev"]
        assert os.path.normpath(Path(page).parent / prev) == before
    for page in BOOK_ORDER:
        text = (built / page).read_text(encoding="utf-8")
        nav = text[text.index('bd-docs-nav"') :]
        nav = nav[: nav.index("</nav>")]
        reached = {
            os.path.normpath(Path(page).parent / href)
            for href in re.findall(r'href="([^"#]+)', nav)
        }
        missing = set(BOOK_ORDER) - reached - {page}
        assert not missing, f"{page}'s sidebar misses {sorted(missing)}"


def test_how_a_notebook_works_is_the_readme_section(built):
    page = _read(built / f"{site.HOW_IT_WORKS_PAGE}.html")
    assert page.title.startswith(site.HOW_IT_WORKS)
    section = site.readme_sections((ROOT / "README.md").read_text(encoding="utf-8"))
    first = section[site.HOW_IT_WORKS].split("\n* ")[1]  # the second item: prose
    words = " ".join(re.sub(r"`[^`]*`|[*_]", " ", first).split()[:6])
    assert words in " ".join(page.visible.split()), words
    assert "Working on Colab" in page.visible


@pytest.mark.parametrize("folder, path", NOTEBOOKS, ids=lambda x: getattr(x, "name", x))
def test_week_page(built, folder, path):
    page = built / site.page_path(folder, path.stem)
    parsed = _read(page, skip_math=True)
    assert site.notebook_title(path) in parsed.title and site.COURSE in parsed.title
    links = {p for p, _ in _local_links(page)}
    twin = "notebooks" if folder == "solutions" else "solutions"
    assert f"../{site.page_path(twin, path.stem)}" in links, "no link to the twin"
    for source in ("notebooks", "solutions"):
        assert f"../colab/{colab.bundle_name(source, path)}" in links, "no Colab link"
    text = page.read_text(encoding="utf-8")
    assert 'class="math notranslate nohighlight"' in text, "no formulas on the page"
    assert '<script defer="defer" src="../_static/mathjax/tex-svg-full.js">' in text
    assert not _raw_tex(parsed.visible), f"raw TeX outside formulas: {_raw_tex(parsed.visible)[:3]}"
    if folder == "solutions":
        assert "<img" in text, "the committed figures are missing"


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_weeks_not_landed_are_listed_without_links_and_builds_are_deterministic(tmp_path):
    """A checkout where only week 0 exists: the other weeks appear, unlinked.

    Built twice, into two folders, it gives identical files.
    """
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
    pages = [p.relative_to(out).as_posix() for p in site.site_pages(out)]
    assert [p for p in pages if "/" in p] == [
        "notebooks/00_getting_started.html",
        "solutions/00_getting_started.html",
    ]
    again = tmp_path / "again" / "html"
    site.build(again, root=root, quiet=True)
    first, second = _tree(out), _tree(again)
    assert sorted(first) == sorted(second)
    differ = [name for name in first if first[name] != second[name]]
    assert not differ, f"two builds differ in {differ[:5]}"


# ----------------------------------------------------------------------------- Chromium
@needs_chromium
@pytest.mark.parametrize("page", BOOK_ORDER)
def test_page_in_a_browser_offline(built, page):
    """Scripts run, formulas typeset, no raw TeX visible; screenshots of index and weeks."""
    html_page = built / page
    png = None
    if page == "index.html" or page.startswith("solutions/"):
        png = built / "screenshots" / f"{page.replace('/', '_').removesuffix('.html')}.png"
    dom = site.render(html_page, png)
    parsed = _parse(dom)
    if png is not None:
        _nonblank(png)
    if page.startswith(("solutions/", "notebooks/")):
        title = site.notebook_title(ROOT / page.replace(".html", ".ipynb"))
        assert re.search(rf"<title>{re.escape(title)}( \(student version\))? — [^<]*</title>", dom)
        assert re.search(rf"<h1[^>]*>{re.escape(title)}", dom), "the heading is not rendered"
        formulas = html_page.read_text(encoding="utf-8").count('class="math notranslate')
        typeset = dom.count("<mjx-container")
        assert typeset >= formulas > 0, f"{typeset} of {formulas} formulas typeset"
    else:
        assert parsed.title
    assert not _raw_tex(parsed.visible), f"raw TeX on the page: {_raw_tex(parsed.visible)[:3]}"


@needs_chromium
def test_search_finds_week_4_offline(built):
    url = (built / "search.html").resolve().as_uri() + "?q=change+of+variables"
    dom = site.render(url)
    results = dom[dom.index('id="search-results"') :]
    hits = re.findall(r'<a href="([^"]+)"', results[: results.index("</ul>")])
    week4 = site.page_path("solutions", "04_normalising_flows")
    assert week4 in hits, f"search for 'change of variables' found {hits}"
