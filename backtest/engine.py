"""Engine contract and the reference engine: signals + prices -> trades and equity.

Two engines implement one contract (:func:`simulate`):

* ``vectorbt`` (:mod:`backtest.engine_vbt`, the default): vectorbt's
  ``Portfolio.from_signals`` on its Rust engine, with shared cash, fees,
  slippage, percent or fixed sizing and stop-loss / take-profit.
* ``reference`` (here): a plain per-trade loop kept small enough to check by
  hand. It supports time exits and fixed sizing, and serves as the parity
  oracle for the vectorbt engine.

Costs. ``fees_bps`` is charged on the traded value of every fill (entry and
exit). ``slippage_bps`` moves every fill price against the trader: buys fill
at ``price * (1 + s)``, sells at ``price * (1 - s)``.

Stops. ``stop_loss_pct`` / ``take_profit_pct`` are measured from the entry fill
price and checked on every tick after entry against the bar's range (a close
tick sees the session's high and low). A triggered stop fills at the stop level,
or at the open when the market gapped through it, then slips like any fill. Its
``exit_time`` is the close of the session in which it triggered (daily bars do
not say when within the session).

Returns. ``gross_return`` is the market move over the holding window at the
reference (unslipped) prices, signed by side. ``net_return`` is the trade's
P&L after fees and slippage divided by its entry fill value (size times entry
fill price), as vectorbt defines it; with zero costs it equals ``gross_return``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import ConfigError
from backtest.schema import TRADE_COLUMNS
from backtest.timeline import Timeline, tick_of, tick_prices

__all__ = ["EngineResult", "EngineSettings", "planned_exit_reason", "reference_trades", "simulate"]

BPS = 1e-4


@dataclass(frozen=True)
class EngineSettings:
    """Simulation settings (units in the names: bps, pct, cash in account currency)."""

    init_cash: float = 100_000.0
    fees_bps: float = 10.0
    slippage_bps: float = 5.0
    sizing: str = "percent"
    size: float = 100.0
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    engine: str = "vectorbt"


@dataclass(frozen=True)
class EngineResult:
    """Trades (schema in :mod:`backtest.schema`), daily equity and daily exposure."""

    trades: pd.DataFrame
    equity: pd.Series
    in_market: pd.Series


def simulate(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> EngineResult:
    """Run the configured engine on one strategy's signals."""
    if settings.engine == "vectorbt":
        from backtest.engine_vbt import run_vectorbt

        return run_vectorbt(signals, prices, timeline, settings)
    if settings.engine == "reference":
        return run_reference(signals, prices, timeline, settings)
    raise ConfigError(f"engine.engine must be 'vectorbt' or 'reference', got {settings.engine!r}")


def fill_price(reference: float, buying: bool, slippage_bps: float) -> float:
    """Apply slippage against the trader.

    Examples
    --------
    >>> fill_price(100.0, True, 5.0), fill_price(100.0, False, 5.0)
    (100.05, 99.95)
    """
    return reference * (1 + slippage_bps * BPS) if buying else reference * (1 - slippage_bps * BPS)


def planned_exit_reason(signal: pd.Series) -> str:
    """``"truncated"`` when ``overlap: truncate`` moved the signal's exit, else ``"time"``.

    Examples
    --------
    >>> planned_exit_reason(pd.Series({"truncated_by": "A-2"}))
    'truncated'
    >>> planned_exit_reason(pd.Series({"event_id": "A-1"}))
    'time'
    """
    by = signal.get("truncated_by")
    return "truncated" if isinstance(by, str) and by else "time"


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
    >>> from backtest.sessions import get_calendar
    >>> from backtest.timeline import build_timeline
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


def in_market_sessions(trades: pd.DataFrame, timeline: Timeline) -> pd.Series:
    """Whether any position was open at some tick of each session."""
    held = np.zeros(len(timeline.ticks), dtype=bool)
    for tr in trades.itertuples(index=False):
        t_in, t_out = timeline.ticks.get_loc(tr.entry_time), timeline.ticks.get_loc(tr.exit_time)
        held[t_in:t_out] = True
    per_session = held.reshape(-1, 2).any(axis=1)
    return pd.Series(per_session, index=timeline.sessions, name="in_market")


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
