"""Hedge legs: an opposite trade in an index ETF (or a per-ticker instrument) beside each trade.

A strategy's ``hedge:`` section names the instrument of each traded ticker and
the ratio: a fixed number, or ``beta``, the OLS slope of the ticker's daily
close-to-close returns on the instrument's over a trailing window
(:func:`backtest.engine.rules.estimates.trailing_beta`) read at the decision's
session, so it uses only bars of the sessions before the decision session.

The hedge leg trades ``-side`` at the main leg's actual entry and exit ticks
(same session and point, stops and truncations included). Its entry fill value
is ``ratio`` times the main leg's entry fill value, and its fills pay the same
rules as any fill (slippage, fees and the ``costs:`` section:
:func:`backtest.engine.rules.trade_costs.net_return_with_costs`), so its P&L
as a return on the main leg's entry notional is ``ratio * hedge_leg_return``
and ``hedged_net_return = net_return + hedge_return``.

* :func:`decision_sessions`: the session each decision's ratio is read at;
* :func:`hedge_ratios`: the ratio of each signal (NaN: not enough history);
* :func:`hedge_leg_returns`: the hedge leg's own net return, from its reference prices;
* :func:`hedged_return_at_cost`: both legs at an all-in cost per side (the
  cost sensitivity's ``<strategy>+hedge`` rows) and :func:`hedged_break_even_bps`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine.rules.costs import break_even_from, return_at_cost
from backtest.engine.rules.estimates import trailing_beta
from backtest.engine.rules.trade_costs import CostTerms, TradeCosts, net_return_with_costs

__all__ = [
    "HEDGE_COLUMNS",
    "HEDGE_REASONS",
    "HedgeSpec",
    "decision_sessions",
    "hedge_leg_returns",
    "hedge_side",
    "hedge_ratios",
    "hedged_break_even_bps",
    "hedged_return_at_cost",
]

HEDGE_REASONS = ("hedge_history",)
# Columns a hedged strategy's trades gain (after TRADE_COLUMNS and the engine's own).
HEDGE_COLUMNS = (
    "hedge_instrument",
    "hedge_ratio",
    "hedge_side",
    "hedge_size",
    "hedge_entry_ref_price",
    "hedge_exit_ref_price",
    "hedge_entry_price",
    "hedge_exit_price",
    "hedge_pnl",
    "hedge_return",
    "hedged_net_return",
)


@dataclass(frozen=True)
class HedgeSpec:
    """A strategy's ``hedge:`` section as the rules read it.

    ``by_ticker`` maps tickers to their hedge instrument, ``default`` serves the
    others (the runner checks every traded ticker has one). ``ratio`` is
    ``"beta"`` or a number.

    Examples
    --------
    >>> HedgeSpec(default="SPY").instrument_of("AAPL")
    'SPY'
    >>> HedgeSpec(by_ticker=(("BABA", "KWEB"),)).instrument_of("BABA")
    'KWEB'
    """

    default: str | None = None
    by_ticker: tuple[tuple[str, str], ...] = ()
    ratio: float | str = "beta"
    window: int = 60
    min_obs: int = 40
    shrink: float = 0.0

    def instrument_of(self, ticker: str) -> str | None:
        """The hedge instrument of ``ticker``: its map entry, else the default."""
        return dict(self.by_ticker).get(ticker, self.default)


def decision_sessions(decision_time: pd.Series, sessions: pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Position in ``sessions`` of the first session on or after each decision's local date.

    A value read there from :mod:`~backtest.engine.rules.estimates` uses bars of
    the sessions before it only, which all closed before the decision
    (len(sessions): the decision is after the last session).

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02", "2026-01-05", "2026-01-06"])
    >>> t = pd.Series(pd.to_datetime(["2026-01-03 15:00", "2026-01-05 21:30"], utc=True))
    >>> decision_sessions(t, days, "America/New_York").tolist()
    [1, 1]
    """
    local = pd.DatetimeIndex(decision_time).tz_convert(tz).tz_localize(None).normalize()
    return sessions.searchsorted(local, side="left")


def _closes(frame: pd.DataFrame) -> pd.Series:
    close = frame["close"].astype(float).copy()
    close.index = pd.DatetimeIndex(close.index).tz_localize(None).normalize()
    return close


