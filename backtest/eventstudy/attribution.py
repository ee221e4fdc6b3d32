"""Per-trade attribution: overnight gaps (close -> open) versus intraday moves (open -> close).

A trade's holding window is a path over the ticks ``open_s, close_s, open_s+1,
...`` of its ticker, from the entry tick to the exit tick. Each step is either an
overnight gap (previous close to open) or an intraday move (open to close).
Compounding the steps of each kind::

    1 + overnight = prod_gaps (open_s / close_s-1)
    1 + intraday  = prod_days (close_s / open_s)
    gross_return  = side * ((1 + overnight) (1 + intraday) - 1)

which reproduces the engine's ``gross_return`` (market move at unslipped prices,
signed by side) exactly. A stop exit fills inside its last session at the stop
level, so its last intraday step ends at that level (the reference exit price
implied by ``gross_return``) instead of the close. ``cost_return`` is what fees
and slippage took: ``net_return - gross_return``.

The steps are summed as log returns with cumulative sums per ticker, so a trade
costs O(1) however long it is held.
"""

from __future__ import annotations

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from backtest.core.schema import TICK_EXITS, require_columns
from backtest.core.sessions import get_calendar

__all__ = ["ATTRIBUTION_COLUMNS", "attribute_trades", "extreme_events"]

ATTRIBUTION_COLUMNS = (
    "strategy",
    "event_id",
    "ticker",
    "side",
    "entry_time",
    "exit_time",
    "n_overnight",
    "n_intraday",
    "overnight_return",
    "intraday_return",
    "gross_return",
    "cost_return",
    "net_return",
    "note",
)
_NEEDED = ("ticker", "event_id", "side", "entry_time", "exit_time", "gross_return", "net_return")


def _ticks(times: pd.Series, sessions: pd.DatetimeIndex, cal: xcals.ExchangeCalendar) -> np.ndarray:
    """Tick number ``2 * session_position + (0 at the open, 1 at the close)``; -1 if unknown."""
    utc = pd.DatetimeIndex(pd.to_datetime(times, utc=True))
    day = utc.tz_convert(cal.tz).normalize().tz_localize(None)
    pos = sessions.get_indexer(day)
    at_open = utc == pd.DatetimeIndex(cal.opens.reindex(day))
    at_close = utc == pd.DatetimeIndex(cal.closes.reindex(day))
    return np.where((pos >= 0) & (at_open | at_close), 2 * pos + at_close, -1)


