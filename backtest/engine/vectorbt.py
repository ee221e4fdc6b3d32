"""The vectorbt engine: ``Portfolio.from_signals`` on the Rust backend, for cash and positions.

One column per signal (so overlapping trades in one ticker never net out),
all columns of a strategy in one cash-sharing group, on the open/close tick
timeline of :mod:`backtest.core.timeline`. The Rust engine gives the same results
as Numba without a JIT wait on a cold start.

Every execution rule comes from :mod:`backtest.engine.rules`: each column's
exit tick and reason (time exit or stop, :func:`~backtest.engine.rules.trade_exits`),
its slipped entry and exit fill prices (:func:`~backtest.engine.rules.fill_price`),
the fee rate and the entry sizes in shares (:func:`~backtest.engine.rules.book_sizes`).
vectorbt receives them as entry and exit signals at those ticks with those
prices (no slippage and no stops of its own) and keeps the books: shared cash,
sizes in shares, fees paid, P&L and the equity marked at each tick's price.
Orders are valued (``val_price``, which converts a ``fixed`` cash size into
shares) at the unslipped tick price.

Columns are in entry order (entry tick, then ``event_id``) and processed in
that order at each tick (``call_seq="default"``): a tick's exits first, since
they entered earlier, then its entries in the order the book sized them.
vectorbt must fill each entry at the book's size; a difference raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.core.schema import TRADE_COLUMNS, empty_drops
from backtest.core.timeline import TickPrices, Timeline, tick_of, tick_prices
from backtest.engine.portfolio import entry_order
from backtest.engine.rules.book import BookSizes, book_sizes, commission
from backtest.engine.rules.caps import CAP_REASONS
from backtest.engine.rules.costs import fee_rate, fill_price
from backtest.engine.rules.exits import Exits, reason_names, trade_exits
from backtest.engine.rules.settings import ENTRY_COLUMNS, EngineResult, EngineSettings
from backtest.engine.rules.sizing import check_sizing
from backtest.engine.rules.trade_costs import (
    COST_REASONS,
    build_cost_panel,
    carry_per_share,
    check_fill_prices,
    cost_terms,
    entry_estimates,
)
from backtest.events.align import drop_rows

__all__ = [
    "PORTFOLIO_FREQ",
    "Orders",
    "group_lens",
    "in_market_sessions",
    "numpy_group_lens",
    "prepare_orders",
    "run_portfolio",
    "run_vectorbt",
]

VBT_ENGINE = "rust"
# The Portfolio a user gets (run_portfolio): a tick is half a session, so vectorbt's
# durations count a session as a day; annualise per session with year_freq "252 days".
PORTFOLIO_FREQ = "12h"
# entry_equity: the equity the book sized the entry from (at the fill before it);
# target_spend: what the sizing aimed to spend on it, fees included (fixed: the value).
OUT_COLUMNS = [
    *TRADE_COLUMNS,
    "entry_ref_price",
    "exit_ref_price",
    "pnl",
    "entry_equity",
    "target_spend",
]


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


def _book(
    signals: pd.DataFrame,
    rows: TickPrices,
    entry: np.ndarray,
    exits: Exits,
    side: np.ndarray,
    entry_ref: np.ndarray,
    settings: EngineSettings,
) -> BookSizes:
    """Shares of every entry from the equity before it (:func:`~backtest.engine.rules.book_sizes`)."""
    check_sizing(settings.sizing)
    return book_sizes(
        rows.price,
        entry,
        exits.tick,
        side,
        entry_ref,
        fill_price(entry_ref, side, settings.slippage_bps),
        fill_price(exits.ref, -side, settings.slippage_bps),
        settings.init_cash,
        settings.sizing,
        settings.size,
        _size_pct(signals),
        fee_rate(settings.fees_bps),
        caps=settings.caps,
        names=signals["ticker"].to_numpy(),
    )


def _size_pct(signals: pd.DataFrame) -> np.ndarray | None:
    """Each signal's own percent of equity (``portfolio:`` or ``vol_target``), if it has one."""
    return signals["size_pct"].to_numpy(dtype=float) if "size_pct" in signals else None


