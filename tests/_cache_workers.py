"""Subprocess bodies for tests/test_cache.py and tests/test_yahoo_parallel.py (importable by spawned children)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.cache import CacheKey, ParquetCache

KEY = CacheKey("prices", "KILL", "1d", "unadjusted")
ROWS = 200_000


def version_frame(version: int, rows: int = ROWS) -> pd.DataFrame:
    """Every cell of version ``v`` equals ``v``: a torn mix of two versions is visible."""
    return pd.DataFrame({"close": np.full(rows, float(version)), "volume": np.full(rows, version)})


def write_forever(root: str, start_version: int) -> None:
    """Write versions start, start+1, ... until killed."""
    cache = ParquetCache(Path(root))
    version = start_version
    while True:
        cache.write(KEY, version_frame(version), pd.Timestamp.now(tz="UTC"), "test")
        version += 1


def write_n(root: str, writer: int, times: int) -> None:
    """Write ``times`` entries whose cells all equal ``writer * 1000 + i``."""
    cache = ParquetCache(Path(root))
    for i in range(times):
        frame = version_frame(writer * 1000 + i, rows=20_000)
        cache.write(KEY, frame, pd.Timestamp.now(tz="UTC"), "test")


def wait_for_all(folder: Path, parties: int, timeout_s: float = 60.0) -> None:
    """A barrier across processes: mark this one ready, wait until ``parties`` are."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(os.getpid())).touch()
    deadline = time.monotonic() + timeout_s
    while len(list(folder.iterdir())) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(folder.iterdir()))} of {parties} workers started")
        time.sleep(0.01)


def fetch_through_fake_yahoo(
    root: str, tickers: list[str], now: str, start: str, parties: int
) -> dict:
    """``backtest fetch`` of each of ``tickers`` in its own thread, in a fresh process.

    yfinance is configured from scratch here (as in a new ``backtest`` process),
    against a :class:`FakeYahoo` that takes 50 ms per answer. Every worker waits
    for all ``parties`` before fetching, so their downloads overlap.

    Returns
    -------
    dict
        ``failed`` tickers, ``sessions`` per ticker, the ``window`` (wall-clock
        start and end of this worker's fetching) and the fake's ``answered``
        intervals (wall-clock start and end of every request to Yahoo).
    """
    from yahoo_fake import FakeYahoo, scaled_charts

    from backtest.run.fetch import fetch_tickers

    clock, fake = pd.Timestamp(now), FakeYahoo(scaled_charts(), latency=0.05)

    def one(ticker: str):
        return fetch_tickers(
            [ticker],
            start=start,
            events=False,
            cache_dir=Path(root),
            session=fake,
            sleep=lambda _seconds: None,
            clock=lambda: clock,
        )

    wait_for_all(Path(root).parent / "ready", parties)
    began = time.time()
    with ThreadPoolExecutor(max_workers=len(tickers)) as pool:
        reports = list(pool.map(one, tickers))
    return {
        "failed": [t for r in reports for t in r.failed],
        "sessions": {row["ticker"]: row["sessions"] for r in reports for row in r.rows},
        "window": (began, time.time()),
        "answered": fake.answered,
    }