def _log_paths(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log tick prices and cumulative overnight / intraday log steps of one ticker."""
    logp = np.log(np.column_stack([frame["open"], frame["close"]]).ravel().astype(float))
    step = np.diff(logp, prepend=logp[0])
    gap = np.arange(len(logp)) % 2 == 0  # a step into an open tick is an overnight gap
    return logp, np.cumsum(np.where(gap, step, 0.0)), np.cumsum(np.where(gap, 0.0, step))


def _exit_adjustment(
    trades: pd.DataFrame, logp: np.ndarray, t_in: np.ndarray, t_out: np.ndarray
) -> np.ndarray:
    """Log distance from the exit tick's close to the stop level, for stop exits only."""
    if "exit_reason" not in trades:
        return np.zeros(len(trades))
    side = trades["side"].to_numpy(dtype=float)
    implied = logp[t_in] + np.log1p(trades["gross_return"].to_numpy(dtype=float) / side)
    is_stop = (~trades["exit_reason"].isin(TICK_EXITS)).to_numpy()
    return np.where(is_stop, implied - logp[t_out], 0.0)


def _attribute_ticker(
    trades: pd.DataFrame, frame: pd.DataFrame, cal: xcals.ExchangeCalendar
) -> pd.DataFrame:
    logp, cum_gap, cum_day = _log_paths(frame)
    t_in = _ticks(trades["entry_time"], frame.index, cal)
    t_out = _ticks(trades["exit_time"], frame.index, cal)
    ok = (t_in >= 0) & (t_out > t_in)
    t_in, t_out = np.where(ok, t_in, 0), np.where(ok, t_out, 0)
    gap = cum_gap[t_out] - cum_gap[t_in]
    day = cum_day[t_out] - cum_day[t_in] + _exit_adjustment(trades, logp, t_in, t_out)
    n_gap = t_out // 2 - t_in // 2  # one gap into every session after the entry session
    out = trades.assign(
        n_overnight=np.where(ok, n_gap, 0),
        n_intraday=np.where(ok, (t_out - t_in) - n_gap, 0),
        overnight_return=np.where(ok, np.expm1(gap), np.nan),
        intraday_return=np.where(ok, np.expm1(day), np.nan),
        note=np.where(ok, "", "entry or exit time is not a session open or close in the prices"),
    )
    return out


def attribute_trades(
    trades: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    cal: xcals.ExchangeCalendar | None = None,
) -> pd.DataFrame:
    """Split each trade's return into overnight-gap and intraday parts.

    Parameters
    ----------
    trades : pandas.DataFrame
        Trades table (schema in :mod:`backtest.core.schema`).
    prices : dict of str to pandas.DataFrame
        The daily bars the trades were simulated on.
    cal : exchange_calendars.ExchangeCalendar, optional
        Calendar giving each session's open and close instant; XNYS by default.

    Returns
    -------
    pandas.DataFrame
        One row per trade with :data:`ATTRIBUTION_COLUMNS`. A trade whose ticker
        has no prices, or whose times are not session opens/closes, keeps NaN parts
        and says why in ``note`` (never dropped).

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2026-01-05", "2026-01-06"])
    >>> px = {"A": pd.DataFrame({"open": [100.0, 110.0], "close": [105.0, 121.0]}, index=idx)}
    >>> tr = pd.DataFrame({"strategy": ["s"], "event_id": ["e"], "ticker": ["A"], "side": [1],
    ...     "entry_time": [pd.Timestamp("2026-01-05 14:30", tz="UTC")],
    ...     "exit_time": [pd.Timestamp("2026-01-06 21:00", tz="UTC")],
    ...     "gross_return": [0.21], "net_return": [0.2]})
    >>> row = attribute_trades(tr, px).iloc[0]
    >>> # intraday 105/100 * 121/110 = 1.155; overnight 110/105 = 1.047619; product 1.21
    >>> round(float(row.overnight_return), 6), round(float(row.intraday_return), 6)
    (0.047619, 0.155)
    >>> int(row.n_overnight), int(row.n_intraday)
    (1, 2)
    """
    require_columns(trades, _NEEDED, "trades table")
    cal = cal or get_calendar("XNYS")
    parts = []
    for ticker, group in trades.groupby("ticker", sort=False):
        if ticker in prices:
            parts.append(_attribute_ticker(group, prices[ticker], cal))
        else:
            parts.append(group.assign(note=f"no prices for ticker {ticker}"))
    frame = pd.concat(parts).sort_index() if parts else trades.iloc[:0]
    frame = frame.assign(cost_return=frame["net_return"] - frame["gross_return"])
    return frame.reindex(columns=list(ATTRIBUTION_COLUMNS)).reset_index(drop=True)


def extreme_events(attribution: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` worst and ``n`` best trades by net return, per strategy.

    Examples
    --------
    >>> a = pd.DataFrame({"strategy": "s", "event_id": list("abc"), "net_return": [0.1, -0.2, 0.3]})
    >>> extreme_events(a, 1)[["rank", "event_id"]].values.tolist()
    [['worst 1', 'b'], ['best 1', 'c']]
    """
    rows = []
    for _, group in attribution.groupby("strategy", sort=True):
        worst = group.nsmallest(n, "net_return")
        best = group.nlargest(n, "net_return")
        rows.append(worst.assign(rank=[f"worst {i + 1}" for i in range(len(worst))]))
        rows.append(best.assign(rank=[f"best {i + 1}" for i in range(len(best))]))
    if not rows:
        return attribution.assign(rank=pd.Series(dtype=object))
    out = pd.concat(rows, ignore_index=True)
    return out[["rank", *[c for c in out.columns if c != "rank"]]]
