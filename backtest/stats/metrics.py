"""Performance metrics: small pure functions of returns, equity and trade returns.

Metrics never see prices. Their inputs are

- ``returns``: simple per-period (daily, one per session) returns, a Series or
  array-like; ``equity`` curves are turned into returns by
  :func:`returns_from_equity`;
- ``trade_returns``: the net return of each round trip;
- ``in_market``: a boolean per session;
- ``benchmark``: the benchmark's per-period returns, aligned on the index.

Conventions (they follow empyrical, whose published test vectors the tests
reproduce; the deviations are listed last)

- **Annualisation**: :data:`PERIODS_PER_YEAR` = 252 sessions a year. Means and
  excess means are annualised arithmetically (``mean * 252``), volatilities by
  ``sqrt(252)``; CAGR compounds (``growth ** (252 / n) - 1``).
- **Standard deviation**: sample, ``ddof`` = :data:`DDOF` = 1, everywhere a
  standard deviation appears (volatility, Sharpe, information ratio).
- **Downside deviation** (Sortino): ``sqrt(mean(min(r - required, 0)^2))``
  over *all* periods, with required return 0 by default (empyrical).
- **Drawdown** is measured from the starting capital: a loss on the first
  period is a drawdown.
- **Risk-free rate and required return** are per period (a daily rate), as in
  empyrical; pass ``annual_rate / 252`` for an annual figure.
- **NaN** returns are excluded by every metric (the count of periods used
  for CAGR is the count of non-NaN returns), so a series with NaNs at the start
  (a benchmark that starts trading later, the first ``pct_change``) gives the
  same metrics as the series without them. Two series are compared on the
  periods where both are present.
- **Undefined is NaN**: fewer than two returns, a zero denominator (a flat
  series, no downside, no losing trade) give NaN, never ``inf`` or ``1e16``
  (RELIABILITY.md R5/R6). A spread within :data:`ZERO_SPREAD_RTOL` of the
  mean's size counts as zero: a constant 1% series has a float-noise standard
  deviation near 1e-18, not a real one.
- **Time zones**: metrics of one series ignore the index. Comparing a tz-aware
  with a tz-naive series raises :class:`~backtest.core.errors.DataIntegrityError`
  rather than pandas' ``TypeError`` (the quantstats #226 failure) or a silent
  empty alignment.

Deviations from empyrical: Sharpe of a constant series is NaN (empyrical-reloaded
returns ``inf``); Sortino with no downside is NaN (empyrical: ``inf``); alpha is
annualised arithmetically (``daily_alpha * 252``, as quantopian/empyrical did
until 0.5; empyrical-reloaded compounds it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.core.errors import DataIntegrityError
from backtest.stats.trade_stats import trade_statistics

__all__ = [
    "DDOF",
    "PERIODS_PER_YEAR",
    "ZERO_SPREAD_RTOL",
    "align_pair",
    "alpha_beta",
    "alpha_beta_values",
    "annual_volatility",
    "average_trade_return",
    "cagr",
    "calmar_ratio",
    "downside_deviation",
    "exposure",
    "hit_rate",
    "information_ratio",
    "max_drawdown",
    "median_trade_return",
    "profit_factor",
    "returns_from_equity",
    "sharpe_ratio",
    "sortino_ratio",
    "summarize",
    "total_return",
]

PERIODS_PER_YEAR = 252  # trading sessions a year (empyrical APPROX_BDAYS_PER_YEAR)
DDOF = 1  # sample standard deviation, as empyrical's nanstd(ddof=1)
ZERO_SPREAD_RTOL = 1e-10  # a std below this fraction of |mean| is float noise
NAN = float("nan")


def _values(x) -> np.ndarray:
    """Non-NaN values of a Series or array-like, as float64 (the input is not touched)."""
    arr = np.asarray(x, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _is_zero_spread(std: float, mean: float) -> bool:
    return not np.isfinite(std) or std <= ZERO_SPREAD_RTOL * abs(mean)


def _ratio(num: float, den: float) -> float:
    """``num / den``, NaN when the denominator is zero or undefined."""
    if not np.isfinite(den) or den == 0:
        return NAN
    return float(num / den)


def returns_from_equity(equity: pd.Series) -> pd.Series:
    """Per-period simple returns of an equity curve; NaN equity values are skipped.

    A gap (NaN) does not lose the move across it: the next return spans it.

    Examples
    --------
    >>> e = pd.Series([float("nan"), 100.0, 110.0, float("nan"), 99.0])
    >>> returns_from_equity(e).round(6).tolist()
    [0.1, -0.1]
    """
    valid = equity.dropna().astype(float)
    return (valid / valid.shift(1) - 1.0).iloc[1:]


def total_return(returns) -> float:
    """Compounded return ``prod(1 + r) - 1``; NaN without any return.

    Examples
    --------
    >>> round(total_return([0.1, -0.1]), 10)
    -0.01
    """
    r = _values(returns)
    return float(np.prod(1.0 + r) - 1.0) if len(r) else NAN


def cagr(returns, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Compound annual growth rate ``(prod(1 + r)) ** (periods_per_year / n) - 1``.

    ``n`` is the number of non-NaN returns. A total loss gives -1.

    Examples
    --------
    >>> round(cagr([0.01]), 6)  # one day of +1% compounded over 252 sessions
    11.274002
    >>> cagr([0.05, -1.0])
    -1.0
    """
    r = _values(returns)
    if not len(r):
        return NAN
    growth = float(np.prod(1.0 + r))
    if growth <= 0:
        return -1.0
    return growth ** (periods_per_year / len(r)) - 1.0


