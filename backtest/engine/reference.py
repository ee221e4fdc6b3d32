"""The reference engine: a plain per-trade loop kept small enough to check by hand.

Independent fixed-size trades with time exits only; the parity oracle for the
vectorbt engine. Fill, cost and exit rules come from :mod:`backtest.engine.rules`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.core.errors import ConfigError
from backtest.core.schema import TRADE_COLUMNS
from backtest.core.timeline import Timeline, tick_of, tick_prices
from backtest.engine.rules import (
    BPS,
    EngineResult,
    EngineSettings,
    fill_price,
    in_market_sessions,
    planned_exit_reason,
)

__all__ = ["reference_trades", "run_reference"]


def _one_trade(
    row: pd.Series, prices: dict[str, pd.DataFrame], timeline: Timeline, settings: EngineSettings
) -> dict:
    tp = tick_prices(prices[row["ticker"]], timeline)
    t_in, t_out = (
        tick_of(timeline, row["entry_session"], row["entry_at"]),
        tick_of(timeline, row["exit_session"], row["exit_at"]),
    )
    side = int(row["side"])
    ref_in, ref_out = tp.price[t_in], tp.price[t_out]
    p_in, p_out = (
        fill_price(ref_in, side > 0, settings.slippage_bps),
        fill_price(ref_out, side < 0, settings.slippage_bps),
    )
    size = settings.size / ref_in  # vectorbt sizes a value order at the unslipped price
    fee_in, fee_out = size * p_in * settings.fees_bps * BPS, size * p_out * settings.fees_bps * BPS
    pnl = side * size * (p_out - p_in) - fee_in - fee_out
    return {
        "strategy": row["strategy"],
        "ticker": row["ticker"],
        "event_id": row["event_id"],
        "side": side,
        "entry_time": timeline.ticks[t_in],
        "entry_price": p_in,
        "exit_time": timeline.ticks[t_out],
        "exit_price": p_out,
        "size": size,
        "fees": fee_in + fee_out,
        "gross_return": side * (ref_out / ref_in - 1.0),
        "net_return": pnl / (size * p_in),
        "exit_reason": planned_exit_reason(row),
        "entry_ref_price": ref_in,
        "exit_ref_price": ref_out,
        "pnl": pnl,
    }


def reference_trades(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> pd.DataFrame:
    """Compute each signal's trade independently (fixed cash per trade, time exits).

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> from backtest.core.timeline import build_timeline
    >>> s = pd.bdate_range("2025-03-03", periods=3)
    >>> px = {"A": pd.DataFrame({"open": [100.0, 101, 102], "high": [101.0, 102, 103],
    ...       "low": [99.0, 100, 101], "close": [100.5, 101.5, 102.5]}, index=s)}
    >>> tl = build_timeline(get_calendar("XNYS"), s[0], s[-1])
    >>> sig = pd.DataFrame([{"strategy": "x", "event_id": "e", "ticker": "A", "side": 1,
    ...     "entry_session": s[0], "entry_at": "open", "exit_session": s[2], "exit_at": "close"}])
    >>> st = EngineSettings(fees_bps=0, slippage_bps=0, sizing="fixed", size=1000)
    >>> round(float(reference_trades(sig, px, tl, st)["net_return"].iloc[0]), 12)
    0.025
    """
    if "size_pct" in signals.columns:
        raise ConfigError(
            "portfolio: sizes positions as a percent of shared cash, which the reference "
            "engine (independent fixed-cash trades) does not simulate; use engine.engine: vectorbt"
        )
    if settings.stop_loss_pct or settings.take_profit_pct or settings.sizing != "fixed":
        raise ConfigError(
            "the reference engine supports fixed sizing and time exits only; "
            "use engine: vectorbt for percent sizing or stops"
        )
    rows = [_one_trade(r, prices, timeline, settings) for _, r in signals.iterrows()]
    return pd.DataFrame(
        rows, columns=list(TRADE_COLUMNS) + ["entry_ref_price", "exit_ref_price", "pnl"]
    )


def _equity_from_trades(
    trades: pd.DataFrame,
    timeline: Timeline,
    settings: EngineSettings,
    prices: dict[str, pd.DataFrame],
) -> pd.Series:
    """Mark-to-market equity at each session close for independent fixed-size trades."""
    value = np.full(len(timeline.ticks), settings.init_cash)
    for tr in trades.itertuples(index=False):
        price = tick_prices(prices[tr.ticker], timeline).price
        t_in, t_out = timeline.ticks.get_loc(tr.entry_time), timeline.ticks.get_loc(tr.exit_time)
        held = np.arange(len(value))
        fee_in = tr.size * tr.entry_price * settings.fees_bps * BPS
        open_pnl = tr.side * tr.size * (price - tr.entry_price) - fee_in
        value += np.where((held >= t_in) & (held < t_out), open_pnl, 0.0)
        value += np.where(held >= t_out, tr.pnl, 0.0)
    return pd.Series(value[timeline.close_ticks], index=timeline.sessions, name="equity")


def run_reference(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> EngineResult:
    """The reference engine: independent fixed-size trades, time exits only."""
    trades = reference_trades(signals, prices, timeline, settings)
    equity = _equity_from_trades(trades, timeline, settings, prices)
    return EngineResult(trades, equity, in_market_sessions(trades, timeline))
