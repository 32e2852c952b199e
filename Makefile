# Entry points. `make test` and `make smoke` set themselves up; every target is idempotent.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# Some machines' pip config names find-links folders that do not exist; drop that noise only.
QUIET_PIP := sed '/^WARNING: Location .* is ignored/d'
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

.PHONY: setup setup-runtime test lint docs render validate smoke up scale bench package e2e demo clean

# Analyzers whose pins clash with ours, each in its own virtualenv: scanners/NAME.txt -> .venv-NAME.
SCANNERS := nca checkov

setup: $(STAMP) $(foreach s,$(SCANNERS),.venv-$(s)/.installed)
	@$(BIN)/python -m chart_tools.toolchain

.venv-%/.installed: scanners/%.txt
	@test -x .venv-$*/bin/python || $(PY) -m venv .venv-$*
	@echo "setup: installing $* into .venv-$*"
	@.venv-$*/bin/pip install --quiet --disable-pip-version-check -r $< 2>&1 | $(QUIET_PIP)
	@touch $@

# The runtime and release tiers: Debian packages (PostgreSQL, PgBouncer, Redis, git, promtool, docker-registry, gnupg,
# chromium) and Airflow in its own virtualenv, so the render tier's environment stays small (and keeps
# kubernetes>=37, which Airflow's provider pins below).
setup-runtime: setup $(AIRFLOW_STAMP)
	@$(BIN)/python -m chart_tools.runtime.services

$(AIRFLOW_STAMP): runtime/requirements.txt runtime/constraints.txt
	@test -x $(AIRFLOW_VENV)/bin/python || $(PY) -m venv $(AIRFLOW_VENV)
	@echo "setup: installing Airflow 3.3.2 into $(AIRFLOW_VENV) (about a minute, once)"
	@$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check \
		-r runtime/requirements.txt -c runtime/constraints.txt 2>&1 | $(QUIET_PIP)
	@touch $@

# The virtualenv is rebuilt only when the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "setup: installing pinned Python packages into $(VENV)"
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | $(QUIET_PIP)
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	@touch $@

# chart-testing's checks (ct.yaml) with our own code, ruff, then the GitHub workflows: their schema
# and zizmor's security audits (offline).
lint: setup
	@$(BIN)/chart-tools lint
	@$(BIN)/ruff check python tests dags
	@$(BIN)/ruff format --check python tests dags
	@$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml
	@$(BIN)/zizmor --offline --quiet .github/workflows

test: lint setup-runtime
	@$(BIN)/pytest -n 2 --dist loadgroup -q --durations=15

# The main job: the chart's rendered Airflow running for real on this machine.
# make smoke [VALUES="values/kubernetes-executor.yaml ..."]
smoke: setup-runtime
	@$(BIN)/chart-tools smoke $(foreach v,$(VALUES),-f $(v))

# The same Airflow, kept running until Ctrl-C: make up [VALUES="values/local-executor.yaml ..."]
up: setup-runtime
	@$(BIN)/chart-tools up $(foreach v,$(VALUES),-f $(v))

# Regenerates values.schema.json and the chart README's values table from values.yaml.
docs: setup
	@$(BIN)/chart-tools docs

render: setup
	@$(BIN)/chart-tools render

validate: setup
	@$(BIN)/chart-tools validate --helm 3 --checkov && $(BIN)/chart-tools validate --helm 4

# A scale curve on the local runtime: CSV, PNG plots and a Markdown summary in scale-results/.
# make scale [DAGS=10,100,500]: one point per number of DAG files.
DAGS ?= 10,100,500
scale: setup-runtime
	@$(BIN)/chart-tools scale --dags $(DAGS) --out scale-results

bench: setup-runtime
	@$(BIN)/python -m chart_tools.bench

# dist/airflow-<version>.tgz; sign with: make package SIGN="--sign --key NAME --keyring FILE"
package: setup
	@$(BIN)/chart-tools package $(SIGN)

# The cluster tier on kind (needs Docker, kind, kubectl and git; exits 2 naming what is missing):
# make e2e [SCENARIO="default git-sync"] [KUBE_VERSION=1.30] [HELM=4]
KUBE_VERSION ?= 1.35
HELM ?= 3
e2e: setup
	@$(BIN)/chart-tools e2e --kube-version $(KUBE_VERSION) --helm $(HELM) $(foreach s,$(SCENARIO),--scenario $(s))

# The default profile on a kind cluster, the UI forwarded and its login printed, until Ctrl-C.
demo: setup
	@$(BIN)/chart-tools demo --kube-version $(KUBE_VERSION) --helm $(HELM)

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) $(foreach s,$(SCANNERS),.venv-$(s)) .tools .pytest_cache .ruff_cache build
