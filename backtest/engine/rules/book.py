"""Entry sizes in shares from the account's equity: the one sizing rule of a run.

A run's book is one cash-sharing account per strategy. :func:`book_sizes` walks
its trades in entry order (entry tick, then the order given) and sizes each
entry from the account *before* it, so sizes use nothing published after the
entry:

Equity. ``E`` is measured at the fill before the entry: the cash after every
fill at earlier ticks, plus every open position marked (signed) at its
ticker's reference price on the tick before the entry tick (the same
session's open for a close entry, the previous close for an open entry). At
tick 0 it is the initial cash.

Budget. ``percent`` (and a per-signal ``size_pct``) spends ``size`` % of ``E``
on the entry, fees included (the fill value plus the entry's fees);
``fixed`` buys ``size`` in account currency at the reference price (fees on top).

Cash. Short proceeds are never spendable. The cash an entry may use (long or
short) is ``free = cash - 2 * (sum of the open shorts' entry values)``: the
proceeds of each open short are set aside, and a short needs as much again as
collateral, as vectorbt's ``free_cash`` counts it. Exits at the entry's own
tick release their cash first (they entered earlier). An entry whose budget
exceeds ``free`` is cut to it (reason ``cash_cap``), and dropped when nothing
is free (``no_cash``); both are recorded.

Caps. With ``caps`` (the ``engine.caps`` section), each entry is first cut to
the room its caps leave, measured at the same marks as the equity
(:mod:`backtest.engine.rules.caps`: ``max_positions``, ``name_cap``,
``gross_cap``, ``net_cap``), then to the free cash. One reason is recorded per
entry: the last limit that cut it (caps, then cash, then the ``costs:`` section).

Fees. ``fee_rate`` (fraction of the fill value) plus a per-order commission
``max(per_share * shares, minimum)`` (0 when both are 0) on each fill, plus a
per-share ``carry`` charged at the exit (borrow fees, dividends paid by a
short, received by a long when negative).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from backtest.engine.rules.arrays import choose
from backtest.engine.rules.caps import BookCaps, Exposure, cap_limit

__all__ = [
    "BOOK_REASONS",
    "BookSizes",
    "book_sizes",
    "budget_shares",
    "commission",
    "order_commission",
    "shares_for_budget",
]

BOOK_REASONS = ("cash_cap", "no_cash")
# An entry cut to the free cash keeps this fraction of it, so float error never makes
# the engine cut it again.
CASH_MARGIN = 1e-9


def commission(shares, per_share: float, minimum: float):
    """Commission of one order: ``max(per_share * |shares|, minimum)``, 0 without an order.

    Examples
    --------
    >>> commission(np.array([0.0, 100.0, 1000.0]), 0.005, 1.0).tolist()
    [0.0, 1.0, 5.0]
    """
    shares = np.abs(np.asarray(shares, dtype=float))
    if not (per_share or minimum):
        return np.zeros_like(shares)
    return order_commission(shares, per_share, minimum)


def order_commission(quantity, per_share: float, minimum: float):
    """:func:`commission`'s arithmetic for ``quantity = |shares|``: on arrays, or on single
    numbers in the compiled pricing loops (:mod:`~backtest.engine.rules.trade_costs`).

    Examples
    --------
    >>> float(order_commission(100.0, 0.005, 1.0)), float(order_commission(0.0, 0.005, 1.0))
    (1.0, 0.0)
    """
    return choose(quantity > 0, np.maximum(per_share * quantity, minimum), 0.0)


def shares_for_budget(budget, fill, fee_rate: float, per_share: float, minimum: float):
    """Shares whose fill value plus entry fees (rate and commission) equals ``budget``.

    Examples
    --------
    5 000 at a fill of 100 with a 0.1 % fee rate and a 1.0 minimum commission:

    >>> q = shares_for_budget(5_000.0, 100.0, 0.001, 0.0, 1.0)
    >>> round(float(q * 100 * 1.001 + 1.0), 9)
    5000.0
    >>> q = shares_for_budget(5_000.0, 100.0, 0.0, 0.05, 1.0)  # per share wins above 20 shares
    >>> round(float(q * 100 + 0.05 * q), 9)
    5000.0
    """
    budget, fill = np.asarray(budget, dtype=float), np.asarray(fill, dtype=float)
    return budget_shares(budget, fill, fee_rate, per_share, minimum)


def budget_shares(budget, fill, fee_rate: float, per_share: float, minimum: float):
    """:func:`shares_for_budget`'s arithmetic: on arrays, or on single numbers in the
    compiled pricing loops (:mod:`~backtest.engine.rules.trade_costs`).

    Examples
    --------
    >>> float(budget_shares(1_001.0, 100.0, 0.001, 0.0, 0.0))
    10.0
    """
    unit = fill * (1 + fee_rate)
    per = budget / (unit + per_share)
    flat = (budget - minimum) / unit
    return np.maximum(choose(per_share * per >= minimum, per, flat), 0.0)


@dataclass(frozen=True)
class BookSizes:
    """Per trade: shares, budget (target spend, fees included), equity at entry, cut reason."""

    shares: np.ndarray
    target: np.ndarray
    equity: np.ndarray
    reason: list[str]
    detail: list[str]


def _ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN along the last axis (marks of a position on ticks without a price)."""
    idx = np.where(np.isnan(a), 0, np.arange(a.shape[-1]))
    np.maximum.accumulate(idx, axis=-1, out=idx)
    return np.take_along_axis(a, idx, axis=-1)