def _costed(signals, prices, timeline, rows, entry, exits, side, entry_ref, settings):
    """Orders, book and fixed fees with the ``costs:`` section (rules in ``trade_costs``).

    Sized twice: first with the spread only (the order's shares before impact,
    which impact and the participation cap read), then with every cost.
    """
    costs, s = settings.costs, settings
    panel = build_cost_panel(list(signals["ticker"]), prices, timeline, costs)
    col = np.arange(len(entry))
    terms = cost_terms(panel, col, entry, exits.tick, side, costs)

    def book_with(terms, limit=None, reason=None):
        f_in = fill_price(entry_ref, side, s.slippage_bps, terms.extra_in)
        f_out = fill_price(exits.ref, -side, s.slippage_bps, terms.extra_out)
        carry = carry_per_share(terms, f_in, side, panel.borrow_bps)
        check_sizing(s.sizing)
        book = book_sizes(
            rows.price,
            entry,
            exits.tick,
            side,
            entry_ref,
            f_in,
            f_out,
            s.init_cash,
            s.sizing,
            s.size,
            _size_pct(signals),
            fee_rate(s.fees_bps),
            costs.commission_per_share,
            costs.commission_minimum,
            carry,
            limit,
            reason,
            caps=s.caps,
            names=signals["ticker"].to_numpy(),
        )
        return book, f_in, f_out, carry

    first = book_with(terms, terms.limit, terms.reason)[0]
    terms = cost_terms(panel, col, entry, exits.tick, side, costs, shares=first.shares)
    limit = np.minimum(terms.limit, np.where(first.shares > 0, np.inf, 0.0))
    reason = np.where(first.shares > 0, terms.reason, np.array(first.reason, dtype=object))
    book, f_in, f_out, carry = book_with(terms, limit, reason)
    for what, ref, fill in (("entry", entry_ref, f_in), ("exit", exits.ref, f_out)):
        check_fill_prices(ref, fill, book.shares > 0, lambda i, w=what: _fill_name(signals, i, w))
    orders = _orders(rows, entry, exits, side, entry_ref, s.slippage_bps)
    orders["price"][entry, col] = f_in
    orders["price"][exits.tick, col] = f_out
    comm = commission(book.shares, costs.commission_per_share, costs.commission_minimum)
    fixed = np.zeros(orders["price"].shape)
    fixed[entry, col] += comm
    fixed[exits.tick, col] += comm + carry * book.shares
    estimates = entry_estimates(panel, col, entry)
    estimates["impact_in"] = terms.extra_in - np.where(
        book.shares > 0, estimates["half_spread_in"], 0
    )
    return (
        orders,
        book,
        fixed,
        {"entry_fill": f_in, "exit_fill": f_out, **estimates, "exit_cost": terms.extra_out},
    )


def _fill_name(signals: pd.DataFrame, i: int, what: str) -> str:
    """How an error names one fill: ``the entry of BABA-earnings-... (strategy, BABA)``."""
    row = signals.iloc[i]
    return f"the {what} of {row['event_id']} ({row['strategy']}, {row['ticker']})"


def _stage(reason: str) -> str:
    """The drops stage of a book reason: ``costs``, ``caps`` or ``sizing`` (the cash)."""
    return "costs" if reason in COST_REASONS else "caps" if reason in CAP_REASONS else "sizing"


def _book_drops(signals: pd.DataFrame, book: BookSizes) -> pd.DataFrame:
    """One drops row (stage ``sizing``, ``caps`` or ``costs``) per entry the book cut or dropped."""
    cut = np.flatnonzero([bool(r) for r in book.reason])
    if not len(cut):
        return empty_drops()
    out = drop_rows(signals.iloc[cut], "sizing", "", "")
    out["stage"] = [_stage(book.reason[i]) for i in cut]
    out["reason"] = [book.reason[i] for i in cut]
    out["detail"] = [book.detail[i] for i in cut]
    return out


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
    size: np.ndarray,
    fixed_fees: np.ndarray | None = None,
    group_by: object = None,
    columns: pd.Index | None = None,
    freq: str | None = None,
):
    """``Portfolio.from_signals`` of the orders: one column per signal, cash shared per group.

    ``group_by`` (vectorbt's; default: one group) and ``columns`` (labels; default:
    positions) let :func:`run_portfolio` hold several strategies, each with its own
    cash, in one Portfolio.
    """
    import vectorbt as vbt  # imported here: 2 s, only when a run simulates

    direction = np.where(signals["side"].to_numpy() > 0, 0, 1)  # 0 longonly, 1 shortonly
    reference = rows.price.T
    return vbt.Portfolio.from_signals(
        close=pd.DataFrame(reference, index=timeline.ticks, columns=columns),
        entries=orders["entries"],
        exits=orders["exits"],
        price=orders["price"],  # already slipped by the rules: no slippage here
        val_price=reference,
        direction=direction[None, :],
        fees=fee_rate(settings.fees_bps),
        fixed_fees=0.0 if fixed_fees is None else fixed_fees,
        init_cash=settings.init_cash,
        cash_sharing=True,
        group_by=np.zeros(len(signals), dtype=int) if group_by is None else group_by,
        accumulate=False,
        engine=VBT_ENGINE,
        freq=freq,
        size=size[None, :],
        size_type="amount",
        call_seq="default",  # columns in entry order: a tick's exits, then its entries
    )


