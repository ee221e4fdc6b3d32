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

Fees. ``fee_rate`` (fraction of the fill value) plus a per-order commission
``max(per_share * shares, minimum)`` (0 when both are 0) on each fill, plus a
per-share ``carry`` charged at the exit (borrow fees, dividends paid by a
short, received by a long when negative).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

__all__ = ["BOOK_REASONS", "BookSizes", "book_sizes", "commission", "shares_for_budget"]

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
    return np.where(shares > 0, np.maximum(per_share * shares, minimum), 0.0)


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
    unit = fill * (1 + fee_rate)
    per = budget / (unit + per_share)
    flat = (budget - minimum) / unit
    q = np.where(per_share * per >= minimum, per, flat)
    return np.maximum(q, 0.0)


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
        Per-trade percent of equity (the ``portfolio:`` section); overrides ``sizing``.
    fee_rate, per_share, minimum : float
        Fees per fill: a fraction of the value and a commission (:func:`commission`).
    carry : numpy.ndarray, optional
        (trades,) cost per share paid at the exit (borrow, dividends; negative: a credit).
    limit, limit_reason : numpy.ndarray, optional
        (trades,) most shares of each entry (0: dropped) and the reason recorded
        when it binds (:func:`backtest.engine.rules.trade_costs.cost_terms`).

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
    """
    n = len(entry_tick)
    mark = _ffill(np.asarray(mark, dtype=float))
    carry = np.zeros(n) if carry is None else np.asarray(carry, dtype=float)
    shares, target, equity = np.zeros(n), np.zeros(n), np.zeros(n)
    reason, detail = [""] * n, [""] * n
    order = np.lexsort((np.arange(n), entry_tick))
    cash, debt = float(init_cash), 0.0
    open_: list[tuple[int, int]] = []  # (exit tick, trade)
    last_tick, last_equity = -1, float(init_cash)

    def close(i: int) -> None:
        nonlocal cash, debt
        q = shares[i]
        fees = fee_rate * q * exit_fill[i] + float(commission(q, per_share, minimum))
        cash += side[i] * q * exit_fill[i] - fees - carry[i] * q
        if side[i] < 0:
            debt -= q * entry_fill[i]

    for i in order:
        t = int(entry_tick[i])
        while open_ and open_[0][0] < t:
            close(heapq.heappop(open_)[1])
        if t != last_tick:  # one equity per tick: before any of its fills
            held = sum(side[j] * shares[j] * mark[j, t - 1] for _, j in open_) if t > 0 else 0.0
            last_tick, last_equity = t, cash + held
        equity[i] = last_equity
        while open_ and open_[0][0] <= t:  # exits at this tick come first
            close(heapq.heappop(open_)[1])
        if size_pct is not None:
            target[i] = size_pct[i] / 100.0 * equity[i]
            q = float(shares_for_budget(target[i], entry_fill[i], fee_rate, per_share, minimum))
        elif sizing == "percent":
            target[i] = size / 100.0 * equity[i]
            q = float(shares_for_budget(target[i], entry_fill[i], fee_rate, per_share, minimum))
        else:
            target[i] = float(size)
            q = float(size) / entry_ref[i]
        free = cash - 2.0 * debt
        spend = q * entry_fill[i] * (1 + fee_rate) + float(commission(q, per_share, minimum))
        if spend > free:
            room = free * (1 - CASH_MARGIN)
            q = float(shares_for_budget(room, entry_fill[i], fee_rate, per_share, minimum))
            if q <= 0 or room <= 0:
                reason[i], q = "no_cash", 0.0
                detail[i] = f"no free cash (short proceeds are not spendable): {free:.2f} free"
            else:
                reason[i] = "cash_cap"
                detail[i] = f"cut to the free cash {free:.2f} from a spend of {spend:.2f}"
        if limit is not None and q > limit[i]:
            reason[i] = str(limit_reason[i])
            detail[i] = (
                f"dropped by the costs: section ({reason[i]})" if limit[i] <= 0
                else f"cut from {q:.2f} to {limit[i]:.2f} shares ({reason[i]})"
            )
            q = max(float(limit[i]), 0.0)
        shares[i] = q
        if q > 0:
            cash -= side[i] * q * entry_fill[i] + fee_rate * q * entry_fill[i]
            cash -= float(commission(q, per_share, minimum))
            if side[i] < 0:
                debt += q * entry_fill[i]
            heapq.heappush(open_, (int(exit_tick[i]), int(i)))
    return BookSizes(shares, target, equity, reason, detail)
