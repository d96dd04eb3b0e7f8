# One entry point for humans and CI. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The suite on every core; tests marked `concurrency` share one worker (tests/conftest.py).
PYTEST_ARGS ?= -n auto --dist loadgroup --durations=30
# `make serve PORT=8001` when 8000 is taken.
PORT ?= 8000
# The Perfex module's version, from its init file's header.
PERFEX_MODULE_VERSION := $(shell sed -n 's/^Version: //p' hooks/perfex/loyalty_bridge/loyalty_bridge.php)

.PHONY: help serve test lint fmt bench screenshots perfex-module clean

help: ## Show this help.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(BIN)/loyalty: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

serve: $(BIN)/loyalty ## Install, migrate SQLite, load the demo merchant and serve on :8000 (PORT=... for another).
	$(BIN)/loyalty db upgrade
	$(BIN)/loyalty demo --port $(PORT)
	$(BIN)/loyalty serve --port $(PORT)

test: $(BIN)/loyalty ## Install and run the whole suite on SQLite, PostgreSQL and MariaDB.
	bash .ci/install-missing
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/codespell
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/loyalty ## ruff check, format check and codespell.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/codespell

fmt: $(BIN)/loyalty ## Format and autofix.
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/loyalty ## Run the benchmarks against the local PostgreSQL.
	$(BIN)/python bench/ledger.py

screenshots: $(BIN)/loyalty ## Retake the portal's, admin pages' and Perfex settings' screenshots in docs/screenshots/ (Chromium).
	LOYALTY_SCREENSHOTS=1 $(BIN)/pytest tests/pages/test_screenshots.py tests/pages/test_portal_languages.py tests/pages/test_perfex_settings.py $(wildcard tests/admin/test_*screenshots.py) -q

perfex-module: ## Zip the Perfex CRM module into dist/ for Setup -> Modules -> Upload.
	@mkdir -p dist
	rm -f dist/loyalty_bridge-*.zip
	$(PYTHON) -m zipfile -c dist/loyalty_bridge-$(PERFEX_MODULE_VERSION).zip hooks/perfex/loyalty_bridge
	@echo dist/loyalty_bridge-$(PERFEX_MODULE_VERSION).zip

clean: ## Remove the virtual environment and caches.
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