def _trades(
    pf,
    signals: pd.DataFrame,
    timeline: Timeline,
    entry_ref: np.ndarray,
    exits: Exits,
    book: BookSizes,
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
            "entry_equity": book.equity[col],
            "target_spend": book.target[col],
        },
        columns=OUT_COLUMNS,
    )
    if "sizing_vol" in signals:  # vol_target: the weight and the daily vol it came from
        out["size_pct"] = signals["size_pct"].to_numpy(dtype=float)[col]
        out["sizing_vol"] = signals["sizing_vol"].to_numpy(dtype=float)[col]
    return out


def in_market_sessions(trades: pd.DataFrame, timeline: Timeline) -> pd.Series:
    """Whether any position was open at some tick of each session."""
    held = np.zeros(len(timeline.ticks), dtype=bool)
    for tr in trades.itertuples(index=False):
        t_in, t_out = timeline.ticks.get_loc(tr.entry_time), timeline.ticks.get_loc(tr.exit_time)
        held[t_in:t_out] = True
    per_session = held.reshape(-1, 2).any(axis=1)
    return pd.Series(per_session, index=timeline.sessions, name="in_market")


@dataclass(frozen=True)
class Orders:
    """One strategy's signals in entry order and the orders vectorbt fills for them."""

    signals: pd.DataFrame
    rows: TickPrices
    orders: dict  # entries, exits (bool) and price, each (ticks, signals)
    book: BookSizes
    fixed_fees: np.ndarray | None
    entry_ref: np.ndarray
    exits: Exits
    entry: np.ndarray  # entry tick of each signal
    planned: np.ndarray  # planned exit tick of each signal
    fills: dict  # fill prices and the estimates each entry read (run_vectorbt's entries table)


