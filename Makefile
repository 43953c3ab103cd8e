# Two commands for a new user: `make run` (the platform on the embedded default) and `make test`.
# Both create .venv from the pinned requirements on first use.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5001

.PHONY: run test lint format bench worker beat check-python clean

check-python:
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.11 or newer is required (python3.11, python3.12 or python3.13 on PATH)." >&2; exit 1; fi

$(VENV)/.installed: requirements.txt | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "error: could not create a virtual environment; install python3-venv." >&2; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

## Start the platform on 127.0.0.1:5001 (SQLite, in-process channel layer and a local Celery worker unless
## DATABASE_URL / REDIS_URL say otherwise). Migrations run first.
run: $(VENV)/.installed
	$(PY) manage.py run_platform --host $(HOST) --port $(PORT)

## Run the whole test suite (SQLite by default; PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set).
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.installed-dev
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) var/static
