# Two commands for a new user: `make run` (the platform on the embedded default) and `make test`.
# Both create .venv from the pinned requirements on first use.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
# Packages user code may import (requirements-sandbox.txt), installed for the interpreter the code sandbox
# runs: Debian's /usr/bin/python3 when present (readable by the sandbox's unprivileged uid), else the
# interpreter the venv was made from. Never the platform's venv.
SANDBOX_DIR := .sandbox/python
SANDBOX_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3)
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

$(SANDBOX_DIR)/.installed: requirements-sandbox.txt | $(VENV)/.installed
	@rm -rf $(SANDBOX_DIR) && mkdir -p $(SANDBOX_DIR)
	@interp="$(SANDBOX_PYTHON)"; [ -n "$$interp" ] || interp=$$($(PY) -c 'import os, sys; print(os.path.realpath(sys._base_executable))'); \
	  echo "code sandbox packages for $$interp -> $(SANDBOX_DIR)"; \
	  $(PY) -m pip --python "$$interp" install --quiet --disable-pip-version-check --root-user-action=ignore --target $(SANDBOX_DIR) \
	    -r requirements-sandbox.txt && echo "$$interp" > $(SANDBOX_DIR)/.interpreter
	@chmod -R a+rX .sandbox
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

## Start the platform on 127.0.0.1:5001 (SQLite, in-process channel layer and a local Celery worker unless
## DATABASE_URL / REDIS_URL say otherwise). Migrations run first.
run: $(VENV)/.installed $(SANDBOX_DIR)/.installed
	$(PY) manage.py run_platform --host $(HOST) --port $(PORT)

## Run the whole test suite (SQLite by default; PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set).
test: $(VENV)/.installed-dev $(SANDBOX_DIR)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.installed-dev $(SANDBOX_DIR)/.installed
	$(PY) bench/engine.py
	$(PY) bench/sandbox.py

clean:
	rm -rf $(VENV) .sandbox var/static
