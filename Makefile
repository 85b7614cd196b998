# rlsens: `make bench SUITE=<name> [SCALE=<scale>]` and `make test` work on a fresh machine.
# Both create (or refresh) the virtualenv .venv from pyproject.toml + constraints.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUITE  ?= smoke
SCALE  ?=
ARGS   ?=
STAMP  := $(VENV)/.installed

.PHONY: setup bench report chromium test lint perf clean help

help:
	@echo "make bench SUITE=<name> [SCALE=<scale>]  run suites/<name>.yaml and write results/<name>/report/"
	@echo "make test                                  install and run the test suite"
	@echo "make lint                                  ruff"
	@echo "make perf                                  benchmarks (fan-out, trainer overhead, bootstrap, report)"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The report is written even when some runs failed (exit 1); input errors (exit 2) stop here.
bench: setup
	$(BIN)/rlsens run $(SUITE) $(if $(SCALE),--scale $(SCALE)) $(ARGS); \
	status=$$?; \
	if [ $$status -eq 0 ] || [ $$status -eq 1 ]; then \
	  $(BIN)/rlsens report results/$(SUITE) || exit $$?; \
	fi; \
	exit $$status

report: setup
	$(BIN)/rlsens report results/$(SUITE)

# The report test renders pages in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing chromium (headless browser for the report test)"; \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	    else echo "chromium not found and cannot be installed here: the browser test will be skipped"; fi; }

test: setup chromium
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

perf: setup
	$(BIN)/python benchmarks/bench_fanout.py
	$(BIN)/python benchmarks/bench_bootstrap.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_population.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
