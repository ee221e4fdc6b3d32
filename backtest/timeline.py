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

__all__ = ["Timeline", "TickPrices", "build_timeline", "tick_of", "tick_prices"]

AT_OFFSET = {"open": 0, "close": 1}


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
    """Per-tick price arrays for one ticker: fill price and the bar for stop checks."""

    price: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray


def tick_prices(frame: pd.DataFrame, timeline: Timeline) -> TickPrices:
    """Spread one ticker's daily bars onto the open/close ticks.

    On an open tick the bar is the single open price; on a close tick it is
    the session's open, high, low and close. Missing sessions are forward-filled
    for valuation only (signals never fill there: windows are checked first).
    """
    bars = frame.reindex(timeline.sessions)[["open", "high", "low", "close"]].ffill().bfill()
    o, h, lo, c = (bars[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    price = np.column_stack([o, c]).ravel()
    return TickPrices(
        price=price,
        open=np.repeat(o, 2),
        high=np.column_stack([o, h]).ravel(),
        low=np.column_stack([o, lo]).ravel(),
    )
