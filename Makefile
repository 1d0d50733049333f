# musicrep developer commands. `make demo` and `make test` each set everything up from nothing:
# a .venv (unless a virtual environment is already active), torch==2.13.0 FIRST (the CPU wheel;
# any other torch request would pull CUDA packages), then the package with its dev extras.
SHELL := /bin/bash
PYTHON ?= python3
ifdef VIRTUAL_ENV
  ENV_DIR := $(VIRTUAL_ENV)
else
  ENV_DIR := $(CURDIR)/.venv
endif
BIN := $(ENV_DIR)/bin
PY := $(BIN)/python
STAMP := $(ENV_DIR)/.musicrep-installed
DEMO_DIR ?= demo

.PHONY: setup test lint format demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x "$(PY)" ]; then echo "creating $(ENV_DIR)"; $(PYTHON) -m venv "$(ENV_DIR)"; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: setup
	$(BIN)/ruff check --fix src tests benchmarks scripts
	$(BIN)/ruff format src tests benchmarks scripts

test: lint
	$(PY) -m pytest

demo: setup
	$(BIN)/musicrep demo --out $(DEMO_DIR)

bench: setup
	$(PY) benchmarks/frontends.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache
