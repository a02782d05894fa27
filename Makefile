# jianfu: `make demo` and `make test` are the two commands; the rest are conveniences.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= $(CURDIR)/data
DEMO_DIR ?= $(CURDIR)/data/demo
PG_DB ?= jianfu_dagster

.PHONY: setup demo test lint lock dev notebooks postgres benchmark bench browser oracle clean

$(STAMP): pyproject.toml requirements.lock
	@echo "setup [1/4] virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "setup [2/4] pip itself"
	$(BIN)/pip install --quiet --upgrade pip
	@echo "setup [3/4] $$(grep -c '==' requirements.lock) locked packages, hashes checked (a few minutes on a fresh machine; each one is listed)"
	$(BIN)/pip install --progress-bar on --no-deps --require-hashes -r requirements.lock
	@echo "setup [4/4] jianfu itself (editable)"
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)
	@echo "setup done: $(BIN)/jianfu --help"

setup: $(STAMP)

demo: setup
	$(BIN)/jianfu demo --data-dir $(DEMO_DIR)

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

oracle:
	@Rscript -e 'library(survey)' >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq r-base-core r-cran-survey >/dev/null; \
	  else echo "the statistics tests compare with R: sudo apt-get install r-base-core r-cran-survey"; exit 1; fi; }

test: setup browser oracle postgres
	$(BIN)/python -m pytest -n 2

# ruff (lint and format), sqlfluff (DuckDB dialect, lowercase) and mypy on pipelines/ and assets/.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql/ --processes 2
	$(BIN)/mypy

# Re-pin requirements.lock with hashes from the pins it holds (after editing a version there or in pyproject.toml).
lock: setup
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile requirements.lock --generate-hashes --python-version 3.11.7 \
	  --python-platform x86_64-unknown-linux-gnu --no-header --no-annotate -o requirements.lock

# Dagster's home (run history, .nux/, logs) lives under the data directory, never in the repository.
DEV_HOME = $(abspath $(DATA_DIR))/dagster

dev: setup
	mkdir -p $(DEV_HOME)
	cp dagster.yaml $(DEV_HOME)/dagster.yaml
	DAGSTER_HOME=$(DEV_HOME) JIANFU_DATA_DIR=$(abspath $(DATA_DIR)) JIANFU_DAGSTER_STORAGE=$(DEV_HOME) $(BIN)/dagster dev

# JupyterLab on notebooks/; the notebooks open $(DATA_DIR)/warehouse.duckdb read-only.
notebooks: setup
	JIANFU_DATA_DIR=$(abspath $(DATA_DIR)) $(BIN)/jupyter lab --notebook-dir=$(CURDIR)/notebooks

postgres:
	.ci/postgres $(PG_DB)

# The county coverage simulation (section "What the numbers mean" of the README).
benchmark: setup
	$(BIN)/python -m pipelines.synthetic.benchmark --coverage-only

# The pipeline against a bare DuckDB baseline on the same files (README "Scale"); BENCH_ARGS="--teachers 2000000".
bench: setup
	$(BIN)/python -m pipelines.synthetic.benchmark $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info data/landing data/warehouse.duckdb data/reports data/dagster data/demo test-artifacts