def hedge_ratios(
    signals: pd.DataFrame, prices: dict[str, pd.DataFrame], spec: HedgeSpec, tz: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each signal's hedge instrument and ratio (NaN where the window holds too few returns).

    ``beta`` regresses the ticker's close-to-close returns on the instrument's,
    both taken on the sessions where both have a close, and is read at the
    decision's session (:func:`decision_sessions`), so only bars before it count.
    """
    instruments = np.array([spec.instrument_of(t) for t in signals["ticker"]], dtype=object)
    if spec.ratio != "beta":
        return instruments, np.full(len(signals), float(spec.ratio))
    ratios = np.full(len(signals), np.nan)
    cache: dict[tuple[str, str], tuple[pd.DatetimeIndex, np.ndarray]] = {}
    for i, (ticker, inst, when) in enumerate(
        zip(signals["ticker"], instruments, signals["decision_time"], strict=True)
    ):
        key = (ticker, inst)
        if key not in cache:
            both = pd.concat([_closes(prices[ticker]), _closes(prices[inst])], axis=1, join="inner")
            rets = both.pct_change(fill_method=None)
            beta = trailing_beta(
                rets.iloc[:, 0], rets.iloc[:, 1], spec.window, spec.min_obs, spec.shrink
            )
            cache[key] = (pd.DatetimeIndex(both.index), beta.to_numpy(dtype=float))
        sessions, beta = cache[key]
        pos = int(decision_sessions(pd.Series([when]), sessions, tz)[0])
        if pos < len(beta):
            ratios[i] = beta[pos]
    return instruments, ratios


def hedge_side(side, ratio):
    """The hedge leg's side: opposite the trade, the same for a negative ratio.

    Examples
    --------
    >>> hedge_side(np.array([1, -1, 1]), np.array([0.8, 1.2, -0.3])).tolist()
    [-1, 1, 1]
    """
    return (-np.asarray(side) * np.where(np.asarray(ratio) < 0, -1, 1)).astype(int)


def hedge_leg_returns(
    ref_in,
    ref_out,
    h_side,
    shares,
    slippage_bps: float,
    fees_bps: float,
    terms: CostTerms,
    costs: TradeCosts,
    borrow_bps,
):
    """The hedge leg's own net return (side ``h_side``, :func:`hedge_side`): the rule of any fill.

    The P&L on the main leg's entry notional is ``abs(ratio)`` times it (the
    leg's entry fill value is ``abs(ratio)`` times the main leg's).

    Examples
    --------
    A 10-share short of the instrument, 100 -> 99, 10 bps fee per fill:

    >>> t = CostTerms(*(np.zeros(1),) * 3, np.zeros(1, dtype=int), np.full(1, np.inf),
    ...               np.array([""]))
    >>> r = hedge_leg_returns(100.0, 99.0, -1, 10.0, 0.0, 10.0, t, TradeCosts(), 0.0)
    >>> round(float(r[0]), 12)
    0.00801
    """
    return net_return_with_costs(
        ref_in, ref_out, h_side, shares, slippage_bps, fees_bps, terms, costs, borrow_bps
    )


def hedged_return_at_cost(ref_in, ref_out, h_in, h_out, side, ratio, bps_per_side: float):
    """Both legs at an all-in cost per side: ``main + ratio * hedge`` at the reference prices.

    Examples
    --------
    Long +3 %, the instrument +1 % at ratio 2, no cost: +1 %.

    >>> round(float(hedged_return_at_cost(100.0, 103.0, 50.0, 50.5, 1, 2.0, 0.0)), 12)
    0.01
    """
    main = return_at_cost(ref_in, ref_out, side, bps_per_side)
    hedge = return_at_cost(h_in, h_out, hedge_side(side, ratio), bps_per_side)
    return main + np.abs(np.asarray(ratio)) * hedge


def hedged_break_even_bps(ref_in, ref_out, h_in, h_out, side, ratio) -> float:
    """Cost per side (bps) at which the mean :func:`hedged_return_at_cost` is zero.

    Linear in the cost: ``mean(gross) / mean(1 + out/in + ratio (1 + h_out/h_in))``.

    Examples
    --------
    >>> round(hedged_break_even_bps(100.0, 103.0, 50.0, 50.5, 1, 2.0), 2)
    16.53
    """
    arrays = (np.asarray(a, dtype=float) for a in (ref_in, ref_out, h_in, h_out))
    ref_in, ref_out, h_in, h_out = arrays
    if ref_in.size == 0:
        return float("nan")
    gross = hedged_return_at_cost(ref_in, ref_out, h_in, h_out, side, ratio, 0.0)
    per_bps = (1.0 + ref_out / ref_in) + np.abs(np.asarray(ratio)) * (1.0 + h_out / h_in)
    return break_even_from(gross, per_bps)
