"""When and at what reference price a trade exits: its planned (time) exit or a stop.

Time exit. A trade exits at its planned tick (the strategy's exit, or the
next entry of its ticker under ``overlap: truncate``) at that tick's price.

Stops. ``stop_loss_pct`` / ``take_profit_pct`` are measured from the entry
*fill* price (after slippage) and checked on every tick after entry up to and
including the planned exit, against the tick's bar (an open tick sees the
open only, a close tick the session's open, high and low). A level reached
inside the bar fills at the level; a bar opening beyond it (a gap through the
stop) fills at the open. The stop loss is checked before the take profit and
a stop on the planned exit tick takes priority over the time exit, as in
vectorbt's ``from_signals`` with ``stop_exit_price="stopmarket"``. The fill
then slips like any other (:func:`backtest.engine.rules.costs.fill_price`).

All functions broadcast: ``entry_tick``, ``exit_tick`` and ``side`` may be
(combinations, events) against ``row`` shaped (events,), each event reading
its row of the (rows, ticks) price arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine.rules.arrays import at
from backtest.engine.rules.costs import fill_price

__all__ = [
    "EXIT_REASONS",
    "REASON_STOP_LOSS",
    "REASON_TAKE_PROFIT",
    "REASON_TIME",
    "Exits",
    "planned_exit_reason",
    "reason_names",
    "stop_fill",
    "stop_levels",
    "trade_exits",
]

REASON_TIME, REASON_STOP_LOSS, REASON_TAKE_PROFIT = 0, 1, 2
EXIT_REASONS = ("time", "stop_loss", "take_profit")


@dataclass(frozen=True)
class Exits:
    """Each trade's exit tick, reference (unslipped) exit price and reason code."""

    tick: np.ndarray
    ref: np.ndarray
    reason: np.ndarray


