# Two commands: `make run` and `make test`. Both create .venv on first use and
# reinstall only when pyproject.toml changes (the stamp file records that).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
CONFIG ?= configs/baba_2026.yaml
COMPARE ?= configs/compare_six.yaml

.PHONY: run test lint venv clean bench browser universe

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/backtest run $(CONFIG)
	$(BIN)/backtest compare $(COMPARE)

# Two pytest workers (CI has two cores: 4 min 53 s instead of 9 min); each test file runs
# in one worker, so its module fixtures are built once. `pytest tests/x.py` runs serially.
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Benchmark W1 (benchmarks/RESULTS.md); reads ../shared/data, or pass BENCH_ARGS="--data DIR".
bench: $(STAMP)
	$(BIN)/python benchmarks/w1.py $(BENCH_ARGS)

# configs/us100_earnings.yaml's study on all 500 names of ../shared/data (built into the
# git-ignored build/universe500; not needed by `make run`). UNIVERSE_ARGS="--data DIR --rebuild".
universe: $(STAMP)
	$(BIN)/python benchmarks/universe.py $(UNIVERSE_ARGS)

# Headless Chromium for tests/test_report_html.py. Does nothing when chromium is on PATH;
# installs the Debian package only as root with apt-get; otherwise says so and the test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq chromium >/dev/null 2>&1 \
	      || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	      || echo "make: could not install chromium; the browser test will be skipped"; \
	  else \
	    echo "make: no chromium and no root apt-get to install it; the browser test will be skipped"; \
	  fi; }

# Style, then the architecture: no import cycles and the stage layers of pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check backtest strategies tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) results/*/ .pytest_cache
