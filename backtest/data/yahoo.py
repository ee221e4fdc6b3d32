"""Daily prices from Yahoo Finance (yfinance), behind the one price-source interface.

The engine never fetches: :class:`YFinancePrices` is a :class:`~backtest.data.PriceSource`
whose ``load`` reads the on-disk cache (:mod:`backtest.data.cache`) and, unless
``offline``, tops it up from Yahoo first. With ``refresh`` (``--refresh``) the
cached bars are not read: the requested sessions are fetched again and replace
the entry (the same atomic write), and if Yahoo fails the old entry is kept
byte for byte. ``refresh`` with ``offline`` is a :class:`~backtest.core.errors.ConfigError`.

Price basis. Bars are fetched with ``auto_adjust=False``, so every row keeps
Yahoo's ``Close`` (the price traded that day; Yahoo does apply later *splits*
to it, yfinance #2076) and ``Adj Close`` (also dividend-adjusted). Both are
cached; ``data.price_basis`` then chooses: ``raw`` (default) fills trades at
``Close``/``Open`` as traded, ``adjusted`` scales OHLC by ``adj_close / close``
(:func:`backtest.data.prices.apply_basis`).

Splits. Bars are fetched with ``actions=True``: yfinance parses the split
events of Yahoo's chart answer (``events.splits``: numerator, denominator) into
its ``Stock Splits`` column, cached here as ``split_ratio`` (``10.0`` on
NVDA's 2024-06-10, ``0.0`` on other days). Validation checks the prices next to
each split for a missing or double adjustment (RELIABILITY P9,
:mod:`backtest.data.splits`). Dividends are kept as ``dividend`` (cash per share on each ex-date).

Failures. Network errors, HTTP 429 (``YFRateLimitError``) and empty frames are
retried with exponential backoff (``base_delay * 2**attempt``; the ``sleep``
function is injectable so tests do not wait), then end in a one-line
:class:`~backtest.core.errors.DataUnavailable` naming the ticker. An unknown or
delisted ticker fails at once. yfinance is imported lazily, so runs on bundled
or file prices never pay for it.

Concurrency (RELIABILITY K7). yfinance keeps time zones and cookies in sqlite
files; they are pointed into our cache folder, and every call into yfinance
holds that folder's inter-process lock (:func:`yfinance_call`). Without it,
parallel downloads into one cache failed: yfinance stores a cookie by a delete
then an insert, so two processes storing at once raised
``IntegrityError: UNIQUE constraint failed`` (yfinance #1526; #1274 and #1689
are the ``database is locked`` cousins). Only requests to Yahoo wait for each
other; reading our own cache never takes this lock.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import exchange_calendars as xcals
import pandas as pd
from filelock import FileLock

from backtest.core.errors import CacheCorrupt, ConfigError, DataUnavailable
from backtest.core.schema import DIVIDEND_COLUMN
from backtest.data.cache import LOCK_TIMEOUT_S, CacheEntry, CacheKey, ParquetCache
from backtest.data.splits import SPLIT_COLUMN

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_RETRIES",
    "FETCH_BASIS",
    "REFRESH_WITH_OFFLINE",
    "YFinancePrices",
    "call_with_retries",
    "check_fetch_mode",
    "fetch_or_keep_cache",
    "forget_memoised_responses",
    "quiet_yfinance",
    "yfinance_call",
    "from_yfinance_frame",
    "last_closed_session",
    "yfinance_module",
]

LOG = logging.getLogger(__name__)
FETCH_BASIS = "unadjusted"  # auto_adjust=False: Close as traded plus Adj Close
DEFAULT_RETRIES = 3
# Earnings and analyst tables are refetched (and a new vintage recorded) when older than this.
DEFAULT_MAX_AGE = pd.Timedelta(hours=24)
BASE_DELAY_S = 1.0
HISTORY_START = pd.Timestamp("1990-01-02")
# A cached bar whose Close moved more than this on refetch means Yahoo revised history.
REVISION_RTOL = 1e-6
_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
SPLITS_COLUMN = "Stock Splits"  # yfinance's, with actions=True
DIVIDENDS_COLUMN = "Dividends"  # cash per share on each ex-date (actions=True)
_CONFIGURED: dict[str, Any] = {}
REFRESH_WITH_OFFLINE = (
    "--refresh and --offline cannot be used together: --refresh refetches from Yahoo, "
    "--offline never touches the network; drop one"
)


def check_fetch_mode(offline: bool, refresh: bool) -> None:
    """Reject ``refresh`` together with ``offline``.

    Raises
    ------
    ConfigError
        Both are true.

    Examples
    --------
    >>> check_fetch_mode(offline=True, refresh=False)
    >>> try:
    ...     check_fetch_mode(offline=True, refresh=True)
    ... except ConfigError as exc:
    ...     print(str(exc).split(":")[0])
    --refresh and --offline cannot be used together
    """
    if offline and refresh:
        raise ConfigError(REFRESH_WITH_OFFLINE)


def fetch_or_keep_cache(fetch: Callable[[], Any], what: str, refresh: bool, cached: bool) -> Any:
    """Call ``fetch``; when a ``--refresh`` of a cached entry fails, say the cache was kept.

    The caller writes the cache only after ``fetch`` returns, so on failure the
    old entry is untouched; the error says so and how to use it.

    Raises
    ------
    DataUnavailable
        From ``fetch``; reworded when ``refresh`` and ``cached``.
    """
    try:
        return fetch()
    except DataUnavailable as exc:
        if not (refresh and cached):
            raise
        raise DataUnavailable(
            what,
            f"{exc.cause}; --refresh kept the cached entry unchanged: run without "
            "--refresh (or with --offline) to use it",
        ) from exc


def yfinance_module(cache_dir: Path | None = None) -> Any:
    """Import yfinance on first use and make it raise instead of logging failures.

    ``hide_exceptions = False`` turns yfinance's logged-and-empty failures into
    exceptions, so a rate limit is told apart from a missing ticker
    (RELIABILITY P1). Its timezone and cookie sqlite caches go to
    ``<cache_dir>/yfinance`` rather than a folder shared with other programs.
    """
    import yfinance as yf

    yf.config.debug.hide_exceptions = False
    # Failures reach us as exceptions and are reported once per ticker; yfinance's own
    # warnings ("Cookie/crumb fetch failed ...", one per retry) would only repeat them.
    logging.getLogger("yfinance").setLevel(logging.ERROR)
    if cache_dir is not None and _CONFIGURED.get("dir") != str(cache_dir):
        folder = Path(cache_dir) / "yfinance"
        folder.mkdir(parents=True, exist_ok=True)
        _forget_yfinance_caches()  # else they keep writing to the previous folder
        yf.set_tz_cache_location(str(folder))  # moves the cookie and ISIN caches too
        _CONFIGURED["dir"] = str(cache_dir)
    return yf


def forget_memoised_responses(yf: Any) -> None:
    """Clear yfinance's in-process response memo so a retry really asks Yahoo again.

    yfinance memoises GETs of past date ranges (``YfData.cache_get``, an
    ``lru_cache``); without this a retry after an empty answer gets the same
    empty answer back.
    """
    memo = getattr(getattr(yf, "data", None), "YfData", None)
    clear = getattr(getattr(memo, "cache_get", None), "cache_clear", None)
    if clear is not None:
        clear()


@contextlib.contextmanager
def quiet_yfinance():
    """Silence pandas deprecation notices raised inside yfinance's own code (not ours to fix).

    The filter matches only DeprecationWarnings attributed to yfinance's modules
    and stays installed for the process. ``warnings.catch_warnings`` cannot be
    used: it swaps the process-wide filter list, so with parallel downloads
    (RELIABILITY K7) the first thread to leave removed the filter while another
    was still inside yfinance, and the last to leave put back a stale list.
    ``filterwarnings`` without ``append`` replaces an identical filter, so
    entering again does not grow the list.

    Examples
    --------
    >>> with quiet_yfinance():
    ...     warnings.warn_explicit("old", DeprecationWarning, "utils.py", 1, module="yfinance.utils")
    """
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance\b")
    yield


@contextlib.contextmanager
def yfinance_call(cache_dir: Path):
    """Hold the lock on yfinance's sqlite caches under ``cache_dir`` for one call into it.

    One call at a time per cache folder, across threads and processes, so no two
    write yfinance's cookie or time-zone sqlite files at once; its deprecation
    notices are silenced as by :func:`quiet_yfinance`. Waiting longer than the
    cache's lock timeout raises ``filelock.Timeout``, a ``TimeoutError``, which
    :func:`call_with_retries` retries.

    Examples
    --------
    >>> import tempfile
    >>> with yfinance_call(Path(tempfile.mkdtemp())):
    ...     pass
    """
    folder = Path(cache_dir) / "yfinance"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / "sqlite.lock"), timeout=LOCK_TIMEOUT_S, is_singleton=True):
        try:
            with quiet_yfinance():
                yield
        finally:
            close_yfinance_sqlite()


#: yfinance's sqlite caches: the class holding each database, and the cache object that
#: keeps its own reference to the database it first used (not updated when the location
#: changes, so both must be closed, and the cache object dropped on a move).
_YF_CACHES = (
    ("_TzDBManager", "_TzCacheManager", "_tz_cache"),
    ("_CookieDBManager", "_CookieCacheManager", "_Cookie_cache"),
    ("_ISINDBManager", "_ISINCacheManager", "_isin_cache"),
)


def _yfinance_databases(cache: Any) -> list:
    found = []
    for db_holder, manager, attr in _YF_CACHES:
        found.append(getattr(getattr(cache, db_holder, None), "_db", None))
        found.append(getattr(getattr(getattr(cache, manager, None), attr, None), "db", None))
    return list({id(db): db for db in found if db is not None}.values())


def close_yfinance_sqlite() -> None:
    """Close this thread's connections to yfinance's sqlite caches (time zones, cookies, ISINs).

    peewee keeps one connection per thread and yfinance closes only the calling
    thread's, at exit: a download thread that ends leaves its connection to the
    garbage collector, which Python 3.13 reports as an unclosed-database
    ResourceWarning. Closing after every call (under the cache lock) leaves none
    open; the next call reopens them. Each cache object keeps the database it
    first opened, so that one is closed as well as its manager's.

    Examples
    --------
    >>> close_yfinance_sqlite()  # nothing open: nothing to do
    """
    cache = sys.modules.get("yfinance.cache")
    if cache is None:
        return
    for db in _yfinance_databases(cache):
        if not db.is_closed():
            db.close()


def _forget_yfinance_caches() -> None:
    """Drop yfinance's cache objects so they reopen their database at the new location."""
    cache = sys.modules.get("yfinance.cache")
    if cache is None:
        return
    close_yfinance_sqlite()
    for _, manager, attr in _YF_CACHES:
        holder = getattr(cache, manager, None)
        if holder is not None and hasattr(holder, attr):
            setattr(holder, attr, None)