def stop_levels(
    entry_fill: np.ndarray,
    side: np.ndarray,
    stop_loss_pct: float | None,
    take_profit_pct: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stop-loss and take-profit trigger levels from the entry fill (NaN: no such stop).

    Examples
    --------
    A long and a short filled at 100, 5 % stop loss, 10 % take profit:

    >>> sl, tp = stop_levels(np.array([100.0, 100.0]), np.array([1, -1]), 5.0, 10.0)
    >>> sl.round(9).tolist(), tp.round(9).tolist()
    ([95.0, 105.0], [110.0, 90.0])
    >>> [a.round(9).tolist() for a in stop_levels(np.array([100.0]), np.array([1]), None, 10.0)]
    [[nan], [110.0]]
    """
    none = np.full_like(entry_fill, np.nan)
    sl, tp = (stop_loss_pct or 0) / 100, (take_profit_pct or 0) / 100
    sl_level = entry_fill * (1 - side * sl) if sl else none
    tp_level = entry_fill * (1 + side * tp) if tp else none
    return sl_level, tp_level


def stop_fill(level, bar_open, high, low, side, adverse: bool) -> np.ndarray:
    """Reference fill price where ``level`` is reached in the bar, else NaN.

    A stop against the position (``adverse``) triggers when the price falls to
    it for a long (rises to it for a short); a profit target the other way. A
    bar opening beyond the level (a gap through it) fills at the open, else the
    level fills where the bar's range touches it (vectorbt's ``get_stop_price_nb``).

    Examples
    --------
    A long's 95 stop: touched inside a 96-100 / 94 bar, gapped through by an open at 93.

    >>> stop_fill(95.0, np.array([98.0, 93.0, 98.0]), np.array([100.0, 94.0, 99.0]),
    ...           np.array([94.0, 90.0, 96.0]), 1, adverse=True).tolist()
    [95.0, 93.0, nan]
    """
    down = (side > 0) == adverse  # does the level sit below the price?
    gapped = np.where(down, bar_open <= level, bar_open >= level)
    inside = (low <= level) & (level <= high)
    return np.where(gapped, bar_open, np.where(inside, level, np.nan))


def _first_stop(bars, row, entry_tick, exit_tick, side, sl_level, tp_level) -> Exits:
    """Scan ticks after entry up to the planned exit; the first stop fill (NaN ref: none)."""
    out_tick = exit_tick.copy()
    out_ref = np.full(exit_tick.shape, np.nan)
    reason = np.zeros(exit_tick.shape, dtype=np.int8)
    live_trade = np.ones(exit_tick.shape, dtype=bool)
    last = bars.open.shape[1] - 1
    for step in range(1, int((exit_tick - entry_tick).max(initial=0)) + 1):
        tick = entry_tick + step
        live = live_trade & (tick <= exit_tick)
        if not live.any():
            break
        t = np.minimum(tick, last)
        bar = (at(bars.open, row, t), at(bars.high, row, t), at(bars.low, row, t))
        sl_fill = stop_fill(sl_level, *bar, side, adverse=True)
        tp_fill = stop_fill(tp_level, *bar, side, adverse=False)
        fill = np.where(np.isnan(sl_fill), tp_fill, sl_fill)  # the stop loss is checked first
        hit = live & ~np.isnan(fill)
        out_tick[hit], out_ref[hit] = tick[hit], fill[hit]
        reason[hit] = np.where(np.isnan(sl_fill), REASON_TAKE_PROFIT, REASON_STOP_LOSS)[hit]
        live_trade &= ~hit
    return Exits(out_tick, out_ref, reason)


def trade_exits(
    price: np.ndarray,
    bars,
    row: np.ndarray,
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    side: np.ndarray,
    entry_ref: np.ndarray,
    slippage_bps: float = 0.0,
    stop_loss_pct: float | None = None,
    take_profit_pct: float | None = None,
) -> Exits:
    """Every trade's exit: the first stop fill, else the planned (time) exit.

    Parameters
    ----------
    price : numpy.ndarray
        (rows, ticks) fill reference prices (open on open ticks, close on close ticks).
    bars : object
        Anything with ``open``, ``high`` and ``low`` (rows, ticks) arrays (a
        :class:`~backtest.engine.kernel.TickPanel`, a
        :class:`~backtest.core.timeline.TickPrices`); read only when a stop is set.
    row : numpy.ndarray of int
        Each event's row in the price arrays.
    entry_tick, exit_tick, side : numpy.ndarray
        Entry and planned exit ticks, +1 long / -1 short (broadcast against ``row``).
    entry_ref : numpy.ndarray
        Reference entry prices (``price`` at the entry ticks).
    slippage_bps, stop_loss_pct, take_profit_pct : float
        As in :class:`~backtest.engine.rules.settings.EngineSettings`.

    Examples
    --------
    Session ``i`` opens and closes at ``100 * 1.01**i`` (geometric), its high
    0.5 % above: a long entering at tick 1 (close 100) and planned
    out at tick 7 exits there at 1.01**3 * 100. With a 2 % take profit (102),
    session 1's high (101.505) stays below it and session 2 opens at 102.01,
    through it: the gap fills at that open, on tick 4.

    >>> close = 100 * 1.01 ** np.arange(5.0)
    >>> price = np.repeat(close, 2)[None, :]
    >>> from backtest.core.timeline import TickPrices
    >>> bars = TickPrices(price, price, price * 1.005, price * 0.995)
    >>> one = (np.array([0]), np.array([1]), np.array([7]), np.array([1]), np.array([100.0]))
    >>> ex = trade_exits(price, bars, *one)
    >>> ex.tick.tolist(), ex.ref.round(4).tolist(), ex.reason.tolist()
    ([7], [103.0301], [0])
    >>> ex = trade_exits(price, bars, *one, take_profit_pct=2.0)
    >>> ex.tick.tolist(), ex.ref.round(4).tolist(), [EXIT_REASONS[r] for r in ex.reason]
    ([4], [102.01], ['take_profit'])
    """
    if not (stop_loss_pct or take_profit_pct):  # time exits only: no stop arrays to build
        reason = np.zeros(np.shape(exit_tick), dtype=np.int8)
        return Exits(exit_tick, at(price, row, exit_tick), reason)
    levels = stop_levels(
        fill_price(entry_ref, side, slippage_bps), side, stop_loss_pct, take_profit_pct
    )
    stops = _first_stop(bars, row, entry_tick, exit_tick, side, *levels)
    ref = np.where(np.isnan(stops.ref), at(price, row, stops.tick), stops.ref)
    return Exits(stops.tick, ref, stops.reason)


def planned_exit_reason(truncated_by: object) -> str:
    """``"truncated"`` when ``overlap: truncate`` moved the planned exit, else ``"time"``.

    Examples
    --------
    >>> planned_exit_reason("A-2"), planned_exit_reason(""), planned_exit_reason(None)
    ('truncated', 'time', 'time')
    """
    return "truncated" if isinstance(truncated_by, str) and truncated_by else "time"


def reason_names(reason: np.ndarray, truncated_by: pd.Series | None) -> list[str]:
    """Trade table exit reasons (:data:`backtest.core.schema.EXIT_REASONS`) of reason codes.

    Examples
    --------
    >>> reason_names(np.array([0, 0, 1, 2]), pd.Series(["", "B-1", "", ""]))
    ['time', 'truncated', 'stop_loss', 'take_profit']
    """
    by = [None] * len(reason) if truncated_by is None else truncated_by.tolist()
    return [
        planned_exit_reason(b) if r == REASON_TIME else EXIT_REASONS[r]
        for r, b in zip(reason.tolist(), by, strict=True)
    ]
