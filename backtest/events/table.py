"""Build the one event table every loader returns (schema in :mod:`backtest.core.schema`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import EventError
from backtest.core.schema import EVENT_COLUMNS, EVENT_TYPES, PAYLOAD_COLUMNS, TIMINGS
from backtest.core.sessions import classify_timing

__all__ = ["event_id", "make_event_table", "resolve_timing"]

OPTIONAL_COLUMNS = PAYLOAD_COLUMNS + ("known_at_basis",)


def resolve_timing(event_time: pd.Timestamp, given: str | None, cal: xcals.ExchangeCalendar) -> str:
    """Return the event's timing: from its clock time when it has one, else as given.

    A clock time that contradicts an explicit timing is an error, because one
    of the two is wrong and guessing would risk look-ahead.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> cal = get_calendar("XNYS")
    >>> resolve_timing(pd.Timestamp("2026-02-19 08:30", tz="America/New_York"), "bmo", cal)
    'bmo'
    >>> resolve_timing(pd.Timestamp("2026-02-19", tz="America/New_York"), None, cal)
    'unknown'
    """
    if given is not None and given not in TIMINGS:
        raise EventError(f"timing {given!r} is not one of {TIMINGS}")
    clock = classify_timing(event_time, cal)
    if clock == "unknown":
        return given or "unknown"
    if given not in (None, "unknown", clock):
        local = event_time.tz_convert(cal.tz)
        raise EventError(
            f"event at {local} ({cal.tz.key}) is {clock!r} by the clock but is "
            f"labelled {given!r}; fix the time or the timing"
        )
    return clock


def event_id(ticker: str, event_type: str, event_time: pd.Timestamp, tz: str) -> str:
    """Return a stable, readable id: ticker, type, local date and (if known) UTC time.

    Examples
    --------
    >>> event_id("BABA", "earnings", pd.Timestamp("2026-02-19", tz="America/New_York"),
    ...          "America/New_York")
    'BABA-earnings-2026-02-19'
    >>> event_id("BABA", "news", pd.Timestamp("2026-01-13 13:42:04", tz="UTC"), "America/New_York")
    'BABA-news-2026-01-13T134204Z'
    """
    local = event_time.tz_convert(tz)
    if local == local.normalize():
        return f"{ticker}-{event_type}-{local:%Y-%m-%d}"
    return f"{ticker}-{event_type}-{local:%Y-%m-%d}T{event_time.tz_convert('UTC'):%H%M%S}Z"


def _check_row(row: Mapping[str, object]) -> None:
    if row["event_type"] not in EVENT_TYPES:
        raise EventError(f"event_type {row['event_type']!r} is not one of {EVENT_TYPES}")
    if not isinstance(row["ticker"], str) or not row["ticker"]:
        raise EventError(f"ticker must be a non-empty string, got {row['ticker']!r}")
    if row["known_at"] > row["event_time"]:
        raise EventError(f"{row['event_id']}: known_at {row['known_at']} is after the event")


def make_event_table(
    rows: Iterable[Mapping[str, object]], cal: xcals.ExchangeCalendar
) -> pd.DataFrame:
    """Turn loader rows into the event table, with ids and UTC times.

    Each row needs ``ticker, event_type, event_time`` (tz-aware) and may carry
    ``timing``, ``known_at``, ``source`` and payload fields.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> t = pd.Timestamp("2026-02-19 08:30", tz="America/New_York")
    >>> table = make_event_table([{"ticker": "BABA", "event_type": "earnings", "event_time": t,
    ...                           "source": "demo"}], get_calendar("XNYS"))
    >>> table.loc[0, ["event_id", "timing"]].tolist()
    ['BABA-earnings-2026-02-19T133000Z', 'bmo']
    """
    records = []
    for raw in rows:
        row = dict(raw)
        row["event_time"] = pd.Timestamp(row["event_time"])
        row["timing"] = resolve_timing(row["event_time"], row.get("timing"), cal)
        row["event_time"] = row["event_time"].tz_convert("UTC")
        known = row.get("known_at")
        row["known_at"] = (
            row["event_time"]
            if known is None or pd.isna(known)
            else pd.Timestamp(known).tz_convert("UTC")
        )
        row["event_id"] = event_id(row["ticker"], row["event_type"], row["event_time"], cal.tz.key)
        row.setdefault("source", "unknown")
        _check_row(row)
        records.append(row)
    return _frame(records)


def _frame(records: list[dict[str, object]]) -> pd.DataFrame:
    extra = [c for c in OPTIONAL_COLUMNS if any(c in r for r in records)]
    frame = pd.DataFrame.from_records(records, columns=list(EVENT_COLUMNS) + extra)
    for col in ("event_time", "known_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame
