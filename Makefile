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

# issue 17: the long reliability variants (marker reliability_long) and the 30-minute load; results in bench/results/
reliability: setup
	RELIABILITY_RECORD=1 $(PYTHON) -m pytest -q -p no:cacheprovider -m reliability_long tests/reliability $(PYTEST_ARGS)
	$(PYTHON) bench/load.py --minutes 30
