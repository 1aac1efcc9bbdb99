# OneCode: `make demo` runs the whole system, `make test` runs every test.
# Both set themselves up (Python venv with pinned packages, Node packages from the lock).
# Python 3.11 or newer: python3.11 if installed, else python3 (checked below)
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3.11)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system-packages demo test test-py test-mpy bench chaos fuzz clean

setup: $(STAMP) node_modules/.package-lock.json

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "error: Python 3.11 or newer is needed ($(PYTHON)) / 需要 Python 3.11 或更高版本"; exit 2; }
	@command -v npm >/dev/null || { echo "error: Node.js with npm is needed / 需要安装 Node.js 和 npm"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3" "setuptools==84.2.1" "wheel==0.48.0"
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

# Debian packages the tests need (mosquitto, chromium, fonts-noto-cjk): apt-get when missing
system-packages:
	@bash tools/setup/system-packages.sh

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

demo: setup
	$(VENV)/bin/onecode demo

# The firmware tests run twice: on the MicroPython VM ("micropython: N passed, M
# failed") and, with everything else, under pytest on CPython. Either failing fails.
# pytest runs one worker per CPU (pytest-xdist), each test file whole in one worker:
# most tests wait on brokers, databases and child processes, so two cores run the
# suite in about 7 minutes instead of 11. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
PYTEST_ARGS := -q -n $(PYTEST_WORKERS) --dist loadfile
test: setup system-packages
	@$(VENV)/bin/onecode mpy test --timeout 300 tests/firmware; mpy=$$?; \
	$(PY) -m pytest $(PYTEST_ARGS) tests; py=$$?; \
	if [ $$mpy -ne 0 ]; then echo "FAILED: firmware tests on the MicroPython VM (exit $$mpy)"; fi; \
	test $$py -eq 0 -a $$mpy -eq 0

test-py: setup system-packages
	$(PY) -m pytest $(PYTEST_ARGS) tests

test-mpy: setup
	$(VENV)/bin/onecode mpy test --timeout 300 tests/firmware

clean:
	rm -rf $(VENV) node_modules var .pytest_cache

# Firmware hot-path figures (dedup, EPC decode) on the MicroPython VM, in LIU; then the
# cloud's ingest rate beside its raw-insert ceiling and its query times on SQLite and
# PostgreSQL (about 6 minutes); then the gateway's device records/s through its outbox
# to the cloud broker beside the broker's raw rate, and its disk bytes per record (about
# 2 minutes); then the dock-door accuracy over 1,000 randomised loads (about 30 s).
# Every part runs even when an earlier one misses its target; the exit
# status says whether all passed. Figures: docs/benchmarks.md
bench: setup
	$(PY) tools/bench/run_all.py

# The whole pipeline (2 virtual portals + 1 handheld, 2 Mosquittos, gateway, 2 ingest
# workers, a private PostgreSQL) under three fault schedules; a ledger of every device
# record reconciled per hop; exit 1 on any loss or duplicate (7-10 min). docs/chaos.md
chaos: setup
	$(PY) -m tools.chaos

# Coverage-guided fuzzing (atheris) of the byte parsers: reader frames, CBOR, device
# batches, GS1/EPC; FUZZ_SECONDS per target. docs/security.md, tools/fuzz/README.md
FUZZ_SECONDS ?= 60
fuzz: setup
	$(PY) -m tools.fuzz --seconds $(FUZZ_SECONDS)
