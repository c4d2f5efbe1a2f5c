# The two commands for a fresh machine: `make bundles` and `make test`; each installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: setup bundles test bench reliability clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,kit]'
	touch $(STAMP)

setup: $(STAMP)

# Build every task at its default scale, validate each bundle, run each solution through the local worker.
bundles: setup
	$(PY) build_bundle.py bundles

test: setup
	$(PY) -m pytest -n $(JOBS) -q tests

bench: setup
	$(PY) benchmarks/run.py

# Run every hostile case for real and regenerate the table of docs/reliability.md.
reliability: setup
	$(PY) tests/hostile_cases.py

clean:
	rm -rf dist data/generated benchmarks/results
