"""Per-trade statistics of net trade returns, vectorized over rows (one row = one set of trades).

The one place where a trade count, mean, median, hit rate and per-trade Sharpe
are computed: ``backtest run`` (:func:`backtest.stats.metrics.summarize`, one
row) and ``backtest sweep`` (:func:`backtest.sweep.evaluate.combo_metrics`, one
row per combination) both call :func:`trade_statistics`. A NaN cell means "no
trade" and is left out of every statistic, so a (combinations, events) matrix
with NaN where a combination did not trade gives each combination's statistics.

These are statistics of trades, each trade weighing the same, not of an
account: a trade's return is not the account's return, and their mean says
nothing about sizing, overlap or idle cash. :func:`sequential_at_size` is the
one figure here that does depend on a size, and its name says so.
"""

from __future__ import annotations

import numpy as np

from backtest.core.jit import compiled

__all__ = [
    "TRADE_STATISTICS",
    "nan_median",
    "nan_moments",
    "sequential_at_size",
    "trade_statistics",
]

# Names of the columns :func:`trade_statistics` returns, in order.
TRADE_STATISTICS = (
    "n_trades",
    "mean_trade_return",
    "median_trade_return",
    "trade_hit_rate",
    "trade_sharpe",
)
ZERO_SPREAD_RTOL = 1e-12  # a std below this fraction of |mean| is float noise: Sharpe undefined


def nan_moments(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and sample std (ddof 1) of each row's non-NaN values.

    The arithmetic of ``np.nanmean`` and ``np.nanstd`` step for step (so the
    same floats), sharing one NaN-free copy of the matrix instead of making
    three. The mean of an empty row and the std of a row of fewer than two
    values are NaN.

    Examples
    --------
    >>> n, mean, std = nan_moments(np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, np.nan]]))
    >>> n.tolist(), mean.tolist(), std.round(6).tolist()
    ([2, 1], [2.0, 2.0], [1.414214, nan])
    """
    missing = np.isnan(returns)
    n = (~missing).sum(axis=1, dtype=np.intp)
    values = np.where(missing, 0.0, returns)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=1) / n
        values -= mean[:, None]
        np.copyto(values, 0.0, where=missing)  # not values[missing] = 0: 4x slower
        values *= values
        var = values.sum(axis=1) / (n - 1)
    var[n <= 1] = np.nan
    return n, mean, np.sqrt(var)


def nan_median(returns: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median of each row's ``n`` non-NaN values (NaN for an empty row), as ``np.nanmedian``.

    One single-position partition per distinct count, not one median per row:
    NaN sorts last, so the k-th smallest value of a row lands at position k. The
    lower middle value is the largest one before the upper one, and an even
    count's median is ``(low + high) / 2``, as numpy computes it. numpy's median
    partitions at three positions, 7x slower on a W1 sweep (benchmarks/RESULTS.md).
    The same floats, but for two corner cases: where the middle values are zeros
    of both signs, either sign may come out (kernel returns are never -0.0), and
    numpy's path for rows under 600 values takes ``(x + x) / 2`` for an odd
    count, which differs from ``x`` only when ``x + x`` overflows.

    Examples
    --------
    >>> r = np.array([[4.0, np.nan, 1.0, 3.0], [2.0, 9.0, 5.0, np.nan], [np.nan] * 4])
    >>> nan_median(r, np.array([3, 3, 0])).tolist()
    [3.0, 5.0, nan]
    >>> nan_median(np.array([[4.0, 1.0, 3.0, 2.0]]), np.array([4])).tolist()
    [2.5]
    """
    out = np.full(len(returns), np.nan)
    for count in np.unique(n[n > 0]):
        rows = np.flatnonzero(n == count)
        high = count // 2
        part = np.partition(returns[rows], high, axis=1)
        if count % 2:
            out[rows] = part[:, high]
        else:
            out[rows] = (part[:, :high].max(axis=1) + part[:, high]) / 2
    return out


