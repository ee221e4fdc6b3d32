"""Hedge legs of simulated trades (rules in :mod:`backtest.engine.rules.hedge`).

:func:`hedge_trades` prices, for each trade of a hedged strategy, the opposite
trade in its hedge instrument at the trade's own entry and exit ticks, sized at
``abs(ratio)`` times the trade's entry fill value, with the run's slippage, fees
and ``costs:`` section (spread, impact, commission, borrow, dividends of the
instrument; participation caps and ``do_not_short`` apply to the main leg only).
The hedge leg does not enter the strategy's cash book: its P&L is reported per
trade (``hedge_pnl``, ``hedge_return``, ``hedged_net_return``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.core.timeline import Timeline, tick_prices
from backtest.engine.rules.arrays import at
from backtest.engine.rules.hedge import (
    HEDGE_COLUMNS,
    hedge_contribution,
    hedge_notional,
    hedge_side,
    price_hedge_leg,
)
from backtest.engine.rules.settings import EngineSettings
from backtest.engine.rules.trade_costs import build_cost_panel

__all__ = ["hedge_equity", "hedge_trades"]


def hedge_trades(
    trades: pd.DataFrame,
    ratios: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> pd.DataFrame:
    """``trades`` with the :data:`HEDGE_COLUMNS`; ``ratios`` has event_id, instrument, ratio."""
    if trades.empty:
        return trades.assign(**{c: pd.Series(dtype=float) for c in HEDGE_COLUMNS})
    by_event = ratios.set_index("event_id")
    inst = by_event.loc[trades["event_id"], "instrument"].to_numpy(dtype=object)
    ratio = by_event.loc[trades["event_id"], "ratio"].to_numpy(dtype=float)
    entry = timeline.ticks.get_indexer(pd.DatetimeIndex(trades["entry_time"]))
    exit_ = timeline.ticks.get_indexer(pd.DatetimeIndex(trades["exit_time"]))
    side = trades["side"].to_numpy(dtype=int)
    h_side = hedge_side(side, ratio)
    names = sorted(set(inst))
    rows = np.array([names.index(i) for i in inst])
    ticks = np.vstack([tick_prices(prices[n], timeline).price for n in names])
    h_in, h_out = at(ticks, rows, entry), at(ticks, rows, exit_)
    costs, s = settings.costs, settings
    panel = build_cost_panel(names, prices, timeline, costs)
    notional = hedge_notional(
        ratio, trades["size"].to_numpy(float) * trades["entry_price"].to_numpy(float)
    )
    priced = price_hedge_leg(
        panel,
        rows,
        entry,
        exit_,
        h_in,
        h_out,
        h_side,
        notional,
        s.slippage_bps,
        s.fees_bps,
        costs,
        name=lambda w: lambda i: f"the hedge leg's {w} of {trades['event_id'].iloc[i]} ({inst[i]})",
    )
    shares, f_in, f_out, leg = (
        priced.shares,
        priced.entry_price,
        priced.exit_price,
        priced.leg_return,
    )
    hedge_return = hedge_contribution(ratio, leg)
    out = trades.copy()
    out["hedge_instrument"] = inst
    out["hedge_ratio"] = ratio
    out["hedge_side"] = h_side
    out["hedge_size"] = shares
    out["hedge_entry_ref_price"] = h_in
    out["hedge_exit_ref_price"] = h_out
    out["hedge_entry_price"] = f_in
    out["hedge_exit_price"] = f_out
    out["hedge_pnl"] = leg * notional
    out["hedge_return"] = hedge_return
    out["hedged_net_return"] = out["net_return"].astype(float) + hedge_return
    return out


def hedge_equity(
    trades: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    fees_bps: float,
    commission_per_share: float = 0.0,
    commission_minimum: float = 0.0,
) -> pd.Series:
    """Hedge legs' P&L per session: marked at each close while open, ``hedge_pnl`` from the exit.

    While open, a leg is worth ``h_side * size * (close - entry fill)`` less its
    entry fee and commission (carry is paid at the exit, as for the main leg).
    Added to the strategy's equity it gives the ``<strategy>+hedge`` equity.
    """
    from backtest.engine.rules.book import commission
    from backtest.engine.rules.costs import fee_rate

    closes = timeline.close_ticks
    total = np.zeros(len(closes))
    if trades.empty:
        return pd.Series(total, index=timeline.sessions, name="hedge")
    entry = timeline.ticks.get_indexer(pd.DatetimeIndex(trades["entry_time"]))
    exit_ = timeline.ticks.get_indexer(pd.DatetimeIndex(trades["exit_time"]))
    cache: dict[str, np.ndarray] = {}
    for i, tr in enumerate(trades.itertuples(index=False)):
        inst = tr.hedge_instrument
        if inst not in cache:
            cache[inst] = tick_prices(prices[inst], timeline).price
        q, f_in = float(tr.hedge_size), float(tr.hedge_entry_price)
        cost_in = fee_rate(fees_bps) * q * f_in + float(
            commission(np.array([q]), commission_per_share, commission_minimum)[0]
        )
        open_ = (closes >= entry[i]) & (closes < exit_[i])
        mark = tr.hedge_side * q * (cache[inst][closes] - f_in) - cost_in
        total += np.where(open_, np.nan_to_num(mark), 0.0)
        total += np.where(closes >= exit_[i], float(tr.hedge_pnl), 0.0)
    return pd.Series(total, index=timeline.sessions, name="hedge")
