"""Event-level trade kernel: every trade of every parameter combination, in numpy.

vectorbt simulates every bar of every column; an event strategy only touches a
few bars per event. This kernel gathers those bars directly from a
(ticker x tick) price panel, with the same tick timeline (open and close of
each session), fill prices, slippage, fees and stop rules as the vectorbt
engine (:mod:`backtest.engine.vectorbt`), so both give the same trade returns
(tested to 1e-12). It is the engine of parameter sweeps; the vectorbt
portfolio stays the reference for single runs.

All arrays broadcast: ``entry_tick``, ``exit_tick`` and ``side`` may be shaped
(combinations, events) against ``ticker`` shaped (events,).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from backtest.core.timeline import Timeline, session_bars, spread_price, spread_stop_bars, tradable
from backtest.engine.rules import BPS

__all__ = ["KernelTrades", "TickPanel", "build_panel", "kernel_trades", "signal_ticks"]

REASON_TIME, REASON_STOP_LOSS, REASON_TAKE_PROFIT = 0, 1, 2
EXIT_REASONS = ("time", "stop_loss", "take_profit")


@dataclass(frozen=True)
class TickPanel:
    """Tick prices of many tickers on one timeline: arrays shaped (tickers, ticks).

    ``bars`` are the :func:`~backtest.core.timeline.session_bars` (4, tickers, sessions)
    the panel was spread from; ``tradable`` (tickers, sessions) says which sessions
    have all four prices. ``price`` is NaN on the ticks of a session without a bar:
    the sweep reads prices only inside windows it checked against ``tradable``
    (``SweepData.clean_until``), so a filled value would never be used. The ``open``,
    ``high`` and ``low`` tick arrays are spread on first use: only stop checks read
    them, and a sweep without stops saves three full-size arrays.
    """

    tickers: tuple[str, ...]
    timeline: Timeline
    price: np.ndarray
    bars: np.ndarray
    tradable: np.ndarray | None = None

    @cached_property
    def _stop_bars(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return spread_stop_bars(self.bars)

    @property
    def open(self) -> np.ndarray:
        """The session's open on both of its ticks."""
        return self._stop_bars[0]

    @property
    def high(self) -> np.ndarray:
        """The open on an open tick, the session's high on its close tick."""
        return self._stop_bars[1]

    @property
    def low(self) -> np.ndarray:
        """The open on an open tick, the session's low on its close tick."""
        return self._stop_bars[2]


def build_panel(prices: dict[str, pd.DataFrame], timeline: Timeline) -> TickPanel:
    """Every ticker's tick prices at once (see :func:`backtest.core.timeline.spread_ticks`; gaps stay NaN)."""
    tickers = tuple(sorted(prices))
    bars = session_bars([prices[t] for t in tickers], timeline.sessions)
    return TickPanel(tickers, timeline, spread_price(bars, fill_gaps=False), bars, tradable(bars))


def at(values: np.ndarray, ticker: np.ndarray, tick: np.ndarray) -> np.ndarray:
    """``values[ticker, tick]`` for broadcastable index arrays, as one flat gather.

    numpy's two-dimensional fancy indexing is 2-3x slower than ``take`` on the
    flattened array, and these gathers are most of a sweep's time.

    Examples
    --------
    >>> at(np.arange(6.0).reshape(2, 3), np.array([1, 0]), np.array([[2, 2], [0, 1]])).tolist()
    [[5.0, 2.0], [3.0, 1.0]]
    """
    flat = np.asarray(ticker) * values.shape[1] + tick
    return values.ravel().take(flat)


