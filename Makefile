# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORTAL_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test lint bench browser clean

$(BIN)/.installed: pyproject.toml
	@echo "Installing Python packages into $(VENV) (the first time takes a minute or two)..."
	@test -x $(BIN)/python || $(shell command -v $(PYTHON) || echo python3) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# Browser assets and tools from package.json (plotly.js's basic bundle, axe-core for
# the accessibility walk, Lighthouse for bench/pages.py), pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	@echo "Installing npm packages (plotly.js basic bundle, axe-core, lighthouse)..."
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium for the browser tests; Playwright drives it, nothing is downloaded.
/usr/bin/chromium:
	@if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

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