class _Account:
    """One account's cash, short proceeds set aside and open positions, as the book walks it."""

    def __init__(self, init_cash: float, side, entry_fill, exit_fill, carry, fees) -> None:
        self.cash, self.debt = float(init_cash), 0.0
        self.open: list[tuple[int, int]] = []  # (exit tick, trade), a heap
        self.side, self.entry_fill, self.exit_fill, self.carry = side, entry_fill, exit_fill, carry
        self.fee_rate, self.per_share, self.minimum = fees
        self.shares = np.zeros(len(side))

    def close_before(self, tick: int, inclusive: bool = False) -> None:
        """Close every position exiting before ``tick`` (or at it too, with ``inclusive``)."""
        while self.open and (self.open[0][0] < tick or (inclusive and self.open[0][0] == tick)):
            i = heapq.heappop(self.open)[1]
            q = self.shares[i]
            fees = self.fee_rate * q * self.exit_fill[i] + float(
                commission(q, self.per_share, self.minimum)
            )
            self.cash += self.side[i] * q * self.exit_fill[i] - fees - self.carry[i] * q
            if self.side[i] < 0:
                self.debt -= q * self.entry_fill[i]

    def equity(self, mark: np.ndarray, tick: int) -> float:
        """Cash plus the open positions marked on the tick before ``tick`` (cash at tick 0)."""
        if tick <= 0:
            return self.cash + 0.0
        return self.cash + sum(
            self.side[j] * self.shares[j] * mark[j, tick - 1] for _, j in self.open
        )

    def exposure(self, mark: np.ndarray, tick: int, names: np.ndarray, name) -> Exposure:
        """The open book at ``tick``, marked where :meth:`equity` marks it."""
        at = max(tick - 1, 0)
        values = [(self.side[j] * self.shares[j] * mark[j, at], names[j]) for _, j in self.open]
        return Exposure(
            positions=len(values),
            gross=float(sum(abs(v) for v, _ in values)),
            net=float(sum(v for v, _ in values)),
            name=float(sum(abs(v) for v, n in values if n == name)),
        )

    def spend(self, q: float, i: int) -> float:
        """Cash an entry of ``q`` shares takes: its fill value and entry fees."""
        return q * self.entry_fill[i] * (1 + self.fee_rate) + float(
            commission(q, self.per_share, self.minimum)
        )

    def enter(self, i: int, q: float, exit_tick: int) -> None:
        """Book the entry of trade ``i`` at ``q`` shares (nothing when ``q`` is 0)."""
        self.shares[i] = q
        if q <= 0:
            return
        self.cash -= self.side[i] * q * self.entry_fill[i] + self.fee_rate * q * self.entry_fill[i]
        self.cash -= float(commission(q, self.per_share, self.minimum))
        if self.side[i] < 0:
            self.debt += q * self.entry_fill[i]
        heapq.heappush(self.open, (exit_tick, i))


def _cash_cut(acct: _Account, i: int, q: float) -> tuple[float, str, str]:
    """``q`` cut to the free cash (short proceeds set aside), with the reason; '' when it fits."""
    free = acct.cash - 2.0 * acct.debt
    spend = acct.spend(q, i)
    if not spend > free:
        return q, "", ""
    room = free * (1 - CASH_MARGIN)
    q = float(
        shares_for_budget(room, acct.entry_fill[i], acct.fee_rate, acct.per_share, acct.minimum)
    )
    if q <= 0 or room <= 0:
        return 0.0, "no_cash", f"no free cash (short proceeds are not spendable): {free:.2f} free"
    return q, "cash_cap", f"cut to the free cash {free:.2f} from a spend of {spend:.2f}"


