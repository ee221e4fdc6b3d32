"""Parallel downloads through yfinance share its sqlite caches safely (RELIABILITY K7).

yfinance keeps ticker time zones and cookies in sqlite files; several threads or
processes downloading at once used to fail with ``OperationalError('database is
locked')`` (yfinance #1274, #1689). Here threads and spawned processes fetch
different and the same tickers into one cache folder through our real paths
(``backtest fetch`` and the run's price source), with yfinance's own code fed
recorded payloads at its HTTP boundary (:class:`yahoo_fake.FakeYahoo`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import multiprocessing as mp
import sqlite3
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from _cache_workers import fetch_through_fake_yahoo
from yahoo_fake import SCALES, FakeYahoo, scaled_charts

from backtest.core.sessions import get_calendar
from backtest.data.bundled import BundledPrices
from backtest.data.cache import CACHE_ENV, ParquetCache
from backtest.data.yahoo import YFinancePrices, quiet_yfinance, yfinance_module
from backtest.run.fetch import fetch_tickers

CAL = get_calendar("XNYS")
NOW = pd.Timestamp("2026-02-27 22:00", tz="UTC")
START = "2026-02-09"
PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]
# Each ticker asked for by several workers at once, and every ticker by some.
JOBS = [["BABA", "HALF"], ["TWICE", "BABA"], ["QUARTER", "HALF"], ["BABA", "TWICE"]]


def _forget_yfinance_sqlite() -> None:
    """Drop yfinance's cache objects: the next use opens them at the location now set.

    yfinance binds its sqlite caches on first use and ignores a later change of
    location, so without this a test would write into an earlier test's folder.
    """
    import yfinance.cache as yf_cache

    yf_cache._TzCacheManager._tz_cache = None
    yf_cache._CookieCacheManager._Cookie_cache = None
    yf_cache._ISINCacheManager._isin_cache = None


@pytest.fixture(autouse=True)
def fresh_yfinance(tmp_path, monkeypatch):
    """yfinance as in a new process: caches in this test's folder, new YfData, no env root."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    yf = yfinance_module(tmp_path / "cache")
    _forget_yfinance_sqlite()
    yf.data.YfData._instances.clear()
    yf.data.YfData.cache_get.cache_clear()
    yield
    _forget_yfinance_sqlite()  # later tests open theirs, not this test's
    yf.data.YfData._instances.clear()


def expected_prices(ticker: str) -> pd.DataFrame:
    """The bundled BABA bars of the fetched sessions, scaled as the fake scales ``ticker``."""
    bars = BundledPrices().load("BABA").loc[START:"2026-02-27", PRICE_COLUMNS]
    return bars.assign(adj_close=bars["close"]) * SCALES[ticker]


def assert_prices(frame: pd.DataFrame, ticker: str) -> None:
    """``frame`` holds ``ticker``'s bars (the bundled CSV is stored at float32 precision)."""
    got = frame[PRICE_COLUMNS]
    pd.testing.assert_frame_equal(got, expected_prices(ticker), check_freq=False, rtol=1e-6)


def assert_one_valid_entry_per_key(root: Path) -> None:
    """Every ticker has exactly one manifest and one data file, readable and right."""
    folder = root / "prices"
    stems = sorted(p.stem for p in folder.glob("*.json"))
    assert stems == sorted(f"{t}_1d_unadjusted" for t in SCALES)
    leftovers = [p.name for p in folder.iterdir() if p.suffix not in (".json", ".parquet", ".lock")]
    assert leftovers == []  # no temp files, nothing quarantined as corrupt
    assert len(list(folder.glob("*.parquet"))) == len(SCALES)
    cache = ParquetCache(root)
    for ticker in SCALES:
        assert_prices(cache.read(YFinancePrices.key(ticker)).frame, ticker)


def assert_yfinance_sqlite_intact(root: Path) -> None:
    """yfinance's sqlite caches (in our folder) are readable: every ticker's zone, one cookie."""
    folder = root / "yfinance"
    with contextlib.closing(sqlite3.connect(folder / "tkr-tz.db")) as db:
        zones = dict(db.execute("SELECT key, value FROM _tz_kv").fetchall())
    with contextlib.closing(sqlite3.connect(folder / "cookies.db")) as db:
        cookies = db.execute("SELECT strategy FROM _cookieschema").fetchall()
    assert zones == dict.fromkeys(SCALES, "America/New_York")
    assert cookies == [("curlCffi",)]


