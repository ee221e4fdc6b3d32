"""data.source: yfinance and the yfinance event sources in runs, `backtest fetch`, --offline,
--refresh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from yahoo_fake import FakeYahoo

from backtest.config.model import load_config
from backtest.core.errors import DataUnavailable
from backtest.data.bundled import BundledPrices
from backtest.data.cache import CACHE_ENV
from backtest.data.yahoo import yfinance_module
from backtest.run.fetch import fetch_tickers
from backtest.run.runner import run_loaded
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

    from backtest.run.runner import run

    fill_cache(tmp_path)
    config = write_config(tmp_path, yahoo_config(tmp_path, [{"type": "yfinance_earnings"}]))
    folder = run(config, out_dir=tmp_path / "results", now=NOW).folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["data"] == {
        "source": "yfinance",
        "price_basis": "raw",
        "offline": True,
        "refresh": False,
    }


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
    from backtest.core.errors import ConfigError

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


def _data_calls(fake) -> dict[str, int]:
    """How many times the fake was asked for bars, the earnings calendar, analyst actions."""
    kinds = {"prices": "/v8/finance/chart/", "earnings": "calendar/earnings"}
    kinds["analyst"] = "quoteSummary"
    count = {k: 0 for k in kinds}
    for _, url, params in fake.calls:
        for kind, part in kinds.items():
            # range=1d is yfinance's time-zone probe, not a request for bars.
            count[kind] += part in url and "range" not in params
    return count


def test_fetch_tickers_refresh_refetches_fresh_prices_and_events(tmp_path):
    fill_cache(tmp_path)
    fake = FakeYahoo()
    kw = dict(start="2026-02-09", cache_dir=tmp_path / "cache", session=fake, sleep=[].append)
    fetch_tickers(["BABA"], clock=lambda: NOW, **kw)
    assert _data_calls(fake) == {"prices": 0, "earnings": 0, "analyst": 0}  # all fresh
    report = fetch_tickers(["BABA"], clock=lambda: NOW, refresh=True, **kw)
    assert _data_calls(fake) == {"prices": 1, "earnings": 1, "analyst": 1}
    assert report.failed == [] and report.rows[0]["sessions"] == 14


def invoke(fake, *args):
    """Run the CLI in this process, yfinance's HTTP session being the recorded ``fake``.

    yfinance keeps one session (``YfData`` is a singleton) and a ``Ticker`` made
    without one uses it, so the commands run unchanged and never reach the network.
    """
    from typer.testing import CliRunner

    from backtest.cli.commands import app

    yfinance_module().data.YfData(session=fake)
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_cli_fetch_refresh_asks_yahoo_again_for_a_fresh_cache(tmp_path):
    fake = FakeYahoo()
    args = ("fetch", "BABA", "--start", "2026-02-09", "--end", "2026-02-27")
    args += ("--cache-dir", tmp_path / "cache")
    for _ in range(2):
        assert invoke(fake, *args).exit_code == 0
    assert _data_calls(fake) == {"prices": 1, "earnings": 1, "analyst": 1}  # second: cache
    out = invoke(fake, *args, "--refresh")
    assert out.exit_code == 0 and "BABA" in out.stdout
    assert _data_calls(fake) == {"prices": 2, "earnings": 2, "analyst": 2}


def test_cli_run_refresh_refetches_records_it_and_keeps_the_run_id(tmp_path):
    """K3: --refresh on `run` refetches, the manifest says so; same data, same run id."""
    import json

    fake = FakeYahoo()
    cfg = yahoo_config(tmp_path, [{"type": "yfinance_earnings"}])
    cfg["data"].update(offline=False, end="2026-02-27")
    path = write_config(tmp_path, cfg)
    folders, calls, manifests = [], [], []
    for flags in ((), (), ("--refresh",)):
        out = invoke(fake, "run", path, "--out", tmp_path / "results", *flags)
        assert out.exit_code == 0, out.stdout
        folders.append(Path(out.stdout.rsplit("results: ", 1)[1].split()[0]))
        calls.append(_data_calls(fake))
        # Read now: the same run id reuses (replaces) its folder on the next run.
        manifests.append(json.loads((folders[-1] / "manifest.json").read_text()))
    # The first run fills the cache, the second reads it, the --refresh run asks again.
    assert calls == [
        {"prices": 1, "earnings": 1, "analyst": 0},
        {"prices": 1, "earnings": 1, "analyst": 0},
        {"prices": 2, "earnings": 2, "analyst": 0},
    ]
    assert [m["data"]["refresh"] for m in manifests] == [False, False, True]
    assert len(set(folders)) == 1
    assert len({m["run_id"] for m in manifests}) == 1
    assert len({m["config_hash"] for m in manifests}) == 1
    written = yaml.safe_load((folders[2] / "config.yaml").read_text())
    assert "refresh" not in written["data"]  # re-running the folder (--verify) reads the cache


def test_refresh_and_offline_together_exit_2_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", CACHE_ENV: str(tmp_path / "cache"), "HOME": str(tmp_path)}
    config = write_config(tmp_path, yahoo_config(tmp_path, [{"type": "yfinance_earnings"}]))
    expected = (
        "error: ConfigError: --refresh and --offline cannot be used together: --refresh "
        "refetches from Yahoo, --offline never touches the network; drop one\n"
    )
    for args in (
        ("run", config, "--refresh", "--offline"),
        ("--offline", "fetch", "BABA", "--refresh"),
    ):
        out = cli(*map(str, args), env=env)
        assert (out.returncode, out.stderr, out.stdout) == (2, expected, ""), args
    assert not (tmp_path / "cache" / "prices").exists()


def test_refresh_in_a_config_that_is_offline_is_a_config_error(tmp_path):
    from backtest.core.errors import ConfigError

    cfg = yahoo_config(tmp_path, [{"type": "yfinance_earnings"}])
    cfg["data"]["refresh"] = True  # the config also says offline: true
    with pytest.raises(ConfigError, match=r"data: .*refresh \(--refresh\) and offline"):
        load_config(write_config(tmp_path, cfg))


def test_run_and_fetch_help_describe_refresh():
    from typer.testing import CliRunner

    from backtest.cli.commands import app

    for command in ("run", "fetch"):
        out = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert out.exit_code == 0 and "--refresh" in out.stdout, command
        assert "Refetch cached yfinance prices and events" in out.stdout, command