def book_sizes(
    mark: np.ndarray,
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    side: np.ndarray,
    entry_ref: np.ndarray,
    entry_fill: np.ndarray,
    exit_fill: np.ndarray,
    init_cash: float,
    sizing: str,
    size: float,
    size_pct: np.ndarray | None = None,
    fee_rate: float = 0.0,
    per_share: float = 0.0,
    minimum: float = 0.0,
    carry: np.ndarray | None = None,
    limit: np.ndarray | None = None,
    limit_reason: np.ndarray | None = None,
    caps: BookCaps | None = None,
    names: np.ndarray | None = None,
) -> BookSizes:
    """Size every trade of one account, in entry order, from the equity before it.

    Parameters
    ----------
    mark : numpy.ndarray
        (trades, ticks) reference prices of each trade's ticker (what positions are marked at).
    entry_tick, exit_tick, side : numpy.ndarray
        (trades,) entry and (final) exit ticks, +1 long / -1 short. Trades are
        taken in order of entry tick, ties in the given order.
    entry_ref, entry_fill, exit_fill : numpy.ndarray
        (trades,) reference entry price and the entry and exit fill prices.
    init_cash : float
        Starting cash.
    sizing, size : str, float
        ``"percent"`` (``size`` % of equity) or ``"fixed"`` (``size`` in currency).
    size_pct : numpy.ndarray, optional
        Per-trade percent of equity (the ``portfolio:`` section, or ``vol_target``
        sizing: :func:`backtest.engine.rules.sizing.vol_target_sizes`); overrides ``sizing``.
    fee_rate, per_share, minimum : float
        Fees per fill: a fraction of the value and a commission (:func:`commission`).
    carry : numpy.ndarray, optional
        (trades,) cost per share paid at the exit (borrow, dividends; negative: a credit).
    limit, limit_reason : numpy.ndarray, optional
        (trades,) most shares of each entry (0: dropped) and the reason recorded
        when it binds (:func:`backtest.engine.rules.trade_costs.cost_terms`).
    caps, names : BookCaps, numpy.ndarray, optional
        The ``engine.caps`` section (:mod:`backtest.engine.rules.caps`) and each
        trade's ticker (what the per-name cap groups by).

    Examples
    --------
    A short of 60 % at tick 0 (price 100), then a long of 50 % at tick 1:
    equity is 100 000 at both entries, but the short's 60 000 of proceeds are
    set aside and it holds 60 000 of collateral, so 40 000 is free and the long
    is cut to it. Sized 40 % each, the long gets its 40 000 in full:

    >>> mark = np.full((2, 4), 100.0)
    >>> args = (mark, np.array([0, 1]), np.array([3, 3]), np.array([-1, 1]),
    ...         np.full(2, 100.0), np.full(2, 100.0), np.full(2, 100.0), 100_000.0)
    >>> b = book_sizes(*args, "percent", 0.0, size_pct=np.array([60.0, 50.0]))
    >>> b.shares.round(6).tolist(), b.reason
    ([600.0, 400.0], ['', 'cash_cap'])
    >>> book_sizes(*args, "percent", 40.0).shares.tolist()
    [400.0, 400.0]

    A net cap of 20 %: the 40 % short is cut to 20 % (net -20 000), which leaves
    room for a 40 % long (net +20 000):

    >>> b = book_sizes(*args, "percent", 40.0, caps=BookCaps(max_net_pct=20))
    >>> b.shares.tolist(), b.reason
    ([200.0, 400.0], ['net_cap', ''])
    """
    n = len(entry_tick)
    mark = _ffill(np.asarray(mark, dtype=float))
    carry = np.zeros(n) if carry is None else np.asarray(carry, dtype=float)
    caps = caps if caps is not None and caps.active else None
    names = np.zeros(n, dtype=int) if names is None else np.asarray(names, dtype=object)
    target, equity = np.zeros(n), np.zeros(n)
    reason, detail = [""] * n, [""] * n
    acct = _Account(init_cash, side, entry_fill, exit_fill, carry, (fee_rate, per_share, minimum))
    last_tick, last_equity = -1, float(init_cash)
    for i in np.lexsort((np.arange(n), entry_tick)):
        t = int(entry_tick[i])
        acct.close_before(t)
        if t != last_tick:  # one equity per tick: before any of its fills
            last_tick, last_equity = t, acct.equity(mark, t)
        equity[i] = last_equity
        acct.close_before(t, inclusive=True)  # exits at this tick come first
        if size_pct is not None:
            target[i] = size_pct[i] / 100.0 * equity[i]
            q = float(shares_for_budget(target[i], entry_fill[i], fee_rate, per_share, minimum))
        elif sizing == "percent":
            target[i] = size / 100.0 * equity[i]
            q = float(shares_for_budget(target[i], entry_fill[i], fee_rate, per_share, minimum))
        elif sizing == "vol_target":  # its weights come per trade, in size_pct
            raise ValueError("vol_target sizing needs each trade's size_pct (vol_target_sizes)")
        else:
            target[i] = float(size)
            q = float(size) / entry_ref[i]
        if caps is not None:
            book = acct.exposure(mark, t, names, names[i])
            most, why, text = cap_limit(
                caps, book, equity[i], int(side[i]), float(entry_ref[i]), q * entry_ref[i]
            )
            if q > most:
                q, reason[i], detail[i] = most, why, text
        cut, why, text = _cash_cut(acct, i, q)
        if why:
            q, reason[i], detail[i] = cut, why, text
        if limit is not None and q > limit[i]:
            reason[i] = str(limit_reason[i])
            detail[i] = (
                f"dropped by the costs: section ({reason[i]})"
                if limit[i] <= 0
                else f"cut from {q:.2f} to {limit[i]:.2f} shares ({reason[i]})"
            )
            q = max(float(limit[i]), 0.0)
        acct.enter(i, q, int(exit_tick[i]))
    return BookSizes(acct.shares, target, equity, reason, detail)