def _fetch_job(root: Path, fake: FakeYahoo, tickers: list[str]) -> dict:
    """``backtest fetch`` of ``tickers``: the failed ones and the sessions of the others."""
    report = fetch_tickers(
        tickers,
        start=START,
        events=False,
        cache_dir=root,
        session=fake,
        sleep=lambda _seconds: None,
        clock=lambda: NOW,
    )
    return {"failed": report.failed, "sessions": {r["ticker"]: r["sessions"] for r in report.rows}}


def _run_job(root: Path, fake: FakeYahoo, tickers: list[str]) -> dict[str, pd.DataFrame]:
    """The run's price source loading ``tickers`` (fetching what the cache lacks)."""
    source = YFinancePrices(
        ParquetCache(root),
        CAL,
        start=pd.Timestamp(START),
        session=fake,
        sleep=lambda _seconds: None,
        clock=lambda: NOW,
    )
    return {ticker: source.load(ticker) for ticker in tickers}


def test_threads_fetching_the_same_and_different_tickers_share_yfinance_sqlite(tmp_path, caplog):
    root, fake = tmp_path / "cache", FakeYahoo(scaled_charts(), latency=0.02)
    caplog.set_level(logging.WARNING)
    with ThreadPoolExecutor(max_workers=2 * len(JOBS)) as pool:
        fetched = [pool.submit(_fetch_job, root, fake, job) for job in JOBS]
        loaded = [pool.submit(_run_job, root, fake, job) for job in JOBS]
        reports = [f.result() for f in fetched]  # re-raises any error of a thread
        frames = [f.result() for f in loaded]
    assert fake.max_in_flight == 1  # eight jobs at once, yet yfinance's calls took turns
    assert [r["failed"] for r in reports] == [[]] * len(JOBS)
    assert all(n == len(expected_prices("BABA")) for r in reports for n in r["sessions"].values())
    for job in frames:
        for ticker, frame in job.items():
            assert_prices(frame, ticker)
    assert [r.getMessage() for r in caplog.records] == []  # no warning or error, sqlite or other
    assert_one_valid_entry_per_key(root)
    assert_yfinance_sqlite_intact(root)


def test_processes_fetching_the_same_and_different_tickers_share_yfinance_sqlite(tmp_path):
    root = tmp_path / "cache"
    ctx = mp.get_context("spawn")  # fresh interpreters: yfinance configured from scratch in each
    with ProcessPoolExecutor(max_workers=len(JOBS), mp_context=ctx) as pool:
        futures = [
            pool.submit(fetch_through_fake_yahoo, str(root), job, NOW.isoformat(), START, len(JOBS))
            for job in JOBS
        ]
        reports = [f.result(timeout=120) for f in futures]  # re-raises a worker's error
    starts, ends = zip(*(r["window"] for r in reports), strict=True)
    assert max(starts) < min(ends)  # every worker was downloading at one moment
    answered = sorted(span for r in reports for span in r["answered"])
    overlapping = [(a, b) for a, b in itertools.pairwise(answered) if b[0] < a[1]]
    assert overlapping == []  # yet no two requests to Yahoo (and sqlite writes) ran at once
    assert [r["failed"] for r in reports] == [[]] * len(JOBS), json.dumps(reports)
    sessions = len(expected_prices("BABA"))
    assert all(n == sessions for r in reports for n in r["sessions"].values())
    assert_one_valid_entry_per_key(root)
    assert_yfinance_sqlite_intact(root)


def test_a_download_leaving_quiet_yfinance_keeps_another_one_quiet():
    """Thread A leaves while B is still inside yfinance: B's deprecation notice stays silenced.

    With ``warnings.catch_warnings`` A put back the filter list it had saved, so
    B's notice was shown (and B, leaving last, left A's filter installed).
    """
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with quiet_yfinance():
            a_inside.set()
            b_inside.wait(5)
        a_left.set()

    def b() -> None:
        a_inside.wait(5)
        with quiet_yfinance():
            b_inside.set()
            a_left.wait(5)
            warnings.warn_explicit(
                "old", DeprecationWarning, "utils.py", 1, module="yfinance.utils"
            )

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert a_left.is_set()
    assert [str(w.message) for w in shown] == []
