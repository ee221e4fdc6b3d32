"""Close-to-close returns on one session index, and event windows cut from them.

Returns are simple close-to-close returns, ``close[t] / close[t-1] - 1``, on the
union of every ticker's sessions. A session missing from a ticker's history
makes that session's and the next one's return NaN rather than a silent
two-session return. Event windows are gathered for all events at once as an
(events x sessions) array, so no Python loop runs over sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ReturnPanel", "gather_windows", "return_panel"]


@dataclass(frozen=True)
class ReturnPanel:
    """Returns of several tickers and the benchmark on one session index.

    Attributes
    ----------
    sessions : pandas.DatetimeIndex
        Union of all sessions, ascending.
    tickers : list of str
        Column order of ``stock``.
    stock : numpy.ndarray
        (sessions x tickers) simple returns, NaN where unknown.
    market : numpy.ndarray
        (sessions,) benchmark returns, NaN where unknown.
    """

    sessions: pd.DatetimeIndex
    tickers: list[str]
    stock: np.ndarray
    market: np.ndarray


def _simple_returns(close: pd.Series, sessions: pd.DatetimeIndex) -> np.ndarray:
    on_index = close.reindex(sessions).to_numpy(dtype=float)
    out = np.full(on_index.shape, np.nan)
    out[1:] = on_index[1:] / on_index[:-1] - 1.0
    return out


def return_panel(
    prices: dict[str, pd.DataFrame], benchmark: pd.DataFrame, tickers: list[str]
) -> ReturnPanel:
    """Build the close-to-close return panel of ``tickers`` and the benchmark.

    Parameters
    ----------
    prices : dict of str to pandas.DataFrame
        Daily bars per ticker (prices schema); only ``close`` is used.
    benchmark : pandas.DataFrame
        Daily bars of the market index.
    tickers : list of str
        Tickers to include; each must be a key of ``prices``.

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2026-01-02", "2026-01-05", "2026-01-06"])
    >>> a = pd.DataFrame({"close": [100.0, 110.0, 99.0]}, index=idx)
    >>> m = pd.DataFrame({"close": [50.0, 50.0, 51.0]}, index=idx)
    >>> p = return_panel({"A": a}, m, ["A"])
    >>> p.stock[:, 0].round(4).tolist(), p.market.round(4).tolist()
    ([nan, 0.1, -0.1], [nan, 0.0, 0.02])
    """
    indexes = [prices[t].index for t in tickers] + [benchmark.index]
    sessions = indexes[0]
    for other in indexes[1:]:
        sessions = sessions.union(other)
    stock = np.empty((len(sessions), len(tickers)))
    for j, ticker in enumerate(tickers):
        stock[:, j] = _simple_returns(prices[ticker]["close"], sessions)
    return ReturnPanel(
        sessions, list(tickers), stock, _simple_returns(benchmark["close"], sessions)
    )


def gather_windows(values: np.ndarray, day0: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Cut ``values[day0 + offset]`` for every event and offset; NaN outside the array.

    Parameters
    ----------
    values : numpy.ndarray
        (sessions,) series, or (sessions x columns) panel.
    day0 : numpy.ndarray
        (events,) row of each event's day 0; for a panel, pass ``(rows, columns)``
        as a 2-row array ``[[row, ...], [column, ...]]``.
    offsets : numpy.ndarray
        (window,) session offsets relative to day 0.

    Returns
    -------
    numpy.ndarray
        (events x window) float array.

    Examples
    --------
    >>> gather_windows(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 3]), np.array([-1, 0, 1]))
    array([[ 1.,  2.,  3.],
           [ 3.,  4., nan]])
    """
    rows, cols = (day0, None) if values.ndim == 1 else (day0[0], day0[1])
    idx = rows[:, None] + offsets[None, :]
    inside = (idx >= 0) & (idx < values.shape[0])
    out = np.full(idx.shape, np.nan)
    if cols is None:
        out[inside] = values[idx[inside]]
    else:
        out[inside] = values[idx[inside], np.broadcast_to(cols[:, None], idx.shape)[inside]]
    return out
