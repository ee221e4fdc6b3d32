"""The sizing modes: ``percent`` of equity, a ``fixed`` cash value, or ``vol_target``.

``percent``: each entry spends ``size`` % of the account's equity measured at
the fill before it (fees included); ``fixed``: each entry is worth ``size`` in
account currency at its reference (unslipped) price; ``vol_target``: each entry
spends ``w`` % of that equity, fees included, where ``w`` makes the position's
trailing daily volatility times its weight equal ``target_daily_vol_pct`` % of
equity (:func:`vol_target_pct`), at most ``max_pct``. Under ``portfolio:``
every signal carries its own ``size_pct`` (``position_pct``); under
``vol_target`` every signal gets its ``size_pct`` from :func:`vol_target_sizes`.
The book that turns them into shares, never spending short proceeds, is
:func:`backtest.engine.rules.book.book_sizes`; the defaults are in
:mod:`backtest.engine.rules.defaults`.

Volatility of ``vol_target``. The standard deviation of the ticker's daily
close-to-close returns over the ``window`` sessions before the decision's
session (:func:`backtest.engine.rules.estimates.trailing_vol`, read at
:func:`backtest.engine.rules.hedge.decision_sessions`, as the hedge ratio is),
so every bar it uses closed before the decision. All ``window`` returns are
required: a signal with fewer is dropped (reason ``vol_history``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.core.errors import ConfigError
from backtest.engine.rules.defaults import DEFAULT_VOL_MAX_PCT, DEFAULT_VOL_WINDOW
from backtest.engine.rules.estimates import trailing_vol
from backtest.engine.rules.hedge import decision_sessions

__all__ = [
    "SIZINGS",
    "SIZING_REASONS",
    "VolTarget",
    "check_sizing",
    "vol_target_pct",
    "vol_target_sizes",
    "vol_table",
]

SIZINGS = ("percent", "fixed", "vol_target")
SIZING_REASONS = ("vol_history",)


def check_sizing(sizing: str) -> str:
    """``sizing`` if it is one of :data:`SIZINGS`, else a :class:`ConfigError`.

    Examples
    --------
    >>> check_sizing("fixed")
    'fixed'
    """
    if sizing not in SIZINGS:
        raise ConfigError(f"engine.sizing.mode must be one of {SIZINGS}, got {sizing!r}")
    return sizing


@dataclass(frozen=True)
class VolTarget:
    """``vol_target`` sizing: a position's daily vol times its weight is ``target_daily_vol_pct``.

    Percentages are of equity; ``window`` counts daily returns before the decision session.

    Examples
    --------
    >>> VolTarget(0.5).max_pct
    100.0
    """

    target_daily_vol_pct: float
    window: int = DEFAULT_VOL_WINDOW
    max_pct: float = DEFAULT_VOL_MAX_PCT


def vol_target_pct(sigma, target_daily_vol_pct: float, max_pct: float) -> np.ndarray:
    """Weight (% of equity) whose daily vol is ``target_daily_vol_pct`` %: ``target / sigma``.

    ``sigma`` is a fraction (0.02 is 2 % a day). The weight is capped at
    ``max_pct``; a sigma of 0 (a price that never moved) gets ``max_pct``; NaN
    (too little history) stays NaN.

    Examples
    --------
    2 % daily vol and a 0.5 % target: 25 % of equity (0.25 x 2 % = 0.5 %);
    1 % daily vol would need 50 %, capped at 40 %:

    >>> vol_target_pct(np.array([0.02, 0.01, 0.0, np.nan]), 0.5, 40.0).tolist()
    [25.0, 40.0, 40.0, nan]
    """
    sigma = np.asarray(sigma, dtype=float)
    with np.errstate(divide="ignore"):
        raw = np.where(sigma > 0, target_daily_vol_pct / sigma, np.inf)
    return np.where(np.isnan(sigma), np.nan, np.minimum(raw, max_pct))


def _closes(frame: pd.DataFrame) -> pd.Series:
    close = frame["close"].astype(float).copy()
    close.index = pd.DatetimeIndex(close.index).tz_localize(None).normalize()
    return close


def vol_target_sizes(
    signals: pd.DataFrame, prices: dict[str, pd.DataFrame], vol: VolTarget, tz: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each signal's ``size_pct`` and the daily vol it came from (NaN: too little history).

    The vol is read at the decision's session (bars before it only), over the
    ticker's own sessions, needing all ``vol.window`` returns.

    Examples
    --------
    Closes alternating +1 % / -1 %: over 4 returns (two of each) the sample
    standard deviation is ``0.01 * sqrt(4 / 3)``:

    >>> days = pd.bdate_range("2026-01-05", periods=8)
    >>> close = 100 * np.cumprod([1.0, 1.01, 0.99, 1.01, 0.99, 1.01, 0.99, 1.01])
    >>> prices = {"X": pd.DataFrame({"close": close}, index=days)}
    >>> sig = pd.DataFrame({"ticker": ["X", "X"], "decision_time": pd.to_datetime(
    ...     ["2026-01-08 21:00", "2026-01-13 21:00"], utc=True)})
    >>> pct, sigma = vol_target_sizes(sig, prices, VolTarget(0.5, window=4), "America/New_York")
    >>> bool(abs(sigma[1] - 0.01 * np.sqrt(4 / 3)) < 1e-12), bool(np.isnan(pct[0]))
    (True, True)
    >>> round(float(pct[1]), 6)
    43.30127
    """
    sigma = np.full(len(signals), np.nan)
    tickers = signals["ticker"].to_numpy()
    for ticker in pd.unique(tickers):
        mine = tickers == ticker
        own, est = _vol_estimates(prices[ticker], vol.window)
        sigma[mine] = _read(est, decision_sessions(signals["decision_time"][mine], own, tz))
    return vol_target_pct(sigma, vol.target_daily_vol_pct, vol.max_pct), sigma


