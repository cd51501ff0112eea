# watchtime developer entry points. `make run` and `make test` are the two that matter;
# both set up everything they need on a fresh machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest
# Reinstall whenever the pinned requirements or the project metadata change.
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.txt pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)

.DEFAULT_GOAL := help
.PHONY: help setup run services test test-fast test-service test-analytics test-browser test-k8s test-chart test-chart-fast test-image \
        test-observability test-security test-faults lint image bench bench-quick bench-storage requirements clean docs screenshots

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(STAMP):
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements/dev.txt
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	touch $@

setup: $(STAMP) ## create .venv with the pinned dependencies and the package (editable)

run: setup ## start the service on the embedded default (SQLite, no broker, auth off) at 127.0.0.1:8000
	$(BIN)/watchtime dev

services: ## make sure PostgreSQL, RabbitMQ and the test tools are here (installs them with apt when root)
	tests/ensure-prerequisites.sh

test: setup services lint ## the whole suite: lint, then every test of tests/ and k8s-tests/ (all six kinds)
	$(PYTEST) tests k8s-tests

# Every test has one kind marker (tests/markers.py): unit, service, browser, faults, chart, image.
test-fast: setup ## inner loop: the unit tests (no services, no processes; seconds)
	$(PYTEST) tests -m unit

test-service: setup services ## every test of tests/ but the browser and fault suites: the unit and service kinds
	$(PYTEST) tests -m "unit or service"

test-analytics: setup services ## tests/accounting: every write that moves a figure against the reference recompute (PostgreSQL and SQLite)
	$(PYTEST) tests/accounting

test-browser: setup services ## the player SDK in headless Chromium (both API modes), /docs/, the admin and the dashboard offline
	$(PYTEST) tests -m browser

test-k8s: setup ## chart and image tests
	$(PYTEST) k8s-tests -m "chart or image"

test-chart: setup ## chart tests only: render matrix, schemas, lint, checkov, chart-driven local run
	$(PYTEST) k8s-tests -m chart

test-chart-fast: setup ## chart inner loop (no checkov, no local run; ~20 s)
	$(PYTEST) k8s-tests -m "chart and not slow"

image: ## build the container image locally (own debootstrap base; no registry needed)
	docker/build-local.sh

test-image: setup services ## the image: its Dockerfile's static checks, then build it and run it against PostgreSQL and RabbitMQ
	$(PYTEST) k8s-tests -m image

test-observability: setup services ## alert rules (promtool) and a real Prometheus scraping the service
	$(PYTEST) tests/observability

test-security: setup services ## hostile inputs, fuzzing against the OpenAPI schema, keys, settings hardening
	$(PYTEST) tests/security tests/apikeys tests/test_settings.py

test-faults: setup ## fault injection against own RabbitMQ/PostgreSQL instances
	$(PYTEST) tests -m faults

lint: setup ## ruff (pyflakes errors, imports) over all Python code
	$(BIN)/ruff check src testkit tests k8s-tests bench charts/watchtime/hack

bench: setup services ## full benchmark suite -> bench/results/latest.{json,md}
	$(BIN)/python -m bench

bench-quick: setup services ## the same figures at small sizes (~90 s) -> bench/results/quick/
	$(BIN)/python -m bench --quick --output bench/results/quick

bench-storage: setup services ## bytes per event, stream and rollup row, and a retention soak (~2 min) -> bench/results/storage.{json,md}
	$(BIN)/python -m bench.storage

screenshots: setup services ## the dashboard's browser tests, copying each page's screenshot to docs/images/
	WATCHTIME_DOCS_SCREENSHOTS=1 $(PYTEST) tests/dashboard/test_browser.py

docs: setup ## rewrite the docs' generated tables from bench/results/, then check every link, anchor and table
	$(BIN)/python -m bench.report
	$(PYTEST) tests/test_docs.py

requirements: ## re-pin requirements/*.txt from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --no-header --no-annotate -o requirements/base.txt
	$(BIN)/uv pip compile pyproject.toml --extra test --extra bench --python-version 3.11 --no-header -o requirements/dev.txt

clean: ## remove the virtualenv and local state
	rm -rf $(VENV) var .pytest_cache .hypothesis
