"""Parse event timestamps as users and articles write them, never guessing a time zone."""

from __future__ import annotations

import datetime as dt
import re

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import EventError

__all__ = ["parse_event_time"]

# European article stamps ("13.01.2026 - 14:42:04"), then ISO 8601.
_EU_STAMP = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s*-?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _from_eu_stamp(match: re.Match[str]) -> pd.Timestamp:
    day, month, year, hour, minute, second = match.groups()
    return pd.Timestamp(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
    )


def _localize(stamp: pd.Timestamp, tz: str, raw: object) -> pd.Timestamp:
    try:
        return stamp.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # pytz/zoneinfo raise several types for the DST gaps
        raise EventError(
            f"event time {raw!r} does not exist or is ambiguous in {tz} "
            "(daylight-saving change); give it with a UTC offset"
        ) from exc


def parse_event_time(value: object, tz: str | None, cal: xcals.ExchangeCalendar) -> pd.Timestamp:
    """Return a tz-aware timestamp for an event time written by a user.

    A bare date means "this date, time unknown" and becomes midnight in the
    exchange's time zone. A clock time needs a time zone: either inside the
    value (an ISO offset) or in ``tz``; a naive clock time without one is an
    error, because assuming UTC silently would shift events by hours.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> cal = get_calendar("XNYS")
    >>> str(parse_event_time("13.01.2026 - 14:42:04", "Europe/Berlin", cal))
    '2026-01-13 14:42:04+01:00'
    >>> str(parse_event_time("2026-02-19", None, cal))
    '2026-02-19 00:00:00-05:00'
    >>> parse_event_time("2026-01-13 14:42", None, cal)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    backtest.core.errors.EventError: event time '2026-01-13 14:42' has a clock time but no time zone; ...
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return pd.Timestamp(value).tz_localize(cal.tz)
    text = str(value).strip()
    if _DATE_ONLY.match(text):
        return pd.Timestamp(text).tz_localize(cal.tz)
    match = _EU_STAMP.match(text)
    try:
        stamp = _from_eu_stamp(match) if match else pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise EventError(
            f"cannot read event time {value!r}; use ISO 8601 "
            "(2026-01-13T14:42:04+01:00) or DD.MM.YYYY HH:MM:SS"
        ) from exc
    if stamp.tzinfo is not None:
        return stamp
    if match and not match.group(4):
        return stamp.tz_localize(cal.tz)
    if tz is None:
        raise EventError(
            f"event time {value!r} has a clock time but no time zone; "
            "add timezone: (e.g. America/New_York) or a UTC offset"
        )
    return _localize(stamp, tz, value)
