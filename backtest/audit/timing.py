"""Event-time checks: publication moved late within its window, and hour-only stamps.

Moving an event to the last instant before its aligned session keeps the
session it trades in. A strategy whose decisions then change (or that now
decides before the information exists) depended on the event being known
earlier than the alignment rule guarantees.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from backtest.audit.decisions import FAR_FUTURE, Decisions, decide
from backtest.audit.future import FINDING_COLUMNS, _compare
from backtest.config.model import LoadedConfig
from backtest.core.sessions import classify_timing
from backtest.run.pipeline import align
from backtest.run.runner import RunInputs

__all__ = ["HOUR_FLAG_COLUMNS", "hour_only_flags", "late_publication", "publish_late"]

HOUR_FLAG_COLUMNS = ["event_id", "ticker", "local_time", "near", "minutes"]
LAST_MOMENT = pd.Timedelta(seconds=1)


def publish_late(events: pd.DataFrame, aligned: pd.DataFrame, cal) -> pd.DataFrame:
    """Events re-stamped one second before their aligned open or close.

    Events that did not align (dropped) are left as they are.
    """
    late = aligned.set_index("event_id")["actionable_at"] - LAST_MOMENT
    when = events["event_id"].map(late)
    moved = events.assign(event_time=when.fillna(events["event_time"]))
    moved["timing"] = [
        classify_timing(t, cal) if m else old
        for t, m, old in zip(moved["event_time"], when.notna(), events["timing"], strict=True)
    ]
    moved["known_at"] = moved[["known_at", "event_time"]].min(axis=1)
    return moved


def late_publication(loaded: LoadedConfig, inputs: RunInputs, base: Decisions) -> pd.DataFrame:
    """Decisions that change when every event is published as late as its session allows."""
    aligned, _ = align(loaded, inputs.events, inputs.prices, inputs.cal, FAR_FUTURE)
    moved = replace(inputs, events=publish_late(inputs.events, aligned, inputs.cal))
    found = _compare(base, decide(loaded, moved), "published_late", pd.NaT, lambda s: s)
    frame = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    return frame.reindex(columns=FINDING_COLUMNS)


def _minutes_to(local: pd.Timestamp, cal, which: str) -> float:
    day = local.normalize().tz_localize(None)
    if not cal.is_session(day):
        return float("inf")
    edge = cal.session_open(day) if which == "open" else cal.session_close(day)
    return abs((local - edge).total_seconds()) / 60.0


def hour_only_flags(events: pd.DataFrame, cal) -> pd.DataFrame:
    """Events stamped on a whole hour within 60 minutes of the open or close.

    A whole-hour stamp (as Yahoo gives earnings times) may stand for any
    minute of that hour, so 09:00 may really be after the 09:30 open.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> ev = pd.DataFrame({"event_id": ["a", "b"], "ticker": ["X", "X"],
    ...     "event_time": pd.to_datetime(["2026-02-19 14:00", "2026-02-19 12:00"], utc=True)})
    >>> hour_only_flags(ev, get_calendar("XNYS"))[["event_id", "near", "minutes"]].values.tolist()
    [['a', 'open', 30.0]]
    """
    rows = []
    for ev in events.itertuples(index=False):
        local = ev.event_time.tz_convert(cal.tz)
        if local != local.floor("h") or local == local.normalize():
            continue
        near = min(("open", "close"), key=lambda w: _minutes_to(local, cal, w))
        minutes = _minutes_to(local, cal, near)
        if minutes <= 60:
            rows.append([ev.event_id, ev.ticker, f"{local:%Y-%m-%d %H:%M %Z}", near, minutes])
    return pd.DataFrame(rows, columns=HOUR_FLAG_COLUMNS)
