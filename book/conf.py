"""Sphinx configuration of the course site (``make html``; see ``tools/site.py``).

``tools/site.py`` lays out the pages in a staging folder (the landing page and the
"How a notebook works" page from README.md, a copy of every notebook) and runs Sphinx
with this folder as the configuration directory. Sphinx with MyST-NB renders the
committed notebooks without executing them; sphinx-book-theme gives the sidebar of
weeks, previous/next links and the search box; MathJax is served from the site itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mathjax  # the `django-static-mathjax` package: MathJax 3's distribution files

project = "Neural ODEs, from Euler to FFJORD"
language = "en"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# ----------------------------------------------------------------- notebooks (MyST-NB)
# Render the committed outputs; never run a kernel (the solutions are executed by
# `make solutions`, the student notebooks are committed without outputs).
nb_execution_mode = "off"
# No widget embed script: MyST-NB's default comes from a CDN, and the notebooks save no
# widget state to show (each interactive figure has a static twin above it).
nb_ipywidgets_js = {}
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
# The course's interactive figures are ipywidgets: no static rendering, no warning.
suppress_warnings = ["mystnb.unknown_mime_type"]

# ----------------------------------------------------------------- math (offline)
# MathJax 3's SVG build draws every glyph as a path: one script, no web fonts to fetch
# (browsers may refuse fonts from another folder on a file:// page). It is copied from
# the installed package into _static/, so formulas typeset without a network.
MATHJAX_BUILD = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg-full.js"
mathjax_path = "mathjax/tex-svg-full.js"
mathjax3_config = {
    # No menu: it would load its accessibility modules on demand.
    "options": {"enableMenu": False},
    "svg": {"fontCache": "global"},
}
# MyST has already found the math ($…$ included) and marks it with the `math` class;
# MathJax only typesets what is marked (the rest of each page carries `mathjax_ignore`).
myst_update_mathjax = True

# ----------------------------------------------------------------- HTML (the book)
html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None  # deterministic output: no build dates in the pages
html_copy_source = False
html_show_sourcelink = False
html_show_sphinx = False
html_show_copyright = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": True,
    "search_bar_text": "Search the course…",
    "footer_content_items": [],
}


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MATHJAX_BUILD, target / MATHJAX_BUILD.name)
        shutil.copyfile(MATHJAX_BUILD.parents[1] / "LICENSE", target / "LICENSE")


def setup(app):
    app.connect("build-finished", _copy_mathjax)
