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

from backtest.core.jit import compiled

__all__ = [
    "Timeline",
    "TickPrices",
    "build_timeline",
    "session_bars",
    "session_dates",
    "session_ticks",
    "spread_price",
    "spread_stop_bars",
    "spread_ticks",
    "tick_keys",
    "tick_of",
    "tick_prices",
    "tradable",
    "valid_run",
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
    >>> from backtest.core.sessions import get_calendar
    >>> tl = build_timeline(get_calendar("XNYS"), pd.Timestamp("2025-11-26"), pd.Timestamp("2025-11-28"))
    >>> [str(t) for t in tl.ticks[-2:]]  # the day after Thanksgiving closes at 13:00 New York
    ['2025-11-28 14:30:00+00:00', '2025-11-28 18:00:00+00:00']
    """
    sessions = cal.sessions_in_range(first, last)
    # Interleaved as UTC datetime64 values: the Series' own to_numpy() boxes every
    # instant as a Timestamp, which made this 10 ms of a sweep's set-up.
    opens = _utc_values(cal.opens.loc[sessions])
    closes = _utc_values(cal.closes.loc[sessions])
    ticks = np.empty(2 * len(sessions), dtype=opens.dtype)
    ticks[0::2], ticks[1::2] = opens, closes
    return Timeline(pd.DatetimeIndex(sessions), pd.DatetimeIndex(ticks).tz_localize("UTC"))


def _utc_values(stamps: pd.Series) -> np.ndarray:
    """Instants as naive UTC ``datetime64`` values.

    Examples
    --------
    >>> opens = pd.Series(pd.to_datetime(["2026-01-02 09:30"]).tz_localize("America/New_York"))
    >>> [str(pd.Timestamp(v)) for v in _utc_values(opens)]
    ['2026-01-02 14:30:00']
    """
    return pd.DatetimeIndex(stamps).tz_convert("UTC").tz_localize(None).to_numpy()


def tick_of(timeline: Timeline, session: pd.Timestamp, at: str) -> int:
    """Return the tick position of ``session``'s open or close."""
    return 2 * int(timeline.sessions.get_loc(session)) + AT_OFFSET[at]


def tick_keys(sessions: pd.Series, at: pd.Series) -> np.ndarray:
    """Integer tick keys that order fills in time: ``2 * day + (0 open, 1 close)``.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2026-01-05", "2026-01-05", "2026-01-06"]))
    >>> k = tick_keys(s, pd.Series(["close", "open", "open"]))
    >>> bool(k[1] < k[0] < k[2])
    True
    """
    days = pd.DatetimeIndex(sessions).to_numpy().astype("datetime64[D]").astype(np.int64)
    return 2 * days + at.map(AT_OFFSET).to_numpy(dtype=np.int64)


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
    No pandas reindex per frame: a sweep spreads hundreds of tickers
    (benchmarks/RESULTS.md), so each frame is placed with numpy (:func:`_place_bars`).

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02", "2026-01-05", "2026-01-06"])
    >>> frame = pd.DataFrame({k: [1.0, 2.0] for k in OHLC}, index=days[[0, 2]])
    >>> session_bars([frame], days)[3].tolist()  # closes; no bar on 01-05
    [[1.0, nan, 2.0]]
    """
    # Not np.full: _place_bars writes every cell once (a bar or NaN), and a 500-ticker
    # block (57 MB on W1) written twice cost a tenth of a sweep (benchmarks/RESULTS.md).
    out = np.empty((len(OHLC), len(frames), len(sessions)))
    for i, (keys, stamps, values, _, increasing) in enumerate(_frame_bars(frames, sessions)):
        _place_bars(list(out[:, i]), keys, stamps, values, increasing)
    return out


def session_ticks(
    frames: list[pd.DataFrame], sessions: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """Fill prices on the ticks of ``sessions`` (NaN where no bar) and :func:`tradable`.

    The same two arrays as ``spread_price(bars, fill_gaps=False)`` and
    ``tradable(bars)`` of ``bars = session_bars(frames, sessions)``, without the
    (4, frames, sessions) block in between: a sweep without stops reads only
    these (the block cost a fifth of a 500-ticker sweep, benchmarks/RESULTS.md).

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02", "2026-01-05", "2026-01-06"])
    >>> frame = pd.DataFrame({k: [1.0, 2.0] for k in OHLC}, index=days[[0, 2]])
    >>> frame.loc[days[2], "high"] = np.nan
    >>> price, ok = session_ticks([frame], days)
    >>> price.tolist(), ok.tolist()
    ([[1.0, 1.0, nan, nan, 2.0, 2.0]], [[True, False, False]])
    """
    price = np.empty((len(frames), 2 * len(sessions)))
    ok = np.empty((len(frames), len(sessions)), dtype=bool)
    keys = sessions.as_unit("ns").asi8
    increasing = bool((keys[1:] > keys[:-1]).all())
    place_run = compiled(_place_run) if increasing else None
    missing = (np.nan, np.nan, False)
    for i, frame in enumerate(frames):
        stamps = _ns_stamps(frame.index)
        block, columns = _ohlc_block(frame)
        # The usual frame: its bars are one unbroken run of the sessions, placed in one
        # compiled pass that also checks each bar's four prices.
        if place_run is not None and block is not None:
            if place_run(keys, stamps, block, *columns, price[i], ok[i]):
                continue
        values, gaps = _ohlc_values(frame)
        # A frame without a missing price is tradable wherever it has a bar.
        complete = ~np.isnan(np.vstack(values)).any(axis=0) if gaps else np.True_
        fields = [values[0], values[-1], complete]  # open, close, tradable
        _place_bars(
            [price[i, 0::2], price[i, 1::2], ok[i]], keys, stamps, fields, increasing, missing
        )
    return price, ok


def _place_run(keys, stamps, block, o, h, lo, c, price, ok):  # pragma: no cover - numba
    """Write a frame's open and close on the ticks, and whether its bar is whole, into
    one panel row, if its bar stamps are one unbroken run of ``keys``; else write
    nothing and return False (:func:`_place_bars` places it then).

    ``block`` holds the frame's columns; ``o, h, lo, c`` are the columns of the
    open, high, low and close. Sessions outside the run get NaN and False.
    """
    n, total = len(stamps), len(keys)
    if n == 0:
        return False
    first = np.searchsorted(keys, stamps[0])
    if first + n > total:
        return False
    for k in range(n):
        if keys[first + k] != stamps[k]:
            return False
    for s in range(first):
        price[2 * s] = np.nan
        price[2 * s + 1] = np.nan
        ok[s] = False
    for k in range(n):
        s = first + k
        bar_open, close = block[k, o], block[k, c]
        price[2 * s] = bar_open
        price[2 * s + 1] = close
        # NaN is the one value unequal to itself: no branch per price.
        ok[s] = (
            (bar_open == bar_open)
            & (close == close)
            & (block[k, h] == block[k, h])
            & (block[k, lo] == block[k, lo])
        )
    for s in range(first + n, total):
        price[2 * s] = np.nan
        price[2 * s + 1] = np.nan
        ok[s] = False
    return True


def _frame_bars(frames: list[pd.DataFrame], sessions: pd.DatetimeIndex):
    """Per frame: the session keys, the frame's bar stamps, its open, high, low and
    close and whether it may lack a price (:func:`_ohlc_values`), and whether keys increase."""
    keys = sessions.as_unit("ns").asi8
    increasing = bool((keys[1:] > keys[:-1]).all())
    for frame in frames:
        yield keys, _ns_stamps(frame.index), *_ohlc_values(frame), increasing


def _place_bars(
    out: list[np.ndarray],
    keys: np.ndarray,
    stamps: np.ndarray,
    values: list,
    increasing: bool,
    missing: float | bool | tuple = np.nan,
) -> None:
    """Write one frame's fields ``values`` (one array per bar, or one value for all its
    bars) into ``out`` (one array per session).

    Every cell of each ``out`` array is written: the bar's value where the frame
    has a bar that session, else ``missing`` (one value, or one per field). A frame whose bars are one
    unbroken run of sessions (the usual price frame) is copied as a slice; any
    other is placed by a sorted search, leaving out bars dated off ``keys`` (a
    later duplicate overwrites an earlier one). ``increasing``: ``keys``
    strictly increase, so a run is found where it is.

    Examples
    --------
    >>> out = [np.empty(4), np.empty(4)]
    >>> _place_bars(out, np.array([10, 20, 30, 40]), np.array([20, 25, 40]),
    ...             [np.array([0.0, 1.0, 2.0]), np.array([3.0, 4.0, 5.0])], True)
    >>> out[0].tolist(), out[1].tolist()  # 25 is no session
    ([nan, 0.0, nan, 2.0], [nan, 3.0, nan, 5.0])
    """
    gaps = missing if isinstance(missing, tuple) else (missing,) * len(out)
    if not len(stamps) or not len(keys):
        for field, gap in zip(out, gaps, strict=True):
            field[:] = gap
        return
    first = int(np.searchsorted(keys, stamps[0]))
    stop = first + len(stamps)
    run = keys[first:stop]
    if increasing and len(run) == len(stamps) and (run == stamps).all():
        for field, column, gap in zip(out, values, gaps, strict=True):
            field[:first] = gap
            field[first:stop] = column
            field[stop:] = gap
        return
    pos = np.minimum(np.searchsorted(keys, stamps), len(keys) - 1)
    hit = keys[pos] == stamps
    for field, column, gap in zip(out, values, gaps, strict=True):
        field[:] = gap
        field[pos[hit]] = column if np.ndim(column) == 0 else column[hit]


DAY_NS = 86_400_000_000_000


def session_dates(index: pd.Index) -> pd.DatetimeIndex:
    """A price frame's bar index as tz-naive midnight dates, in nanoseconds.

    ``normalize()`` infers the index's frequency, most of the cost of reading 500
    frames' dates: it is called only when a stamp is not at midnight already.

    Examples
    --------
    >>> session_dates(pd.DatetimeIndex(["2026-01-02"], tz="America/New_York")).tolist()
    [Timestamp('2026-01-02 00:00:00')]
    >>> session_dates(pd.DatetimeIndex(["2026-01-02 16:00"])).tolist()
    [Timestamp('2026-01-02 00:00:00')]
    """
    dates = pd.DatetimeIndex(index)
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    dates = dates.as_unit("ns")
    if (dates.asi8 % DAY_NS).any():
        dates = dates.normalize()
    return dates


def _ns_stamps(index: pd.Index) -> np.ndarray:
    """A bar index as int64 nanoseconds, without copying an index that already is one."""
    index = index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index)
    return (index if index.unit == "ns" else index.as_unit("ns")).asi8


def _ohlc_values(frame: pd.DataFrame) -> tuple[list[np.ndarray], bool]:
    """One price frame's open, high, low and close as four float arrays (views where
    possible), and whether the frame may lack a price (False: no NaN in it).

    The whole frame is converted with one ``to_numpy(dtype=float)`` (the same
    conversion per column as ``frame[name].to_numpy(dtype=float)``): pandas
    costs about 20 us per column selected, and checking ``frame.dtypes`` first
    builds a Series per frame, most of building a 500-ticker panel. Its columns
    are returned as strided views, copied once, into the panel; one NaN check of
    the whole block (other columns too: a NaN volume only costs the exact check
    of :func:`session_ticks`) replaces four. A frame with a column that does not
    convert (text, say) goes column by column.

    Examples
    --------
    >>> frame = pd.DataFrame({"close": [2.0], "open": [1.0], "low": [0.5], "high": [3.0],
    ...                       "volume": [7], "note": ["x"]})
    >>> values, gaps = _ohlc_values(frame)
    >>> [v.tolist() for v in values], gaps
    ([[1.0], [3.0], [0.5], [2.0]], False)
    >>> [v.tolist() for v in _ohlc_values(frame.drop(columns="note"))[0]]
    [[1.0], [3.0], [0.5], [2.0]]
    """
    block, columns = _ohlc_block(frame)
    if block is not None:
        # min, not isnan().any(): NaN propagates through it, without a boolean copy.
        gaps = bool(np.isnan(block.min(initial=np.inf)))
        return [block[:, column] for column in columns], gaps
    values = [frame[name].to_numpy(dtype=float) for name in OHLC]
    return values, any(bool(np.isnan(v).any()) for v in values)


def _ohlc_block(frame: pd.DataFrame) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """The frame as one float array (a view where pandas holds one float block) and the
    positions of its open, high, low and close; None where a column does not convert.

    Examples
    --------
    >>> frame = pd.DataFrame({"close": [2.0], "open": [1.0], "low": [0.5], "high": [3.0]})
    >>> block, columns = _ohlc_block(frame)
    >>> block.tolist(), columns
    ([[2.0, 1.0, 0.5, 3.0]], (1, 3, 2, 0))
    >>> _ohlc_block(frame.assign(note="x"))[0] is None
    True
    """
    if not frame.columns.is_unique:
        return None, ()
    columns = tuple(frame.columns.get_loc(name) for name in OHLC)
    try:
        return frame.to_numpy(dtype=float), columns
    except (TypeError, ValueError):
        return None, columns


def tradable(bars: np.ndarray) -> np.ndarray:
    """Whether each (frame, session) of :func:`session_bars` has all four prices."""
    return ~np.isnan(bars).any(axis=0)


def _fill_gaps(bars: np.ndarray, fields: tuple[int, ...] | None = None) -> list[np.ndarray]:
    """Fields of ``bars`` (all, or those numbered in ``fields``) forward-filled along
    sessions, their leading gap back-filled. Where each value is read from depends on
    all of ``bars``, whichever fields are asked for.

    Examples
    --------
    >>> [f.tolist() for f in _fill_gaps(np.array([[[np.nan, 1.0, np.nan, 3.0], [np.nan] * 4]]))]
    [[[1.0, 1.0, 1.0, 3.0], [nan, nan, nan, nan]]]
    """
    valid = ~np.isnan(bars)
    if (valid == valid[:1]).all():  # whole bars missing (the usual gap): one source for all four
        valid = valid[:1]
    # One flat take per field (take_along_axis builds full-size index arrays, 3x slower),
    # each into its own array: a (4, tickers, sessions) block is large enough (57 MB on
    # W1) that the allocator maps fresh pages for it every time, and faulting them in
    # cost more than the gather.
    source = _fill_source(valid)
    flat = np.broadcast_to(source + np.arange(0, bars[0].size, bars.shape[-1])[:, None], bars.shape)
    fields = range(len(bars)) if fields is None else fields
    return [bars[i].ravel().take(flat[i]) for i in fields]


def _fill_source(valid: np.ndarray) -> np.ndarray:
    """Position each value is read from: the last valid one at or before it, else the first.

    An all-NaN series reads its own first NaN. A series whose valid values are
    one unbroken run (a listing that starts late or ends early, the usual case)
    reads its own position clipped to that run; only series with a hole inside
    need the running maximum, which numpy computes slowly along the last axis.

    Examples
    --------
    >>> _fill_source(np.array([[False, True, True, False], [True, False, True, True]])).tolist()
    [[1, 1, 2, 2], [0, 0, 2, 3]]
    """
    first, last, one_run = valid_run(valid)
    source = np.clip(np.arange(valid.shape[-1]), first[..., None], last[..., None])
    if not one_run.all():
        source[~one_run] = _last_valid(valid[~one_run])
    return source


def valid_run(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last True of each series (last axis), and whether all between are True.

    A series with no True at all reports (0, n - 1, False). Most price series
    are one unbroken run of sessions (listed late or delisted early at most),
    so callers can skip the running maximum or minimum a hole would need.

    Examples
    --------
    >>> first, last, unbroken = valid_run(np.array([[0, 1, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0]], bool))
    >>> first.tolist(), last.tolist(), unbroken.tolist()
    ([1, 0, 0], [2, 3, 3], [True, False, False])
    """
    n = valid.shape[-1]
    first = valid.argmax(axis=-1)
    last = n - 1 - valid[..., ::-1].argmax(axis=-1)
    return first, last, valid.sum(axis=-1) == last - first + 1