@dataclass(frozen=True)
class KernelTrades:
    """Per-trade results, each array shaped like the broadcast inputs.

    ``entry_ref`` and ``exit_ref`` are the prices before slippage. Fill prices
    and the gross return are computed on demand: a sweep needs only ``net_return``.
    """

    entry_tick: np.ndarray
    exit_tick: np.ndarray
    net_return: np.ndarray
    exit_reason: np.ndarray
    side: np.ndarray
    entry_ref: np.ndarray
    exit_ref: np.ndarray
    slip: float = 0.0

    @property
    def entry_price(self) -> np.ndarray:
        """Entry fill price (slippage against the trader)."""
        return _slipped(self.entry_ref, self.side, self.slip)

    @property
    def exit_price(self) -> np.ndarray:
        """Exit fill price (slippage against the trader)."""
        return _slipped(self.exit_ref, -self.side, self.slip)

    @property
    def gross_return(self) -> np.ndarray:
        """The market move over the window, signed."""
        return self.side * (self.exit_ref / self.entry_ref - 1.0)


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
        bar = (at(panel.open, ticker, t), at(panel.high, ticker, t), at(panel.low, ticker, t))
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
        Per fill, as in :class:`backtest.engine.simulate.EngineSettings`.
    stop_loss_pct, take_profit_pct : float, optional
        Stops measured from the entry fill price.

    Returns
    -------
    KernelTrades
    """
    # The ticker rows stay (events,): broadcasting them first would cost a full-size multiply.
    _, entry_tick, exit_tick, side = np.broadcast_arrays(ticker, entry_tick, exit_tick, side)
    slip, fee = slippage_bps * BPS, fees_bps * BPS
    ref_in = at(panel.price, ticker, entry_tick)
    out_tick, reason = exit_tick, np.zeros(exit_tick.shape, dtype=np.int8)
    if stop_loss_pct or take_profit_pct:
        sl_level, tp_level = _stop_levels(
            _slipped(ref_in, side, slip),
            side,
            (stop_loss_pct or 0) / 100,
            (take_profit_pct or 0) / 100,
        )
        out_tick, stop_ref, reason = _first_stop(
            panel, ticker, entry_tick, exit_tick, side, sl_level, tp_level
        )
        ref_out = np.where(np.isnan(stop_ref), at(panel.price, ticker, out_tick), stop_ref)
    else:  # time exits only: no stop arrays to build (most sweeps; see benchmarks/RESULTS.md)
        ref_out = at(panel.price, ticker, exit_tick)
    net = _net_return(ref_in, ref_out, side, slip, fee)
    return KernelTrades(entry_tick, out_tick, net, reason, side, ref_in, ref_out, slip)


def _net_return(ref_in, ref_out, side, slip: float, fee: float) -> np.ndarray:
    """P&L per unit of entry value after slippage and fees on both fills.

    With fills ``f_in = ref_in (1 + side slip)`` and ``f_out = ref_out (1 - side slip)``,
    ``(side (f_out - f_in) - fee (f_in + f_out)) / f_in`` equals
    ``(ref_out / ref_in) k - (side + fee)`` with ``k = (side - fee) (1 - side slip) / (1 + side slip)``:
    the per-combination factors are computed on ``side``'s own (often (C, 1)) shape,
    leaving three full-size operations.

    Examples
    --------
    >>> r = _net_return(np.array([100.0]), np.array([110.0]), np.array([1]), 0.001, 0.002)
    >>> f_in, f_out = 100 * 1.001, 110 * 0.999
    >>> bool(np.isclose(r[0], (f_out - f_in - 0.002 * (f_in + f_out)) / f_in, rtol=0, atol=1e-15))
    True
    """
    side = _distinct(side)
    k = (side - fee) * (1 - side * slip) / (1 + side * slip)
    net = ref_out / ref_in
    net *= k
    net -= side + fee
    return net


def _distinct(a: np.ndarray) -> np.ndarray:
    """A broadcast view's underlying block: axes with stride 0 collapsed to length 1."""
    a = np.asarray(a)
    index = tuple(
        slice(0, 1) if st == 0 and n > 1 else slice(None)
        for st, n in zip(a.strides, a.shape, strict=True)
    )
    return a[index]


def _slipped(ref: np.ndarray, direction: np.ndarray, slip: float) -> np.ndarray:
    """Fill price: ``ref`` moved against the trader (+1: up, buying long; -1: down)."""
    return ref * (1 + direction * slip) if slip else ref


def signal_ticks(signals: pd.DataFrame, panel: TickPanel) -> tuple[np.ndarray, ...]:
    """Ticker rows, entry and exit ticks (on the panel's timeline) and sides of a signal table."""
    from backtest.core.timeline import tick_of

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
