# One-command developer loop. `make run` starts the server; `make test` is what CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run install test lint typecheck unit bench fmt

run: install
	@echo "The web UI will be at http://127.0.0.1:8080/ (paste the admin key printed below)"
	$(VENV)/bin/loopwright serve

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: install lint typecheck unit

lint: install
	$(VENV)/bin/ruff check src tests bench scripts examples
	$(VENV)/bin/ruff format --check src tests bench scripts examples
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest -q -rfE -n 2 --dist loadfile --durations=10

fmt: install
	$(VENV)/bin/ruff format src tests bench scripts examples
	$(VENV)/bin/ruff check --fix src tests bench scripts examples

bench: install
	$(PY) -m bench.events_fanout
	$(PY) -m bench.api_throughput
	$(PY) -m bench.turn_overhead
	$(PY) -m bench.mcp_overhead
	$(PY) -m bench.ui_latency
	$(PY) -m bench.client_events
