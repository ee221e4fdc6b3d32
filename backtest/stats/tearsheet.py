"""Tear-sheet pieces of one equity curve: calendar returns, rolling ratios, worst drawdowns.

Small pure functions over a daily equity Series (one value per session, as
``equity.csv``). Every figure is built from the metrics' own rules in
:mod:`backtest.stats.metrics`, so a tear sheet and ``metrics.csv`` cannot
disagree on what a return, a Sharpe ratio or a drawdown is:

- returns are :func:`~backtest.stats.metrics.returns_from_equity` (the first
  session's value is the base, as for ``total_return``);
- a month's or a year's return compounds its sessions' returns
  (:func:`~backtest.stats.metrics.total_return`);
- a rolling Sharpe ratio, volatility or beta is
  :func:`~backtest.stats.metrics.sharpe_ratio`,
  :func:`~backtest.stats.metrics.annual_volatility` or
  :func:`~backtest.stats.metrics.alpha_beta_values` of the window's returns;
- the drawdown of a session is its value over the running peak, minus 1
  (its minimum is ``max_drawdown``).

The rolling windows are :data:`ROLLING_WINDOWS` sessions (6 and 12 months of
252 sessions a year); a window is shown only where that many sessions exist
(:func:`rolling_sample`, judged as :class:`~backtest.core.sample_size.Sample`).
The results were cross-checked against quantstats in the tests
(``monthly_returns`` and ``drawdown_details``).

Examples
--------
>>> days = pd.bdate_range("2025-12-30", periods=4)
>>> equity = pd.Series([100.0, 110.0, 99.0, 108.9], index=days)
>>> monthly_returns(equity).stack().dropna().round(4).to_dict()
{(2025, 12): 0.1, (2026, 1): -0.01}
>>> worst_drawdowns(equity)[["start", "trough", "depth", "length_sessions"]]
       start     trough  depth  length_sessions
0 2025-12-31 2026-01-01   -0.1                2
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.core.sample_size import Sample
from backtest.stats.metrics import (
    PERIODS_PER_YEAR,
    align_pair,
    alpha_beta_values,
    annual_volatility,
    returns_from_equity,
    sharpe_ratio,
    total_return,
)

__all__ = [
    "DRAWDOWN_COLUMNS",
    "MONTHS",
    "ROLLING_WINDOWS",
    "TOP_DRAWDOWNS",
    "drawdown_series",
    "drawdowns_table",
    "monthly_returns",
    "monthly_returns_table",
    "monthly_table",
    "rolling_beta",
    "rolling_sample",
    "rolling_sharpe",
    "rolling_stats",
    "rolling_volatility",
    "worst_drawdowns",
    "yearly_returns",
]

# 6 and 12 months of sessions: the windows of the rolling Sharpe, volatility and beta.
ROLLING_WINDOWS = (PERIODS_PER_YEAR // 2, PERIODS_PER_YEAR)
TOP_DRAWDOWNS = 5
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DRAWDOWN_COLUMNS = ("rank", "start", "trough", "recovery", "depth", "length_sessions")


def _by_period(returns: pd.Series, keys: list) -> pd.Series:
    """Compounded return (:func:`total_return`) of each group of sessions."""
    return returns.groupby(keys, sort=True).agg(total_return)


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Compounded return of each calendar month: one row per year, one column per month (1-12).

    Parameters
    ----------
    equity : pandas.Series
        Value per session, indexed by session date.

    Returns
    -------
    pandas.DataFrame
        Index: year; columns: the months with data (1-12); NaN where a year
        has no session of that month.

    Examples
    --------
    >>> days = pd.to_datetime(["2026-01-30", "2026-02-02", "2026-02-27", "2026-03-02"])
    >>> monthly_returns(pd.Series([100.0, 102.0, 102.0, 51.0], index=days)).round(4)
             2    3
    2026  0.02 -0.5
    """
    r = returns_from_equity(equity)
    table = _by_period(r, [r.index.year, r.index.month]).unstack()
    return table.rename_axis(index=None, columns=None)


def yearly_returns(equity: pd.Series) -> pd.Series:
    """Compounded return of each calendar year, indexed by year.

    Examples
    --------
    >>> days = pd.to_datetime(["2025-12-31", "2026-01-02", "2026-12-31"])
    >>> yearly_returns(pd.Series([100.0, 110.0, 121.0], index=days)).round(4).to_dict()
    {2026: 0.21}
    """
    r = returns_from_equity(equity)
    return _by_period(r, [r.index.year]).rename_axis(None)


