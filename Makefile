# Neural ODEs, from Euler to FFJORD — the two commands a newcomer needs are
#   make lab    create .venv, install everything, open JupyterLab on the course
#   make test   create .venv if needed, run every check (lint, unit tests, sync, nbval)
# Other targets: setup, student, solutions, bench, clean (see `make help`).

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
export MPLBACKEND ?= Agg
export PYDEVD_DISABLE_FILE_VALIDATION = 1
JOBS   ?= 2
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
          --nbval-cell-timeout 900
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup lab test lint unit notebooks-test student solutions bench clean

help:
	@sed -n '1,5p' Makefile

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

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
