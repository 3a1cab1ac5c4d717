# The two commands of the README: `make demo` runs the bridge against the embedded defaults, `make test` runs the
# tests. Both set up a fresh Debian machine first (scripts/setup.sh is idempotent).
PYTHON ?= python3
.PHONY: setup demo test lint bench reliability

setup:
	bash scripts/setup.sh

demo: setup
	$(PYTHON) -m bridge.testbed.demo $(DEMO_ARGS)

test: setup
	$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: setup
	ruff check .
	ruff format --check .
	mypy
	lint-imports

bench: setup
	$(PYTHON) bench/sync.py --size 20000

# Issue 17's long variants (20 kill points, 200 and 500 lock decisions, a 60 s Keycloak outage); their counts are
# merged into bench/results/reliability.json. `make test` runs the same tests with the bounded counts.
reliability: setup
	BRIDGE_RELIABILITY_LONG=1 BRIDGE_RELIABILITY_RESULTS=bench/results/reliability.json \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/reliability/test_crash_points.py tests/reliability/test_outages.py
