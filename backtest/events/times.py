"""Parse event timestamps as users and articles write them, never guessing a time zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import EventError

__all__ = ["FORMATS", "check_zone", "parse_event_time"]

# European article stamps ("13.01.2026 - 14:42:04"), then ISO 8601.
_EU_STAMP = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s*-?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d")
_SLASHED = re.compile(r"^\d{1,4}/\d{1,2}/\d{1,4}")
FORMATS = (
    "ISO 8601 (2026-01-13 or 2026-01-13T14:42:04+01:00) or DD.MM.YYYY [HH:MM[:SS]], "
    "or state the source's format with date_format: (e.g. '%d/%m/%Y')"
)
# Events outside these years cannot be traded on any calendar the project builds.
FIRST_YEAR, LAST_YEAR = 1900, 2100


def check_zone(tz: str) -> str:
    """Return ``tz`` if it names an IANA time zone, else raise EventError saying it is unknown.

    Examples
    --------
    >>> check_zone("Europe/Berlin")
    'Europe/Berlin'
    >>> check_zone("Mars/Olympus")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    backtest.core.errors.EventError: unknown time zone 'Mars/Olympus'; use an IANA name ...
    """
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise EventError(
            f"unknown time zone {tz!r}; use an IANA name such as America/New_York, "
            "Europe/Berlin or UTC"
        ) from None
    return str(tz)


def _from_eu_stamp(match: re.Match[str]) -> pd.Timestamp:
    day, month, year, hour, minute, second = match.groups()
    return pd.Timestamp(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
    )


def _localize(stamp: pd.Timestamp, tz: str, raw: object) -> pd.Timestamp:
    check_zone(tz)
    try:
        return stamp.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # pytz/zoneinfo raise several types for the DST gaps
        raise EventError(
            f"event time {raw!r} does not exist or is ambiguous in {tz} "
            "(daylight-saving change); give it with a UTC offset"
        ) from exc


def parse_event_time(
    value: object, tz: str | None, cal: xcals.ExchangeCalendar, date_format: str | None = None
) -> pd.Timestamp:
    """Return a tz-aware timestamp for an event time written by a user.

    ``date_format`` (a :func:`datetime.datetime.strptime` format such as
    ``%d/%m/%Y %H:%M``, from a source's ``date_format:`` key) reads every value of
    that source by the format the user stated, so a slashed date is no longer
    ambiguous; without it, slashed dates are refused.

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
    >>> str(parse_event_time("01/02/2026", None, cal, date_format="%d/%m/%Y"))
    '2026-02-01 00:00:00-05:00'
    """
    if date_format is not None and not isinstance(value, dt.date):
        return _in_range(_parse_with_format(str(value).strip(), date_format, tz, cal), value)
    return _in_range(_parse(value, tz, cal), value)


def _parse_with_format(
    text: str, date_format: str, tz: str | None, cal: xcals.ExchangeCalendar
) -> pd.Timestamp:
    try:
        parsed = dt.datetime.strptime(text, date_format)
    except ValueError as exc:
        raise EventError(f"event time {text!r} does not match date_format {date_format!r}") from exc
    stamp = pd.Timestamp(parsed)
    if stamp.tzinfo is not None:
        return stamp
    has_clock = any(code in date_format for code in ("%H", "%I", "%M", "%S", "%X", "%c"))
    if not has_clock:
        return stamp.tz_localize(cal.tz)  # a date: that day, time unknown
    if tz is None:
        raise EventError(
            f"event time {text!r} has a clock time but no time zone; "
            "add timezone: (e.g. America/New_York) or %z in date_format"
        )
    return _localize(stamp, tz, text)


def _parse(value: object, tz: str | None, cal: xcals.ExchangeCalendar) -> pd.Timestamp:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        _in_range(pd.Timestamp(value.year, 1, 1), value)
        return pd.Timestamp(value).tz_localize(cal.tz)
    text = str(value).strip()
    if _SLASHED.match(text):
        raise EventError(
            f"event time {value!r} is ambiguous (is 01/02/2026 1 February or 2 January?); "
            f"write it as {FORMATS}"
        )
    if _DATE_ONLY.match(text):
        return _stamp(text, value).tz_localize(cal.tz)
    match = _EU_STAMP.match(text)
    if not (match or isinstance(value, dt.datetime) or _ISO_START.match(text)):
        raise EventError(f"cannot read event time {value!r}; use {FORMATS}")
    try:
        stamp = _from_eu_stamp(match) if match else _stamp(value, value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise EventError(f"cannot read event time {value!r}; use {FORMATS}") from exc
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


def _stamp(value: object, raw: object) -> pd.Timestamp:
    try:
        return _in_range(pd.Timestamp(value), raw)
    except (ValueError, OverflowError) as exc:  # OutOfBoundsDatetime is a ValueError
        raise EventError(f"cannot read event time {raw!r}; use {FORMATS}") from exc


def _in_range(stamp: pd.Timestamp, raw: object) -> pd.Timestamp:
    if not FIRST_YEAR <= stamp.year <= LAST_YEAR:
        raise EventError(
            f"event time {raw!r} is outside the years {FIRST_YEAR} to {LAST_YEAR} that any "
            "calendar covers; check the year"
        )
    return stamp
