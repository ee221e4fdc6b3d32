"""The engine's clock: two ticks per session, the open and the close.

Daily bars cannot express "enter at the open, exit at the close of the same
day" as two orders, and vectorbt fills at most one order per bar and column.
So the engines simulate on ticks ``2*i`` (open of session ``i``) and ``2*i+1``
(its close), stamped with their real UTC instants. A tick's price is the
session's open or close; stop checks on a close tick see the session's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import exchange_calendars as xcals
import numpy as np
import pandas as pd

__all__ = [
    "Timeline",
    "TickPrices",
    "build_timeline",
    "session_bars",
    "spread_ticks",
    "tick_of",
    "tick_prices",
    "tradable",
]

AT_OFFSET = {"open": 0, "close": 1}
OHLC = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Timeline:
    """Sessions of a run and the UTC instants of their open and close ticks."""

    sessions: pd.DatetimeIndex
    ticks: pd.DatetimeIndex

    @property
    def close_ticks(self) -> np.ndarray:
        """Positions of the close ticks (one per session)."""
        return np.arange(1, len(self.ticks), 2)


def build_timeline(
    cal: xcals.ExchangeCalendar, first: pd.Timestamp, last: pd.Timestamp
) -> Timeline:
    """Return the timeline of every session from ``first`` to ``last`` inclusive.

    Examples
    --------
    >>> from backtest.sessions import get_calendar
    >>> tl = build_timeline(get_calendar("XNYS"), pd.Timestamp("2025-11-26"), pd.Timestamp("2025-11-28"))
    >>> [str(t) for t in tl.ticks[-2:]]  # the day after Thanksgiving closes at 13:00 New York
    ['2025-11-28 14:30:00+00:00', '2025-11-28 18:00:00+00:00']
    """
    sessions = cal.sessions_in_range(first, last)
    opens = cal.opens.loc[sessions].to_numpy()
    closes = cal.closes.loc[sessions].to_numpy()
    ticks = np.empty(2 * len(sessions), dtype=opens.dtype)
    ticks[0::2], ticks[1::2] = opens, closes
    return Timeline(pd.DatetimeIndex(sessions), pd.DatetimeIndex(ticks, tz="UTC"))


def tick_of(timeline: Timeline, session: pd.Timestamp, at: str) -> int:
    """Return the tick position of ``session``'s open or close."""
    return 2 * int(timeline.sessions.get_loc(session)) + AT_OFFSET[at]


@dataclass(frozen=True)
class TickPrices:
    """Per-tick price arrays (one ticker: (ticks,); many: (tickers, ticks)).

    ``price`` is the fill price; ``open, high, low`` the bar for stop checks.
    """

    price: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray


def session_bars(frames: list[pd.DataFrame], sessions: pd.DatetimeIndex) -> np.ndarray:
    """OHLC of each price frame on ``sessions``: shape (4, frames, sessions), NaN where no bar.

    Bars dated off ``sessions`` are left out (as ``frame.reindex(sessions)`` would).
    All frames are placed with one sorted search, not one pandas reindex each:
    a sweep spreads hundreds of tickers (benchmarks/RESULTS.md).

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02", "2026-01-05", "2026-01-06"])
    >>> frame = pd.DataFrame({k: [1.0, 2.0] for k in OHLC}, index=days[[0, 2]])
    >>> session_bars([frame], days)[3].tolist()  # closes; no bar on 01-05
    [[1.0, nan, 2.0]]
    """
    out = np.full((len(OHLC), len(frames), len(sessions)), np.nan)
    if not frames or not len(sessions):
        return out
    keys = sessions.as_unit("ns").asi8
    stamps = np.concatenate([pd.DatetimeIndex(f.index).as_unit("ns").asi8 for f in frames])
    pos = np.minimum(np.searchsorted(keys, stamps), len(keys) - 1)
    hit = keys[pos] == stamps
    row = np.repeat(np.arange(len(frames)), [len(f) for f in frames])
    cells = (row * len(keys) + pos)[hit]
    for field, name in zip(out, OHLC, strict=True):
        # One column at a time: selecting a column list per frame costs pandas 3-4x more.
        values = np.concatenate([f[name].to_numpy(dtype=float) for f in frames])
        field.ravel()[cells] = values[hit]
    return out


def tradable(bars: np.ndarray) -> np.ndarray:
    """Whether each (frame, session) of :func:`session_bars` has all four prices."""
    return ~np.isnan(bars).any(axis=0)


def _fill_gaps(bars: np.ndarray) -> np.ndarray:
    """Forward-fill each series along sessions, then back-fill its leading gap.

    Examples
    --------
    >>> _fill_gaps(np.array([[[np.nan, 1.0, np.nan, 3.0], [np.nan] * 4]])).tolist()
    [[[1.0, 1.0, 1.0, 3.0], [nan, nan, nan, nan]]]
    """
    valid = ~np.isnan(bars)
    if (valid == valid[:1]).all():  # whole bars missing (the usual gap): one source for all four
        valid = valid[:1]
    return np.take_along_axis(bars, _fill_source(valid), axis=-1)


def _fill_source(valid: np.ndarray) -> np.ndarray:
    """Position each value is read from: the last valid one at or before it, else the first.

    An all-NaN series reads its own first NaN.
    """
    at = np.arange(valid.shape[-1], dtype=np.int32)
    last = np.maximum.accumulate(np.where(valid, at, -1), axis=-1)
    return np.where(last >= 0, last, valid.argmax(axis=-1)[..., None])


def _interleave(at_open: np.ndarray, at_close: np.ndarray) -> np.ndarray:
    out = np.empty((*at_open.shape[:-1], 2 * at_open.shape[-1]))
    out[..., 0::2], out[..., 1::2] = at_open, at_close
    return out


def spread_ticks(bars: np.ndarray) -> TickPrices:
    """Spread :func:`session_bars` onto the open/close ticks, gaps filled.

    On an open tick the bar is the single open price; on a close tick it is
    the session's open, high, low and close. Missing sessions are forward-filled
    (a leading gap back-filled) for valuation only: signals never fill there,
    windows are checked first.
    """
    o, h, lo, c = _fill_gaps(bars)
    return TickPrices(
        price=_interleave(o, c),
        open=np.repeat(o, 2, axis=-1),
        high=_interleave(o, h),
        low=_interleave(o, lo),
    )


def tick_prices(frame: pd.DataFrame, timeline: Timeline) -> TickPrices:
    """Spread one ticker's daily bars onto the open/close ticks (see :func:`spread_ticks`).

    Examples
    --------
    >>> from backtest.sessions import get_calendar
    >>> tl = build_timeline(get_calendar("XNYS"), pd.Timestamp("2026-01-02"), pd.Timestamp("2026-01-05"))
    >>> frame = pd.DataFrame({"open": [10.0, 11.0], "high": [12.0, 13.0], "low": [9.0, 10.0],
    ...                       "close": [11.0, 12.0]}, index=tl.sessions)
    >>> tick_prices(frame, tl).price.tolist(), tick_prices(frame, tl).high.tolist()
    ([10.0, 11.0, 11.0, 12.0], [10.0, 12.0, 11.0, 13.0])
    """
    ticks = spread_ticks(session_bars([frame], timeline.sessions))
    return TickPrices(ticks.price[0], ticks.open[0], ticks.high[0], ticks.low[0])
