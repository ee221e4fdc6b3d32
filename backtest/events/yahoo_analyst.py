"""Analyst actions from yfinance (``Ticker.upgrades_downgrades``) as ``analyst`` events.

Yahoo's ``upgradeDowngradeHistory`` gives, per action, ``epochGradeDate`` (UTC
seconds), ``firm``, ``fromGrade``, ``toGrade``, ``action`` (up, down, main,
init, reit) and, for recent rows, ``priceTargetAction``, ``currentPriceTarget``
and ``priorPriceTarget`` (0 when there was none).

A grade date exactly at UTC midnight carries no time of day: it becomes a
date-only event on that UTC date (timing ``unknown``, traded from the next
open), never 19:00 New York the evening before, which would be look-ahead.
The cache keeps the union of every fetch, so actions Yahoo later drops from
its list are not lost.
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
from backtest.events.table import make_event_table

__all__ = ["ACTIONS", "YFinanceAnalyst", "analyst_rows"]

LOG = logging.getLogger(__name__)
ACTIONS = {
    "up": "upgrade",
    "down": "downgrade",
    "main": "maintain",
    "init": "initiate",
    "reit": "reiterate",
}
COLUMNS = ("grade_time", "firm", "from_grade", "to_grade", "action", "target_new", "target_old")
_RENAME = {
    "Firm": "firm",
    "FromGrade": "from_grade",
    "ToGrade": "to_grade",
    "Action": "action",
    "currentPriceTarget": "target_new",
    "priorPriceTarget": "target_old",
}


def analyst_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """Tidy one ``upgrades_downgrades`` table: UTC times, named columns, 0 targets as NaN.

    Examples
    --------
    >>> raw = pd.DataFrame({"Firm": ["Macquarie"], "ToGrade": ["Outperform"],
    ...     "FromGrade": ["Outperform"], "Action": ["main"], "currentPriceTarget": [190.0],
    ...     "priorPriceTarget": [0.0]}, index=pd.to_datetime([1771286400], unit="s"))
    >>> row = analyst_rows(raw).iloc[0]
    >>> str(row["grade_time"]), float(row["target_new"]), float(row["target_old"])
    ('2026-02-17 00:00:00+00:00', 190.0, nan)
    """
    frame = raw.rename(columns=_RENAME).reindex(columns=list(_RENAME.values()))
    for col in ("target_new", "target_old"):
        values = pd.to_numeric(frame[col], errors="coerce")
        frame[col] = values.where(values > 0)
    index = pd.DatetimeIndex(raw.index)
    frame.insert(0, "grade_time", index.tz_localize("UTC") if index.tz is None else index)
    frame = frame.reset_index(drop=True).fillna({"from_grade": "", "to_grade": "", "firm": ""})
    return frame[list(COLUMNS)]


def _event_time(stamp: pd.Timestamp, tz: str) -> pd.Timestamp:
    if stamp == stamp.normalize():
        return pd.Timestamp(stamp.date()).tz_localize(tz)
    return stamp


def _headline(row: pd.Series) -> str:
    verb = ACTIONS.get(str(row["action"]), str(row["action"]))
    grades = f"{row['from_grade']} -> {row['to_grade']}" if row["from_grade"] else row["to_grade"]
    target = ""
    if pd.notna(row["target_new"]):
        old = f"{row['target_old']:g} -> " if pd.notna(row["target_old"]) else ""
        target = f", target {old}{row['target_new']:g}"
    return f"{row['firm']} {verb}: {grades}{target}"


def event_rows(table: pd.DataFrame, ticker: str, tz: str, fetched_at: str) -> list[dict]:
    """Event-table rows (type ``analyst``) for one ticker's tidy actions."""
    rows = []
    for _, row in table.iterrows():
        rows.append(
            {
                "ticker": ticker,
                "event_type": "analyst",
                "event_time": _event_time(row["grade_time"], tz),
                "source": f"yfinance:upgrades_downgrades@{fetched_at}",
                "firm": row["firm"],
                "rating": row["to_grade"] or None,
                "headline": _headline(row),
                "target_old": None if pd.isna(row["target_old"]) else float(row["target_old"]),
                "target_new": None if pd.isna(row["target_new"]) else float(row["target_new"]),
            }
        )
    return rows


