"""Test oracles: a plain per-trade loop and the overlap rules row by row, small enough to check by hand.

These were the package's reference engine and the run's row-wise overlap code.
They write every rule out again on purpose, independently of
:mod:`backtest.engine.rules`: the vectorbt engine, the sweep kernel and the
array overlap rule are tested against them (RELIABILITY I20, E8).

* :func:`oracle_run`: independent fixed-cash trades with time exits: each fill
  slipped against the trader (``ref * (1 +/- bps / 1e4)``), fees on each fill's
  value, marked to market at each session close.
* :func:`greedy_skip`, :func:`same_entry`, :func:`truncate_rows`: ``events.overlap``
  (skip; truncate's same-fill drop and its cut) as loops over a signal table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.core.schema import TRADE_COLUMNS
from backtest.core.timeline import Timeline, tick_of, tick_prices
from backtest.engine.rules.settings import EngineResult, EngineSettings
from backtest.engine.vectorbt import in_market_sessions

AT_RANK = {"open": 0, "close": 1}
COLUMNS = [*TRADE_COLUMNS, "entry_ref_price", "exit_ref_price", "pnl"]


def _one_trade(row, prices: dict[str, pd.DataFrame], timeline: Timeline, st: EngineSettings):
    tp = tick_prices(prices[row["ticker"]], timeline)
    t_in = tick_of(timeline, row["entry_session"], row["entry_at"])
    t_out = tick_of(timeline, row["exit_session"], row["exit_at"])
    side = int(row["side"])
    ref_in, ref_out = tp.price[t_in], tp.price[t_out]
    slip = st.slippage_bps / 10_000
    p_in = ref_in * (1 + slip) if side > 0 else ref_in * (1 - slip)
    p_out = ref_out * (1 - slip) if side > 0 else ref_out * (1 + slip)
    size = st.size / ref_in  # a cash value is converted to shares at the unslipped price
    fee_in, fee_out = size * p_in * st.fees_bps / 10_000, size * p_out * st.fees_bps / 10_000
    pnl = side * size * (p_out - p_in) - fee_in - fee_out
    by = row.get("truncated_by")
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
        "exit_reason": "truncated" if isinstance(by, str) and by else "time",
        "entry_ref_price": ref_in,
        "exit_ref_price": ref_out,
        "pnl": pnl,
    }


def oracle_trades(signals, prices, timeline: Timeline, settings: EngineSettings) -> pd.DataFrame:
    """Each signal's trade on its own (fixed cash per trade, time exits only).

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
    >>> round(float(oracle_trades(sig, px, tl, st)["net_return"].iloc[0]), 12)
    0.025
    """
    assert settings.sizing == "fixed" and not (settings.stop_loss_pct or settings.take_profit_pct)
    assert "size_pct" not in signals.columns, "the oracle shares no cash: no portfolio sizes"
    rows = [_one_trade(r, prices, timeline, settings) for _, r in signals.iterrows()]
    return pd.DataFrame(rows, columns=COLUMNS)


def oracle_run(signals, prices, timeline: Timeline, settings: EngineSettings) -> EngineResult:
    """Trades, and equity marked to market at each session close, of independent trades."""
    trades = oracle_trades(signals, prices, timeline, settings)
    value = np.full(len(timeline.ticks), settings.init_cash)
    tick = np.arange(len(value))
    for tr in trades.itertuples(index=False):
        price = tick_prices(prices[tr.ticker], timeline).price
        t_in, t_out = timeline.ticks.get_loc(tr.entry_time), timeline.ticks.get_loc(tr.exit_time)
        fee_in = tr.size * tr.entry_price * settings.fees_bps / 10_000
        open_pnl = tr.side * tr.size * (price - tr.entry_price) - fee_in
        value += np.where((tick >= t_in) & (tick < t_out), open_pnl, 0.0)
        value += np.where(tick >= t_out, tr.pnl, 0.0)
    equity = pd.Series(value[timeline.close_ticks], index=timeline.sessions, name="equity")
    return EngineResult(trades, equity, in_market_sessions(trades, timeline))


def greedy_skip(signals: pd.DataFrame) -> pd.Series:
    """``overlap: skip``: mark signals entering at or before the previous kept exit of the ticker.

    Taken in order of entry session, then ``event_id`` (then row).
    """
    clash = pd.Series(False, index=signals.index)
    order = signals.sort_values(["entry_session", "event_id"], kind="stable")
    last_exit: dict[str, tuple[pd.Timestamp, int]] = {}
    for idx, row in order.iterrows():
        entry = (row["entry_session"], AT_RANK[row["entry_at"]])
        prev = last_exit.get(row["ticker"])
        if prev is not None and entry <= prev:
            clash[idx] = True
            continue
        last_exit[row["ticker"]] = (row["exit_session"], AT_RANK[row["exit_at"]])
    return clash


def same_entry(signals: pd.DataFrame) -> pd.Series:
    """``overlap: truncate``: mark every signal but the first (by ``event_id``) at one fill."""
    order = signals.sort_values(["event_id"], kind="stable")
    dup = order.duplicated(subset=["ticker", "entry_session", "entry_at"], keep="first")
    return dup.reindex(signals.index)


def truncate_rows(signals: pd.DataFrame) -> pd.DataFrame:
    """``overlap: truncate``: each exit moved to the next entry of its ticker where that is earlier."""
    out = signals.assign(truncated_by="")
    order = out.assign(_at=out["entry_at"].map(AT_RANK))
    order = order.sort_values(["ticker", "entry_session", "_at", "event_id"], kind="stable")
    for now, nxt in zip(order.index[:-1], order.index[1:], strict=True):
        a, b = order.loc[now], order.loc[nxt]
        entry_b = (b["entry_session"], AT_RANK[b["entry_at"]])
        if a["ticker"] == b["ticker"] and entry_b < (a["exit_session"], AT_RANK[a["exit_at"]]):
            out.loc[now, ["exit_session", "exit_at", "truncated_by"]] = [
                b["entry_session"], b["entry_at"], b["event_id"]
            ]  # fmt: skip
    return out
