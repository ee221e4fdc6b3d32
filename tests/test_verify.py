"""Reproducibility (issue 6.5, RELIABILITY R7/I19): rerun a folder's config.yaml, --verify."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from backtest.run.runner import run
from tests.conftest import base_config, write_config, write_prices
from tests.test_pipeline import EARNINGS, HOLD, MOMENTUM, NEWS


@pytest.fixture
def published(tmp_path, market):
    config = write_config(tmp_path, base_config(market, [EARNINGS, NEWS], [HOLD, MOMENTUM]))
    return run(config, out_dir=tmp_path / "results").folder


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backtest", *args], capture_output=True, text=True, check=False
    )


def test_rerunning_a_results_folders_config_gives_identical_bytes(tmp_path, published):
    again = run(published / "config.yaml", out_dir=tmp_path / "again").folder
    for name in ("trades.csv", "metrics.json", "drops.csv"):
        assert (again / name).read_bytes() == (published / name).read_bytes(), name
    assert len(pd.read_csv(again / "trades.csv")) == 2


def test_verify_says_an_untouched_folder_reproduces(published):
    done = cli("run", "--verify", str(published))
    assert done.returncode == 0, done.stderr
    assert "reproduces (byte-identical)" in done.stdout
    assert done.stdout.count("identical") == 6  # five files plus the verdict


def test_verify_finds_an_edited_trades_file(published):
    trades = published / "trades.csv"
    trades.write_text(trades.read_text() + "\n")
    done = cli("run", "--verify", str(published))
    assert done.returncode == 1
    assert "trades.csv     DIFFERS" in done.stdout
    assert "does NOT reproduce" in done.stdout


def rescale_prices(market, rows: slice) -> None:
    prices = pd.read_csv(market / "A.csv", index_col="date", parse_dates=True)
    prices.loc[prices.index[rows], ["open", "high", "low", "close"]] *= 1.1
    write_prices(market, {"A": prices.rename_axis("session")})


def test_verify_names_the_input_whose_data_changed(published, market):
    rescale_prices(market, slice(None))
    done = cli("run", "--verify", str(published))
    assert done.returncode == 1
    assert "trades.csv     DIFFERS" in done.stdout
    assert "input data changed since the run: A" in done.stdout


def test_a_data_change_after_the_last_exit_still_reproduces_and_is_noted(published, market):
    rescale_prices(market, slice(-5, None))
    done = cli("run", "--verify", str(published))
    assert done.returncode == 0, done.stdout
    assert "input data changed since the run: A" in done.stdout


def test_verify_of_a_folder_that_is_not_a_result_is_a_one_line_error(tmp_path):
    done = cli("run", "--verify", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: DataUnavailable: no data for {tmp_path}: not a results folder "
        "(needs manifest.json and config.yaml)"
    ]
