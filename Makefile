# Inventory Hub — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
# uv from PATH, or the one pip installs into this Python (`python3 -m uv`).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
WEB_PORT ?= 8000
SIM_PORT ?= 8025
export UV_LINK_MODE ?= copy

.PHONY: help uv install run test test-fast bench lint format chromium wrk clean

help:
	@echo "make run    - install, migrate, seed a demo, start web + worker + beat + simulator"
	@echo "make test   - install, start throwaway PostgreSQL + Redis, run every test"
	@echo "make bench  - benchmarks on throwaway PostgreSQL + Redis: bench/results.json + results.md (BENCH_QUICK=1: shorter)"
	@echo "make lint   - ruff check + format check + import layers (import-linter)"

uv:
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "[make] uv not found: installing it with pip"; \
		$(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv; }
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "[make] could not install uv: install it (pip install uv) and retry" >&2; exit 2; }

install: uv
	@$(UV) sync --frozen --quiet
	@echo "[make] .venv ready"

# The demo's channels are the simulator on loopback: seed_demo, web and the workers
# (honcho passes its environment to every Procfile process) must be allowed to reach it.
run: export CHANNEL_ALLOW_PRIVATE_NETWORKS = 1
run: install
	@mkdir -p var
	@$(UV) run python manage.py migrate --noinput -v 0
	@$(UV) run python manage.py seed_demo --simulator-url http://127.0.0.1:$(SIM_PORT) --web-url http://127.0.0.1:$(WEB_PORT)
	@echo ""
	@echo "  Inventory Hub: http://127.0.0.1:$(WEB_PORT)/   (login printed above; Ctrl-C stops everything)"
	@echo ""
	@rm -rf var/prometheus && mkdir -p var/prometheus
	@DEBUG=1 WEB_PORT=$(WEB_PORT) SIM_PORT=$(SIM_PORT) PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus \
		$(UV) run honcho start -f Procfile

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "[make] installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "[make] /usr/bin/chromium is missing: install Debian's 'chromium' package (browser tests are skipped without it)" >&2; \
		fi; \
	fi

wrk:
	@if ! command -v wrk >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "[make] installing Debian's wrk for the HTTP benchmarks"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else \
			echo "[make] wrk is missing: install Debian's 'wrk' package (bench.ingest needs it)" >&2; \
		fi; \
	fi

test: install chromium
	@$(PYTHON) scripts/services.py run -- $(UV) run pytest $(PYTEST_ARGS)

test-fast: install
	@$(UV) run pytest -m "not slow and not browser and not postgres" $(PYTEST_ARGS)

bench: install wrk
	@$(PYTHON) scripts/services.py run -- $(UV) run python -m bench.summary $(if $(BENCH_QUICK),--quick)

lint: install
	@$(UV) run ruff check .
	@$(UV) run ruff format --check .
	@$(UV) run lint-imports

format: install
	@$(UV) run ruff format .
	@$(UV) run ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache staticfiles
