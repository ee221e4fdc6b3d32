"""Vectorized strategy planning: events x parameter combinations -> ticks and sides.

A strategy's timing logic is written once, over arrays, in :class:`Plan` terms:
global ticks ``2 * session_position + (0 open | 1 close)`` on the exchange
calendar. A single run plans one combination and turns it into the signal
table (:func:`plan_to_signals`); a sweep plans every combination at once and
hands the ticks to :mod:`backtest.kernel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from backtest.events.align import drop_rows
from backtest.schema import SIGNAL_COLUMNS, empty_drops

__all__ = [
    "EventArrays",
    "Plan",
    "event_arrays",
    "hold_exit_tick",
    "plan_to_signals",
    "tick_instants",
]

KEEP = ""


def tick_instants(cal: xcals.ExchangeCalendar) -> np.ndarray:
    """UTC instants (int64 ns) of every global tick: open and close of every session."""
    out = np.empty(2 * len(cal.sessions), dtype=np.int64)
    out[0::2] = _ns(cal.opens)
    out[1::2] = _ns(cal.closes)
    return out


def _ns(stamps: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(pd.to_datetime(stamps, utc=True)).as_unit("ns").asi8


def hold_exit_tick(
    entry_tick: np.ndarray, hold_sessions: np.ndarray, exit_at: np.ndarray
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
    """
    entry_close = entry_tick % 2 == 1
    at_close = exit_at == "close"
    return entry_tick + 2 * hold_sessions - (entry_close != at_close)


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

    def column(self, name: str, default: float = np.nan) -> np.ndarray:
        """A payload column as floats (``default`` where absent)."""
        if name not in self.events.columns:
            return np.full(len(self.events), default)
        # A copy: strategies fill gaps in place, and pandas copy-on-write hands out read-only views.
        return pd.to_numeric(self.events[name], errors="coerce").to_numpy(dtype=float, copy=True)


def event_arrays(events: pd.DataFrame, cal: xcals.ExchangeCalendar) -> EventArrays:
    """Index aligned events on the calendar's tick axis."""
    pos = cal.sessions.get_indexer(pd.DatetimeIndex(events["session"]))
    at = (events["fill_at"] == "close").to_numpy(dtype=int)
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

    ``drop`` holds a reason code per trade ("" = trade), ``info_ns`` the
    publication instant of the latest information each decision used.
    """

    entry_tick: np.ndarray
    exit_tick: np.ndarray
    side: np.ndarray
    info_ns: np.ndarray
    drop: np.ndarray

    def keep(self) -> np.ndarray:
        """Mask of planned trades."""
        return self.drop == KEEP


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
    reasons = plan.drop[row]
    parts = [empty_drops()]
    for reason in sorted(set(reasons) - {KEEP}):
        mask = reasons == reason
        parts.append(drop_rows(ev.events[mask], strategy, reason, DROP_DETAILS.get(reason, reason)))
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
