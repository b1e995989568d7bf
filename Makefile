# Neural ODEs, from Euler to FFJORD — the two commands a newcomer needs are
#   make lab    create .venv, install everything, open JupyterLab on the course
#   make test   create .venv if needed, run every check (lint, unit tests, sync, nbval)
# Other targets: setup, student (notebooks/ from solutions/), solutions (re-execute them),
#   colab (build/colab bundles), html (build/html site), bench (benchmarks), browser
#   (headless Chromium for the site test), clean. `make help` prints this header.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The stamp is keyed on the dependency files: when they change, `make setup` reinstalls;
# when they do not, `make lab` / `make test` start at once.
DEPS_HASH := $(shell cat requirements.txt pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
STAMP  := $(VENV)/.installed-$(DEPS_HASH)
# One thread per process: tests and notebooks run two at a time on small machines.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION = 1
JOBS   ?= 2
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
          --nbval-cell-timeout 900
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup lab test lint unit notebooks-test student solutions bench clean
.PHONY: colab html browser

help:
	@sed -n '1,7p' Makefile

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "environment ready in $(VENV)"

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=. $(AS_ROOT) $(LAB_ARGS) notebooks/00_getting_started.ipynb

test: setup lint unit notebooks-test

lint: setup
	$(PY) -m ruff check .

unit: setup
	$(PY) -m pytest -n $(JOBS) tests

notebooks-test: setup
	$(PY) -m pytest -n $(JOBS) --dist loadfile $(NBVAL) solutions notebooks

student: setup
	$(PY) tools/make_student.py

solutions: setup
	$(PY) tools/execute.py

bench: setup
	$(PY) benchmarks/solvers.py
	$(PY) benchmarks/adjoint.py

# Colab bundles: build/colab/NN_*.ipynb (student) and NN_*_solutions.ipynb, each carrying
# course_utils inside its set-up cell (tools/colab.py).
colab: setup
	$(PY) tools/colab.py

# The course site: a book rendered by Sphinx + MyST-NB + sphinx-book-theme (book/conf.py,
# staged by tools/site.py) from the committed notebooks, never re-executed; math (MathJax)
# and search work offline. build/html/index.html, one page per notebook, the Colab
# bundles and, when Chromium is installed (`make browser`), two screenshots.
html: setup
	$(PY) tools/site.py

# Headless Chromium for the site's screenshot test: Debian's `chromium`, installed only
# when it is missing and apt-get can run (as root, as in CI); otherwise the test skips.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium (headless screenshots of the course site)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	   apt-get install -y -qq chromium fonts-dejavu-core >/dev/null) \
	  || echo "warning: could not install chromium; the screenshot test will skip"; \
	else echo "note: chromium missing and not installable here (needs root and apt-get);" \
	  "the screenshot test will skip"; fi

unit: browser

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
