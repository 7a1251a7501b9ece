# GridHub developer tasks (GNU make).
#
#   make install   create .venv and install gridhub[test] in editable mode
#   make lint      ruff check, ruff format --check, mypy --strict
#   make test      lint, then the suite on SQLite, then on a throwaway PostgreSQL cluster
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

test: install lint
	@echo "== tests on SQLite =="
	$(PY) -m pytest
	@echo "== tests on PostgreSQL (throwaway cluster) =="
	$(PY) tests/pgcluster.py -- $(PY) -m pytest

demo: install
	$(VENV)/bin/hub demo

bench: install
	$(PY) -m pytest tests/perf -p no:cacheprovider -s

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
