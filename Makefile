# The two commands of the README: `make demo` runs the bridge against the embedded defaults, `make test` runs the
# tests. Both set up a fresh Debian machine first (scripts/setup.sh is idempotent).
PYTHON ?= python3
.PHONY: setup demo test lint bench reliability

setup:
	bash scripts/setup.sh

demo: setup
	$(PYTHON) -m bridge.testbed.demo $(DEMO_ARGS)

test: setup
	$(PYTHON) -m pytest -q -p no:cacheprovider -m "not reliability_long" $(PYTEST_ARGS)

lint: setup
	ruff check .
	ruff format --check .
	mypy
	lint-imports

bench: setup
	$(PYTHON) bench/sync.py --size 20000

# Issue 17's long variants: 20 kill points, 200 and 500 lock decisions, a 60 s Keycloak outage (counts merged
# into bench/results/reliability.json); schemathesis at 2,100 requests per operation and 200 malformed Phụ lục
# files (marker reliability_long); the 30-minute mixed load (bench/results/load.json). `make test` runs the
# bounded variants of the same tests.
reliability: setup
	BRIDGE_RELIABILITY_LONG=1 BRIDGE_RELIABILITY_RESULTS=bench/results/reliability.json \
		$(PYTHON) -m pytest -q -p no:cacheprovider -m "not reliability_long" tests/reliability/test_crash_points.py tests/reliability/test_outages.py
	RELIABILITY_RECORD=1 $(PYTHON) -m pytest -q -p no:cacheprovider -m reliability_long tests/reliability $(PYTEST_ARGS)
	$(PYTHON) bench/load.py --minutes 30
