"""Vectorized strategy planning: events x parameter combinations -> ticks and sides.

A strategy's timing logic is written once, over arrays, in :class:`Plan` terms:
global ticks ``2 * session_position + (0 open | 1 close)`` on the exchange
calendar. A single run plans one combination and turns it into the signal
table (:func:`plan_to_signals`); a sweep plans every combination at once and
hands the ticks to :mod:`backtest.engine.kernel`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from backtest.core.schema import SIGNAL_COLUMNS, empty_drops
from backtest.events.align import drop_rows

__all__ = [
    "KEEP",
    "Drop",
    "EventArrays",
    "Plan",
    "choose",
    "drop_codes",
    "event_arrays",
    "hold_exit_tick",
    "plan_to_signals",
    "session_tick",
    "tick_instants",
]

KEEP = ""  # the "trade" reason of plans written with string drop arrays (e.g. user plugins)


class Drop(enum.IntEnum):
    """Why a planned (combination, event) does not trade; ``KEEP`` (0) means it trades.

    Built-in planners hold these as int8 codes: a sweep compares millions of
    cells, and strings there cost most of its time and memory
    (benchmarks/RESULTS.md). Outputs carry :attr:`reason`, the lower-case name.
    """

    KEEP = 0
    ENTRY_BEFORE_KNOWN_AT = 1
    NO_SURPRISE = 2
    NO_DIRECTION = 3
    OUTSIDE_CALENDAR = 4
    BELOW_THRESHOLD = 5
    MIDDLE_BUCKET = 6

    @property
    def reason(self) -> str:
        """The reason string of drop tables ("" for KEEP).

        Examples
        --------
        >>> Drop.OUTSIDE_CALENDAR.reason
        'outside_calendar'
        """
        return "" if self is Drop.KEEP else self.name.lower()


REASONS = tuple(d.reason for d in Drop)


def drop_codes(*rules: tuple[np.ndarray, Drop], default: np.ndarray | None = None) -> np.ndarray:
    """Drop codes from ``(condition, reason)`` rules; the first true condition wins.

    Conditions broadcast against each other (e.g. (combinations, 1) with (1, events));
    the result has their common shape, int8: ``default`` (codes decided earlier)
    where no condition holds, else ``Drop.KEEP``.

    Examples
    --------
    >>> late = np.array([[True, False, False]])
    >>> outside = np.array([[True], [False]])
    >>> drop_codes((outside, Drop.OUTSIDE_CALENDAR), (late, Drop.ENTRY_BEFORE_KNOWN_AT)).tolist()
    [[4, 4, 4], [1, 0, 0]]
    >>> drop_codes((outside, Drop.OUTSIDE_CALENDAR), default=np.array([[0, 3, 0]])).tolist()
    [[4, 4, 4], [0, 3, 0]]
    """
    shapes = [np.shape(c) for c, _ in rules] + ([np.shape(default)] if default is not None else [])
    out = np.zeros(np.broadcast_shapes(*shapes), dtype=np.int8)
    if default is not None:
        np.copyto(out, default, casting="same_kind")
    for condition, reason in reversed(rules):  # earlier rules overwrite later ones
        np.copyto(out, np.int8(reason), where=condition)
    return out


def choose(condition: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.where(condition, a, b)``, but ``a`` or ``b`` unbroadcast when ``condition`` is uniform.

    The usual sweep gives every combination the same side or mode; returning the
    (1, events) operand then saves a (combinations, events) array.

    Examples
    --------
    >>> choose(np.array([[True], [True]]), np.array([[1, 2]]), np.array([[0, 0]])).tolist()
    [[1, 2]]
    >>> choose(np.array([[True], [False]]), np.array([[1, 2]]), np.array([[0, 0]])).tolist()
    [[1, 2], [0, 0]]
    """
    condition = np.asarray(condition)
    if condition.all():
        return np.asarray(a)
    if not condition.any():
        return np.asarray(b)
    return np.where(condition, a, b)


def tick_instants(cal: xcals.ExchangeCalendar) -> np.ndarray:
    """UTC instants (int64 ns) of every global tick: open and close of every session."""
    out = np.empty(2 * len(cal.sessions), dtype=np.int64)
    out[0::2] = _ns(cal.opens)
    out[1::2] = _ns(cal.closes)
    return out