def monthly_table(equity: pd.Series) -> pd.DataFrame:
    """Monthly and yearly returns as one table: ``year, Jan..Dec, year_return, n_sessions``.

    ``n_sessions`` counts the year's returns (a short first or last year shows it).

    Examples
    --------
    >>> days = pd.to_datetime(["2025-12-31", "2026-01-02", "2026-02-02"])
    >>> row = monthly_table(pd.Series([100.0, 110.0, 121.0], index=days)).iloc[0]
    >>> [round(float(row[c]), 4) for c in ("year", "Jan", "Feb", "year_return")]
    [2026.0, 0.1, 0.1, 0.21]
    >>> bool(np.isnan(row["Mar"])), int(row["n_sessions"])
    (True, 2)
    """
    months = monthly_returns(equity).reindex(columns=range(1, 13))
    months.columns = list(MONTHS)
    r = returns_from_equity(equity)
    months["year_return"] = yearly_returns(equity)
    months["n_sessions"] = r.groupby(r.index.year).size()
    return months.rename_axis("year").reset_index()


def drawdown_series(equity: pd.Series) -> pd.Series:
    """Fall of each session's value below the running peak, as a fraction <= 0.

    NaN values (sessions before a benchmark starts) are left out. The minimum
    equals :func:`~backtest.stats.metrics.max_drawdown` of the equity's returns.

    Examples
    --------
    >>> drawdown_series(pd.Series([100.0, 80.0, 120.0, 90.0])).round(10).tolist()
    [0.0, -0.2, 0.0, -0.25]
    """
    valid = equity.dropna().astype(float)
    return valid / valid.cummax() - 1.0


def _underwater_runs(drawdown: pd.Series) -> pd.DataFrame:
    """First and last position of each run of sessions below the peak, and its trough."""
    under = (drawdown < 0).to_numpy()
    starts = np.flatnonzero(under & ~np.r_[False, under[:-1]])
    ends = np.flatnonzero(under & ~np.r_[under[1:], False])
    values = drawdown.to_numpy()
    troughs = [a + int(np.argmin(values[a : b + 1])) for a, b in zip(starts, ends, strict=True)]
    return pd.DataFrame({"first": starts, "last": ends, "trough": troughs}, dtype=np.int64)


def worst_drawdowns(equity: pd.Series, top: int = TOP_DRAWDOWNS) -> pd.DataFrame:
    """The ``top`` deepest drawdowns: peak, trough, recovery, depth and length.

    Parameters
    ----------
    equity : pandas.Series
        Value per session, indexed by session.
    top : int, default 5
        How many drawdowns to return, deepest first.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DRAWDOWN_COLUMNS`: ``rank`` (1 = deepest), ``start`` (the
        session of the peak before the fall), ``trough`` (the lowest session),
        ``recovery`` (the first session back at the peak; NaT: not recovered by
        the last session), ``depth`` (trough / peak - 1) and ``length_sessions``
        (sessions from the peak to the recovery, or to the last session when
        not recovered). Equal depths keep their order in time.

    Examples
    --------
    >>> days = pd.bdate_range("2026-01-05", periods=7)
    >>> e = pd.Series([100.0, 90.0, 100.0, 100.0, 50.0, 80.0, 99.0], index=days)
    >>> worst_drawdowns(e)[["start", "recovery", "depth", "length_sessions"]]
           start   recovery  depth  length_sessions
    0 2026-01-08        NaT   -0.5                3
    1 2026-01-05 2026-01-07   -0.1                2
    """
    drawdown = drawdown_series(equity)
    runs = _underwater_runs(drawdown)
    runs["depth"] = drawdown.to_numpy()[runs["trough"]]
    runs = runs.sort_values(["depth", "first"], kind="stable").head(top)
    index, last = drawdown.index, len(drawdown) - 1
    peak = runs["first"] - 1  # the first session is never below its own peak
    recovered = runs["last"] < last
    end = np.where(recovered, runs["last"] + 1, last)
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(runs) + 1),
            "start": index[peak],
            "trough": index[runs["trough"]],
            "recovery": pd.Series(index[end]).where(recovered.to_numpy()),
            "depth": runs["depth"].to_numpy(),
            "length_sessions": (end - peak).to_numpy(),
        }
    )
    return out[list(DRAWDOWN_COLUMNS)]


def rolling_sample(returns: pd.Series, window: int) -> Sample:
    """The sessions of ``returns`` against ``window``: too few when shorter than the window.

    Examples
    --------
    >>> rolling_sample(pd.Series([0.01] * 124), 126).label
    'n = 124 sessions: too few'
    """
    return Sample(int(returns.notna().sum()), window, "sessions")


