# jianfu: `make demo` and `make test` are the two commands; the rest are conveniences.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= $(CURDIR)/data

.PHONY: setup demo test dev benchmark bench browser oracle clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/jianfu demo --data-dir $(DATA_DIR)

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

oracle:
	@Rscript -e 'library(survey)' >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq r-base-core r-cran-survey >/dev/null; \
	  else echo "the statistics tests compare with R: sudo apt-get install r-base-core r-cran-survey"; exit 1; fi; }

test: setup browser oracle
	$(BIN)/python -m pytest

dev: setup
	DAGSTER_HOME=$(CURDIR) JIANFU_DATA_DIR=$(DATA_DIR) JIANFU_DAGSTER_STORAGE=$(DATA_DIR)/dagster $(BIN)/dagster dev

benchmark: setup
	$(BIN)/python -m pipelines.synthetic.benchmark

bench: setup
	$(BIN)/python -m pipelines.synthetic.benchmark $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info data/landing data/warehouse.duckdb data/reports data/dagster test-artifacts
