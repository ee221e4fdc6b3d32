# Two commands: `make run` and `make test`. Both create .venv on first use and
# reinstall only when pyproject.toml changes (the stamp file records that).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
CONFIG ?= configs/baba_2026.yaml

.PHONY: run test lint venv clean bench

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

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Benchmark W1 (benchmarks/RESULTS.md); reads ../shared/data, or pass BENCH_ARGS="--data DIR".
bench: $(STAMP)
	$(BIN)/python benchmarks/w1.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check backtest strategies tests benchmarks

clean:
	rm -rf $(VENV) results/*/ .pytest_cache
