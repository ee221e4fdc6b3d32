"""Exchange sessions and the knowledge-time rule: when can an event be traded?

The rule, in one place (:func:`align_to_session`), for daily bars:

======================  ===========================================  ===========
timing of the event     first fill                                   rule id
======================  ===========================================  ===========
bmo (before the open)   open of the event date if it is a session    ``bmo``
intraday                open of the next session (default), or the   ``intraday``
                        close of the same session if configured
amc (at/after close)    open of the next session                     ``amc``
unknown / date only     open of the next session (as after-close),   ``unknown``
                        or, with ``unknown_timing="before_open"``,
                        the open of the event date (as bmo)
any, on a non-session   open of the next session                     ``closed``
======================  ===========================================  ===========

``unknown_timing="after_close"`` (the default) is conservative: a report
whose hour is not known is traded only once it has certainly come out.
``"before_open"`` is optimistic: it assumes the report came out before the
open, so a trade at that open may use a report that was in fact published
later that day (after the close, as most US earnings are), which is look-ahead
the data cannot reveal. Use it only when the source's date-only rows are
known to be pre-market.

An event stamped exactly at the open (09:30:00 New York) is *intraday*: the
opening auction prints at that instant, so nobody could have traded on it
there. An event exactly at the close (16:00:00, or 13:00:00 on a half-day) is
*after close* for the same reason. Times are compared in the exchange's time
zone, so daylight-saving changes need no special case.

Sessions are tz-naive midnight dates, as ``exchange_calendars`` labels them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

from backtest.core.calendar_cache import cached_calendar
from backtest.core.errors import EventError

__all__ = [
    "Alignment",
    "align_to_session",
    "classify_timing",
    "get_calendar",
    "session_instant",
    "shift_session",
]

CALENDAR_START = "1990-01-02"
INTRADAY_FILLS = ("next_open", "same_close")
UNKNOWN_TIMINGS = ("after_close", "before_open")


@dataclass(frozen=True)
class Alignment:
    """Where an event first becomes tradable.

    Attributes
    ----------
    session : pandas.Timestamp
        The session (tz-naive date).
    fill_at : str
        ``"open"`` or ``"close"`` of that session.
    rule : str
        Short explanation, e.g. ``"amc -> next open"``.
    """

    session: pd.Timestamp
    fill_at: str
    rule: str


@lru_cache(maxsize=8)
def get_calendar(name: str = "XNYS") -> xcals.ExchangeCalendar:
    """Return the exchange calendar ``name`` covering 1990 to next year.

    Built once per day and cached on disk (:mod:`backtest.core.calendar_cache`).

    Examples
    --------
    >>> get_calendar("XNYS").tz.key
    'America/New_York'
    """
    end = (pd.Timestamp.today().normalize() + pd.DateOffset(years=1)).strftime("%Y-%m-%d")
    try:
        return cached_calendar(
            name,
            CALENDAR_START,
            end,
            lambda: xcals.get_calendar(name, start=CALENDAR_START, end=end),
        )
    except xcals.errors.InvalidCalendarName as exc:
        raise EventError(
            f"unknown exchange calendar {name!r}; use an ISO MIC such as XNYS"
        ) from exc


def _local(event_time: pd.Timestamp, cal: xcals.ExchangeCalendar) -> pd.Timestamp:
    if event_time.tzinfo is None:
        raise EventError(f"event time {event_time} has no time zone; give one (e.g. +01:00)")
    return event_time.tz_convert(cal.tz)


def _open_close_local(cal: xcals.ExchangeCalendar, day: pd.Timestamp) -> tuple[pd.Timestamp, ...]:
    """Open and close of ``day`` in exchange time; regular hours if not a session."""
    if cal.is_session(day):
        return (cal.session_open(day).tz_convert(cal.tz), cal.session_close(day).tz_convert(cal.tz))
    opens = pd.Timestamp.combine(day.date(), cal.open_times[0][1]).tz_localize(cal.tz)
    closes = pd.Timestamp.combine(day.date(), cal.close_times[0][1]).tz_localize(cal.tz)
    return opens, closes


def classify_timing(event_time: pd.Timestamp, cal: xcals.ExchangeCalendar) -> str:
    """Classify a timestamped event as bmo, intraday or amc in exchange time.

    Midnight exactly (exchange time) means "date only" and gives ``unknown``.

    Examples
    --------
    >>> cal = get_calendar("XNYS")
    >>> classify_timing(pd.Timestamp("2026-01-13 14:42:04", tz="Europe/Berlin"), cal)
    'bmo'
    >>> classify_timing(pd.Timestamp("2026-01-13 09:30", tz="America/New_York"), cal)
    'intraday'
    >>> classify_timing(pd.Timestamp("2026-01-13 16:00", tz="America/New_York"), cal)
    'amc'
    """
    local = _local(event_time, cal)
    if local == local.normalize():
        return "unknown"
    open_, close = _open_close_local(cal, local.normalize().tz_localize(None))
    if local < open_:
        return "bmo"
    return "intraday" if local < close else "amc"


def _next_session(cal: xcals.ExchangeCalendar, day: pd.Timestamp) -> pd.Timestamp:
    return cal.date_to_session(day + pd.Timedelta(days=1), direction="next")


def align_to_session(
    event_time: pd.Timestamp,
    timing: str,
    cal: xcals.ExchangeCalendar,
    intraday_fill: str = "next_open",
    unknown_timing: str = "after_close",
) -> Alignment:
    """Return the first session and price point at which an event can be traded.

    Parameters
    ----------
    event_time : pandas.Timestamp
        Publication instant, tz-aware. For a date-only event, midnight
        exchange time of its date.
    timing : {"bmo", "intraday", "amc", "unknown"}
        When on its date the event came out, relative to the session.
    cal : exchange_calendars.ExchangeCalendar
        The listing's exchange calendar.
    intraday_fill : {"next_open", "same_close"}
        Where an intraday event fills.
    unknown_timing : {"after_close", "before_open"}
        What an ``unknown`` timing is taken to mean: after the close (the
        conservative default: the next session's open) or before the open
        (optimistic: the event date's open, as for ``bmo``).

    Returns
    -------
    Alignment

    Raises
    ------
    EventError
        On a naive ``event_time``, a date outside the calendar, or an
        unknown ``timing``, ``intraday_fill`` or ``unknown_timing``.

    Examples
    --------
    >>> cal = get_calendar("XNYS")
    >>> a = align_to_session(pd.Timestamp("2026-02-19", tz="America/New_York"), "bmo", cal)
    >>> (str(a.session.date()), a.fill_at)
    ('2026-02-19', 'open')
    >>> a = align_to_session(pd.Timestamp("2026-02-19", tz="America/New_York"), "amc", cal)
    >>> (str(a.session.date()), a.fill_at, a.rule)
    ('2026-02-20', 'open', 'amc -> next open')
    >>> a = align_to_session(pd.Timestamp("2026-02-19", tz="America/New_York"), "unknown", cal,
    ...                      unknown_timing="before_open")
    >>> (str(a.session.date()), a.fill_at, a.rule)
    ('2026-02-19', 'open', 'unknown as before_open -> same open')
    """
    _check_choice("intraday_fill", intraday_fill, INTRADAY_FILLS)
    _check_choice("unknown_timing", unknown_timing, UNKNOWN_TIMINGS)
    day = _local(event_time, cal).normalize().tz_localize(None)
    if day > cal.last_session or day < cal.first_session:
        raise EventError(f"event date {day.date()} is outside the {cal.name} calendar")
    if not cal.is_session(day):
        return Alignment(_next_session(cal, day), "open", "closed day -> next open")
    if timing == "bmo":
        return Alignment(day, "open", "bmo -> same open")
    if timing == "unknown" and unknown_timing == "before_open":
        return Alignment(day, "open", "unknown as before_open -> same open")
    if timing == "intraday" and intraday_fill == "same_close":
        return Alignment(day, "close", "intraday -> same close")
    if timing in ("intraday", "amc", "unknown"):
        return Alignment(_next_session(cal, day), "open", f"{timing} -> next open")
    raise EventError(f"unknown timing {timing!r}; expected one of bmo, intraday, amc, unknown")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise EventError(f"{name} must be one of {allowed}, got {value!r}")


def session_instant(
    cal: xcals.ExchangeCalendar, session: pd.Timestamp, fill_at: str
) -> pd.Timestamp:
    """Return the UTC instant of a session's open or close.

    Examples
    --------
    >>> cal = get_calendar("XNYS")
    >>> str(session_instant(cal, pd.Timestamp("2025-11-28"), "close"))  # half-day
    '2025-11-28 18:00:00+00:00'
    """
    if fill_at == "open":
        return cal.session_open(session)
    return cal.session_close(session)


def shift_session(cal: xcals.ExchangeCalendar, session: pd.Timestamp, n: int) -> pd.Timestamp:
    """Return the session ``n`` sessions after (n > 0) or before (n < 0) ``session``.

    Raises
    ------
    EventError
        When the shift leaves the calendar.

    Examples
    --------
    >>> cal = get_calendar("XNYS")
    >>> str(shift_session(cal, pd.Timestamp("2025-12-24"), 1).date())  # skips Christmas
    '2025-12-26'
    """
    sessions = cal.sessions
    pos = sessions.get_loc(session) + n
    if pos < 0 or pos >= len(sessions):
        raise EventError(f"{n:+d} sessions from {session.date()} is outside the calendar")
    return sessions[pos]