def _last_valid(valid: np.ndarray) -> np.ndarray:
    """:func:`_fill_source` for any 2-D ``valid``, by a running maximum of valid positions."""
    at = np.arange(valid.shape[-1], dtype=np.int32)
    last = np.maximum.accumulate(np.where(valid, at, -1), axis=-1)
    return np.where(last >= 0, last, valid.argmax(axis=-1)[..., None])


def _interleave(at_open: np.ndarray, at_close: np.ndarray) -> np.ndarray:
    out = np.empty((*at_open.shape[:-1], 2 * at_open.shape[-1]))
    out[..., 0::2], out[..., 1::2] = at_open, at_close
    return out


def spread_price(bars: np.ndarray, fill_gaps: bool = True) -> np.ndarray:
    """The fill price of :func:`spread_ticks` alone: open on open ticks, close on close ticks.

    ``fill_gaps=False`` leaves sessions without a bar NaN, for callers that check
    every window against :func:`tradable` before reading a price (the sweep): a
    stray read there gives NaN, never a stale price, and the fill is not paid for.

    Examples
    --------
    >>> bars = np.array([[[1.0, np.nan]], [[3.0, np.nan]], [[0.5, np.nan]], [[2.0, np.nan]]])
    >>> spread_price(bars).tolist()  # the missing second session is filled from the first
    [[1.0, 2.0, 1.0, 2.0]]
    >>> spread_price(bars, fill_gaps=False).tolist()
    [[1.0, 2.0, nan, nan]]
    """
    o, c = _fill_gaps(bars, (0, 3)) if fill_gaps else (bars[0], bars[3])
    return _interleave(o, c)


