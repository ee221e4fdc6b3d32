"""Event-level trade kernel: every trade of every parameter combination, in numpy.

vectorbt simulates every bar of every column; an event strategy only touches a
few bars per event. This kernel gathers those bars directly from a
(ticker x tick) price panel, with the same tick timeline (open and close of
each session) as the vectorbt engine (:mod:`backtest.engine.vectorbt`) and the
fill, cost, stop and exit rules of :mod:`backtest.engine.rules`, which that
engine uses too; both give the same trade returns (tested to 1e-12). It is the
engine of parameter sweeps; the vectorbt portfolio stays the engine of single runs.

All arrays broadcast: ``entry_tick``, ``exit_tick`` and ``side`` may be shaped
(combinations, events) against ``ticker`` shaped (events,).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from backtest.core.timeline import Timeline, session_bars, session_ticks, spread_stop_bars
from backtest.engine.rules.arrays import at
from backtest.engine.rules.costs import fill_price, gathered_net_return, net_return
from backtest.engine.rules.exits import EXIT_REASONS, trade_exits
from backtest.engine.rules.hedge import price_hedged
from backtest.engine.rules.trade_costs import SIZING_MODES, CostPanel, TradeCosts, price_orders

__all__ = [
    "EXIT_REASONS",
    "KernelHedge",
    "KernelTrades",
    "TickPanel",
    "at",
    "build_panel",
    "kernel_trades",
    "signal_ticks",
]


@dataclass(frozen=True)
class TickPanel:
    """Tick prices of many tickers on one timeline: arrays shaped (tickers, ticks).

    ``tradable`` (tickers, sessions) says which sessions have all four prices.
    ``price`` is NaN on the ticks of a session without a bar: the sweep reads
    prices only inside windows it checked against ``tradable``
    (``SweepData.clean_until``), so a filled value would never be used. ``frames``
    are the price frames, one per ticker; their
    :func:`~backtest.core.timeline.session_bars` (``bars``) and the ``open``,
    ``high`` and ``low`` tick arrays are built on first use: only stop checks read
    them, and a sweep without stops saves the (4, tickers, sessions) block and
    three full-size arrays.
    """

    tickers: tuple[str, ...]
    timeline: Timeline
    price: np.ndarray
    tradable: np.ndarray
    frames: tuple[pd.DataFrame, ...]

    @cached_property
    def bars(self) -> np.ndarray:
        """OHLC per (field, ticker, session), NaN where no bar."""
        return session_bars(list(self.frames), self.timeline.sessions)

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
    frames = tuple(prices[t] for t in tickers)
    price, tradable = session_ticks(list(frames), timeline.sessions)
    return TickPanel(tickers, timeline, price, tradable, frames)


@dataclass(frozen=True)
class KernelTrades:
    """Per-trade results, each array shaped like the broadcast inputs.

    ``entry_ref`` and ``exit_ref`` are the prices before slippage (None where the
    caller did not keep them: a sweep without stops or costs needs only
    ``net_return``). Fill prices and the gross return are computed on demand.
    ``entry_value`` (only with the ``costs:`` section) is each entry's fill value
    at the order size the costs were priced at (a hedge leg is sized from it).
    """

    entry_tick: np.ndarray
    exit_tick: np.ndarray
    net_return: np.ndarray
    exit_reason: np.ndarray
    side: np.ndarray
    entry_ref: np.ndarray | None
    exit_ref: np.ndarray | None
    slippage_bps: float = 0.0
    entry_value: np.ndarray | None = None

    @property
    def entry_price(self) -> np.ndarray:
        """Entry fill price (slippage against the trader)."""
        return fill_price(self.entry_ref, self.side, self.slippage_bps)

    @property
    def exit_price(self) -> np.ndarray:
        """Exit fill price (slippage against the trader)."""
        return fill_price(self.exit_ref, -self.side, self.slippage_bps)

    @property
    def gross_return(self) -> np.ndarray:
        """The market move over the window, signed."""
        return self.side * (self.exit_ref / self.entry_ref - 1.0)


@dataclass(frozen=True)
class KernelHedge:
    """A hedge leg beside each trade: what :func:`kernel_trades` prices it from.

    ``price`` holds the instruments' fill reference prices per tick (rows as
    ``cost_panel``'s), ``row`` each event's instrument row, ``ratio`` each
    trade's hedge ratio (broadcast like the entry ticks; NaN: no ratio).
    """

    price: np.ndarray
    row: np.ndarray
    ratio: np.ndarray
    cost_panel: CostPanel


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
    costs: TradeCosts | None = None,
    cost_panel: CostPanel | None = None,
    sizing: str = "fixed",
    hedge: KernelHedge | None = None,
    keep_refs: bool = True,
    notional=None,
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
        Per fill, as in :class:`backtest.engine.rules.EngineSettings`.
    stop_loss_pct, take_profit_pct : float, optional
        Stops measured from the entry fill price.
    costs, cost_panel, sizing : optional
        The ``costs:`` section and its estimates (rows as ``panel``'s tickers); costs
        that depend on the order's size are priced at ``costs.notional`` under
        ``sizing`` (:func:`~backtest.engine.rules.trade_costs.budget_order`). A
        trade the costs drop (or cut: its shares differ) has a NaN return.
    hedge : KernelHedge, optional
        With the ``costs:`` section: a hedge leg beside every trade, priced in the
        same pass (:func:`~backtest.engine.rules.hedge.price_hedged`); ``net_return``
        is then the hedged net return and ``entry_value`` is None.
    notional : float or numpy.ndarray, optional
        Each order's notional for the costs (broadcast like the entry ticks; a
        sweep sized by ``vol_target`` gives each trade its own); default ``costs.notional``.
    keep_refs : bool
        Keep the reference prices of trades without stops or costs (else the
        returned ``entry_ref`` and ``exit_ref`` are None: a sweep reads only the
        net return, priced in one compiled pass by
        :func:`~backtest.engine.rules.costs.gathered_net_return`).

    Returns
    -------
    KernelTrades
    """
    # The ticker rows stay (events,): broadcasting them first would cost a full-size multiply.
    _, entry_tick, exit_tick, side = np.broadcast_arrays(ticker, entry_tick, exit_tick, side)
    costed = costs is not None and costs.active
    if not (stop_loss_pct or take_profit_pct or costed):  # time exits at the reference prices
        net, ref_in, ref_out = gathered_net_return(
            panel.price, ticker, entry_tick, exit_tick, side, slippage_bps, fees_bps, keep_refs
        )
        reason = np.zeros(net.shape, dtype=np.int8)
        return KernelTrades(entry_tick, exit_tick, net, reason, side, ref_in, ref_out, slippage_bps)
    ref_in = at(panel.price, ticker, entry_tick)
    exits = trade_exits(
        panel.price,
        panel,
        ticker,
        entry_tick,
        exit_tick,
        side,
        ref_in,
        slippage_bps,
        stop_loss_pct,
        take_profit_pct,
    )
    value = None
    if costed and hedge is not None:
        net = price_hedged(
            cost_panel,
            hedge.cost_panel,
            ticker,
            hedge.row,
            entry_tick,
            exits.tick,
            side,
            ref_in,
            exits.ref,
            hedge.price,
            hedge.ratio,
            costs.notional if notional is None else notional,
            SIZING_MODES[sizing],
            slippage_bps,
            fees_bps,
            costs,
            name=lambda what: trade_name(panel, ticker, entry_tick, what),
        )
    elif costed:
        net, value = _costed_return(
            cost_panel,
            ticker,
            entry_tick,
            exits,
            side,
            ref_in,
            fees_bps,
            slippage_bps,
            costs,
            sizing,
            lambda what: trade_name(panel, ticker, entry_tick, what),
            costs.notional if notional is None else notional,
        )
    else:
        net = net_return(ref_in, exits.ref, side, slippage_bps, fees_bps)
    return KernelTrades(
        entry_tick, exits.tick, net, exits.reason, side, ref_in, exits.ref, slippage_bps, value
    )


