"""Caps on one account's book: open positions, gross and net exposure, weight per ticker.

``engine.caps`` (off by default) limits every entry of a run's book
(:func:`backtest.engine.rules.book.book_sizes` asks :func:`cap_limit` before
each entry). All weights are percent of the equity ``E`` the entry is sized
from, measured at the fill before it; the open positions are marked at the
same prices (each ticker's reference price on the tick before the entry tick),
and the new entry counts at its reference entry price. Positions exiting at
the entry's own tick are closed first. In order:

1. ``max_positions``: with that many positions open, the entry is dropped
   (reason ``max_positions``);
2. ``max_name_pct``: the ticker's open ``sum |value|`` plus the entry may not
   exceed it (``name_cap``);
3. ``max_gross_pct``: the book's ``sum |value|`` plus the entry (``gross_cap``);
4. ``max_net_pct``: ``|sum signed value + the entry|`` (``net_cap``); an entry
   that lowers the net exposure is never cut by it.

An entry that breaks a weight cap is cut to the room left (the smallest room
names the reason), and dropped when no room is left; the book records it in
``drops.csv`` (stage ``caps``). Every input is known at the fill before the
entry, so a cap adds no look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CAP_REASONS", "BookCaps", "Exposure", "cap_limit"]

CAP_REASONS = ("max_positions", "name_cap", "gross_cap", "net_cap")
# A room this small relative to equity is float error, not room: the entry is dropped.
EPS = 1e-9


@dataclass(frozen=True)
class BookCaps:
    """The ``engine.caps`` section: ``None`` leaves a cap off (all off by default).

    Examples
    --------
    >>> BookCaps().active, BookCaps(max_net_pct=50).active
    (False, True)
    """

    max_positions: int | None = None
    max_name_pct: float | None = None
    max_gross_pct: float | None = None
    max_net_pct: float | None = None

    @property
    def active(self) -> bool:
        """Whether any cap is set."""
        return any(
            v is not None
            for v in (self.max_positions, self.max_name_pct, self.max_gross_pct, self.max_net_pct)
        )


@dataclass(frozen=True)
class Exposure:
    """The open book before an entry: positions, ``sum |value|``, ``sum value``, the name's ``|value|``."""

    positions: int
    gross: float
    net: float
    name: float


def _rooms(caps: BookCaps, book: Exposure, equity: float, side: int) -> list[tuple]:
    """(room in account currency, reason, what is open, the cap's key and %) of each weight cap set."""
    out = []
    if caps.max_name_pct is not None:
        room = caps.max_name_pct / 100.0 * equity - book.name
        out.append(
            (
                room,
                "name_cap",
                f"the name holds {book.name / equity:.2%}",
                "max_name_pct",
                caps.max_name_pct,
            )
        )
    if caps.max_gross_pct is not None:
        room = caps.max_gross_pct / 100.0 * equity - book.gross
        out.append(
            (
                room,
                "gross_cap",
                f"gross {book.gross / equity:.2%}",
                "max_gross_pct",
                caps.max_gross_pct,
            )
        )
    if caps.max_net_pct is not None:
        room = caps.max_net_pct / 100.0 * equity - side * book.net
        out.append(
            (room, "net_cap", f"net {book.net / equity:+.2%}", "max_net_pct", caps.max_net_pct)
        )
    return out


def cap_limit(
    caps: BookCaps, book: Exposure, equity: float, side: int, price: float, value: float
) -> tuple[float, str, str]:
    """Most shares the caps let an entry of ``value`` (at ``price``) buy; reason and detail.

    Returns ``(inf, "", "")`` when no cap binds, ``(0, reason, detail)`` when the
    entry is dropped, else the shares of the room left.

    Examples
    --------
    Equity 100 000 holding 70 000 long: a 20 000 long fits a gross cap of 100 %
    but only 10 000 of it fits a net cap of 80 %; a short is not cut by it:

    >>> book = Exposure(positions=1, gross=70_000.0, net=70_000.0, name=0.0)
    >>> caps = BookCaps(max_gross_pct=100, max_net_pct=80)
    >>> cap_limit(caps, book, 100_000.0, 1, 50.0, 20_000.0)
    (200.0, 'net_cap', 'net +70.00% of equity 100000.00 + a long of 20.00% > max_net_pct 80: cut to 10.00%')
    >>> cap_limit(caps, book, 100_000.0, -1, 50.0, 20_000.0)[:2]
    (inf, '')
    >>> cap_limit(BookCaps(max_positions=1), book, 100_000.0, 1, 50.0, 20_000.0)[:2]
    (0.0, 'max_positions')
    """
    if caps.max_positions is not None and book.positions >= caps.max_positions:
        detail = f"{book.positions} positions open, max_positions {caps.max_positions}"
        return 0.0, "max_positions", detail
    rooms = _rooms(caps, book, equity, side)
    if not rooms:
        return float("inf"), "", ""
    room, reason, held, key, pct = min(rooms, key=lambda r: r[0])
    if value <= room + EPS * equity:
        return float("inf"), "", ""
    side_name = "long" if side > 0 else "short"
    detail = (
        f"{held} of equity {equity:.2f} + a {side_name} of {value / equity:.2%} > {key} {pct:g}"
    )
    if room <= EPS * equity:
        return 0.0, reason, f"{detail}: no room, dropped"
    return room / price, reason, f"{detail}: cut to {room / equity:.2%}"
