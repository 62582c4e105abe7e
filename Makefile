# The two commands a newcomer needs: `make run` and `make test`.
# Both set up everything they need first (a Python virtualenv from the lock file,
# and the npm devnet tools), so they work on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test demo lint typecheck pytest install browser openapi benchmarks clean

# Exactly what requirements.lock pins, then the project itself without resolving anything
# more; `pip check` fails when the lock misses a dependency.
$(BIN)/recovery: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	@touch $@

# `npm ci` installs package-lock.json as committed (every platform's optional anvil build
# is in it) and never rewrites it; it fails if package.json and the lock disagree.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(BIN)/recovery node_modules/.package-lock.json

## Runs the service with its defaults: SQLite file, two local anvil devnets.
run: install
	$(BIN)/recovery serve --devnet --host $(HOST) --port $(PORT)

## The whole story on its own devnets, through the REST API.
demo: install
	$(BIN)/recovery demo

lint: install
	$(BIN)/ruff check recovery chains policies tests benchmarks
	$(BIN)/ruff format --check recovery chains policies tests benchmarks

typecheck: install
	$(BIN)/mypy recovery chains policies

# The console's browser tests drive Debian's chromium (Playwright's own download cannot
# work here): installed from Debian's packages when missing (as root, or through sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the console's browser tests"; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

pytest: install browser
	bash .ci/pytest.sh

## Runs the whole suite: lint, types, and the tests on SQLite and PostgreSQL.
test: lint typecheck pytest

openapi: install
	$(BIN)/recovery openapi > openapi.yaml

benchmarks: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
