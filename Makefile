# growthlab: `make demo` and `make test` do all set-up from a fresh clone (Python 3.11 and make).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
export DO_NOT_TRACK=1
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
export DBT_SEND_ANONYMOUS_USAGE_STATS=False
export GX_ANALYTICS_ENABLED=False
export SCARF_ANALYTICS=false
export MLFLOW_ENABLE_TELEMETRY=false

.PHONY: setup demo test lint bench airflow mlflow lock clean down

setup: $(STAMP)

# The virtualenv from the pinned lock; reinstalled when the lock or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "growthlab needs Python 3.11, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) \
	  || { echo "uv unavailable: installing with pip"; $(BIN)/python -m pip install -q -r requirements.txt; }
	if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q -p $(BIN)/python -r requirements.txt; fi
	if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .; \
	  else $(BIN)/python -m pip install -q --no-deps -e .; fi
	# Byte-compile once: processes then load .pyc even where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $(STAMP)

demo: setup
	$(BIN)/growthlab warehouse up
	$(BIN)/growthlab demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m bench $(ARGS)

airflow: setup
	$(BIN)/growthlab warehouse up
	$(BIN)/growthlab airflow standalone

mlflow: setup
	$(BIN)/growthlab warehouse up
	$(BIN)/growthlab mlflow-ui

down: setup
	-$(BIN)/growthlab sandbox down
	$(BIN)/growthlab warehouse down

# Re-resolve the lock after editing requirements.in.
lock: setup
	$(BIN)/uv pip compile requirements.in -p 3.11 -o requirements.txt --no-header --no-annotate

clean:
	-$(BIN)/growthlab warehouse down
	rm -rf .growthlab
