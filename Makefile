# GridHub developer tasks (GNU make).
#
#   make install   create .venv and install gridhub[test] in editable mode
#   make lint      ruff check, ruff format --check, mypy --strict
#   make test      lint, then the suite on SQLite and on a throwaway PostgreSQL cluster, side by side
#   make demo      migrate, build the demo world and serve it (hub demo)
#   make bench     the performance tests in tests/perf
#   make clean     remove the venv, var/ and tool caches

PYTHON ?= python3
VENV = .venv
PY = $(VENV)/bin/python

.DEFAULT_GOAL := test
.PHONY: install lint test demo bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e '.[test]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy hub schema connectors tests

# Node packages for the gateway e2e tests (tests/e2e/gateway); without npm they skip, loudly.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund; \
	else \
		echo "WARNING: npm not found: the gateway e2e tests will be skipped (install Node.js >= 20)" >&2; \
	fi

test: install lint node_modules/.package-lock.json
	$(PY) tests/suites.py

demo: install
	$(VENV)/bin/hub demo

bench: install
	$(PY) -m pytest tests/perf -p no:cacheprovider -s

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