class YFinanceAnalyst:
    """Analyst actions from Yahoo, cached per ticker like prices and earnings.

    Refetched when older than ``max_age`` or with ``refresh``; a refetch is
    unioned with the cached actions and the entry replaced atomically, or left
    as it was if Yahoo fails.
    """

    def __init__(
        self,
        cache: ParquetCache,
        cal: xcals.ExchangeCalendar,
        offline: bool = False,
        refresh: bool = False,
        session: Any = None,
        max_age: pd.Timedelta = DEFAULT_MAX_AGE,
        retries: int = DEFAULT_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        check_fetch_mode(offline, refresh)
        self.cache, self.cal, self.offline, self.session = cache, cal, offline, session
        self.refresh = refresh
        self.max_age, self.retries, self.sleep = max_age, retries, sleep
        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))

    @staticmethod
    def key(ticker: str) -> CacheKey:
        """Cache key of ``ticker``'s analyst actions."""
        return CacheKey("analyst", ticker, "events", "history")

    def actions(self, ticker: str) -> tuple[pd.DataFrame, pd.Timestamp]:
        """Return (tidy actions, fetch time), refetched from Yahoo when stale or ``refresh``."""
        key = self.key(ticker)
        with self.cache.lock(key):
            entry = self._cached(key)
            if self.offline and entry is None:
                raise DataUnavailable(
                    f"{ticker} analyst actions",
                    f"offline and not in the cache ({self.cache.manifest_path(key)}); "
                    f"run `backtest fetch {ticker}` online first",
                )
            now = self.clock()
            if entry is not None and (self.offline or self._fresh(entry, now)):
                return entry.frame, entry.fetched_at
            raw = fetch_or_keep_cache(
                lambda: self.fetch(ticker),
                f"{ticker} analyst actions",
                self.refresh,
                entry is not None,
            )
            fresh = analyst_rows(raw)
            merged = fresh if entry is None else _union(entry.frame, fresh)
            self.cache.write(key, merged, now, _yf_version())
            return merged, now

    def _fresh(self, entry, now: pd.Timestamp) -> bool:
        """True when ``entry`` may be served without asking Yahoo (young and no refresh)."""
        return not self.refresh and now - entry.fetched_at < self.max_age

    def _cached(self, key: CacheKey):
        try:
            return self.cache.read(key)
        except CacheCorrupt:
            if self.offline:
                raise
            LOG.warning("corrupt analyst cache moved aside: %s", self.cache.quarantine(key))
            return None

    def fetch(self, ticker: str) -> pd.DataFrame:
        """One ``upgrades_downgrades`` call with retries; an explicit empty history is empty."""
        yf = yfinance_module(self.cache.root)
        from yfinance.exceptions import YFDataException

        def once() -> pd.DataFrame:
            forget_memoised_responses(yf)
            with yfinance_call(self.cache.root):
                try:
                    return yf.Ticker(ticker, session=self.session).upgrades_downgrades
                except YFDataException as exc:
                    if "No upgrade/downgrade history" in str(exc):
                        return pd.DataFrame(columns=list(_RENAME))
                    raise

        return call_with_retries(once, f"{ticker} analyst actions", self.retries, self.sleep)

    def load(self, tickers: Iterable[str]) -> pd.DataFrame:
        """Return the analyst events of ``tickers``."""
        rows = []
        for ticker in tickers:
            table, fetched = self.actions(ticker)
            rows.extend(event_rows(table, ticker, self.cal.tz.key, f"{fetched:%Y-%m-%dT%H:%MZ}"))
        return make_event_table(rows, self.cal)


def _union(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Every action either fetch saw, once; the newer copy wins on the same key."""
    both = pd.concat([old, new], ignore_index=True)
    key = ["grade_time", "firm", "action", "to_grade"]
    return (
        both.drop_duplicates(subset=key, keep="last")
        .sort_values("grade_time")
        .reset_index(drop=True)
    )


def _yf_version() -> str:
    from importlib.metadata import version

    return version("yfinance")
