# Everything a new machine needs is installed from here: CI runs on a clean checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Meltano lives in its own venv: its pins (SQLAlchemy, rich, ...) stay out of the tap's .venv.
MELTANO_VENV := .venv-meltano
MELTANO_STAMP := $(MELTANO_VENV)/.installed-stamp

# The postgres extra (psycopg) lets MELTANO_DATABASE_URI put the system database, and so the
# state every worker shares, on PostgreSQL (docs/orchestrator.md).
MELTANO_REQ := meltano[postgres]==4.4.1
# Dagster (orchestration/) in its own venv too. dagster and dagster-webserver are released in
# step: both are pinned in constraints/dagster.txt, or one could move the other back. The tests
# need dagster only; `make orchestration-ui` adds the webserver for `dagster dev`.
DAGSTER_VENV := .venv-dagster
DAGSTER_STAMP := $(DAGSTER_VENV)/.installed-stamp
DAGSTER_UI_STAMP := $(DAGSTER_VENV)/.webserver-stamp
# Dagster's libraries are released a day after it, each as 0.<minor>.<patch>: pin dagster to the
# version they require (dagster-celery 0.29.27 needs dagster==1.13.27 exactly; with a newer dagster
# pip would quietly pick 2021 releases of them that fail on import). tests/e2e/test_dagster_pins.py
# imports each. dbt-core is the dbt-duckdb utility's version (constraints/dbt-duckdb.txt), so the
# manifest dagster-dbt reads is the one the utility's dbt wrote.
DAGSTER_REQ := dagster==1.13.27 dagster-celery==0.29.27 dagster-postgres==0.29.27 \
	dagster-dbt==0.29.27 dagster-dg-cli==1.13.27 dbt-core==1.11.16
DAGSTER_UI_REQ := dagster-webserver==1.13.27
DAGSTER_LOCK := constraints/dagster.txt
# Pip constraints (every package pinned) for both venvs and for each loader of meltano.yml (its
# pip_url passes its file with --constraint). `make lock` rewrites them; pyproject keeps ranges.
DEV_LOCK := constraints/dev.txt
MELTANO_LOCK := constraints/meltano.txt

.PHONY: install test test-loaded lint unit matrix lock demo bench clean orchestration orchestration-ui

# The demo's chart (scripts/chart_active_users.py) draws with matplotlib in a venv of its own: the
# tap never depends on a plotting library. duckdb is target-duckdb's version (1.2.2).
CHART_VENV := .venv-chart
CHART_STAMP := $(CHART_VENV)/.installed-stamp
CHART_REQ := matplotlib~=3.10 duckdb==1.2.2
CHART_LOCK := constraints/chart.txt

$(STAMP): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(DEV_LOCK) --upgrade pip
	$(BIN)/python -m pip install -q -c $(DEV_LOCK) -e '.[dev]'
	touch $(STAMP)

$(MELTANO_STAMP): $(MELTANO_LOCK)
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install -q -c $(MELTANO_LOCK) --upgrade pip
	$(MELTANO_VENV)/bin/python -m pip install -q -c $(MELTANO_LOCK) '$(MELTANO_REQ)'
	touch $(MELTANO_STAMP)

install: $(STAMP) $(MELTANO_STAMP)

$(CHART_STAMP): $(CHART_LOCK)
	$(PYTHON) -m venv $(CHART_VENV)
	$(CHART_VENV)/bin/python -m pip install -q -c $(CHART_LOCK) --upgrade pip
	$(CHART_VENV)/bin/python -m pip install -q -c $(CHART_LOCK) $(CHART_REQ)
	touch $(CHART_STAMP)

.PHONY: chart-venv chart
chart-venv: $(CHART_STAMP)

$(DAGSTER_STAMP): $(DAGSTER_LOCK)
	$(PYTHON) -m venv $(DAGSTER_VENV)
	$(DAGSTER_VENV)/bin/python -m pip install -q -c $(DAGSTER_LOCK) --upgrade pip
	$(DAGSTER_VENV)/bin/python -m pip install -q -c $(DAGSTER_LOCK) $(DAGSTER_REQ)
	touch $(DAGSTER_STAMP)

$(DAGSTER_UI_STAMP): $(DAGSTER_STAMP)
	$(DAGSTER_VENV)/bin/python -m pip install -q -c $(DAGSTER_LOCK) '$(DAGSTER_UI_REQ)'
	touch $(DAGSTER_UI_STAMP)

# The Dagster project of orchestration/ (docs/orchestrator.md); -ui: with `dagster dev`.
orchestration: install $(DAGSTER_STAMP)