def prepare_orders(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> Orders:
    """Every rule applied to non-empty signals: exits, fill prices, costs and the book's sizes."""
    # Entry order (tick, event_id): the order the book sizes entries and vectorbt fills them.
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
    fixed_fees = None
    if settings.costs.active:
        orders, book, fixed_fees, fills = _costed(
            signals, prices, timeline, rows, entry, exits, side, entry_ref, settings
        )
    else:
        book = _book(signals, rows, entry, exits, side, entry_ref, settings)
        fills = {
            "entry_fill": fill_price(entry_ref, side, settings.slippage_bps),
            "exit_fill": fill_price(exits.ref, -side, settings.slippage_bps),
        }
    orders["entries"][entry, col] &= book.shares > 0
    orders["exits"][exits.tick, col] &= book.shares > 0
    return Orders(signals, rows, orders, book, fixed_fees, entry_ref, exits, entry, planned, fills)


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
    o = prepare_orders(signals, prices, timeline, settings)
    with numpy_group_lens():
        pf = _portfolio(
            o.signals, o.rows, o.orders, timeline, settings, o.book.shares, o.fixed_fees
        )
        trades = _trades(pf, o.signals, timeline, o.entry_ref, o.exits, o.book)
        value = np.asarray(pf.value()).reshape(len(timeline.ticks), -1)[:, 0]
    _check_sizes(pf, o.book, settings.init_cash)
    equity = pd.Series(value[timeline.close_ticks], index=timeline.sessions, name="equity")
    fills = dict(o.fills)
    if "size_pct" not in o.signals and settings.sizing == "percent":
        fills["size_pct"] = np.full(len(o.signals), float(settings.size))
    entries = _entries(o.signals, timeline, o.entry, (o.exits.tick, o.planned), o.book, fills)
    return EngineResult(
        trades,
        equity,
        in_market_sessions(trades, timeline),
        _book_drops(o.signals, o.book),
        entries,
    )


def _entries(signals, timeline, entry, exit_ticks, book: BookSizes, fills: dict) -> pd.DataFrame:
    """One row per signal: what the book sized its entry from (:data:`ENTRY_COLUMNS`)."""
    nan = np.full(len(signals), np.nan)
    size_pct = _size_pct(signals)
    size_pct = fills.get("size_pct", nan) if size_pct is None else size_pct
    return pd.DataFrame(
        {
            "event_id": signals["event_id"].to_numpy(),
            "ticker": signals["ticker"].to_numpy(),
            "entry_time": timeline.ticks[entry],
            "exit_time": timeline.ticks[exit_ticks[0]],
            "exit_planned": timeline.ticks[exit_ticks[1]],
            "entry_equity": book.equity,
            "target_spend": book.target,
            "size_pct": size_pct,
            "shares": book.shares,
            "entry_fill": fills["entry_fill"],
            **{k: fills.get(k, nan) for k in ("half_spread_in", "sigma_in", "adv_in", "impact_in")},
            "exit_fill": fills["exit_fill"],
            "exit_cost": fills.get("exit_cost", nan),
            "reason": book.reason,
        },
        columns=ENTRY_COLUMNS,
    )


def _stacked(parts: list[Orders]) -> tuple:
    """Several strategies' orders side by side: signals, prices, orders, sizes, fixed fees."""
    fields = ("price", "open", "high", "low")
    rows = TickPrices(*(np.vstack([getattr(o.rows, k) for o in parts]) for k in fields))
    orders = {k: np.hstack([o.orders[k] for o in parts]) for k in parts[0].orders}
    fixed = [np.zeros(o.orders["price"].shape) if o.fixed_fees is None else o.fixed_fees
             for o in parts]  # fmt: skip
    signals = pd.concat([o.signals for o in parts], ignore_index=True)
    sizes = np.concatenate([o.book.shares for o in parts])
    return signals, rows, orders, sizes, np.hstack(fixed)


def run_portfolio(
    signals_by_label: Mapping[str, pd.DataFrame],
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
):
    """The run's strategies as one vectorbt ``Portfolio``: a group (own cash) per strategy.

    The same orders as :func:`run_vectorbt` fills for each strategy, so its trades and
    values are the run's. Columns are ``(strategy, event_id)``; ``pf["<strategy>"]``
    selects one strategy. The index is the run's ticks (each session's open and
    close, UTC) with ``freq`` :data:`PORTFOLIO_FREQ`. A strategy without signals
    has no column; a hedge's legs are not in it (they are priced outside vectorbt).

    Returns
    -------
    vectorbt.Portfolio or None
        None when no strategy has a signal.
    """
    labels = [k for k, v in signals_by_label.items() if not v.empty]
    if not labels:
        return None
    parts = [prepare_orders(signals_by_label[k], prices, timeline, settings) for k in labels]
    signals, rows, orders, sizes, fixed = _stacked(parts)
    owner = np.repeat(np.asarray(labels, dtype=object), [len(o.signals) for o in parts])
    columns = pd.MultiIndex.from_arrays(
        [owner, signals["event_id"].to_numpy()], names=["strategy", "event_id"]
    )
    with numpy_group_lens():
        return _portfolio(
            signals, rows, orders, timeline, settings, sizes, fixed, "strategy", columns,
            PORTFOLIO_FREQ,
        )  # fmt: skip


def _check_sizes(pf, book: BookSizes, init_cash: float) -> None:
    """vectorbt filled every entry at the book's size (it never cut one for want of cash).

    Sizes agree to 1e-9 of the order's value or of the initial cash, whichever is larger:
    after trades with extreme costs an account's cash, summed fill by fill by both, can
    differ in the last digits (1.7e-5 of 100 000 with impact k = 100), and an order
    spending all of it is then cut by that much.
    """
    rec = pf.trades.values
    want = book.shares[rec["col"].astype(np.int64)]
    off = np.abs(rec["size"] - want) * rec["entry_price"]
    if not (off <= 1e-9 * np.maximum(want * rec["entry_price"], init_cash)).all():
        bad = int(np.argmax(np.abs(rec["size"] - want) / want))
        raise AssertionError(
            f"vectorbt filled {rec['size'][bad]} shares where the book sized {want[bad]}: "
            "the book's cash accounting and vectorbt's disagree"
        )