def _ns(stamps: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(pd.to_datetime(stamps, utc=True)).as_unit("ns").asi8


def session_tick(pos: np.ndarray, offset: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Tick of the open or close (``at``) of the session ``offset`` sessions after ``pos``.

    The per-combination part is summed first, so a (1, events) ``pos`` and
    (combinations, 1) ``offset`` and ``at`` cost one full-size addition.

    Examples
    --------
    >>> session_tick(np.array([[5, 8]]), np.array([[-1], [2]]), np.array([["close"], ["open"]])).tolist()
    [[9, 15], [14, 20]]
    """
    return 2 * pos + (2 * np.asarray(offset) + (np.asarray(at) == "close"))


def hold_exit_tick(
    entry_tick: np.ndarray,
    hold_sessions: np.ndarray,
    exit_at: np.ndarray,
    entry_at: np.ndarray | None = None,
) -> np.ndarray:
    """Exit tick ``hold_sessions`` sessions after an entry tick, at ``exit_at``.

    ============  ===========  =============================================
    entry         exit_at      exit
    ============  ===========  =============================================
    open of S     close        close of S + h - 1 (h = 1: the same day)
    open of S     open         open of S + h
    close of S    close        close of S + h
    close of S    open         open of S + h
    ============  ===========  =============================================

    Examples
    --------
    >>> int(hold_exit_tick(np.array(10), np.array(1), np.array("close")))  # open 5 -> close 5
    11
    >>> int(hold_exit_tick(np.array(11), np.array(1), np.array("close")))  # close 5 -> close 6
    13
    >>> int(hold_exit_tick(np.array(10), np.array(1), np.array("close"), np.array("open")))
    11

    ``entry_at`` (``"open"``/``"close"``), when the caller knows it, saves
    reading each entry tick's parity: the shift is then computed per
    combination and added once.
    """
    if entry_at is None:
        entry_close = entry_tick & 1
    else:
        entry_close = np.asarray(entry_at) == "close"
    at_close = np.asarray(exit_at) == "close"
    return entry_tick + (2 * np.asarray(hold_sessions) - (entry_close != at_close))


@dataclass(frozen=True)
class EventArrays:
    """Aligned events as arrays on the calendar's global tick axis."""

    events: pd.DataFrame
    cal: xcals.ExchangeCalendar
    instants: np.ndarray
    session_pos: np.ndarray
    actionable_tick: np.ndarray
    known_ns: np.ndarray
    published_ns: np.ndarray

    def first_tick_at(self, ns: np.ndarray) -> np.ndarray:
        """First tick whose instant is at or after ``ns``: entering before it precedes ``ns``.

        Examples
        --------
        >>> ev = EventArrays(None, None, np.array([10, 20, 30]), None, None, None, None)
        >>> ev.first_tick_at(np.array([5, 20, 21, 99])).tolist()
        [0, 1, 2, 3]
        """
        return np.searchsorted(self.instants, ns, side="left")

    def column(self, name: str, default: float = np.nan) -> np.ndarray:
        """A payload column as floats (``default`` where absent)."""
        if name not in self.events.columns:
            return np.full(len(self.events), default)
        # A copy: strategies fill gaps in place, and pandas copy-on-write hands out read-only views.
        return pd.to_numeric(self.events[name], errors="coerce").to_numpy(dtype=float, copy=True)


def event_arrays(events: pd.DataFrame, cal: xcals.ExchangeCalendar) -> EventArrays:
    """Index aligned events on the calendar's tick axis."""
    # int32 ticks: sweeps do most of their arithmetic on (combinations, events) tick arrays.
    pos = cal.sessions.get_indexer(pd.DatetimeIndex(events["session"])).astype(np.int32)
    at = (events["fill_at"] == "close").to_numpy(dtype=np.int32)
    return EventArrays(
        events.reset_index(drop=True),
        cal,
        tick_instants(cal),
        pos,
        2 * pos + at,
        _ns(events["known_at"]),
        _ns(events["event_time"]),
    )


@dataclass(frozen=True)
class Plan:
    """One strategy's plan: arrays shaped (combinations, events).

    ``drop`` holds a :class:`Drop` code per trade (``Drop.KEEP`` = trade),
    ``info_ns`` the publication instant of the latest information each
    decision used. ``reasons[code]`` is a code's reason string. A plan may
    also be given string reasons (``KEEP`` = "" to trade, any other string a
    reason of the plugin's own); they are turned into codes here. ``details``
    (optional, same shape, strings) is each drop's detail for drops.csv; without
    it a reason's detail is its entry in :data:`DROP_DETAILS` (or the reason).

    Examples
    --------
    >>> p = Plan(*[np.zeros((1, 3), int)] * 4, np.array([["", "mine", "outside_calendar"]]))
    >>> p.drop.tolist(), [p.reasons[c] for c in p.drop[0]]
    ([[0, 7, 4]], ['', 'mine', 'outside_calendar'])
    """

    entry_tick: np.ndarray
    exit_tick: np.ndarray
    side: np.ndarray
    info_ns: np.ndarray
    drop: np.ndarray
    reasons: tuple[str, ...] = REASONS
    details: np.ndarray | None = None

    def __post_init__(self) -> None:
        if np.asarray(self.drop).dtype.kind in "USO":
            codes, reasons = _encode(np.asarray(self.drop), self.reasons)
            object.__setattr__(self, "drop", codes)
            object.__setattr__(self, "reasons", reasons)

    def keep(self) -> np.ndarray:
        """Mask of planned trades."""
        return self.drop == Drop.KEEP


def _encode(drop: np.ndarray, known: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """String reasons as codes into ``known`` plus any new reasons (sorted) after it."""
    names, inverse = np.unique(drop.astype(str), return_inverse=True)
    table = known + tuple(sorted(set(names.tolist()) - set(known)))
    lookup = np.array([table.index(n) for n in names.tolist()], dtype=np.int16)
    return lookup[inverse].reshape(drop.shape), table


def _session_and_at(ticks: np.ndarray, cal: xcals.ExchangeCalendar) -> tuple:
    return pd.DatetimeIndex(cal.sessions[ticks // 2]), np.where(ticks % 2 == 1, "close", "open")


def plan_to_signals(
    ev: EventArrays,
    plan: Plan,
    strategy: str,
    row: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn row ``row`` of a plan into the signal table and the drop table."""
    keep = plan.keep()[row]
    kept = ev.events[keep]
    entry, exit_ = plan.entry_tick[row][keep], plan.exit_tick[row][keep]
    entry_s, entry_at = _session_and_at(entry, ev.cal)
    exit_s, exit_at = _session_and_at(exit_, ev.cal)
    signals = pd.DataFrame(
        {
            "strategy": strategy,
            "event_id": kept["event_id"].to_numpy(),
            "ticker": kept["ticker"].to_numpy(),
            "side": plan.side[row][keep].astype(int),
            "decision_time": pd.to_datetime(ev.instants[entry], utc=True),
            "info_time": pd.to_datetime(plan.info_ns[row][keep], utc=True),
            "entry_session": entry_s,
            "entry_at": entry_at,
            "exit_session": exit_s,
            "exit_at": exit_at,
        },
        columns=list(SIGNAL_COLUMNS),
    )
    return signals, _drops(ev, plan, strategy, row)


def _drops(ev: EventArrays, plan: Plan, strategy: str, row: int) -> pd.DataFrame:
    codes = plan.drop[row]
    parts = [empty_drops()]
    present = set(np.unique(codes).tolist()) - {Drop.KEEP}
    for code in sorted(present, key=lambda c: plan.reasons[c]):
        reason = plan.reasons[code]
        mask = codes == code
        detail = DROP_DETAILS.get(reason, reason)
        if plan.details is not None:
            detail = pd.Series(plan.details[row][mask], index=ev.events.index[mask])
        parts.append(drop_rows(ev.events[mask], strategy, reason, detail))
    return pd.concat(parts, ignore_index=True)


DROP_DETAILS = {
    "entry_before_known_at": "the entry precedes the time the event's date was public",
    "no_surprise": "no EPS surprise (actual vs estimate) for side: surprise",
    "no_direction": "direction unknown, zero or below the minimum move",
    "outside_calendar": "the holding window leaves the exchange calendar",
    # Filters the user configured (not data loss, so not counted by events.max_drop_pct):
    "below_threshold": "the signal (gap, target change) is smaller than the configured minimum",
    "middle_bucket": "EPS surprise between the short and the long bucket thresholds",
}
