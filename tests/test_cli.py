"""The command line: exit codes and one-line errors (issue: walking skeleton, CLI)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import BacktestError
from backtest.data.cache import CACHE_ENV, ParquetCache
from backtest.data.yahoo import YFinancePrices
from backtest.run.runner import run_loaded
from tests.conftest import REPO, base_config, write_config, write_prices
from tests.test_pipeline import HOLD, MOMENTUM, NEWS


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backtest", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=120,
        check=False,
    )


def test_bad_config_exits_2_with_one_located_line_and_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        (REPO / "configs" / "baba_2026.yaml")
        .read_text()
        .replace("hold_sessions: 3", "hold_sesions: 3")
    )
    out = cli("run", str(path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{path}:" in out.stderr and "hold_sesions" in out.stderr


def test_debug_shows_the_traceback(tmp_path):
    out = cli("--debug", "run", str(tmp_path / "missing.yaml"))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_events_command_prints_aligned_sessions(tmp_path, market):
    path = write_config(tmp_path, base_config(market, [NEWS], [HOLD]))
    out = cli("events", str(path))
    assert out.returncode == 0, out.stderr
    assert "A-news-2026-01-13T134204Z" in out.stdout and "2026-01-13 open" in out.stdout


def test_every_command_has_help_with_an_example():
    for command in ("run", "events", "strategies"):
        out = cli(command, "--help")
        assert out.returncode == 0 and "Example: backtest" in out.stdout, command


def test_a_usage_error_exits_2_with_clicks_message():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "backtest", "run", "--bogus"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "No such option: --bogus" in done.stderr
    assert "Traceback" not in done.stderr


# ---- catalogue errors at the command line (issue 6.2): one line, exit 2, --debug traceback


def _error_of(call) -> str:
    try:
        call()
    except BacktestError as exc:
        return f"error: {type(exc).__name__}: {exc}"
    raise AssertionError("expected a BacktestError")


def _bad_yaml(tmp_path, market):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  tickers: [BABA\nevents: x\n")
    return path, {}


def _missing_ticker(tmp_path, market):
    """P13; the message is longer than the 200 columns a non-tty console would wrap at."""
    deep = tmp_path / ("very-long-folder-name-" * 8) / "prices"
    deep.mkdir(parents=True)
    data = base_config(deep, [NEWS], [HOLD])
    return write_config(tmp_path, data), {}


def _nan_price(tmp_path, market):
    frame = pd.read_csv(market / "A.csv", index_col="date", parse_dates=True)
    frame.loc["2026-01-14", "close"] = float("nan")
    write_prices(market, {"A": frame})
    data = base_config(market, [NEWS], [MOMENTUM])
    data["events"]["max_drop_pct"] = 0
    return write_config(tmp_path, data), {}


def _corrupt_cache(tmp_path, market):
    cache = ParquetCache(tmp_path / "cache")
    frame = pd.read_csv(market / "A.csv", index_col="date", parse_dates=True)
    frame = frame.rename_axis("session").assign(adj_close=frame["close"])
    path = cache.write(YFinancePrices.key("A"), frame, pd.Timestamp("2026-04-01", tz="UTC"))
    path.write_bytes(path.read_bytes()[:200])  # a writer cut short
    data = base_config(market, [NEWS], [MOMENTUM])
    data["data"] = {
        "source": "yfinance",
        "tickers": ["A"],
        "offline": True,
        "cache_dir": str(tmp_path / "cache"),
    }
    data["benchmarks"] = ["A"]
    return write_config(tmp_path, data), {CACHE_ENV: str(tmp_path / "cache")}


CATALOGUE_FAULTS = {
    "C1 bad YAML": (_bad_yaml, "ConfigError"),
    "P13 missing ticker": (_missing_ticker, "DataUnavailable"),
    "P3+E10 NaN price over the loss budget": (_nan_price, "EventError"),
    "K1 corrupt cache file": (_corrupt_cache, "CacheCorrupt"),
}


def cli_env(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backtest", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("fault", list(CATALOGUE_FAULTS))
def test_a_catalogue_fault_prints_one_line_and_exits_2(tmp_path, market, monkeypatch, fault):
    make, kind = CATALOGUE_FAULTS[fault]
    path, env = make(tmp_path, market)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    expected = _error_of(lambda: run_loaded(load_config(path)))
    done = cli_env("run", str(path), "--out", str(tmp_path / "results"), env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [expected]
    assert expected.startswith(f"error: {kind}: ")
    if fault.startswith("P13"):
        assert len(expected) > 200  # wider than the console: must still be one line
    assert not (tmp_path / "results").exists()  # nothing published


def test_debug_shows_the_traceback_of_a_catalogue_fault(tmp_path, market):
    path, env = _corrupt_cache(tmp_path, market)
    done = cli_env("--debug", "run", str(path), env=env)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "backtest.core.errors.CacheCorrupt: cache file" in done.stderr


def test_r5_a_run_with_no_trades_exits_0(tmp_path, market):
    late = {**NEWS, "time": "2026-03-30 08:00", "timezone": "America/New_York"}
    path = write_config(tmp_path, base_config(market, [late], [MOMENTUM]))
    done = cli("run", str(path), "--out", str(tmp_path / "results"))
    assert done.returncode == 0, done.stderr
    assert "trades: 0" in done.stdout and "'window_incomplete': 1" in done.stdout
