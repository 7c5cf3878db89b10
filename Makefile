# Everything a new machine needs is installed from here: CI runs on a clean checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Meltano lives in its own venv: its pins (SQLAlchemy, rich, ...) stay out of the tap's .venv.
MELTANO_VENV := .venv-meltano
MELTANO_STAMP := $(MELTANO_VENV)/.installed-stamp

.PHONY: install test lint unit demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(MELTANO_STAMP):
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install -q 'meltano==4.4.1'
	touch $(MELTANO_STAMP)

install: $(STAMP) $(MELTANO_STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint unit

.PHONY: readme dist
# The editable install's metadata (what --about shows) carries the version: reinstall on a bump.
$(STAMP): tap_clevertap_counts/__init__.py

# README.md's settings section, from `tap-clevertap-counts --about --format=markdown`.
readme: $(STAMP)
	$(BIN)/python scripts/readme.py

# The sdist and the wheel in dist/, their metadata checked as PyPI renders it.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

demo: install
	bash scripts/demo.sh

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(MELTANO_VENV) output .meltano .mypy_cache .ruff_cache .pytest_cache