def trade_name(panel: TickPanel, ticker, entry_tick, what: str):
    """``where(i)`` for :func:`~backtest.engine.rules.trade_costs.check_fill_prices`: fill
    ``what`` of the ``i``-th trade (flat over the broadcast ticker and entry ticks), by name."""

    def where(i: int) -> str:
        row = np.broadcast_to(ticker, np.shape(entry_tick)).ravel()[i]
        when = panel.timeline.ticks[np.ravel(entry_tick)[i]]
        return f"the {what} of a {panel.tickers[row]} trade entering {when:%Y-%m-%d %H:%M} UTC"

    return where


def _costed_return(
    cpanel, ticker, entry_tick, exits, side, ref_in, fees_bps, slip, costs, sizing, name, notional
):
    """Net returns with the ``costs:`` section, at the order size ``notional`` gives,
    and each entry's fill value at that size (:func:`~backtest.engine.rules.trade_costs.price_orders`).
    Costs that leave a fill without a positive price are refused (``name(what)`` names
    the fill in the error)."""
    priced = price_orders(
        cpanel,
        ticker,
        entry_tick,
        exits.tick,
        side,
        ref_in,
        exits.ref,
        notional,
        SIZING_MODES[sizing],
        slip,
        fees_bps,
        costs,
        name=name,
    )
    return priced.net_return, priced.entry_value


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
