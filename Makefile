# The two commands for a fresh machine: `make bundles` and `make test`; each installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: setup sandbox-tools browser-tools bundles test screenshots bench bench-load reliability clean

# Participant code runs under bubblewrap (Debian package `bubblewrap`); libseccomp for its system-call filter.
sandbox-tools:
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing bubblewrap (apt-get)"; \
		apt-get -o DPkg::Lock::Timeout=900 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq bubblewrap libseccomp2 >/dev/null; \
	else \
		echo "bubblewrap is missing: install it as root (apt-get install bubblewrap) - participant code is never run unconfined" >&2; \
		exit 1; \
	fi

# The web pages' tests (tests/test_web_ui.py) drive Debian's headless Chromium with its chromedriver (Selenium is
# given that driver: nothing is downloaded when the tests run).
browser-tools:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver (apt-get)"; \
		apt-get -o DPkg::Lock::Timeout=900 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "chromium is missing: install it as root (apt-get install chromium chromium-driver) for the browser tests" >&2; \
		exit 1; \
	fi

# The aide agent's AIDE (aideml) goes in without its dependencies: it pins numpy 1.26, pandas 2.1 and dozens of
# packages its generated code might use, all older than ours; what it imports is the `aide` extra.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,kit,aide,ray]'
	$(PY) -m pip install --quiet --no-deps -c constraints.txt aideml
	touch $(STAMP)

setup: sandbox-tools $(STAMP)

# Build every task at its default scale, validate each bundle, run each solution through the local worker.
bundles: setup
	$(PY) build_bundle.py bundles

test: setup browser-tools
	$(PY) -m pytest -n $(JOBS) --dist loadgroup -q tests

# The web pages' screenshots, taken by their browser tests, into docs/screenshots/.
screenshots: setup browser-tools
	MLEB_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/test_web_ui.py

bench: setup
	$(PY) benchmarks/run.py

# The README's commands on a fresh clone with the machine 4x oversubscribed (about an hour on 2 cores).
bench-load: setup
	$(PY) benchmarks/under_load.py

# Run every hostile case for real and regenerate the table of docs/reliability.md.
reliability: setup
	$(PY) tests/hostile_cases.py

clean:
	rm -rf dist data/generated benchmarks/results
