"""Trailing estimates from daily bars: beta, bid-ask spread, volatility, volume.

Every function takes one ticker's daily bars (a session-indexed Series, as
:mod:`backtest.data` loads them), a panel of them (a DataFrame or array with
one column per ticker, the sweep's), or plain arrays (rows are sessions), and
returns the same type and shape on the same sessions,
whose value at session ``s`` uses only bars of sessions *before* ``s``: the
window ends with the previous session's close, so an estimate read for a fill
at ``s``'s open or close was published by then. tests/test_estimates.py checks
it as a property: changing or cutting every bar from ``s`` on changes no value
at or before ``s``.

* :func:`trailing_beta`: OLS slope of daily returns on a hedge instrument's,
  over ``window`` sessions (at least ``min_obs`` pairs), optionally shrunk
  toward 1;
* :func:`corwin_schultz`: the Corwin and Schultz (2012) high-low spread;
* :func:`abdi_ranaldo`: the Abdi and Ranaldo (2017) close-high-low spread;
* :func:`trailing_vol`: the standard deviation of daily close-to-close returns;
* :func:`trailing_adv`: the mean daily volume in shares.

Spreads are fractions of the price (0.001 is 10 bps); NaN where the window
holds too few sessions.

Every window is read by :mod:`~backtest.engine.rules.windows` (running sums,
one compiled pass per column): a ticker gets the same floats alone as in a
panel, whatever the panel's first session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.engine.rules.windows import window_cov_var, window_mean

__all__ = [
    "abdi_ranaldo",
    "corwin_schultz",
    "trailing_adv",
    "trailing_beta",
    "trailing_vol",
]

_CS_K = 3.0 - 2.0 * np.sqrt(2.0)


def _values(x) -> np.ndarray:
    """A Series' or DataFrame's values as a float array (rows are sessions)."""
    return np.asarray(x, dtype=float)


def _like(template, values: np.ndarray):
    """``values`` in ``template``'s type, index (and columns); an array for an array."""
    if isinstance(template, pd.DataFrame):
        return pd.DataFrame(values, index=template.index, columns=template.columns)
    if isinstance(template, pd.Series):
        return pd.Series(values, index=template.index, name=template.name)
    return values


def _before(values: np.ndarray) -> np.ndarray:
    """Known at the next session: each row moved one session later (NaN first)."""
    out = np.empty_like(values)
    out[:1] = np.nan
    out[1:] = values[:-1]
    return out


def trailing_beta(
    returns: pd.Series | pd.DataFrame,
    market: pd.Series,
    window: int = 120,
    min_obs: int = 60,
    shrink: float = 0.0,
) -> pd.Series | pd.DataFrame:
    """OLS beta of ``returns`` on ``market`` over the ``window`` sessions before each session.

    ``beta = cov(r, m) / var(m)`` over the pairs where both are present (at
    least ``min_obs``, else NaN; NaN too where the market did not move), then
    ``(1 - shrink) * beta + shrink * 1``. ``returns`` may be a DataFrame (one
    column per ticker, the sweep's panel): each column gets the beta it would
    get alone.

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
    beta, var = window_cov_var(_values(returns), _values(market), window, min_obs)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta /= var  # in place: a panel's arrays are allocated once
    beta[~(var > 0)] = np.nan
    if shrink:
        beta *= 1.0 - shrink
        beta += shrink
    return _like(returns, _before(beta))


def _cs_pairs(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Corwin-Schultz two-day spread estimates, indexed at the pair's second day.

    The paper's formula with fewer passes over a 500-ticker panel: ``ln(H/L)`` as a
    difference of logs, ``sqrt(2b) - sqrt(b) = (sqrt 2 - 1) sqrt(b)``,
    ``sqrt(g) = ln(max H) - ln(min L)`` and ``2 (e^a - 1) / (1 + e^a) = 2 tanh(a / 2)``.
    """
    log_h, log_l = np.log(high), np.log(low)
    hl = log_h - log_l
    hl *= hl
    alpha = np.full_like(hl, np.nan)
    np.add(hl[1:], hl[:-1], out=alpha[1:])  # b
    np.sqrt(alpha, out=alpha)
    alpha *= (np.sqrt(2.0) - 1.0) / _CS_K
    # sqrt(g) = ln(max H / min L) over the two days: log is increasing, so the max of the logs.
    top = np.maximum(log_h[1:], log_h[:-1])
    top -= np.minimum(log_l[1:], log_l[:-1])
    top *= 1.0 / np.sqrt(_CS_K)
    alpha[1:] -= top
    # In place, a panel's arrays are allocated once: 2 (e^a - 1) / (1 + e^a) = 2 tanh(a / 2).
    alpha *= 0.5
    np.tanh(alpha, out=alpha)
    alpha *= 2.0
    return np.maximum(alpha, 0.0, out=alpha)  # NaN stays NaN


def corwin_schultz(high, low, window: int = 21):
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
    spread = _cs_pairs(_values(high), _values(low))
    return _like(high, _before(window_mean(spread, window, max(1, window // 2))))


def abdi_ranaldo(high, low, close, window: int = 21):
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
    eta = (np.log(_values(high)) + np.log(_values(low))) / 2
    c = np.log(_values(close))
    # The pair (t-1, t) is complete at t's close: indexed at t.
    pair = np.full_like(eta, np.nan)
    pair[1:] = 4 * (c[:-1] - eta[:-1]) * (c[:-1] - eta[1:])
    mean = window_mean(pair, window, max(1, window // 2))
    return _like(high, _before(np.sqrt(np.maximum(mean, 0.0))))


def _returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close returns (NaN where either close is missing, and on the first row)."""
    out = np.full_like(close, np.nan)
    out[1:] = close[1:] / close[:-1] - 1
    return out


def trailing_vol(close, window: int = 20, min_obs: int = 10):
    """Standard deviation of daily close-to-close returns over the ``window`` sessions before.

    Examples
    --------
    >>> close = pd.Series(100 * np.cumprod([1, 1.01, 0.99, 1.01, 0.99]))
    >>> trailing_vol(close, window=2, min_obs=2).round(6).tolist()
    [nan, nan, nan, 0.014142, 0.014142]
    """
    r = _returns(_values(close))
    _, var = window_cov_var(r, r, window, min_obs)
    return _like(close, _before(np.sqrt(var)))


def trailing_adv(volume, window: int = 20, min_obs: int = 10):
    """Mean daily volume (shares) over the ``window`` sessions before each session.

    Examples
    --------
    >>> trailing_adv(pd.Series([100.0, 300.0, 200.0, 0.0]), window=2, min_obs=1).tolist()
    [nan, 100.0, 200.0, 250.0]
    """
    return _like(volume, _before(window_mean(_values(volume), window, min_obs)))