def trade_statistics(returns: np.ndarray, trades_per_year: float) -> dict[str, np.ndarray]:
    """Per-trade statistics of each row of a (rows, trades) net-return matrix; NaN = no trade.

    Parameters
    ----------
    returns : numpy.ndarray
        Net trade returns, 2-D; each row is one set of trades (a combination).
    trades_per_year : float
        Annualises ``trade_sharpe``. The sweep passes the events per year of its
        event set (every event a potential trade); NaN leaves ``trade_sharpe`` NaN.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per name of :data:`TRADE_STATISTICS`, one value per row:

        - ``n_trades``: trades (non-NaN cells);
        - ``mean_trade_return``, ``median_trade_return``: of the net trade returns
          (NaN without a trade);
        - ``trade_hit_rate``: share of trades with a net return above 0;
        - ``trade_sharpe``: mean / sample std (ddof 1) of the net trade returns
          times ``sqrt(trades_per_year)``; NaN under two trades or with no spread.
          Not the run's ``sharpe``, which is of daily account returns.

    Examples
    --------
    >>> s = trade_statistics(np.array([[0.02, -0.01, np.nan, 0.05], [np.nan] * 4]), 4.0)
    >>> s["n_trades"].tolist(), s["mean_trade_return"].round(6).tolist()
    ([3, 0], [0.02, nan])
    >>> s["trade_hit_rate"].round(6).tolist(), s["median_trade_return"].tolist()
    ([0.666667, nan], [0.02, nan])
    >>> round(float(s["trade_sharpe"][0]), 6)  # 0.02 / 0.03 * sqrt(4)
    1.333333
    """
    returns = np.asarray(returns, dtype=float)
    n, mean, std = nan_moments(returns)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = (n > 1) & (std > ZERO_SPREAD_RTOL * np.abs(mean))
        sharpe = np.where(
            spread, mean / np.where(std > 0, std, 1) * np.sqrt(trades_per_year), np.nan
        )
        hits = np.where(n > 0, (returns > 0).sum(axis=1) / np.maximum(n, 1), np.nan)
    return {
        "n_trades": n,
        "mean_trade_return": mean,
        "median_trade_return": nan_median(returns, n),
        "trade_hit_rate": hits,
        "trade_sharpe": sharpe,
    }


def sequential_at_size(
    returns: np.ndarray, fraction, compound: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Total return and max drawdown of each row's trades taken one after another at one size.

    Each row's trades (NaN = no trade) are taken in column order, one at a
    time, each staking ``fraction`` of the account (one number, or one per trade
    shaped like ``returns``, as ``vol_target`` sizing gives): of the current equity when
    ``compound`` (percent sizing: equity x (1 + fraction x r) per trade), of the
    starting capital otherwise (fixed sizing: equity + fraction x r). Trades
    that overlap in time are still taken one after the other, so this is not a
    simulated book (``backtest run`` is); it shows what a size does to a
    sequence of trades. The drawdown is measured from the starting capital, as
    :func:`backtest.stats.metrics.max_drawdown`. NaN for a row without trades.

    Examples
    --------
    >>> r = np.array([[0.1, np.nan, -0.5], [np.nan, np.nan, np.nan]])
    >>> total, drawdown = sequential_at_size(r, 1.0)  # whole account: 1.1 then 0.55
    >>> total.round(6).tolist(), drawdown.round(6).tolist()
    ([-0.45, nan], [-0.5, nan])
    >>> [a.round(6).tolist() for a in sequential_at_size(r, 0.2)]  # 1.02 then 1.02 * 0.9
    [[-0.082, nan], [-0.1, nan]]
    >>> [a.round(6).tolist() for a in sequential_at_size(r[:1], 0.2, compound=False)]
    [[-0.08], [-0.098039]]
    """
    returns = np.asarray(returns, dtype=float)
    if returns.ndim != 2:
        raise ValueError(f"sequential_at_size takes a 2-D matrix, not {returns.ndim}-D")
    # One stake for all (a view repeating it, no copy) or one per trade (vol_target sizing).
    stakes = np.broadcast_to(np.asarray(fraction, dtype=float), returns.shape)
    total = np.full(len(returns), np.nan)
    drawdown = np.full(len(returns), np.nan)
    compiled(_sequential_rows)(returns, stakes, bool(compound), total, drawdown)
    return total, drawdown


def _sequential_rows(returns, stakes, compound, total, drawdown):  # pragma: no cover - numba
    """Each row's path in one pass: equity after each trade, its running peak and worst fall.

    The same floats as numpy's ``cumprod`` (or ``cumsum``) and
    ``maximum.accumulate`` along the row (a running product has one order of
    operations; tests/test_sweep_table.py checks it bit for bit), without their
    full-size temporaries: those passes were a ninth of a W1 sweep's time
    (benchmarks/RESULTS.md). A missing trade stakes nothing (a factor of 1).
    """
    rows, cols = returns.shape
    for i in range(rows):
        product = 1.0  # compound: the product of (1 + stake x r)
        summed = 0.0  # fixed: the sum of stake x r
        peak = 1.0  # the starting capital is the first peak
        worst = 0.0
        path = 1.0
        traded = False
        for j in range(cols):
            r = returns[i, j]
            if np.isnan(r):  # no trade: a factor of 1, whatever the stake
                r = 0.0
            else:
                traded = True
                r = r * stakes[i, j]  # x * 1.0 is x: a whole-account stake changes no float
            if compound:
                product = product * (r + 1.0)
                path = product
            else:
                summed = summed + r
                path = summed + 1.0
            peak = max(peak, path)
            # min(x / peak) - 1 is min(x / peak - 1): subtracting is monotonic.
            worst = min(worst, path / peak - 1.0)
        if traded:
            total[i] = path - 1.0
            drawdown[i] = worst
