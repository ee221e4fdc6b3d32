"""Trailing estimates from daily bars: beta, bid-ask spread, volatility, volume.

Every function takes one ticker's daily bars (a session-indexed Series or
DataFrame, as :mod:`backtest.data` loads them) and returns a Series on the
same sessions whose value at session ``s`` uses only bars of sessions
*before* ``s``: the window ends with the previous session's close, so an
estimate read for a fill at ``s``'s open or close was published by then.
tests/test_estimates.py checks it as a property: changing or cutting every
bar from ``s`` on changes no value at or before ``s``.

* :func:`trailing_beta`: OLS slope of daily returns on a hedge instrument's,
  over ``window`` sessions (at least ``min_obs`` pairs), optionally shrunk
  toward 1;
* :func:`corwin_schultz`: the Corwin and Schultz (2012) high-low spread;
* :func:`abdi_ranaldo`: the Abdi and Ranaldo (2017) close-high-low spread;
* :func:`trailing_vol`: the standard deviation of daily close-to-close returns;
* :func:`trailing_adv`: the mean daily volume in shares.

Spreads are fractions of the price (0.001 is 10 bps); NaN where the window
holds too few sessions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["abdi_ranaldo", "corwin_schultz", "trailing_adv", "trailing_beta", "trailing_vol"]

_CS_K = 3.0 - 2.0 * np.sqrt(2.0)


def _before(values: pd.Series) -> pd.Series:
    """Known at the next session: each value moved one session later."""
    return values.shift(1)


def trailing_beta(
    returns: pd.Series | pd.DataFrame,
    market: pd.Series,
    window: int = 120,
    min_obs: int = 60,
    shrink: float = 0.0,
) -> pd.Series | pd.DataFrame:
    """OLS beta of ``returns`` on ``market`` over the ``window`` sessions before each session.

    ``beta = cov(r, m) / var(m)`` over the pairs where both are present (at
    least ``min_obs``, else NaN), then ``(1 - shrink) * beta + shrink * 1``.
    ``returns`` may be a DataFrame (one column per ticker, the sweep's panel):
    each column gets the beta it would get alone, by the same pandas rolling
    arithmetic.

    Examples
    --------
    A stock moving exactly twice the index: beta 2 from the third session on
    (two pairs before it), unchanged by the index's move on that very session.

    >>> m = pd.Series([0.01, -0.02, 0.015, 0.03, -0.01])
    >>> trailing_beta(2 * m, m, window=3, min_obs=2).round(12).tolist()
    [nan, nan, 2.0, 2.0, 2.0]
    >>> trailing_beta(2 * m, m, window=3, min_obs=2, shrink=0.5).round(12).tolist()[-1]
    1.5
    >>> trailing_beta(pd.DataFrame({"a": 2 * m, "b": -m}), m, 3, 2).iloc[-1].round(12).tolist()
    [2.0, -1.0]
    """
    if isinstance(returns, pd.DataFrame):
        # The market paired with each column, masked where that column has no return.
        market = pd.DataFrame({c: market for c in returns.columns}, index=returns.index)
    both = returns.notna() & market.notna()
    r, m = returns.where(both), market.where(both)
    roll = dict(window=window, min_periods=min_obs)
    cov = r.rolling(**roll).cov(m)
    var = m.rolling(**roll).var()
    beta = cov / var.where(var > 0)
    return _before((1.0 - shrink) * beta + shrink)


def corwin_schultz(high: pd.Series, low: pd.Series, window: int = 21) -> pd.Series:
    """Corwin-Schultz (2012) spread: the mean over ``window`` two-day estimates, before each session.

    For sessions ``t-1, t``: ``b = ln(H1/L1)^2 + ln(H2/L2)^2``, ``g = ln(max H / min L)^2``,
    ``a = (sqrt(2b) - sqrt(b)) / (3 - 2 sqrt 2) - sqrt(g / (3 - 2 sqrt 2))`` and
    ``S = 2 (e^a - 1) / (1 + e^a)``, negative estimates set to 0 (the paper's
    convention), then averaged (NaN with fewer than half the window).

    Examples
    --------
    >>> h = pd.Series([101.0, 102.0, 101.5, 102.5])
    >>> l = pd.Series([99.0, 100.0, 99.8, 100.2])
    >>> corwin_schultz(h, l, window=2).round(6).tolist()
    [nan, nan, 0.0, 0.005098]
    """
    hl = np.log(high / low) ** 2
    beta = hl + hl.shift(1)
    gamma = np.log(np.maximum(high, high.shift(1)) / np.minimum(low, low.shift(1))) ** 2
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / _CS_K - np.sqrt(gamma / _CS_K)
    spread = (2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))).clip(lower=0.0)
    return _before(spread.rolling(window, min_periods=max(1, window // 2)).mean())


def abdi_ranaldo(high: pd.Series, low: pd.Series, close: pd.Series, window: int = 21) -> pd.Series:
    """Abdi-Ranaldo (2017) spread over the ``window`` sessions before each session.

    With mid-range ``eta_t = (ln H_t + ln L_t) / 2`` and ``c_t = ln C_t``:
    ``S = sqrt(max(mean(4 (c_t - eta_t) (c_t - eta_{t+1})), 0))``, the mean over
    the window's consecutive pairs (NaN with fewer than half the window).

    Examples
    --------
    >>> h = pd.Series([101.0, 102.0, 101.5, 102.5])
    >>> l = pd.Series([99.0, 100.0, 99.8, 100.2])
    >>> c = pd.Series([100.8, 100.1, 101.4, 100.3])
    >>> abdi_ranaldo(h, l, c, window=2).round(6).tolist()
    [nan, nan, 0.0, 0.008119]
    """
    eta = (np.log(high) + np.log(low)) / 2
    c = np.log(close)
    # The pair (t-1, t) is complete at t's close: indexed at t.
    pair = 4 * (c.shift(1) - eta.shift(1)) * (c.shift(1) - eta)
    mean = pair.rolling(window, min_periods=max(1, window // 2)).mean()
    return _before(np.sqrt(mean.clip(lower=0.0)))


def trailing_vol(close: pd.Series, window: int = 20, min_obs: int = 10) -> pd.Series:
    """Standard deviation of daily close-to-close returns over the ``window`` sessions before.

    Examples
    --------
    >>> close = pd.Series(100 * np.cumprod([1, 1.01, 0.99, 1.01, 0.99]))
    >>> trailing_vol(close, window=2, min_obs=2).round(6).tolist()
    [nan, nan, nan, 0.014142, 0.014142]
    """
    returns = close.pct_change(fill_method=None)
    return _before(returns.rolling(window, min_periods=min_obs).std())


def trailing_adv(volume: pd.Series, window: int = 20, min_obs: int = 10) -> pd.Series:
    """Mean daily volume (shares) over the ``window`` sessions before each session.

    Examples
    --------
    >>> trailing_adv(pd.Series([100.0, 300.0, 200.0, 0.0]), window=2, min_obs=1).tolist()
    [nan, 100.0, 200.0, 250.0]
    """
    return _before(volume.rolling(window, min_periods=min_obs).mean())
