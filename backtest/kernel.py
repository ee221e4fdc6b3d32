"""Event-level trade kernel: every trade of every parameter combination, in numpy.

vectorbt simulates every bar of every column; an event strategy only touches a
few bars per event. This kernel gathers those bars directly from a
(ticker x tick) price panel, with the same tick timeline (open and close of
each session), fill prices, slippage, fees and stop rules as the vectorbt
engine (:mod:`backtest.engine_vbt`), so both give the same trade returns
(tested to 1e-12). It is the engine of parameter sweeps; the vectorbt
portfolio stays the reference for single runs.

All arrays broadcast: ``entry_tick``, ``exit_tick`` and ``side`` may be shaped
(combinations, events) against ``ticker`` shaped (events,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine import BPS
from backtest.timeline import Timeline, tick_prices

__all__ = ["KernelTrades", "TickPanel", "build_panel", "kernel_trades", "signal_ticks"]

REASON_TIME, REASON_STOP_LOSS, REASON_TAKE_PROFIT = 0, 1, 2
EXIT_REASONS = ("time", "stop_loss", "take_profit")


@dataclass(frozen=True)
class TickPanel:
    """Tick prices of many tickers on one timeline: arrays shaped (tickers, ticks)."""

    tickers: tuple[str, ...]
    timeline: Timeline
    price: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray


def build_panel(prices: dict[str, pd.DataFrame], timeline: Timeline) -> TickPanel:
    """Stack each ticker's tick prices (see :func:`backtest.timeline.tick_prices`)."""
    tickers = tuple(sorted(prices))
    parts = [tick_prices(prices[t], timeline) for t in tickers]
    stack = {k: np.vstack([getattr(p, k) for p in parts]) for k in ("price", "open", "high", "low")}
    return TickPanel(tickers, timeline, **stack)


@dataclass(frozen=True)
class KernelTrades:
    """Per-trade results, each array shaped like the broadcast inputs."""

    entry_tick: np.ndarray
    exit_tick: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    gross_return: np.ndarray
    net_return: np.ndarray
    exit_reason: np.ndarray


def _stop_levels(entry_fill: np.ndarray, side: np.ndarray, sl: float | None, tp: float | None):
    inf = np.full_like(entry_fill, np.nan)
    sl_level = entry_fill * (1 - side * sl) if sl else inf
    tp_level = entry_fill * (1 + side * tp) if tp else inf
    return sl_level, tp_level


def _hit(level: np.ndarray, bar_open, high, low, side: np.ndarray, adverse: bool) -> tuple:
    """Fill price if ``level`` is reached in this bar, else NaN (vectorbt's get_stop_price_nb).

    A stop against the position (adverse) triggers when the price falls to it for a long
    (rises for a short); a profit target triggers the other way. A bar opening beyond the
    level fills at the open.
    """
    down = (side > 0) == adverse  # does the level sit below the price?
    gapped = np.where(down, bar_open <= level, bar_open >= level)
    inside = (low <= level) & (level <= high)
    return np.where(gapped, bar_open, np.where(inside, level, np.nan))


def _first_stop(panel: TickPanel, ticker, entry_tick, exit_tick, side, sl_level, tp_level):
    """Scan ticks after entry up to the planned exit; return (exit tick, price, reason)."""
    out_tick = exit_tick.copy()
    out_price = np.full(exit_tick.shape, np.nan)
    reason = np.zeros(exit_tick.shape, dtype=np.int8)
    open_ = np.ones(exit_tick.shape, dtype=bool)
    for step in range(1, int((exit_tick - entry_tick).max(initial=0)) + 1):
        tick = entry_tick + step
        live = open_ & (tick <= exit_tick)
        if not live.any():
            break
        t = np.minimum(tick, panel.price.shape[1] - 1)
        bar = (panel.open[ticker, t], panel.high[ticker, t], panel.low[ticker, t])
        sl_fill = _hit(sl_level, *bar, side, adverse=True)
        tp_fill = _hit(tp_level, *bar, side, adverse=False)
        fill = np.where(np.isnan(sl_fill), tp_fill, sl_fill)  # vectorbt checks the stop loss first
        hit = live & ~np.isnan(fill)
        out_tick[hit], out_price[hit] = tick[hit], fill[hit]
        reason[hit] = np.where(np.isnan(sl_fill), REASON_TAKE_PROFIT, REASON_STOP_LOSS)[hit]
        open_ &= ~hit
    return out_tick, out_price, reason


def kernel_trades(
    panel: TickPanel,
    ticker: np.ndarray,
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    side: np.ndarray,
    fees_bps: float = 0.0,
    slippage_bps: float = 0.0,
    stop_loss_pct: float | None = None,
    take_profit_pct: float | None = None,
) -> KernelTrades:
    """Return every trade's fills and returns.

    Parameters
    ----------
    panel : TickPanel
        Tick prices of every ticker.
    ticker : numpy.ndarray of int
        Row of each event's ticker in ``panel``.
    entry_tick, exit_tick : numpy.ndarray of int
        Planned entry and exit ticks (broadcast against ``ticker``).
    side : numpy.ndarray of int
        +1 long, -1 short.
    fees_bps, slippage_bps : float
        Per fill, as in :class:`backtest.engine.EngineSettings`.
    stop_loss_pct, take_profit_pct : float, optional
        Stops measured from the entry fill price.

    Returns
    -------
    KernelTrades
    """
    ticker, entry_tick, exit_tick, side = np.broadcast_arrays(ticker, entry_tick, exit_tick, side)
    slip, fee = slippage_bps * BPS, fees_bps * BPS
    ref_in = panel.price[ticker, entry_tick]
    fill_in = ref_in * (1 + side * slip)
    out_tick, reason = exit_tick, np.zeros(exit_tick.shape, dtype=np.int8)
    if stop_loss_pct or take_profit_pct:
        sl_level, tp_level = _stop_levels(
            fill_in, side, (stop_loss_pct or 0) / 100, (take_profit_pct or 0) / 100
        )
        out_tick, stop_ref, reason = _first_stop(
            panel, ticker, entry_tick, exit_tick, side, sl_level, tp_level
        )
        ref_out = np.where(np.isnan(stop_ref), panel.price[ticker, out_tick], stop_ref)
    else:  # time exits only: no stop arrays to build (most sweeps; see benchmarks/RESULTS.md)
        ref_out = panel.price[ticker, exit_tick]
    fill_out = ref_out * (1 - side * slip)
    # P&L per unit of entry value; the size (value / ref_in) cancels out.
    net = (side * (fill_out - fill_in) - fee * (fill_in + fill_out)) / fill_in
    return KernelTrades(
        entry_tick, out_tick, fill_in, fill_out, side * (ref_out / ref_in - 1.0), net, reason
    )


def signal_ticks(signals: pd.DataFrame, panel: TickPanel) -> tuple[np.ndarray, ...]:
    """Ticker rows, entry and exit ticks (on the panel's timeline) and sides of a signal table."""
    from backtest.timeline import tick_of

    rows = {t: i for i, t in enumerate(panel.tickers)}
    ticker = signals["ticker"].map(rows).to_numpy(dtype=int)
    entry = [
        tick_of(panel.timeline, s, a)
        for s, a in zip(signals["entry_session"], signals["entry_at"], strict=True)
    ]
    exit_ = [
        tick_of(panel.timeline, s, a)
        for s, a in zip(signals["exit_session"], signals["exit_at"], strict=True)
    ]
    return (
        ticker,
        np.array(entry, dtype=int),
        np.array(exit_, dtype=int),
        signals["side"].to_numpy(dtype=int),
    )
