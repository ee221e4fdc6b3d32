"""The vectorbt engine: ``Portfolio.from_signals`` on the Rust backend, for cash and positions.

One column per signal (so overlapping trades in one ticker never net out),
all columns of a strategy in one cash-sharing group, on the open/close tick
timeline of :mod:`backtest.core.timeline`. The Rust engine gives the same results
as Numba without a JIT wait on a cold start.

Every execution rule comes from :mod:`backtest.engine.rules`: each column's
exit tick and reason (time exit or stop, :func:`~backtest.engine.rules.trade_exits`),
its slipped entry and exit fill prices (:func:`~backtest.engine.rules.fill_price`),
the fee rate and the entry sizes (:func:`~backtest.engine.rules.entry_sizes`).
vectorbt receives them as entry and exit signals at those ticks with those
prices (no slippage and no stops of its own) and keeps the books: shared cash,
sizes in shares, fees paid, P&L and the equity marked at each tick's price.
Orders are valued (``val_price``, which converts a ``fixed`` cash size into
shares) at the unslipped tick price.

Signals with a ``size_pct`` column (set by :mod:`backtest.engine.portfolio`) are
processed within a tick in entry order (columns sorted by entry tick and
``event_id``, ``call_seq="default"``): a tick's exits first, since they entered
earlier, then its entries in the order the caps took them, which is the order
their sizes assume. Without it, vectorbt's ``call_seq="auto"`` (sells before buys).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from backtest.core.schema import TRADE_COLUMNS
from backtest.core.timeline import TickPrices, Timeline, tick_of, tick_prices
from backtest.engine.portfolio import entry_order
from backtest.engine.rules.costs import fee_rate, fill_price
from backtest.engine.rules.exits import Exits, reason_names, trade_exits
from backtest.engine.rules.settings import EngineResult, EngineSettings
from backtest.engine.rules.sizing import entry_sizes

__all__ = ["group_lens", "in_market_sessions", "numpy_group_lens", "run_vectorbt"]

VBT_ENGINE = "rust"
OUT_COLUMNS = [*TRADE_COLUMNS, "entry_ref_price", "exit_ref_price", "pnl"]


def _column_prices(
    signals: pd.DataFrame, prices: dict[str, pd.DataFrame], timeline: Timeline
) -> TickPrices:
    """Each signal's ticker's tick prices, one row per signal: (signals, ticks) arrays."""
    cache: dict[str, TickPrices] = {}
    per_row = [cache.setdefault(t, tick_prices(prices[t], timeline)) for t in signals["ticker"]]
    return TickPrices(
        *(np.vstack([getattr(tp, k) for tp in per_row]) for k in ("price", "open", "high", "low"))
    )


def _ticks(signals: pd.DataFrame, timeline: Timeline, side: str) -> np.ndarray:
    pairs = zip(signals[f"{side}_session"], signals[f"{side}_at"], strict=True)
    return np.array([tick_of(timeline, s, a) for s, a in pairs], dtype=np.int64)


def _orders(
    rows: TickPrices,
    entry: np.ndarray,
    exits: Exits,
    side: np.ndarray,
    entry_ref: np.ndarray,
    slippage_bps: float,
) -> dict:
    """Entry and exit signals, and the order price matrix: each fill at its slipped price.

    Ticks without an order keep the reference price (vectorbt reads no price there).
    """
    col = np.arange(len(entry))
    price = rows.price.T.copy()
    price[entry, col] = fill_price(entry_ref, side, slippage_bps)
    price[exits.tick, col] = fill_price(exits.ref, -side, slippage_bps)
    entries, exit_signals = np.zeros(price.shape, dtype=bool), np.zeros(price.shape, dtype=bool)
    entries[entry, col] = True
    exit_signals[exits.tick, col] = True
    return {"entries": entries, "exits": exit_signals, "price": price}


def _size_kwargs(settings: EngineSettings, signals: pd.DataFrame) -> dict:
    size_pct = signals["size_pct"].to_numpy(dtype=float) if "size_pct" in signals else None
    size, size_type = entry_sizes(settings.sizing, settings.size, len(signals), size_pct)
    # Portfolio sizes assume entry order within a tick; otherwise sells first.
    call_seq = "default" if size_pct is not None else "auto"
    return {"size": size[None, :], "size_type": size_type, "call_seq": call_seq}


def group_lens(groups: np.ndarray) -> np.ndarray:
    """Sizes of the runs of equal values in sorted group codes, as vectorbt counts them.

    The same counts, and the same error for unsorted codes, as vectorbt's
    ``column_grouper.get_group_lens_nb``.

    Examples
    --------
    >>> group_lens(np.array([0, 0, 1, 2, 2, 2])).tolist()
    [2, 1, 3]
    >>> group_lens(np.array([], dtype=int)).tolist()
    []
    """
    groups = np.asarray(groups)
    if np.any(groups[1:] < groups[:-1]):
        raise ValueError("Groups must be coherent and sorted (such as [0, 0, 1, 2, 2, ...])")
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if groups.size else []
    return np.diff(np.r_[starts, groups.size]).astype(np.int64)


@contextmanager
def numpy_group_lens() -> Iterator[None]:
    """While simulating, let vectorbt count group sizes with :func:`group_lens`.

    On the Rust engine, vectorbt's one remaining Numba call is
    ``get_group_lens_nb`` (grouping the columns for cash sharing). Its first call
    in a process starts Numba's dispatcher (typing registries, cffi, pycparser):
    0.3-0.6 s of a cold ``backtest run`` for a loop over a handful of integers.
    The substitute is restored on exit, so vectorbt outside a simulation is untouched.
    """
    from vectorbt.base import column_grouper

    original = column_grouper.get_group_lens_nb
    column_grouper.get_group_lens_nb = group_lens
    try:
        yield
    finally:
        column_grouper.get_group_lens_nb = original


def _portfolio(
    signals: pd.DataFrame,
    rows: TickPrices,
    orders: dict,
    timeline: Timeline,
    settings: EngineSettings,
):
    import vectorbt as vbt  # imported here: 2 s, only when a run simulates

    direction = np.where(signals["side"].to_numpy() > 0, 0, 1)  # 0 longonly, 1 shortonly
    reference = rows.price.T
    return vbt.Portfolio.from_signals(
        close=pd.DataFrame(reference, index=timeline.ticks),
        entries=orders["entries"],
        exits=orders["exits"],
        price=orders["price"],  # already slipped by the rules: no slippage here
        val_price=reference,
        direction=direction[None, :],
        fees=fee_rate(settings.fees_bps),
        init_cash=settings.init_cash,
        cash_sharing=True,
        group_by=np.zeros(len(signals), dtype=int),
        accumulate=False,
        engine=VBT_ENGINE,
        freq=None,
        **_size_kwargs(settings, signals),
    )


def _trades(
    pf, signals: pd.DataFrame, timeline: Timeline, entry_ref: np.ndarray, exits: Exits
) -> pd.DataFrame:
    rec = pf.trades.values
    col = rec["col"].astype(np.int64)
    side = signals["side"].to_numpy(dtype=int)[col]
    ref_in, ref_out = entry_ref[col], exits.ref[col]
    by = signals["truncated_by"].iloc[col] if "truncated_by" in signals else None
    out = pd.DataFrame(
        {
            "strategy": signals["strategy"].to_numpy()[col],
            "ticker": signals["ticker"].to_numpy()[col],
            "event_id": signals["event_id"].to_numpy()[col],
            "side": side,
            "entry_time": timeline.ticks[rec["entry_idx"]],
            "entry_price": rec["entry_price"],
            "exit_time": timeline.ticks[rec["exit_idx"]],
            "exit_price": rec["exit_price"],
            "size": rec["size"],
            "fees": rec["entry_fees"] + rec["exit_fees"],
            "gross_return": side * (ref_out / ref_in - 1.0),
            "net_return": rec["return"],
            "exit_reason": reason_names(exits.reason[col], by),
            "entry_ref_price": ref_in,
            "exit_ref_price": ref_out,
            "pnl": rec["pnl"],
        },
        columns=OUT_COLUMNS,
    )
    return out


def in_market_sessions(trades: pd.DataFrame, timeline: Timeline) -> pd.Series:
    """Whether any position was open at some tick of each session."""
    held = np.zeros(len(timeline.ticks), dtype=bool)
    for tr in trades.itertuples(index=False):
        t_in, t_out = timeline.ticks.get_loc(tr.entry_time), timeline.ticks.get_loc(tr.exit_time)
        held[t_in:t_out] = True
    per_session = held.reshape(-1, 2).any(axis=1)
    return pd.Series(per_session, index=timeline.sessions, name="in_market")


def run_vectorbt(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> EngineResult:
    """Simulate one strategy's signals with vectorbt; return trades, equity and exposure."""
    if signals.empty:
        flat = pd.Series(settings.init_cash, index=timeline.sessions, name="equity", dtype=float)
        return EngineResult(
            pd.DataFrame(columns=OUT_COLUMNS),
            flat,
            pd.Series(False, index=timeline.sessions, name="in_market"),
        )
    if "size_pct" in signals.columns:  # sizes assume entry order within a tick
        signals = signals.iloc[entry_order(signals)].reset_index(drop=True)
    rows = _column_prices(signals, prices, timeline)
    col = np.arange(len(signals))
    entry, planned = _ticks(signals, timeline, "entry"), _ticks(signals, timeline, "exit")
    side = signals["side"].to_numpy(dtype=int)
    entry_ref = rows.price[col, entry]
    exits = trade_exits(
        rows.price,
        rows,
        col,
        entry,
        planned,
        side,
        entry_ref,
        settings.slippage_bps,
        settings.stop_loss_pct,
        settings.take_profit_pct,
    )
    orders = _orders(rows, entry, exits, side, entry_ref, settings.slippage_bps)
    with numpy_group_lens():
        pf = _portfolio(signals, rows, orders, timeline, settings)
        trades = _trades(pf, signals, timeline, entry_ref, exits)
        value = np.asarray(pf.value()).reshape(len(timeline.ticks), -1)[:, 0]
    equity = pd.Series(value[timeline.close_ticks], index=timeline.sessions, name="equity")
    return EngineResult(trades, equity, in_market_sessions(trades, timeline))