def spread_stop_bars(bars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``open, high, low`` tick arrays of :func:`spread_ticks` (only stop checks read them).

    Examples
    --------
    >>> bars = np.array([[[1.0]], [[3.0]], [[0.5]], [[2.0]]])
    >>> [a.tolist() for a in spread_stop_bars(bars)]
    [[[1.0, 1.0]], [[1.0, 3.0]], [[1.0, 0.5]]]
    """
    o, h, lo = _fill_gaps(bars, (0, 1, 2))
    return np.repeat(o, 2, axis=-1), _interleave(o, h), _interleave(o, lo)


def spread_ticks(bars: np.ndarray) -> TickPrices:
    """Spread :func:`session_bars` onto the open/close ticks, gaps filled.

    On an open tick the bar is the single open price; on a close tick it is
    the session's open, high, low and close. Missing sessions are forward-filled
    (a leading gap back-filled) for valuation only: signals never fill there,
    windows are checked first.
    """
    return TickPrices(spread_price(bars), *spread_stop_bars(bars))


def tick_prices(frame: pd.DataFrame, timeline: Timeline) -> TickPrices:
    """Spread one ticker's daily bars onto the open/close ticks (see :func:`spread_ticks`).

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> tl = build_timeline(get_calendar("XNYS"), pd.Timestamp("2026-01-02"), pd.Timestamp("2026-01-05"))
    >>> frame = pd.DataFrame({"open": [10.0, 11.0], "high": [12.0, 13.0], "low": [9.0, 10.0],
    ...                       "close": [11.0, 12.0]}, index=tl.sessions)
    >>> tick_prices(frame, tl).price.tolist(), tick_prices(frame, tl).high.tolist()
    ([10.0, 11.0, 11.0, 12.0], [10.0, 12.0, 11.0, 13.0])
    """
    ticks = spread_ticks(session_bars([frame], timeline.sessions))
    return TickPrices(ticks.price[0], ticks.open[0], ticks.high[0], ticks.low[0])