def rolling_sharpe(returns: pd.Series, window: int) -> pd.Series:
    """Annualised Sharpe ratio (:func:`~backtest.stats.metrics.sharpe_ratio`) of each window.

    NaN until ``window`` sessions exist, and for a window without spread (a
    strategy out of the market the whole window).

    Examples
    --------
    >>> r = pd.Series([0.01, 0.03, 0.01, 0.03])
    >>> (rolling_sharpe(r, 2) / np.sqrt(252)).round(6).tolist()
    [nan, 1.414214, 1.414214, 1.414214]
    """
    return returns.rolling(window).apply(sharpe_ratio, raw=True)


def rolling_volatility(returns: pd.Series, window: int) -> pd.Series:
    """Annualised volatility (:func:`~backtest.stats.metrics.annual_volatility`) of each window.

    Examples
    --------
    >>> r = pd.Series([0.01, -0.01, 0.01])
    >>> (rolling_volatility(r, 2) / np.sqrt(252)).round(6).tolist()
    [nan, 0.014142, 0.014142]
    """
    return returns.rolling(window).apply(annual_volatility, raw=True)


def rolling_beta(returns: pd.Series, benchmark: pd.Series, window: int) -> pd.Series:
    """Beta on ``benchmark`` (:func:`~backtest.stats.metrics.alpha_beta_values`) of each window.

    The two series are aligned first (:func:`~backtest.stats.metrics.align_pair`);
    a window is ``window`` common sessions, and the result is indexed like ``returns``
    (NaN where no full window of common sessions ends).

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.01])
    >>> rolling_beta(2 * b, b, 3).round(10).tolist()
    [nan, nan, 2.0, 2.0]
    """
    r, b = align_pair(returns, benchmark)
    out = pd.Series(np.nan, index=r.index, dtype=float)
    if len(r) >= window:
        ys = np.lib.stride_tricks.sliding_window_view(r.to_numpy(float), window)
        xs = np.lib.stride_tricks.sliding_window_view(b.to_numpy(float), window)
        out.iloc[window - 1 :] = [alpha_beta_values(y, x)[1] for y, x in zip(ys, xs, strict=True)]
    return out.reindex(returns.index)


def rolling_stats(
    equity: pd.Series,
    benchmark_equity: pd.Series | None = None,
    windows: tuple[int, ...] = ROLLING_WINDOWS,
) -> dict[str, dict[int, pd.Series]]:
    """Rolling ``sharpe``, ``volatility`` and (with a benchmark) ``beta`` of each window.

    Windows longer than the data are left out (:func:`rolling_sample` says so).

    Examples
    --------
    >>> e = pd.Series(100.0 * 1.01 ** np.arange(5) * [1, 1, 0.99, 1, 1])
    >>> stats = rolling_stats(e, e, windows=(3, 9))
    >>> sorted(stats), sorted(stats["beta"]), stats["beta"][3].round(10).dropna().tolist()
    (['beta', 'sharpe', 'volatility'], [3], [1.0, 1.0])
    """
    r = returns_from_equity(equity)
    fit = [w for w in windows if not rolling_sample(r, w).too_few]
    out = {
        "sharpe": {w: rolling_sharpe(r, w) for w in fit},
        "volatility": {w: rolling_volatility(r, w) for w in fit},
    }
    if benchmark_equity is not None:
        b = returns_from_equity(benchmark_equity)
        out["beta"] = {w: rolling_beta(r, b, w) for w in fit}
    return out


def monthly_returns_table(equity: pd.DataFrame) -> pd.DataFrame:
    """:func:`monthly_table` of every column of ``equity``, with a ``strategy`` column first.

    Examples
    --------
    >>> days = pd.to_datetime(["2025-12-31", "2026-01-02"])
    >>> frame = pd.DataFrame({"a": [100.0, 110.0], "b": [100.0, 90.0]}, index=days)
    >>> monthly_returns_table(frame)[["strategy", "year", "Jan"]].round(4).values.tolist()
    [['a', 2026, 0.1], ['b', 2026, -0.1]]
    """
    parts = [monthly_table(equity[c]).assign(strategy=c) for c in equity.columns]
    table = pd.concat(parts, ignore_index=True) if parts else monthly_table(pd.Series(dtype=float))
    return table[["strategy", *[c for c in table.columns if c != "strategy"]]]


def drawdowns_table(equity: pd.DataFrame, top: int = TOP_DRAWDOWNS) -> pd.DataFrame:
    """:func:`worst_drawdowns` of every column of ``equity``, with a ``strategy`` column first.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [100.0, 90.0, 100.0]}, index=pd.bdate_range("2026-01-05", periods=3))
    >>> drawdowns_table(frame)[["strategy", "rank", "depth"]].round(4).values.tolist()
    [['a', 1, -0.1]]
    """
    parts = [worst_drawdowns(equity[c], top).assign(strategy=c) for c in equity.columns]
    columns = ["strategy", *DRAWDOWN_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
