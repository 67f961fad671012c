# videokr: `make run` runs the pipeline on the embedded sample world; `make test` runs the test suite.
# Both create .venv and install on first use (or when pyproject.toml changes), then go straight to the work.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch and torchvision go in first, pinned, so nothing else pulls another torch build.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: run test bench install clean-home airflow reliability

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PINS)
	$(BIN)/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/videokr run

test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -p no:cacheprovider tests

# the reliability suite in full (CI runs its bounded form inside `make test`); prints the scenario table
reliability: $(STAMP)
	VIDEOKR_RELIABILITY=full OMP_NUM_THREADS=1 $(BIN)/pytest -q -p no:cacheprovider tests/reliability

bench: $(STAMP)
	@set -e; for f in tests/benchmarks/bench_*.py; do echo "== $$f"; OMP_NUM_THREADS=1 $(BIN)/python $$f; done

clean-home:
	rm -rf .videokr

airflow: $(STAMP)
	$(BIN)/videokr airflow up --port $${AIRFLOW_PORT:-8080}
