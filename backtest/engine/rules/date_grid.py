"""Many tickers' bars on one grid of dates: the panels the estimators run over at once.

A sweep estimates hedge ratios and costs for hundreds of tickers. Placing each
ticker's bars as one column of a (dates, tickers) array lets every estimator
(:mod:`~backtest.engine.rules.estimates`) run over all columns in one call
instead of once per ticker. A ticker fits the grid when its bars are exactly
the grid's dates between its first and last one (the usual case); a ticker
with a hole, a stray date or a repeated one does not, and its caller
estimates it alone. The estimators give a column the same floats as the
ticker alone, so both ways agree exactly (tests/test_cost_panel.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.core.timeline import session_dates

__all__ = ["DateGrid", "date_grid", "field_block", "frame_fields", "frame_keys", "on_sessions"]


def frame_keys(frame: pd.DataFrame) -> np.ndarray:
    """A price frame's bar dates as int64 nanoseconds of tz-naive midnights.

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02"], tz="America/New_York")
    >>> frame_keys(pd.DataFrame({"close": [1.0]}, index=days)).tolist()
    [1767312000000000000]
    """
    index = frame.index
    usual = isinstance(index, pd.DatetimeIndex) and index.tz is None and index.unit == "ns"
    if usual and index.is_normalized:  # cached on the (immutable) index: no pass over the dates
        return index.asi8  # the usual frame: no new index (a tenth of the time)
    return session_dates(index).asi8


def frame_fields(frame: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    """The columns ``names`` of ``frame`` that it has, as float arrays.

    One array of the whole frame, sliced, where its columns are all numeric:
    pandas' column access costs ten times more, and a sweep reads hundreds of frames.

    Examples
    --------
    >>> f = pd.DataFrame({"close": [1.0, 2.0], "volume": [5, 6]})
    >>> {k: v.tolist() for k, v in frame_fields(f, ["close", "volume", "high"]).items()}
    {'close': [1.0, 2.0], 'volume': [5.0, 6.0]}
    """
    have = [n for n in names if n in frame.columns]
    try:
        block = frame.to_numpy(dtype=float)
    except (TypeError, ValueError):  # a text column: one column at a time
        return {n: frame[n].to_numpy(dtype=float) for n in have}
    return {n: block[:, frame.columns.get_loc(n)] for n in have}


@dataclass(frozen=True)
class DateGrid:
    """The grid's dates (int64 ns, increasing) and each frame's span on it.

    ``spans[i]`` is the first and last grid position of frame ``i``'s bars, or
    None when its dates are not exactly the grid's between those two.
    """

    keys: np.ndarray
    spans: tuple[tuple[int, int] | None, ...]


def _span(dates: np.ndarray, keys: np.ndarray) -> tuple[int, int] | None:
    """First and last position of ``dates`` in ``keys`` if they are a run of it, else None."""
    if not len(dates):
        return None
    first = int(np.searchsorted(keys, dates[0]))
    last = first + len(dates) - 1
    if last >= len(keys) or not np.array_equal(keys[first : last + 1], dates):
        return None
    return first, last


def _increasing(keys: np.ndarray) -> bool:
    return bool(len(keys) < 2 or (keys[1:] > keys[:-1]).all())


def date_grid(dates: list[np.ndarray], keys: np.ndarray | None = None) -> DateGrid:
    """The grid of ``keys`` (None: the union of every frame's ``dates``) and each frame's span.

    The union is the longest frame's dates when every other frame is a run of
    them (one comparison per frame instead of sorting every date).

    Examples
    --------
    >>> a, b, c = np.array([1, 2, 3]), np.array([2, 3]), np.array([1, 3])
    >>> g = date_grid([a, b, c])
    >>> g.keys.tolist(), g.spans
    ([1, 2, 3], ((0, 2), (1, 2), None))
    >>> date_grid([b, np.array([4])]).keys.tolist()
    [2, 3, 4]
    """
    if keys is None:
        longest = max(dates, key=len, default=np.array([], dtype=np.int64))
        if _increasing(longest) and all(_span(d, longest) is not None for d in dates if len(d)):
            keys = longest
        else:
            keys = np.unique(np.concatenate(dates or [np.array([], dtype=np.int64)]))
    return DateGrid(keys, tuple(_span(d, keys) for d in dates))


def field_block(grid: DateGrid, columns: list[np.ndarray | None]) -> np.ndarray:
    """One field of the grid's frames as a (dates, frames) array, NaN off each frame's span.

    ``columns[i]`` holds frame ``i``'s values (None: it lacks the field). A frame
    that does not fit the grid gets a column of NaN. Column-major: the
    estimators run down each column.

    Examples
    --------
    >>> g = date_grid([np.array([1, 2, 3]), np.array([2, 3]), np.array([1, 3])])
    >>> field_block(g, [np.array([1.0, 2.0, 3.0]), np.array([5.0, 6.0]), np.ones(2)]).tolist()
    [[1.0, nan, nan], [2.0, 5.0, nan], [3.0, 6.0, nan]]
    """
    out = np.full((len(columns), len(grid.keys)), np.nan)
    for i, values in enumerate(columns):
        span = grid.spans[i]
        if values is not None and span is not None:
            out[i, span[0] : span[1] + 1] = values
    return out.T


def on_sessions(values: np.ndarray, keys: np.ndarray, sessions: pd.DatetimeIndex) -> np.ndarray:
    """Rows of ``values`` (dates on ``keys``) read on ``sessions``: (columns, sessions), NaN
    on a session without a row (``(sessions,)`` for one-dimensional ``values``).

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02", "2026-01-05"])
    >>> on_sessions(np.array([1.0, 2.0]), days[1:].as_unit("ns").asi8, days).tolist()
    [nan, 1.0]
    """
    want = sessions.as_unit("ns").asi8
    if not len(keys):
        return np.full((*np.shape(values)[1:], len(want)), np.nan)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    hit = keys[pos] == want
    # Taken from the transpose: a column-major panel's transpose is row-major, so the
    # result comes out row-major (tickers, sessions) without a transposing copy.
    out = np.asarray(values, dtype=float).T.take(pos, axis=-1)
    out[..., ~hit] = np.nan
    return out
