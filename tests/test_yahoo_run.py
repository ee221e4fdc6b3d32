"""data.source: yfinance and the yfinance event sources in runs, `backtest fetch`, --offline."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from yahoo_fake import FakeYahoo

from backtest.config import load_config
from backtest.data.bundled import BundledPrices
from backtest.data.cache import CACHE_ENV
from backtest.data.fetch import fetch_tickers
from backtest.data.yahoo import yfinance_module
from backtest.errors import DataUnavailable
from backtest.run import run_loaded
from tests.conftest import REPO, write_config

NOW = pd.Timestamp("2026-02-27 22:00", tz="UTC")


@pytest.fixture(autouse=True)
def fresh_yfinance(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    yf = yfinance_module(tmp_path / "cache")
    yf.data.YfData._instances.clear()
    yf.data.YfData.cache_get.cache_clear()
    yield
    yf.data.YfData._instances.clear()


def fill_cache(tmp_path, tickers=("BABA",)):
    return fetch_tickers(
        tickers,
        start="2026-02-09",
        cache_dir=tmp_path / "cache",
        session=FakeYahoo(),
        sleep=[].append,
        clock=lambda: NOW,
    )


def yahoo_config(tmp_path, sources) -> dict:
    return {
        "name": "yahoo",
        "data": {
            "source": "yfinance",
            "tickers": ["BABA"],
            "start": "2026-02-09",
            "cache_dir": str(tmp_path / "cache"),
            "offline": True,
        },
        "events": {"sources": sources, "max_drop_pct": 100},
        "strategies": [
            {"name": "earnings_hold", "params": {"entry_offset": 1, "exit_offset": 0}},
        ],
        "engine": {"fees_bps": 0, "slippage_bps": 0},
        "benchmarks": ["BABA"],
        "output": {"charts": False},
    }


def test_fetch_reports_each_ticker_and_keeps_going_after_a_failure(tmp_path):
    report = fill_cache(tmp_path, ("NOSUCH", "BABA"))
    rows = {r["ticker"]: r for r in report.rows}
    assert report.failed == ["NOSUCH"] and "NOSUCH" in rows["NOSUCH"]["status"]
    assert rows["BABA"]["sessions"] == 14 and rows["BABA"]["earnings"] == "6"
    assert rows["BABA"]["analyst"] == "4"


def test_an_offline_run_says_so_in_its_manifest(tmp_path):
    """P2 / P10: the manifest records the source, the price basis and that only the cache was used."""
    import json

    from backtest.run import run

    fill_cache(tmp_path)
    config = write_config(tmp_path, yahoo_config(tmp_path, [{"type": "yfinance_earnings"}]))
    folder = run(config, out_dir=tmp_path / "results", now=NOW).folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["data"] == {"source": "yfinance", "price_basis": "raw", "offline": True}


def test_offline_run_trades_cached_yahoo_prices_and_earnings(tmp_path):
    fill_cache(tmp_path)
    loaded = load_config(
        write_config(tmp_path, yahoo_config(tmp_path, [{"type": "yfinance_earnings"}]))
    )
    result = run_loaded(loaded, now=NOW)
    trade = result.trades.iloc[0]
    assert trade["event_id"] == "BABA-earnings-2026-02-19T135959Z"
    # bmo on Feb 19: enter the close of Feb 18, exit the close of Feb 19 (bundled closes).
    bundled = BundledPrices().load("BABA")
    assert trade["entry_price"] == bundled.at[pd.Timestamp("2026-02-18"), "close"]
    assert trade["exit_price"] == bundled.at[pd.Timestamp("2026-02-19"), "close"]
    reasons = set(result.drops["reason"])
    assert "future_event" in reasons  # the May 2026 row, not yet reported at NOW


def test_offline_run_mixes_bundled_earnings_and_yahoo_analyst_events(tmp_path):
    fill_cache(tmp_path)
    sources = [{"type": "bundled_earnings"}, {"type": "yfinance_analyst"}]
    result = run_loaded(
        load_config(write_config(tmp_path, yahoo_config(tmp_path, sources))), now=NOW
    )
    analyst = result.events[result.events["event_type"] == "analyst"]
    assert "BABA-analyst-2026-02-17" in set(analyst["event_id"])


def test_offline_run_without_cache_names_the_ticker(tmp_path):
    loaded = load_config(
        write_config(tmp_path, yahoo_config(tmp_path, [{"type": "yfinance_earnings"}]))
    )
    with pytest.raises(DataUnavailable, match="BABA.*backtest fetch BABA"):
        run_loaded(loaded, now=NOW)


def test_as_of_must_be_tz_aware(tmp_path):
    from backtest.errors import ConfigError

    cfg = yahoo_config(tmp_path, [{"type": "yfinance_earnings", "as_of": "2026-02-01 00:00"}])
    with pytest.raises(ConfigError, match="as_of"):
        load_config(write_config(tmp_path, cfg))


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "backtest", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env=env,
    )


def test_cli_fetch_offline_on_empty_cache_fails_per_ticker_without_network(tmp_path):
    env = {"PATH": "/usr/bin:/bin", CACHE_ENV: str(tmp_path / "cache"), "HOME": str(tmp_path)}
    out = cli("--offline", "fetch", "BABA", "JD", "--no-events", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "2 of 2 ticker(s) failed: BABA, JD" in out.stderr


def test_cli_run_offline_flag_uses_the_cache(tmp_path):
    fill_cache(tmp_path)
    cfg = yahoo_config(tmp_path, [{"type": "yfinance_earnings"}])
    cfg["data"]["offline"] = False  # the flag, not the file, makes this run offline
    cfg["data"]["end"] = "2026-02-27"
    path = write_config(tmp_path, cfg)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = cli("events", str(path), "--offline", env=env)
    assert out.returncode == 0, out.stderr
    assert "BABA-earnings-2026-02-19T135959Z" in out.stdout


def test_fetch_has_help_with_an_example():
    out = cli("fetch", "--help")
    assert out.returncode == 0 and "Example: backtest fetch" in out.stdout


def test_one_run_mixes_bundled_and_yahoo_earnings_inline_news_and_an_article_folder(tmp_path):
    """Issue 4: the four kinds of source in one config; the report both tables list is kept once."""
    fill_cache(tmp_path)
    sources = [
        {"type": "bundled_earnings"},
        {"type": "yfinance_earnings"},
        {
            "type": "inline",
            "events": [
                {
                    "ticker": "BABA",
                    "event_type": "news",
                    "move_pct": -4,
                    "time": "2026-02-12T08:15:00",
                    "timezone": "America/New_York",
                }
            ],
        },
        {"type": "news_folder", "path": str(REPO / "configs" / "articles")},
    ]
    data = yahoo_config(tmp_path, sources)
    data["strategies"].append({"name": "news_momentum", "params": {"hold_sessions": 1}})
    result = run_loaded(load_config(write_config(tmp_path, data)), now=NOW)
    earnings = result.events[result.events["event_type"] == "earnings"]
    # One report, three sources: bundled 08:30, Yahoo "8 AM" (same session and fill: a
    # duplicate) and the article's date-only mention (a vaguer copy of the same day).
    assert earnings["event_id"].tolist() == ["BABA-earnings-2026-02-19T133000Z"]
    duplicates = set(result.drops.loc[result.drops["reason"] == "duplicate", "event_id"])
    assert {"BABA-earnings-2026-02-19T135959Z", "BABA-earnings-2026-02-19"} <= duplicates
    traded = set(result.trades["strategy"])
    assert traded == {"earnings_hold", "news_momentum"}
    news = result.trades[result.trades["strategy"] == "news_momentum"]
    assert "BABA-news-2026-02-12T131500Z" in set(news["event_id"])
