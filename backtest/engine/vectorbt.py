"""The vectorbt engine: ``Portfolio.from_signals`` on the Rust backend.

One column per signal (so overlapping trades in one ticker never net out),
all columns of a strategy in one cash-sharing group, on the open/close tick
timeline of :mod:`backtest.core.timeline`. The Rust engine gives the same results
as Numba without a JIT wait on a cold start.

Signals with a ``size_pct`` column (set by :mod:`backtest.engine.portfolio`) are sized
per column as that percent of cash, and processed within a tick in entry order
(columns sorted by entry tick and ``event_id``, ``call_seq="default"``): a
tick's exits first, since they entered earlier, then its entries in the order
the caps took them, which is the order their sizes assume. Without it, every
entry uses ``EngineSettings`` sizing and vectorbt's ``call_seq="auto"``
(sells before buys).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from backtest.core.schema import TRADE_COLUMNS
from backtest.core.timeline import Timeline, tick_of, tick_prices
from backtest.engine.portfolio import entry_order
from backtest.engine.rules import (
    BPS,
    EngineResult,
    EngineSettings,
    in_market_sessions,
    planned_exit_reason,
)

__all__ = ["group_lens", "numpy_group_lens", "run_vectorbt"]

VBT_ENGINE = "rust"


def _matrices(signals: pd.DataFrame, prices: dict[str, pd.DataFrame], timeline: Timeline) -> dict:
    n_ticks, n_cols = len(timeline.ticks), len(signals)
    out = {k: np.empty((n_ticks, n_cols)) for k in ("price", "open", "high", "low")}
    out["entries"] = np.zeros((n_ticks, n_cols), dtype=bool)
    out["exits"] = np.zeros((n_ticks, n_cols), dtype=bool)
    cache: dict[str, object] = {}
    for j, row in enumerate(signals.itertuples(index=False)):
        tp = cache.setdefault(row.ticker, tick_prices(prices[row.ticker], timeline))
        for key in ("price", "open", "high", "low"):
            out[key][:, j] = getattr(tp, key)
        out["entries"][tick_of(timeline, row.entry_session, row.entry_at), j] = True
        out["exits"][tick_of(timeline, row.exit_session, row.exit_at), j] = True
    return out


def _size_kwargs(settings: EngineSettings, signals: pd.DataFrame) -> dict:
    if "size_pct" in signals.columns:  # portfolio: per column, in entry order
        size = signals["size_pct"].to_numpy(dtype=float)[None, :] / 100.0
        return {"size": size, "size_type": "percent", "call_seq": "default"}
    if settings.sizing == "percent":
        return {"size": settings.size / 100.0, "size_type": "percent", "call_seq": "auto"}
    return {"size": settings.size, "size_type": "value", "call_seq": "auto"}


def _stop_kwargs(settings: EngineSettings, m: dict) -> dict:
    """Stops measured from the entry fill price; a triggered stop fills as a stop-market
    order at the stop level (or the open, if the market gapped through it), slipped."""
    if not (settings.stop_loss_pct or settings.take_profit_pct):
        return {}
    return {
        "open": m["open"],
        "high": m["high"],
        "low": m["low"],
        "sl_stop": (settings.stop_loss_pct or np.inf) / 100.0,
        "tp_stop": (settings.take_profit_pct or np.inf) / 100.0,
        "stop_entry_price": "fillprice",
        "stop_exit_price": "stopmarket",
    }


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


def _portfolio(signals: pd.DataFrame, m: dict, timeline: Timeline, settings: EngineSettings):
    import vectorbt as vbt  # imported here: 2 s, only when a run simulates

    direction = np.where(signals["side"].to_numpy() > 0, 0, 1)  # 0 longonly, 1 shortonly
    return vbt.Portfolio.from_signals(
        close=pd.DataFrame(m["price"], index=timeline.ticks),
        entries=m["entries"],
        exits=m["exits"],
        price=m["price"],
        direction=direction[None, :],
        fees=settings.fees_bps * BPS,
        slippage=settings.slippage_bps * BPS,
        init_cash=settings.init_cash,
        cash_sharing=True,
        group_by=np.zeros(len(signals), dtype=int),
        accumulate=False,
        engine=VBT_ENGINE,
        freq=None,
        **_size_kwargs(settings, signals),
        **_stop_kwargs(settings, m),
    )


def _exit_reason(
    rec: np.void, planned_exit: int, planned_price: float, side: int, slip: float
) -> str:
    """Time exit, unless a stop filled (vectorbt gives stops priority, even on the planned tick)."""
    time_fill = planned_price * (1.0 - side * slip)
    if rec["exit_idx"] == planned_exit and abs(rec["exit_price"] - time_fill) <= 1e-12 * time_fill:
        return "time"
    return "stop_loss" if side * (rec["exit_price"] - rec["entry_price"]) < 0 else "take_profit"


def _exit_reference(rec: np.void, m: dict, side: int, reason: str, slippage_bps: float) -> float:
    """The unslipped exit price: the tick's price for time exits, the stop level for stops."""
    if reason == "time":
        return float(m["price"][rec["exit_idx"], rec["col"]])
    return float(rec["exit_price"] / (1.0 - side * slippage_bps * BPS))