def vol_table(
    prices: dict[str, pd.DataFrame],
    tickers: list[str],
    sessions: pd.DatetimeIndex,
    vol: VolTarget,
    tz: str,
) -> np.ndarray:
    """The daily vol a decision on each of ``sessions`` reads, per ticker: (tickers, sessions).

    What :func:`vol_target_sizes` gives a signal deciding on that session (a sweep
    reads it at each entry's session, as a run's decision is its entry); NaN
    where the ticker has fewer than ``vol.window`` returns before it.

    Examples
    --------
    >>> days = pd.bdate_range("2026-01-05", periods=8)
    >>> close = 100 * np.cumprod([1.0, 1.01, 0.99, 1.01, 0.99, 1.01, 0.99, 1.01])
    >>> prices = {"X": pd.DataFrame({"close": close}, index=days)}
    >>> table = vol_table(prices, ["X"], days, VolTarget(0.5, window=4), "America/New_York")
    >>> sig = pd.DataFrame({"ticker": ["X"] * 8,
    ...                     "decision_time": days.tz_localize("America/New_York") + pd.Timedelta("9h30min")})
    >>> bool(np.array_equal(table[0], vol_target_sizes(sig, prices, VolTarget(0.5, window=4),
    ...                                                 "America/New_York")[1], equal_nan=True))
    True
    """
    decisions = pd.Series(pd.DatetimeIndex(sessions).tz_localize(tz))
    out = np.full((len(tickers), len(sessions)), np.nan)
    for i, ticker in enumerate(tickers):
        own, est = _vol_estimates(prices[ticker], vol.window)
        out[i] = _read(est, decision_sessions(decisions, own, tz))
    return out


def _vol_estimates(frame: pd.DataFrame, window: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """A ticker's own sessions and the vol a decision on each reads (all ``window`` returns)."""
    close = _closes(frame)
    return pd.DatetimeIndex(close.index), trailing_vol(close, window, window).to_numpy(float)


def _read(est: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``est`` at positions ``pos``; NaN past its end (a decision after the last session)."""
    out = np.full(len(pos), np.nan)
    inside = pos < len(est)
    out[inside] = est[pos[inside]]
    return out
