# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORTAL_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test lint bench browser clean node lock

# Exactly the locked versions, checked against their hashes (requirements/dev.txt;
# `make lock` rebuilds it after pyproject.toml changes), then the project itself.
$(BIN)/.installed: requirements/dev.txt
	@echo "Installing Python packages into $(VENV) (the first time takes a minute or two)..."
	@test -x $(BIN)/python || $(shell command -v $(PYTHON) || echo python3) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

# Rebuild both lock files from pyproject.toml (pip-tools in a throwaway venv).
lock:
	$(shell command -v $(PYTHON) || echo python3) -m venv .lock-venv
	.lock-venv/bin/pip install -q pip-tools
	.lock-venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links -o requirements/base.txt pyproject.toml
	.lock-venv/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --extra dev -o requirements/dev.txt pyproject.toml
	rm -rf .lock-venv

# Browser assets and tools from package.json (plotly.js's basic bundle, axe-core for
# the accessibility walk, Lighthouse for bench/pages.py, a real OpenID provider for the
# sign-in tests), pinned by package-lock.json. No install scripts run, so root and
# non-root install alike.
node_modules/.installed: package.json package-lock.json
	@echo "Installing npm packages (plotly.js basic bundle, axe-core, lighthouse, oidc-provider)..."
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@
node: node_modules/.installed

# Debian's Chromium for the browser tests; Playwright drives it, nothing is downloaded.
# As root it installs itself; otherwise through sudo when that needs no password, else
# it says what to install and stops.
/usr/bin/chromium:
	@if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "The browser tests need Debian's Chromium: ask an administrator to run 'apt-get install chromium', then run make test again." >&2; exit 1; fi

run: $(BIN)/.installed node_modules/.installed
	@mkdir -p $(PORTAL_VAR_DIR)
	@echo "Preparing the database and the demo data..."
	@DEBUG=1 $(BIN)/python manage.py migrate --noinput -v 0
	@DEBUG=1 $(BIN)/python manage.py seed_demo
	@DEBUG=1 PORT=$(PORT) $(BIN)/python scripts/run_all.py

test: $(BIN)/.installed node_modules/.installed /usr/bin/chromium
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(BIN)/.installed node_modules/.installed /usr/bin/chromium
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var node_modules