def _failure_kind(exc: BaseException) -> str:
    """``retry`` (transient), ``missing`` (unknown ticker) or ``raise`` (a bug or usage error)."""
    from yfinance.exceptions import (
        YFPricesMissingError,
        YFRateLimitError,
        YFTickerMissingError,
    )

    if getattr(getattr(exc, "response", None), "status_code", None) == 404:
        return "missing"  # Yahoo's "Quote not found" for an unknown symbol
    if isinstance(exc, YFRateLimitError | OSError | TimeoutError | _EmptyFrame):
        return "retry"
    if isinstance(exc, YFPricesMissingError):
        # Without Yahoo's own reason an empty answer may be a disguised throttle.
        return "missing" if exc.yahoo_reason else "retry"
    if isinstance(exc, YFTickerMissingError):
        return "missing"
    return "raise"


class _EmptyFrame(Exception):
    """yfinance returned an empty table without saying why."""


def call_with_retries(
    fetch: Callable[[], Any],
    what: str,
    retries: int = DEFAULT_RETRIES,
    sleep: Callable[[float], None] = time.sleep,
    base_delay: float = BASE_DELAY_S,
) -> Any:
    """Call ``fetch``; retry transient failures with exponential backoff.

    Raises
    ------
    DataUnavailable
        At once for an unknown or delisted ticker; after ``retries`` retries
        for network errors, rate limits and empty answers.
    """
    last: BaseException | None = None
    for attempt in range(retries + 1):
        try:
            return fetch()
        except Exception as exc:
            kind = _failure_kind(exc)
            if kind == "missing":
                raise DataUnavailable(
                    what, f"Yahoo does not know it or it is delisted ({exc})"
                ) from exc
            if kind == "raise":
                raise
            last = exc
            LOG.info("%s: attempt %d failed: %s", what, attempt + 1, exc)
            if attempt < retries:
                sleep(base_delay * 2**attempt)
    raise DataUnavailable(
        what,
        f"Yahoo failed {retries + 1} times (last: {type(last).__name__}: {last}); "
        "check the network or try later, or run --offline on cached data",
    )


