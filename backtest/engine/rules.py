"""Execution rules: settings, fills, costs, exit reasons and exposure, shared by every engine.

Two engines implement one contract (:func:`simulate`):

* ``vectorbt`` (:mod:`backtest.engine.vectorbt`, the default): vectorbt's
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

from backtest.core.timeline import Timeline

__all__ = [
    "BPS",
    "EngineResult",
    "EngineSettings",
    "fill_price",
    "in_market_sessions",
    "planned_exit_reason",
]

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
    """Trades (schema in :mod:`backtest.core.schema`), daily equity and daily exposure."""

    trades: pd.DataFrame
    equity: pd.Series
    in_market: pd.Series


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


def in_market_sessions(trades: pd.DataFrame, timeline: Timeline) -> pd.Series:
    """Whether any position was open at some tick of each session."""
    held = np.zeros(len(timeline.ticks), dtype=bool)
    for tr in trades.itertuples(index=False):
        t_in, t_out = timeline.ticks.get_loc(tr.entry_time), timeline.ticks.get_loc(tr.exit_time)
        held[t_in:t_out] = True
    per_session = held.reshape(-1, 2).any(axis=1)
    return pd.Series(per_session, index=timeline.sessions, name="in_market")
