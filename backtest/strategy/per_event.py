"""Per-event strategies: one plain function per event, run through the planner path.

A strategy is ``decide(event, market, params) -> Trade | Skip``::

    @register_event_strategy("gap_down_short", GapDown, event_types=("earnings",),
                             reasons={"small_gap": "the opening gap is above -min_gap_pct"})
    def decide(event, market, p):
        gap = market.gap_pct()
        if not gap <= -p.min_gap_pct:
            return Skip("small_gap", f"gap {gap:+.1f}%")
        return Trade("short", enter=at_close(0), exit=at_close(p.hold))

Points in time are named relative to the event's *reaction session* R (its
aligned session: a bmo report's day, an amc report's next session):
``at_open(n)`` / ``at_close(n)`` is the open / close of session R + n
(exchange sessions, never calendar days; n < 0 before the report).
:func:`hold` is the exit ``n`` sessions after an entry.

What a decision knew. The *decision instant* is the entry fill. Everything
``decide`` read is recorded with the instant it became public: the event's
schedule (ticker, session, timing) at ``known_at``; its content (EPS, surprise,
move, targets, any payload column) at its first tradable instant
(``actionable_at``); a price at the open or close that printed it; another event
(:meth:`EventMarket.last_analyst_action`) at its publication. The latest is the
trade's ``info_time``. A trade entering before its event's schedule or content
was public is dropped as ``entry_before_known_at`` (as the built-ins do); one
whose price reads come after its entry raises
:class:`~backtest.core.errors.LookAheadError`, naming the read. ``market``
never hands out a price without recording it; anything read around it
(``market._view``, files) is what ``backtest check`` catches by changing the
future and watching the decision move.

The adapter registers a vectorized planner (:func:`register_event_strategy`),
so runs, sweeps (every combination x every event, in Python), overlap, fill and
portfolio rules and the audit all go through the one planner path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from backtest.core.errors import LookAheadError, StrategyError
from backtest.core.schema import PAYLOAD_COLUMNS
from backtest.strategy.plan import DROP_DETAILS, REASONS, EventArrays, Plan
from backtest.strategy.signals import MarketView, StrategyParams, register_planner

__all__ = [
    "Event",
    "EventMarket",
    "Point",
    "Skip",
    "Trade",
    "at_close",
    "at_open",
    "hold",
    "register_event_strategy",
    "surprise_pct",
]

At = Literal["open", "close"]
# Reasons later stages of the run record; a strategy may not reuse them for its own skips.
RESERVED_REASONS = frozenset(
    {
        "overlap",
        "window_incomplete",
        "price_nan_in_window",
        "suspect_split",
        "portfolio_full",
        "portfolio_session_cap",
        "portfolio_name_cap",
        "portfolio_gross_cap",
    }
)
REASON_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
#: Payload columns are the event's content; everything else is its schedule.
CONTENT = frozenset(PAYLOAD_COLUMNS) - {"isin"}


@dataclass(frozen=True)
class Point:
    """The open or close of the session ``offset`` sessions after the reaction session.

    Examples
    --------
    >>> at_close(-1)
    Point(offset=-1, at='close')
    >>> at_open(0) < at_close(0) < at_open(1)
    True
    """

    offset: int
    at: At

    def tick(self, reaction_pos: int) -> int:
        """Global tick (``2 * session + 0 open | 1 close``) given the reaction session position."""
        return 2 * (reaction_pos + self.offset) + (self.at == "close")

    def __lt__(self, other: Point) -> bool:
        return self.tick(0) < other.tick(0)


def at_open(n: int = 0) -> Point:
    """The open of session R + ``n`` (R: the event's reaction session)."""
    return Point(int(n), "open")


def at_close(n: int = 0) -> Point:
    """The close of session R + ``n`` (R: the event's reaction session)."""
    return Point(int(n), "close")


def hold(entry: Point, sessions: int, at: At = "close") -> Point:
    """The exit ``sessions`` sessions after ``entry``, at ``at``.

    As :func:`backtest.strategy.plan.hold_exit_tick`: from an open to a close, one
    session is the same day; every other pair moves ``sessions`` whole sessions.

    Examples
    --------
    >>> hold(at_open(0), 1, "close"), hold(at_close(0), 1, "close"), hold(at_close(0), 2, "open")
    (Point(offset=0, at='close'), Point(offset=1, at='close'), Point(offset=2, at='open'))
    """
    same_day = entry.at == "open" and at == "close"
    return Point(entry.offset + int(sessions) - same_day, at)


@dataclass(frozen=True)
class Trade:
    """Enter ``side`` (``"long"``/``"short"``) at ``enter`` and leave at ``exit``."""

    side: Literal["long", "short"]
    enter: Point
    exit: Point


@dataclass(frozen=True)
class Skip:
    """Do not trade this event; recorded in drops.csv as ``reason`` with ``detail``.

    ``reason`` is one the strategy declared (``reasons=`` of
    :func:`register_event_strategy`) or a built-in one (``no_direction``,
    ``below_threshold``, ``no_surprise``, ...).
    """

    reason: str
    detail: str = ""


class Event:
    """One aligned event, read by attribute (``event.ticker``, ``event.eps_actual``).

    Reading a content column (EPS, surprise, move, targets: any payload column)
    records that the decision used the event's content, which is public at its
    first tradable instant; the schedule columns are public at ``known_at``.
    A missing payload column reads as None.
    """

    __slots__ = ("_row", "_read_content")

    def __init__(self, row: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_row", dict(row))
        object.__setattr__(self, "_read_content", False)

    def __getattr__(self, name: str) -> Any:
        row = object.__getattribute__(self, "_row")
        if name in CONTENT:
            object.__setattr__(self, "_read_content", True)
            value = row.get(name)
            return (
                None if value is None or (isinstance(value, float) and np.isnan(value)) else value
            )
        if name in row:
            return row[name]
        raise AttributeError(f"event has no field {name!r}; fields: {', '.join(sorted(row))}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("events are read-only")

    def __repr__(self) -> str:
        return f"Event({self._row.get('event_id')!r})"


def surprise_pct(event: Event) -> float:
    """EPS surprise in %: the source's figure, else 100 * (actual - estimate) / |estimate|.

    NaN without one. Reads the event's content (public at its first tradable instant).

    Examples
    --------
    >>> surprise_pct(Event({"eps_estimate": 2.0, "eps_actual": 2.5}))
    25.0
    >>> surprise_pct(Event({"surprise_pct": -3.0, "eps_estimate": 1.0, "eps_actual": 9.0}))
    -3.0
    """
    given = _number(event.surprise_pct)
    if not np.isnan(given):
        return given
    est, act = _number(event.eps_estimate), _number(event.eps_actual)
    return 100.0 * (act - est) / abs(est) if est != 0 and not np.isnan(est) else np.nan


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


class EventMarket:
    """Prices and other events of one event's ticker, every read recorded with its instant.

    Points are relative to the event's reaction session (:func:`at_open`,
    :func:`at_close`). A read does not check the decision's time itself (the
    decision is known only once ``decide`` returns); the adapter compares the
    latest read with the entry fill and raises
    :class:`~backtest.core.errors.LookAheadError` when a read comes later.
    """

    def __init__(self, view: MarketView, ticker: str, reaction_pos: int, gap_pos: int) -> None:
        self._view = view
        self.ticker = ticker
        self._r = reaction_pos
        self._g = gap_pos
        self._cache: dict = {}
        self.latest_read_ns = np.iinfo(np.int64).min
        self.latest_read = ""

    def _record(self, session_pos: int, at: At, what: str) -> None:
        ns = self._view.instant(self._view.cal.sessions[session_pos], at).value
        if ns > self.latest_read_ns:
            self.latest_read_ns, self.latest_read = ns, what

    def _bars(self, last_pos: int) -> pd.DataFrame:
        """Bars up to and including session ``last_pos`` (cached per event)."""
        if last_pos not in self._cache:
            cal = self._view.cal
            self._cache[last_pos] = self._view.closed_bars(
                self.ticker, self._view.instant(cal.sessions[last_pos], "close")
            )
        return self._cache[last_pos]

    def _pos(self, point: Point) -> int | None:
        pos = self._r + point.offset
        return pos if 0 <= pos < len(self._view.cal.sessions) else None

    def session(self, point: Point) -> pd.Timestamp | None:
        """The session date of ``point`` (None outside the calendar); reveals no price."""
        pos = self._pos(point)
        return None if pos is None else self._view.cal.sessions[pos]

    def price(self, point: Point) -> float:
        """The open or close of the ticker at ``point``; NaN when that bar is missing."""
        pos = self._pos(point)
        if pos is None:
            return np.nan
        self._record(pos, point.at, f"{point.at} of session R{point.offset:+d}")
        bars = self._bars(pos)
        session = self._view.cal.sessions[pos]
        return float(bars[point.at].iloc[-1]) if len(bars) and bars.index[-1] == session else np.nan

    def gap_pct(self) -> float:
        """Opening gap (%) of the first session that opens after the event is public.

        ``100 * (open / previous close - 1)``: for a bmo, amc or date-only report
        the gap at R's open; for an intraday report filled at the close, at R + 1's
        open. Public at that open. NaN when either bar is missing.
        """
        pos = self._g
        if not 0 < pos < len(self._view.cal.sessions):
            return np.nan
        self._record(pos, "open", f"opening gap of session R{pos - self._r:+d}")
        key = ("gap", pos)
        if key not in self._cache:
            bars, sessions = self._bars(pos), self._view.cal.sessions
            ok = len(bars) >= 2 and bars.index[-1] == sessions[pos]
            ok = ok and bars.index[-2] == sessions[pos - 1]
            gap = 100.0 * (bars["open"].iloc[-1] / bars["close"].iloc[-2] - 1.0) if ok else np.nan
            self._cache[key] = gap
        return self._cache[key]

    def move_pct(self, sessions: int, until: Point | None = None) -> float:
        """Close-to-close move (%) over ``sessions`` sessions ending at ``until``'s session.

        ``until`` defaults to the close before the reaction session (``at_close(-1)``),
        the last close before any report that trades at R's open.
        """
        until = until or at_close(-1)
        end = self._pos(Point(until.offset, "close"))
        if end is None or end - sessions < 0:
            return np.nan
        self._record(end, "close", f"close of session R{until.offset:+d}")
        bars = self._bars(end)
        cal = self._view.cal.sessions
        if len(bars) <= sessions or bars.index[-1] != cal[end]:
            return np.nan
        if bars.index[-1 - sessions] != cal[end - sessions]:
            return np.nan
        return 100.0 * (bars["close"].iloc[-1] / bars["close"].iloc[-1 - sessions] - 1.0)

    def last_analyst_action(self, before: Point | None = None) -> Event | None:
        """The ticker's latest analyst event published before ``before`` (default: R's open).

        Needs an ``analyst`` event source in the config; None when there is none.
        """
        before = before or at_open(0)
        pos = self._pos(before)
        if pos is None:
            return None
        instant = self._view.instant(self._view.cal.sessions[pos], before.at)
        found = self._view.published_events(self.ticker, instant, "analyst")
        if found.empty:
            return None
        row = found.iloc[-1]
        ns = row["event_time"].value
        if ns > self.latest_read_ns:
            self.latest_read_ns, self.latest_read = ns, f"analyst event {row['event_id']}"
        return Event(row.to_dict())


SIDES = {"long": 1, "short": -1}


@dataclass
class _Cell:
    """One decided (combination, event): ticks, side, info instant, reason, detail."""

    entry: int = 0
    exit: int = 0
    side: int = 0
    info: int = 0
    reason: str = ""
    detail: str = ""


def _combos(g: dict[str, np.ndarray], params: type[StrategyParams]) -> list[StrategyParams]:
    """The parameter models of a grid of (C, 1) arrays (rows broadcast)."""
    n = max((np.shape(v)[0] for v in g.values() if np.ndim(v) == 2), default=1)
    out = []
    for c in range(n):
        values = {k: (v[min(c, v.shape[0] - 1), 0] if np.ndim(v) == 2 else v) for k, v in g.items()}
        values = {k: v.item() if hasattr(v, "item") else v for k, v in values.items()}
        out.append(params.model_validate(values))
    return out


class _Decider:
    """Calls ``decide`` for every event of one planning and turns answers into cells."""

    def __init__(self, name: str, decide: Callable, reasons: Mapping[str, str]) -> None:
        self.name, self.decide, self.reasons = name, decide, reasons

    def cell(self, ev: EventArrays, i: int, event: Event, market: EventMarket, p) -> _Cell:
        object.__setattr__(event, "_read_content", False)
        market.latest_read_ns, market.latest_read = np.iinfo(np.int64).min, ""
        answer = self.decide(event, market, p)
        if isinstance(answer, Skip):
            return self._skip(answer, event)
        if not isinstance(answer, Trade):
            raise StrategyError(
                f"strategy {self.name!r}, event {event.event_id}: decide returned "
                f"{type(answer).__name__}; return Trade(...) or Skip(reason)"
            )
        return self._trade(ev, i, answer, event, market)

    def _skip(self, skip: Skip, event: Event) -> _Cell:
        if skip.reason not in self.reasons and skip.reason not in REASONS[1:]:
            declared = ", ".join(sorted(self.reasons)) or "none"
            raise StrategyError(
                f"strategy {self.name!r}, event {event.event_id}: Skip reason {skip.reason!r} "
                f"is not declared (declared: {declared}); add it to reasons= of "
                "register_event_strategy"
            )
        detail = skip.detail or self.reasons.get(skip.reason) or DROP_DETAILS.get(skip.reason, "")
        return _Cell(reason=skip.reason, detail=detail)

    def _trade(self, ev: EventArrays, i: int, trade: Trade, event: Event, market) -> _Cell:
        if trade.side not in SIDES:
            raise StrategyError(
                f"strategy {self.name!r}, event {event.event_id}: Trade side must be "
                f"'long' or 'short', got {trade.side!r}"
            )
        r = int(ev.session_pos[i])
        entry, exit_ = trade.enter.tick(r), trade.exit.tick(r)
        if entry < 0 or exit_ >= len(ev.instants):
            return _Cell(reason="outside_calendar", detail=DROP_DETAILS["outside_calendar"])
        if market.latest_read_ns > ev.instants[entry]:
            raise LookAheadError(
                f"strategy {self.name!r}, event {event.event_id}: decides at its entry "
                f"{pd.Timestamp(ev.instants[entry], tz='UTC')} but read the "
                f"{market.latest_read} ({pd.Timestamp(market.latest_read_ns, tz='UTC')}); "
                "a decision may only read prices printed by its entry"
            )
        read_content = object.__getattribute__(event, "_read_content")
        info = ev.instants[ev.actionable_tick[i]] if read_content else ev.known_ns[i]
        info = max(int(info), int(market.latest_read_ns))
        if entry < ev.first_tick_at(np.array([info]))[0]:
            detail = DROP_DETAILS["entry_before_known_at"]
            return _Cell(reason="entry_before_known_at", detail=detail)
        return _Cell(entry, exit_, SIDES[trade.side], info)

    def plan(self, ev: EventArrays, view: MarketView, g: dict, params: type) -> Plan:
        combos = _combos(g, params)
        events = [Event(row) for row in ev.events.to_dict("records")]
        gap_pos = (ev.actionable_tick + 1) // 2
        markets = [
            EventMarket(view, e.ticker, int(ev.session_pos[i]), int(gap_pos[i]))
            for i, e in enumerate(events)
        ]
        shape = (len(combos), len(events))
        cells = [
            [
                self.cell(ev, i, e, m, p)
                for i, (e, m) in enumerate(zip(events, markets, strict=True))
            ]
            for p in combos
        ]
        return _plan(cells, shape)


def _plan(cells: list[list[_Cell]], shape: tuple[int, int]) -> Plan:
    def grid(field: str, dtype) -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        for c, row in enumerate(cells):
            out[c, :] = [getattr(cell, field) for cell in row]
        return out

    return Plan(
        grid("entry", np.int64),
        grid("exit", np.int64),
        grid("side", np.int64),
        grid("info", np.int64),
        grid("reason", object),
        details=grid("detail", object),
    )


def _check_reasons(name: str, reasons: Mapping[str, str]) -> dict[str, str]:
    for reason in reasons:
        if not isinstance(reason, str) or not REASON_NAME.match(reason):
            raise StrategyError(
                f"strategy {name!r}: reason {reason!r} must be lower_snake_case, 2-40 characters"
            )
        if reason in REASONS or reason in RESERVED_REASONS:
            raise StrategyError(
                f"strategy {name!r}: reason {reason!r} is a built-in drop reason; "
                "use it without declaring it, or choose another name"
            )
    return dict(reasons)


def register_event_strategy(
    name: str,
    params: type[StrategyParams],
    event_types: tuple[str, ...],
    reasons: Mapping[str, str] | None = None,
) -> Callable:
    """Decorator registering ``decide(event, market, params) -> Trade | Skip`` as a strategy.

    Parameters
    ----------
    name : str
        The name configs use (``strategies: - name: ...``).
    params : type of StrategyParams
        The parameter model (frozen, unknown keys rejected); sweeps vary its fields.
    event_types : tuple of str
        Event types the strategy decides on (``earnings``, ``news``, ``analyst``).
    reasons : mapping of str to str, optional
        The strategy's own drop reasons and what each means; a :class:`Skip`
        may use these or a built-in reason.

    Returns
    -------
    callable
        The decorator; it returns ``decide`` unchanged, so it can be called in tests.
    """
    declared = _check_reasons(name, reasons or {})

    def wrap(decide: Callable) -> Callable:
        decider = _Decider(name, decide, declared)

        def planner(ev: EventArrays, market: MarketView, g: dict) -> Plan:
            return decider.plan(ev, market, g, params)

        planner.__doc__ = decide.__doc__
        register_planner(name, params, event_types, decide, declared)(planner)
        return decide

    return wrap