def from_yfinance_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn ``Ticker.history(auto_adjust=False, actions=True)`` output into the prices schema.

    The exchange-local session date becomes a tz-naive midnight index;
    ``Stock Splits``, when present, becomes ``split_ratio`` and ``Dividends``
    ``dividend`` (cash per share on the ex-date, 0 elsewhere: the list the
    ``costs:`` section's dividends read, :mod:`backtest.engine.rules.trade_costs`).

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2026-02-19"]).tz_localize("America/New_York")
    >>> raw = pd.DataFrame({"Open": [1.0], "High": [2.0], "Low": [0.5], "Close": [1.5],
    ...                     "Adj Close": [1.4], "Volume": [10], "Dividends": [0.0],
    ...                     "Stock Splits": [0.0]}, index=idx)
    >>> out = from_yfinance_frame(raw)
    >>> list(out.columns)
    ['open', 'high', 'low', 'close', 'adj_close', 'volume', 'split_ratio', 'dividend']
    >>> str(out.index[0]), out.index.name
    ('2026-02-19 00:00:00', 'session')
    """
    columns = {**_COLUMNS, SPLITS_COLUMN: SPLIT_COLUMN, DIVIDENDS_COLUMN: DIVIDEND_COLUMN}
    wanted = [c for c in columns if c in _COLUMNS or c in frame.columns]
    out = frame[wanted].rename(columns=columns).astype("float64")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    # Same index unit as the CSV sources, so tables from either compare equal.
    out.index = pd.DatetimeIndex(index.normalize(), name="session").as_unit("us")
    return out


def last_closed_session(cal: xcals.ExchangeCalendar, now: pd.Timestamp) -> pd.Timestamp:
    """Return the latest session whose close is at or before ``now``.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> cal = get_calendar("XNYS")
    >>> str(last_closed_session(cal, pd.Timestamp("2026-02-19 20:59", tz="UTC")).date())
    '2026-02-18'
    >>> str(last_closed_session(cal, pd.Timestamp("2026-02-19 21:00", tz="UTC")).date())
    '2026-02-19'
    """
    day = cal.date_to_session(now.tz_convert(cal.tz).normalize().tz_localize(None), "previous")
    return day if cal.session_close(day) <= now else cal.previous_session(day)


class YFinancePrices:
    """Daily prices of any ticker from Yahoo, through a cache that only grows.

    Parameters
    ----------
    cache : ParquetCache
        Where fetched prices live.
    cal : exchange_calendars.ExchangeCalendar
        Listing calendar: which sessions must be present, which bar is unfinished.
    start, end : pandas.Timestamp, optional
        Sessions the run needs (default: all history, up to the last closed session).
    offline : bool
        Never touch the network: serve the cache or raise.
    refresh : bool
        Do not read the cached bars: fetch the sessions again and replace the
        entry (kept unchanged if Yahoo fails). The new entry holds the sessions
        asked for; a later run that needs more tops it up as usual.
    session : object, optional
        HTTP session handed to ``yfinance.Ticker`` (tests pass a recorded-payload fake).
    retries, sleep : int, callable
        Retry policy of :func:`call_with_retries`.
    clock : callable, optional
        Returns "now" (UTC); bars whose session has not closed are never cached.
    """

    name = "yfinance"

    def __init__(
        self,
        cache: ParquetCache,
        cal: xcals.ExchangeCalendar,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        offline: bool = False,
        refresh: bool = False,
        session: Any = None,
        retries: int = DEFAULT_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        check_fetch_mode(offline, refresh)
        self.cache, self.cal = cache, cal
        self.start = pd.Timestamp(start) if start is not None else None
        self.end = pd.Timestamp(end) if end is not None else None
        self.offline, self.refresh, self.session = offline, refresh, session
        self.retries, self.sleep = retries, sleep
        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))

    @staticmethod
    def key(ticker: str) -> CacheKey:
        """Cache key of ``ticker``'s daily bars."""
        return CacheKey("prices", ticker, "1d", FETCH_BASIS)

    def load(self, ticker: str) -> pd.DataFrame:
        """Return ``ticker``'s cached prices, topped up (or with ``refresh`` refetched)."""
        key = self.key(ticker)
        with self.cache.lock(key):
            if self.refresh:
                return self._refetch(ticker, key)
            entry = self._cached(key)
            if self.offline:
                return self._offline(entry, key, ticker)
            try:
                return self._top_up(ticker, entry)
            except DataUnavailable as exc:
                if entry is None:
                    raise
                raise DataUnavailable(
                    ticker,
                    f"{exc.cause}; the cache (unchanged) ends {entry.frame.index[-1].date()}: "
                    "rerun with --offline to use it",
                ) from exc

    def _refetch(self, ticker: str, key: CacheKey) -> pd.DataFrame:
        """Fetch the needed sessions without reading the cache; replace the entry."""
        first, last = self._needed()
        cached = self.cache.manifest_path(key).is_file()
        frame = fetch_or_keep_cache(
            lambda: self.fetch(ticker, first, last), ticker, self.refresh, cached
        )
        self._store(ticker, frame, first)
        return frame

    def _store(self, ticker: str, frame: pd.DataFrame, first: pd.Timestamp) -> None:
        """Atomically replace ``ticker``'s entry, noting the earliest session asked for."""
        extra = {"requested_start": str(first.date())}
        self.cache.write(self.key(ticker), frame, self.clock(), self._version(), extra)

    def _cached(self, key: CacheKey) -> CacheEntry | None:
        try:
            return self.cache.read(key)
        except CacheCorrupt:
            if self.offline:
                raise
            moved = self.cache.quarantine(key)
            LOG.warning("corrupt cache entry moved aside (%s); refetching", moved)
            return None

    def _offline(self, entry: CacheEntry | None, key: CacheKey, ticker: str) -> pd.DataFrame:
        if entry is None:
            raise DataUnavailable(
                ticker,
                f"offline and not in the cache ({self.cache.manifest_path(key)}); "
                f"run `backtest fetch {ticker}` online first",
            )
        return entry.frame

    def _needed(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        first = self.start if self.start is not None else HISTORY_START
        last = last_closed_session(self.cal, self.clock())
        if self.end is not None:
            last = min(last, self.cal.date_to_session(self.end, "previous"))
        return first, last

    def _top_up(self, ticker: str, entry: CacheEntry | None) -> pd.DataFrame:
        first, last = self._needed()
        head_ok = False
        if entry is not None:
            covered_from = pd.Timestamp(entry.extra.get("requested_start", entry.frame.index[0]))
            head_ok = covered_from <= first
            first = min(first, covered_from)
            if head_ok and entry.frame.index[-1] >= last:
                return entry.frame
        frame = self._merge(ticker, entry if head_ok else None, first, last)
        self._store(ticker, frame, first)
        return frame

    def _merge(
        self, ticker: str, entry: CacheEntry | None, first: pd.Timestamp, last: pd.Timestamp
    ) -> pd.DataFrame:
        """Fetch only the sessions after the cache; everything if Yahoo revised the overlap."""
        if entry is None:
            return self.fetch(ticker, first, last)
        cached = entry.frame
        # Refetch the last cached session too: it shows whether Yahoo revised history.
        fresh = self.fetch(ticker, cached.index[-1], last)
        if _revised(cached, fresh):
            LOG.warning("%s: Yahoo revised past prices; refetching the whole history", ticker)
            return self.fetch(ticker, first, last)
        return pd.concat([cached, fresh[fresh.index > cached.index[-1]]])

    def fetch(self, ticker: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
        """Fetch sessions ``first..last`` (inclusive) from Yahoo, finished bars only."""
        yf = yfinance_module(self.cache.root)
        # yfinance's `end` is exclusive (RELIABILITY P11): ask for the day after.
        end = (last + pd.Timedelta(days=1)).strftime("%Y-%m-%d")

        def once() -> pd.DataFrame:
            forget_memoised_responses(yf)
            with yfinance_call(self.cache.root):
                raw = yf.Ticker(ticker, session=self.session).history(
                    start=first.strftime("%Y-%m-%d"),
                    end=end,
                    interval="1d",
                    auto_adjust=False,
                    actions=True,
                    repair=False,
                )
            if raw is None or raw.empty:
                raise _EmptyFrame(f"{ticker}: empty price table for {first.date()}..{last.date()}")
            return raw

        frame = from_yfinance_frame(
            call_with_retries(once, ticker, self.retries, self.sleep, BASE_DELAY_S)
        )
        closes = pd.Series([self.cal.session_close(s) for s in frame.index], index=frame.index)
        return frame[closes.le(self.clock()).to_numpy()]

    @staticmethod
    def _version() -> str:
        from importlib.metadata import version

        return version("yfinance")


def _revised(cached: pd.DataFrame, fresh: pd.DataFrame) -> bool:
    """True when the session both tables share differs in close or adjustment ratio."""
    day = cached.index[-1]
    if day not in fresh.index:
        return False
    old, new = cached.loc[day], fresh.loc[day]
    ratio_old, ratio_new = old["adj_close"] / old["close"], new["adj_close"] / new["close"]
    close_moved = abs(new["close"] / old["close"] - 1) > REVISION_RTOL
    return bool(close_moved or abs(ratio_new / ratio_old - 1) > REVISION_RTOL)
