"""``backtest fetch``: fill the yfinance cache for several tickers, one at a time.

A ticker that fails is reported with its one-line reason and the others go on;
the command then exits with an error naming the failed tickers. ``refresh``
(``--refresh``) refetches what is already cached; a failed refetch keeps the
old entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.core.errors import BacktestError
from backtest.core.sessions import get_calendar
from backtest.data.cache import ParquetCache, cache_root
from backtest.data.yahoo import YFinancePrices, check_fetch_mode

__all__ = ["FetchReport", "fetch_tickers"]


@dataclass
class FetchReport:
    """What ``backtest fetch`` did: one row per ticker, and the tickers that failed."""

    root: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _events(ticker: str, cache: ParquetCache, cal, **kw) -> tuple[str, str]:
    """Fill the earnings and analyst caches of ``ticker``; return their row counts or errors."""
    from backtest.events.yahoo_analyst import YFinanceAnalyst
    from backtest.events.yahoo_earnings import YFinanceEarnings

    counts = []
    for make, method in ((YFinanceEarnings, "vintages"), (YFinanceAnalyst, "actions")):
        try:
            result = getattr(make(cache, cal, **kw), method)(ticker)
            table = result[0] if isinstance(result, tuple) else result
            counts.append(str(len(table)))
        except BacktestError as exc:
            counts.append(f"failed: {exc}")
    return counts[0], counts[1]


def fetch_tickers(
    tickers: Iterable[str],
    start: str | None = None,
    end: str | None = None,
    events: bool = True,
    cache_dir: Path | None = None,
    calendar: str = "XNYS",
    offline: bool = False,
    progress: Callable[[int, str], None] | None = None,
    refresh: bool = False,
    session: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], pd.Timestamp] | None = None,
) -> FetchReport:
    """Fetch prices (and earnings dates and analyst actions) of each ticker into the cache.

    ``offline`` only checks what the cache holds; ``refresh`` refetches even
    what is cached and fresh. ``session``, ``sleep`` and ``clock`` are passed
    to the sources (tests use a recorded Yahoo).

    Raises
    ------
    ConfigError
        ``offline`` and ``refresh`` are both true.
    """
    check_fetch_mode(offline, refresh)
    cal = get_calendar(calendar)
    cache = ParquetCache(cache_root(cache_dir))
    report = FetchReport(cache.root)
    kw = dict(offline=offline, refresh=refresh, session=session, sleep=sleep, clock=clock)
    first = pd.Timestamp(start) if start else None
    prices = YFinancePrices(cache, cal, first, pd.Timestamp(end) if end else None, **kw)
    for done, ticker in enumerate(tickers, start=1):
        row = {"ticker": ticker, "sessions": 0, "first": "-", "last": "-", "status": "ok"}
        row["earnings"], row["analyst"] = "-", "-"
        try:
            frame = prices.load(ticker)
            row.update(
                sessions=len(frame), first=frame.index[0].date(), last=frame.index[-1].date()
            )
        except BacktestError as exc:
            row["status"] = str(exc)
            report.failed.append(ticker)
        if events:
            row["earnings"], row["analyst"] = _events(ticker, cache, cal, **kw)
        report.rows.append(row)
        if progress is not None:
            progress(done, ticker)
    return report