orchestration-ui: orchestration $(DAGSTER_UI_STAMP)

# The distributed set-up (deploy/README.md): Dagster's storage, the Celery broker and result
# backend and Meltano's state on PostgreSQL, from the variables that README lists. deploy-init
# once per deployment; then a daemon (and a webserver) somewhere and workers anywhere:
# `make worker QUEUES=machine-1,dagster CONCURRENCY=2` (QUEUES comma-separated, default
# $$DAGSTER_CELERY_QUEUES, else `dagster`; CONCURRENCY: steps at once, default the CPUs).
DEPLOY := $(DAGSTER_VENV)/bin/python deploy/start.py
.PHONY: deploy-init worker daemon webserver
deploy-init: orchestration
	$(DEPLOY) init

worker: orchestration
	$(DEPLOY) worker $(if $(QUEUES),--queues '$(QUEUES)') $(if $(CONCURRENCY),--concurrency $(CONCURRENCY))

daemon: orchestration
	$(DEPLOY) daemon

webserver: orchestration-ui
	$(DEPLOY) webserver $(if $(PORT),--port $(PORT))

lint: install orchestration
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/mypy --python-executable $(DAGSTER_VENV)/bin/python orchestration deploy \
		tests/e2e/dagster_driver.py tests/e2e/run_queue_check.py
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline .github/workflows

# On every core (pytest-xdist; -n auto: one worker per CPU). A worker's session fixtures (the
# Meltano project, the PostgreSQL cluster) are its own: own temp dirs, own free ports.
unit: install orchestration
	$(BIN)/pytest -n auto

# The venvs are built side by side (pip mostly waits on the disk and the index; the chart's too,
# which test_dbt draws with, rather than inside that one long test), then the
# lint runs beside pytest (-j2): pytest keeps the 2-CPU machine about two-thirds busy, and ruff,
# mypy and import-linter fill the rest (a failure of either fails `make test`). make -j writes
# their output as it comes; each tool's lines name their own files.
test:
	$(MAKE) -j4 install orchestration chart-venv
	$(MAKE) -j2 lint unit

# `make test` beside two CPU-burning processes started and stopped by PID: no test may depend on
# an idle machine (scripts/test_loaded.py).
test-loaded: install
	$(BIN)/python scripts/test_loaded.py --make '$(MAKE)'

# The unit tests (not tests/e2e) on each Python version pyproject's classifiers claim but .venv's,
# which `make test` ran (noxfile.py); ALL=1: that one too.
matrix: $(STAMP)
	$(BIN)/nox $(if $(ALL),-s unit) $(if $(ARGS),-- $(ARGS))

# Re-resolve constraints/ (existing pins kept where still allowed; UPGRADE=1: newest allowed).
lock: $(MELTANO_STAMP)
	$(MELTANO_VENV)/bin/python scripts/lock.py --meltano '$(MELTANO_REQ)' \
		--dagster $(DAGSTER_REQ) '$(DAGSTER_UI_REQ)' --chart $(CHART_REQ) \
		$(if $(UPGRADE),--upgrade)

.PHONY: settings readme hub dist
# The editable install's metadata (what --about shows) carries the version: reinstall on a bump.
$(STAMP): tap_clevertap_counts/__init__.py

# Every description of the settings, from their one source, the tap's schema
# (tap_clevertap_counts/singer/config_schema.py): run it after changing a setting. A test fails while
# any of them is stale or says something else (tests/test_settings_sources.py).
settings: readme hub

# README.md's Configuration tables (from the schema) and its `--about` section (from
# `tap-clevertap-counts --about --format=markdown`).
readme: $(STAMP)
	$(BIN)/python scripts/readme.py

# meltano.yml's tap-clevertap-counts settings (from the schema), then
# meltano-hub/tap-clevertap-counts.yml (the plugin definition for other Meltano projects) from
# meltano.yml's extractor.
hub: $(STAMP)
	$(BIN)/python scripts/meltano_settings.py
	$(BIN)/python scripts/hub_definition.py

# The sdist and the wheel in dist/, their metadata checked as PyPI renders it.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

demo: install $(CHART_STAMP)
	bash scripts/demo.sh

# docs/images/active_users.png, the chart docs/counts-to-answers.md shows: `make demo`'s chart,
# copied (commit it after a change to the models or the chart).
chart: demo
	mkdir -p docs/images
	cp output/demo/active_users.png docs/images/active_users.png

bench: install orchestration
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(MELTANO_VENV) $(DAGSTER_VENV) $(CHART_VENV) .nox output .meltano .mypy_cache .ruff_cache .pytest_cache