def _trade_row(
    rec: np.void, sig: pd.Series, m: dict, timeline: Timeline, slippage_bps: float
) -> dict:
    side = int(sig["side"])
    planned = tick_of(timeline, sig["exit_session"], sig["exit_at"])
    reason = _exit_reason(rec, planned, m["price"][planned, rec["col"]], side, slippage_bps * BPS)
    ref_in = float(m["price"][rec["entry_idx"], rec["col"]])
    ref_out = _exit_reference(rec, m, side, reason, slippage_bps)
    if reason == "time":  # the planned exit: the strategy's own, or truncated
        reason = planned_exit_reason(sig)
    return {
        "strategy": sig["strategy"],
        "ticker": sig["ticker"],
        "event_id": sig["event_id"],
        "side": side,
        "entry_time": timeline.ticks[rec["entry_idx"]],
        "entry_price": rec["entry_price"],
        "exit_time": timeline.ticks[rec["exit_idx"]],
        "exit_price": rec["exit_price"],
        "size": rec["size"],
        "fees": rec["entry_fees"] + rec["exit_fees"],
        "gross_return": side * (ref_out / ref_in - 1.0),
        "net_return": rec["return"],
        "exit_reason": reason,
        "entry_ref_price": ref_in,
        "exit_ref_price": ref_out,
        "pnl": rec["pnl"],
    }


def _trades(
    pf, signals: pd.DataFrame, m: dict, timeline: Timeline, slippage_bps: float
) -> pd.DataFrame:
    rows = [
        _trade_row(rec, signals.iloc[int(rec["col"])], m, timeline, slippage_bps)
        for rec in pf.trades.values
    ]
    return pd.DataFrame(
        rows, columns=list(TRADE_COLUMNS) + ["entry_ref_price", "exit_ref_price", "pnl"]
    )


def run_vectorbt(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> EngineResult:
    """Simulate one strategy's signals with vectorbt; return trades, equity and exposure."""
    if signals.empty:
        flat = pd.Series(settings.init_cash, index=timeline.sessions, name="equity", dtype=float)
        empty = pd.DataFrame(
            columns=list(TRADE_COLUMNS) + ["entry_ref_price", "exit_ref_price", "pnl"]
        )
        return EngineResult(
            empty, flat, pd.Series(False, index=timeline.sessions, name="in_market")
        )
    if "size_pct" in signals.columns:  # sizes assume entry order within a tick
        signals = signals.iloc[entry_order(signals)].reset_index(drop=True)
    m = _matrices(signals, prices, timeline)
    with numpy_group_lens():
        pf = _portfolio(signals, m, timeline, settings)
        trades = _trades(pf, signals, m, timeline, settings.slippage_bps)
        value = np.asarray(pf.value()).reshape(len(timeline.ticks), -1)[:, 0]
    equity = pd.Series(value[timeline.close_ticks], index=timeline.sessions, name="equity")
    return EngineResult(trades, equity, in_market_sessions(trades, timeline))
