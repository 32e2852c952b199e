# Entry points. `make test` and `make smoke` set themselves up; every target is idempotent.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# Some machines' pip config names find-links folders that do not exist; drop that noise only.
QUIET_PIP := sed '/^WARNING: Location .* is ignored/d'
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint docs render validate bench clean

setup: $(STAMP)
	@$(BIN)/python -m chart_tools.toolchain

# The virtualenv is rebuilt only when the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "setup: installing pinned Python packages into $(VENV)"
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | $(QUIET_PIP)
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	@touch $@

lint: setup
	@$(BIN)/ruff check python tests
	@$(BIN)/ruff format --check python tests

test: lint
	@$(BIN)/pytest -n 2 -q

# Regenerates values.schema.json and the chart README's values table from values.yaml.
docs: setup
	@$(BIN)/chart-tools docs

render: setup
	@$(BIN)/chart-tools render

validate: setup
	@$(BIN)/chart-tools validate --helm 3 && $(BIN)/chart-tools validate --helm 4

bench: setup
	@$(BIN)/python -m chart_tools.bench

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache
