# The two commands a newcomer needs:
#   make build   set everything up and build every table on the built-in sample
#   make test    set everything up and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup build test lint docs bench bench-quality clean sample

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

setup: $(STAMP)

build: setup
	$(BIN)/dbt build

test: setup
	$(BIN)/ruff check src tests python_models
	$(BIN)/ruff format --check src tests python_models
	$(BIN)/sqlfluff lint models
	$(BIN)/pytest -q

docs: setup
	$(BIN)/dbt docs generate

sample: setup
	$(BIN)/python -m ulm.sample --users 7500 --format csv.gz --out data/sample

bench: setup
	$(BIN)/python -m ulm.bench_scale

bench-quality: setup
	$(BIN)/python -m ulm.bench_quality

clean:
	rm -rf target logs warehouse/*.duckdb warehouse/*.wal warehouse/tmp