def annual_volatility(returns, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Sample standard deviation (ddof 1) times ``sqrt(periods_per_year)``.

    Examples
    --------
    >>> round(annual_volatility([0.01, -0.01], periods_per_year=1), 6)
    0.014142
    """
    r = _values(returns)
    if len(r) < 2:
        return NAN
    return float(r.std(ddof=DDOF) * np.sqrt(periods_per_year))


def _excess(returns, other) -> np.ndarray:
    """``returns - other`` for a scalar, or aligned on the index for a Series."""
    if isinstance(other, pd.Series):
        left, right = align_pair(pd.Series(returns), other)
        return _values(left - right)
    return _values(np.asarray(returns, dtype=float) - float(other))


def sharpe_ratio(returns, risk_free=0.0, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Annualised Sharpe ratio ``mean(r - rf) / std(r - rf) * sqrt(periods_per_year)``.

    Parameters
    ----------
    returns : Series or array-like
        Per-period returns.
    risk_free : float or Series, default 0
        Per-period risk-free return; a Series is aligned on the index.
    periods_per_year : int, default 252

    Returns
    -------
    float
        NaN for fewer than two returns or a constant excess return.

    Examples
    --------
    >>> round(sharpe_ratio([0.01, 0.03], periods_per_year=1), 6)
    1.414214
    >>> sharpe_ratio([0.01, 0.01, 0.01])  # flat: undefined, not inf
    nan
    """
    x = _excess(returns, risk_free)
    if len(x) < 2:
        return NAN
    mean, std = x.mean(), x.std(ddof=DDOF)
    if _is_zero_spread(std, mean):
        return NAN
    return float(mean / std * np.sqrt(periods_per_year))


def downside_deviation(
    returns, required_return=0.0, periods_per_year: int = PERIODS_PER_YEAR
) -> float:
    """Annualised downside deviation ``sqrt(mean(min(r - required, 0) ** 2) * ppy)``.

    The mean runs over all periods, not only the losing ones (empyrical
    ``downside_risk``).

    Examples
    --------
    >>> round(downside_deviation([0.02, -0.02], periods_per_year=1), 6)
    0.014142
    """
    x = _excess(returns, required_return)
    if not len(x):
        return NAN
    shortfall = np.minimum(x, 0.0)
    return float(np.sqrt(np.mean(shortfall**2)) * np.sqrt(periods_per_year))


def sortino_ratio(returns, required_return=0.0, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Sortino ratio ``mean(r - required) * ppy / downside_deviation``.

    NaN for fewer than two returns or when nothing fell below the required
    return (empyrical returns ``inf`` there).

    Examples
    --------
    >>> round(sortino_ratio([0.03, -0.01], periods_per_year=1), 6)
    1.414214
    >>> sortino_ratio([0.01, 0.02])
    nan
    """
    x = _excess(returns, required_return)
    if len(x) < 2:
        return NAN
    down = downside_deviation(x, 0.0, periods_per_year)
    return _ratio(x.mean() * periods_per_year, down)


def max_drawdown(returns) -> float:
    """Largest peak-to-trough fall of the compounded wealth, as a number <= 0.

    Wealth starts at 1 before the first return, so an initial loss counts.

    Examples
    --------
    >>> round(max_drawdown([0.1, -0.1, 0.1]), 10)
    -0.1
    >>> round(max_drawdown([-0.5, 1.0]), 10)
    -0.5
    """
    r = _values(returns)
    if not len(r):
        return NAN
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    return float(np.min(wealth / np.maximum.accumulate(wealth) - 1.0))


def calmar_ratio(returns, periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """CAGR divided by the absolute maximum drawdown; NaN without a drawdown.

    Examples
    --------
    >>> round(calmar_ratio([0.1, -0.1], periods_per_year=2), 6)
    -0.1
    """
    return _ratio(cagr(returns, periods_per_year), abs(max_drawdown(returns)))


def _trade_statistics(trade_returns) -> dict[str, float]:
    """:func:`backtest.stats.trade_stats.trade_statistics` of one set of trades, as floats.

    The sweep computes the same statistics of every combination with the same
    function, so a run and its sweep row cannot disagree on what they mean.
    """
    stats = trade_statistics(_values(trade_returns)[None, :], NAN)
    return {k: v[0].item() for k, v in stats.items()}


def hit_rate(trade_returns) -> float:
    """Share of trades with a positive return; NaN without trades.

    The sweep calls this ``trade_hit_rate`` (same function, :mod:`backtest.stats.trade_stats`).

    Examples
    --------
    >>> hit_rate([0.02, -0.01, 0.0, 0.05])
    0.5
    """
    return _trade_statistics(trade_returns)["trade_hit_rate"]


def average_trade_return(trade_returns) -> float:
    """Mean trade return; NaN without trades.

    The sweep calls this ``mean_trade_return`` (same function,
    :mod:`backtest.stats.trade_stats`).

    Examples
    --------
    >>> round(average_trade_return([0.02, -0.01]), 10)
    0.005
    """
    return _trade_statistics(trade_returns)["mean_trade_return"]


def median_trade_return(trade_returns) -> float:
    """Median trade return; NaN without trades.

    Examples
    --------
    >>> median_trade_return([0.02, -0.01, 0.5])
    0.02
    """
    return _trade_statistics(trade_returns)["median_trade_return"]


def profit_factor(trade_returns) -> float:
    """Sum of winning trade returns over the absolute sum of losing ones.

    Each trade weighs the same (returns, not currency). NaN without a losing
    trade (the ratio is undefined, not infinite).

    Examples
    --------
    >>> profit_factor([0.03, 0.01, -0.02])
    2.0
    >>> profit_factor([0.03])
    nan
    """
    t = _values(trade_returns)
    return _ratio(t[t > 0].sum(), -t[t < 0].sum())


def exposure(in_market) -> float:
    """Share of periods with an open position; NaN for an empty series.

    Examples
    --------
    >>> exposure([True, False, False, True])
    0.5
    """
    flags = np.asarray(in_market, dtype=bool)
    return float(flags.mean()) if flags.size else NAN


def _tz_of(series: pd.Series):
    return getattr(series.index, "tz", None)


def align_pair(returns: pd.Series, benchmark: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The two series on their common index, rows with a NaN in either dropped.

    Raises
    ------
    DataIntegrityError
        If one index is tz-aware and the other tz-naive: which instant a naive
        date means is ambiguous (quantstats #226 crashed here with a TypeError).

    Examples
    --------
    >>> a = pd.Series([0.01, 0.02, float("nan")], index=[1, 2, 3])
    >>> b = pd.Series([0.03, 0.04, 0.05], index=[2, 3, 4])
    >>> [s.tolist() for s in align_pair(a, b)]
    [[0.02], [0.03]]
    """
    aware = (_tz_of(returns) is not None, _tz_of(benchmark) is not None)
    if aware[0] != aware[1]:
        raise DataIntegrityError(
            f"cannot compare a tz-{'aware' if aware[0] else 'naive'} return series with a "
            f"tz-{'aware' if aware[1] else 'naive'} benchmark: localise both indexes to the "
            "exchange time zone (or strip both with tz_localize(None)) first"
        )
    both = pd.concat([returns, benchmark], axis=1, join="inner").dropna()
    return both.iloc[:, 0], both.iloc[:, 1]


def alpha_beta(
    returns: pd.Series,
    benchmark: pd.Series,
    risk_free: float = 0.0,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> tuple[float, float]:
    """Jensen's alpha (annualised) and beta of ``returns`` on ``benchmark``.

    ``beta = cov(r - rf, b - rf) / var(b - rf)`` and
    ``alpha = mean((r - rf) - beta * (b - rf)) * periods_per_year``, over the
    periods where both are present: the OLS slope and intercept. (NaN, NaN)
    with fewer than two common periods or a constant benchmark.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03])
    >>> a, beta = alpha_beta(2 * b + 0.001, b, periods_per_year=1)
    >>> round(a, 10), round(beta, 10)
    (0.001, 2.0)
    """
    r, b = align_pair(returns, benchmark)
    return alpha_beta_values(_values(r), _values(b), risk_free, periods_per_year)


def alpha_beta_values(
    returns: np.ndarray,
    benchmark: np.ndarray,
    risk_free: float = 0.0,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> tuple[float, float]:
    """:func:`alpha_beta` of two aligned arrays of equal length without NaN (rolling windows).

    Examples
    --------
    >>> b = np.array([0.01, -0.02, 0.03])
    >>> round(alpha_beta_values(2 * b, b)[1], 10)
    2.0
    """
    x, y = (
        np.asarray(benchmark, dtype=float) - risk_free,
        np.asarray(returns, dtype=float) - risk_free,
    )
    if len(x) < 2 or _is_zero_spread(x.std(ddof=DDOF), x.mean()):
        return NAN, NAN
    beta = float(np.cov(y, x, ddof=DDOF)[0, 1] / x.var(ddof=DDOF))
    return float(np.mean(y - beta * x) * periods_per_year), beta


def information_ratio(
    returns: pd.Series, benchmark: pd.Series, periods_per_year: int = PERIODS_PER_YEAR
) -> float:
    """Annualised information ratio: Sharpe ratio of the active return ``r - b``.

    ``mean(r - b) / std(r - b) * sqrt(periods_per_year)`` over the common
    periods; NaN when the tracking error is zero.

    Examples
    --------
    >>> b = pd.Series([0.0, 0.0, 0.0])
    >>> round(information_ratio(pd.Series([0.01, 0.03, 0.02]), b, periods_per_year=1), 6)
    2.0
    """
    r, b = align_pair(returns, benchmark)
    return sharpe_ratio(r - b, 0.0, periods_per_year)


def _trade_metrics(stats: dict[str, float]) -> dict:
    """The run's names for the per-trade statistics (kept: results and goldens use them)."""
    return {
        "hit_rate": stats["trade_hit_rate"],
        "avg_trade_return": stats["mean_trade_return"],
        "n_trades": int(stats["n_trades"]),
    }


def _benchmark_metrics(returns: pd.Series, benchmark_equity: pd.Series | None) -> dict:
    if benchmark_equity is None:
        bench = pd.Series(dtype=float, index=returns.index[:0])
    else:
        bench = returns_from_equity(benchmark_equity)
    alpha, beta = alpha_beta(returns, bench)
    return {
        "benchmark_return": total_return(bench),
        "alpha": alpha,
        "beta": beta,
        "information_ratio": information_ratio(returns, bench),
    }


def summarize(
    equity: pd.Series,
    trade_returns: pd.Series,
    in_market: pd.Series,
    benchmark_equity: pd.Series | None = None,
) -> dict:
    """Every metric of one run, as a flat dict of floats (NaN = not defined).

    Parameters
    ----------
    equity : Series
        Account value per session.
    trade_returns : Series
        Net return of each closed trade.
    in_market : Series of bool
        Whether a position was open in each session.
    benchmark_equity : Series, optional
        Buy-and-hold value of the benchmark per session; alpha, beta and the
        information ratio are measured against it (NaN when it has no data).

    Examples
    --------
    >>> equity = pd.Series([100.0, 110.0, 99.0, 108.9])
    >>> m = summarize(equity, pd.Series([0.1, -0.01]), pd.Series([True, True, False, True]))
    >>> round(m["total_return"], 6), round(m["max_drawdown"], 6), m["n_trades"], m["n_sessions"]
    (0.089, -0.1, 2, 3)
    """
    r = returns_from_equity(equity)
    trades = _trade_statistics(trade_returns)
    return {
        "total_return": total_return(r),
        "cagr": cagr(r),
        "sharpe": sharpe_ratio(r),
        "sortino": sortino_ratio(r),
        "max_drawdown": max_drawdown(r),
        "annual_volatility": annual_volatility(r),
        **_trade_metrics(trades),
        "exposure": exposure(in_market),
        "calmar": calmar_ratio(r),
        "median_trade_return": trades["median_trade_return"],
        "profit_factor": profit_factor(trade_returns),
        **_benchmark_metrics(r, benchmark_equity),
        "n_sessions": int(len(_values(r))),
    }
