"""Earnings dates from yfinance (``Ticker.get_earnings_dates``) as point-in-time events.

What Yahoo gives and how each quirk is handled (never silently "fixed"):

* **Hour precision.** The calendar page says "February 19, 2026 at 8 AM EST":
  the report came out some time in that hour. The event time used is the
  *last* instant of the hour (08:59:59), so timing is classified on the late
  side: "9 AM" straddles the 09:30 open and becomes ``intraday`` (traded next
  open), never ``bmo``. Flag ``hour_precision``.
* **Midnight** (``12 AM``) carries no time: date only, timing ``unknown``.
* **The one-day-early shift** (yfinance #2365, #2371, #2421; fixed in PR #2366):
  dates normalised at UTC midnight show up as 19:00/20:00 New York the day
  *before*. A time exactly at UTC midnight that is not local midnight has that
  signature. It is kept as a date-only event on the UTC date (the later of the
  two readings, so no look-ahead) and flagged ``suspect_utc_midnight``.
* **None** (nothing found) raises :class:`DataUnavailable`; exactly ``limit``
  rows (Yahoo caps at 100) is logged as possibly truncated history (E7).
* **Duplicate rows** are dropped (identical) or the first kept (same time,
  other numbers), and logged with the count.
* **Future rows without actuals** stay; alignment drops them as
  ``future_event`` while they are in the future.
* **Vintages.** Each refetch is merged by :func:`merge_vintages`; a moved date
  is a new row. ``known_at`` of an event is the first fetch that showed its
  final time when that fetch came before the event, the event time itself when
  the date moved and the final one was only seen afterwards, else the assumed
  notice period (:func:`~backtest.events.loaders.assumed_known_at`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import CacheCorrupt, DataUnavailable
from backtest.data.cache import CacheKey, ParquetCache
from backtest.data.yahoo import (
    DEFAULT_MAX_AGE,
    DEFAULT_RETRIES,
    call_with_retries,
    check_fetch_mode,
    fetch_or_keep_cache,
    forget_memoised_responses,
    yfinance_call,
    yfinance_module,
)
from backtest.events.loaders import assumed_known_at
from backtest.events.table import make_event_table
from backtest.events.vintages import empty_vintages, merge_vintages, vintages_as_of

__all__ = ["MAX_LIMIT", "YFinanceEarnings", "earnings_rows", "event_rows"]

LOG = logging.getLogger(__name__)
MAX_LIMIT = 100  # Yahoo's cap on get_earnings_dates(limit=...)
_RENAME = {
    "EPS Estimate": "eps_estimate",
    "Reported EPS": "eps_actual",
    "Surprise(%)": "surprise_pct",
}


def _read_time(stamp: pd.Timestamp, tz: str) -> tuple[pd.Timestamp, str]:
    """Return (event time, flag) for one calendar timestamp (rules in the module doc)."""
    utc, local = stamp.tz_convert("UTC"), stamp.tz_convert(tz)
    if local == local.normalize():
        return local, ""
    if utc == utc.normalize():
        return pd.Timestamp(utc.date()).tz_localize(tz), "suspect_utc_midnight"
    if local.minute == 0 and local.second == 0:
        return local + pd.Timedelta(minutes=59, seconds=59), "hour_precision"
    return local, ""


def earnings_rows(
    raw: pd.DataFrame, ticker: str, tz: str, fetched_at: pd.Timestamp
) -> pd.DataFrame:
    """Turn one ``get_earnings_dates`` table into vintage rows (see :mod:`vintages`).

    Examples
    --------
    >>> import numpy as np
    >>> idx = pd.DatetimeIndex([pd.Timestamp("2025-08-28 20:00", tz="America/New_York"),
    ...                         pd.Timestamp("2026-02-19 08:00", tz="America/New_York")])
    >>> raw = pd.DataFrame({"EPS Estimate": [2.2, 2.4], "Reported EPS": [2.0, np.nan],
    ...                     "Surprise(%)": [-9.09, np.nan]}, index=idx)
    >>> rows = earnings_rows(raw, "BABA", "America/New_York", pd.Timestamp("2026-02-01", tz="UTC"))
    >>> rows["flag"].tolist()
    ['suspect_utc_midnight', 'hour_precision']
    >>> [str(t) for t in rows["event_time"]]
    ['2025-08-29 04:00:00+00:00', '2026-02-19 13:59:59+00:00']
    """
    frame = raw.rename(columns=_RENAME)[list(_RENAME.values())].astype("float64")
    frame = frame.assign(stamp=frame.index).reset_index(drop=True)
    identical = frame.duplicated()
    same_time = frame.duplicated(subset="stamp") & ~identical
    if identical.any() or same_time.any():
        LOG.info(
            "%s: dropped %d identical and %d conflicting duplicate earnings rows (kept the first)",
            ticker,
            int(identical.sum()),
            int(same_time.sum()),
        )
    frame = frame[~(identical | same_time)]
    read = [_read_time(pd.Timestamp(s), tz) for s in frame["stamp"]]
    out = frame.drop(columns="stamp").assign(
        ticker=ticker,
        event_time=pd.to_datetime([r[0] for r in read], utc=True),
        flag=[r[1] for r in read],
        fetched_at=pd.Timestamp(fetched_at).tz_convert("UTC"),
    )
    return out.sort_values("event_time", kind="stable").reset_index(drop=True)


def _known_at(history: pd.DataFrame, final: pd.Series, cal, notice: int) -> tuple:
    same = history[history["event_time"] == final["event_time"]]
    first_seen = same["fetched_at"].min()
    if first_seen < final["event_time"]:
        return first_seen, "fetched"
    if (history["event_time"] != final["event_time"]).any():
        return final["event_time"], "moved_after_fetch"
    return assumed_known_at(final["event_time"], cal, notice), "assumed"


def event_rows(
    store: pd.DataFrame, cal: xcals.ExchangeCalendar, notice: int, as_of: pd.Timestamp | None
) -> list[dict[str, Any]]:
    """Event-table rows for the vintages known ``as_of`` (None: the latest of each event)."""
    known = store if as_of is None else store[store["fetched_at"] <= as_of]
    rows = []
    for _, final in vintages_as_of(known, None).iterrows():
        history = known[known["event_key"] == final["event_key"]]
        known_at, basis = _known_at(history, final, cal, notice)
        flag = f" [{final['flag']}]" if final["flag"] else ""
        rows.append(
            {
                "ticker": final["ticker"],
                "event_type": "earnings",
                "event_time": final["event_time"],
                "known_at": min(known_at, final["event_time"]),
                "known_at_basis": basis,
                "source": f"yfinance:earnings@{final['fetched_at']:%Y-%m-%dT%H:%MZ}{flag}",
                **{c: _none(final[c]) for c in ("eps_estimate", "eps_actual", "surprise_pct")},
            }
        )
    return rows


def _none(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


class YFinanceEarnings:
    """Earnings events from Yahoo with a vintage cache (one Parquet entry per ticker).

    A ticker is refetched when its newest vintage is older than ``max_age``, or
    always with ``refresh`` (``--refresh``); ``offline`` only reads the cache.
    A refetch is merged into the stored vintages (rows are only ever appended,
    so what was known when stays answerable) and the entry replaced atomically;
    if Yahoo fails the entry is left as it was.
    """

    def __init__(
        self,
        cache: ParquetCache,
        cal: xcals.ExchangeCalendar,
        offline: bool = False,
        refresh: bool = False,
        session: Any = None,
        limit: int = MAX_LIMIT,
        max_age: pd.Timedelta = DEFAULT_MAX_AGE,
        retries: int = DEFAULT_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        check_fetch_mode(offline, refresh)
        self.cache, self.cal, self.offline, self.session = cache, cal, offline, session
        self.refresh = refresh
        self.limit, self.max_age, self.retries, self.sleep = limit, max_age, retries, sleep
        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))

    @staticmethod
    def key(ticker: str) -> CacheKey:
        """Cache key of ``ticker``'s earnings vintages."""
        return CacheKey("earnings", ticker, "events", "vintages")

    def vintages(self, ticker: str) -> pd.DataFrame:
        """Return ``ticker``'s vintage table, refetched from Yahoo when stale or ``refresh``."""
        key = self.key(ticker)
        with self.cache.lock(key):
            store, fetched = self._cached(key)
            if self.offline:
                if store is None:
                    raise DataUnavailable(
                        f"{ticker} earnings",
                        f"offline and not in the cache ({self.cache.manifest_path(key)}); "
                        f"run `backtest fetch {ticker}` online first",
                    )
                return store
            now = self.clock()
            if store is not None and not self.refresh and now - fetched < self.max_age:
                return store
            raw = fetch_or_keep_cache(
                lambda: self.fetch(ticker), f"{ticker} earnings", self.refresh, store is not None
            )
            rows = earnings_rows(raw, ticker, self.cal.tz.key, now)
            merged = merge_vintages(
                store if store is not None else empty_vintages(), rows, self.cal.tz.key
            )
            self.cache.write(key, merged, now, _yf_version())
            return merged

    def _cached(self, key: CacheKey) -> tuple[pd.DataFrame | None, pd.Timestamp | None]:
        try:
            entry = self.cache.read(key)
        except CacheCorrupt:
            if self.offline:
                raise
            LOG.warning("corrupt earnings cache moved aside: %s", self.cache.quarantine(key))
            return None, None
        return (entry.frame, entry.fetched_at) if entry else (None, None)

    def fetch(self, ticker: str) -> pd.DataFrame:
        """One ``get_earnings_dates`` call with retries; None becomes DataUnavailable (E7)."""
        yf = yfinance_module(self.cache.root)

        def once() -> pd.DataFrame | None:
            forget_memoised_responses(yf)
            with yfinance_call(self.cache.root):
                return yf.Ticker(ticker, session=self.session).get_earnings_dates(limit=self.limit)

        raw = call_with_retries(once, f"{ticker} earnings", self.retries, self.sleep)
        if raw is None or raw.empty:
            raise DataUnavailable(
                f"{ticker} earnings", "Yahoo's earnings calendar has no rows for it"
            )
        if len(raw) >= self.limit:
            LOG.warning(
                "%s: got %d earnings rows = the limit; older history may be cut off",
                ticker,
                len(raw),
            )
        return raw

    def load(
        self, tickers: Iterable[str], notice: int = 10, as_of: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Return the earnings events of ``tickers`` (vintages known ``as_of``)."""
        rows = []
        for ticker in tickers:
            rows.extend(event_rows(self.vintages(ticker), self.cal, notice, as_of))
        return make_event_table(rows, self.cal)


def _yf_version() -> str:
    from importlib.metadata import version

    return version("yfinance")
