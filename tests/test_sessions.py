"""The knowledge-time rule, case by case (RELIABILITY I3, I5, I8; E1, E4)."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.core.errors import EventError
from backtest.core.sessions import align_to_session, get_calendar, session_instant, shift_session
from backtest.events.table import resolve_timing

CAL = get_calendar("XNYS")
NY = "America/New_York"

# (case, event time, timezone, timing given (None = from the clock), intraday_fill,
#  expected session, expected fill point, expected instant of the fill in UTC)
CASES = [
    (
        "bmo on a session",
        "2026-02-19 08:30",
        NY,
        None,
        "next_open",
        "2026-02-19",
        "open",
        "2026-02-19 14:30",
    ),
    (
        "one second before the open",
        "2026-02-19 09:29:59",
        NY,
        None,
        "next_open",
        "2026-02-19",
        "open",
        "2026-02-19 14:30",
    ),
    (
        "exactly at the open is intraday",
        "2026-02-19 09:30:00",
        NY,
        None,
        "next_open",
        "2026-02-20",
        "open",
        "2026-02-20 14:30",
    ),
    (
        "exactly at the open, same close",
        "2026-02-19 09:30:00",
        NY,
        None,
        "same_close",
        "2026-02-19",
        "close",
        "2026-02-19 21:00",
    ),
    (
        "intraday -> next open",
        "2026-02-19 12:00",
        NY,
        None,
        "next_open",
        "2026-02-20",
        "open",
        "2026-02-20 14:30",
    ),
    (
        "intraday -> same close",
        "2026-02-19 12:00",
        NY,
        None,
        "same_close",
        "2026-02-19",
        "close",
        "2026-02-19 21:00",
    ),
    (
        "exactly at the close is after close",
        "2026-02-19 16:00:00",
        NY,
        None,
        "same_close",
        "2026-02-20",
        "open",
        "2026-02-20 14:30",
    ),
    (
        "after close",
        "2026-02-19 16:05",
        NY,
        None,
        "next_open",
        "2026-02-20",
        "open",
        "2026-02-20 14:30",
    ),
    (
        "date only is unknown -> next open",
        "2026-02-19 00:00",
        NY,
        "unknown",
        "next_open",
        "2026-02-20",
        "open",
        "2026-02-20 14:30",
    ),
    (
        "date-only bmo -> same open",
        "2026-02-19 00:00",
        NY,
        "bmo",
        "next_open",
        "2026-02-19",
        "open",
        "2026-02-19 14:30",
    ),
    (
        "date-only amc on a Friday -> Monday",
        "2026-02-13 00:00",
        NY,
        "amc",
        "next_open",
        "2026-02-17",
        "open",
        "2026-02-17 14:30",
    ),
    (
        "Saturday news -> Monday open",
        "2026-01-10 10:00",
        NY,
        None,
        "next_open",
        "2026-01-12",
        "open",
        "2026-01-12 14:30",
    ),
    (
        "Christmas bmo -> next session",
        "2025-12-25 08:00",
        NY,
        None,
        "next_open",
        "2025-12-26",
        "open",
        "2025-12-26 14:30",
    ),
    (
        "half-day: 13:30 is after the 13:00 close",
        "2025-12-24 13:30",
        NY,
        None,
        "same_close",
        "2025-12-26",
        "open",
        "2025-12-26 14:30",
    ),
    (
        "half-day: noon intraday fills at the 13:00 close",
        "2025-12-24 12:00",
        NY,
        None,
        "same_close",
        "2025-12-24",
        "close",
        "2025-12-24 18:00",
    ),
    (
        "day after Thanksgiving 14:00 is after close",
        "2025-11-28 14:00",
        NY,
        None,
        "next_open",
        "2025-12-01",
        "open",
        "2025-12-01 14:30",
    ),
    (
        "DST: 13:45 UTC in winter is 08:45 EST, bmo",
        "2026-03-06 13:45",
        "UTC",
        None,
        "next_open",
        "2026-03-06",
        "open",
        "2026-03-06 14:30",
    ),
    (
        "DST: 13:45 UTC after spring-forward is 09:45 EDT, intraday",
        "2026-03-09 13:45",
        "UTC",
        None,
        "next_open",
        "2026-03-10",
        "open",
        "2026-03-10 13:30",
    ),
    (
        "DST: 14:15 UTC before fall-back is 10:15 EDT, intraday",
        "2025-10-31 14:15",
        "UTC",
        None,
        "next_open",
        "2025-11-03",
        "open",
        "2025-11-03 14:30",
    ),
    (
        "DST: 14:15 UTC after fall-back is 09:15 EST, bmo",
        "2025-11-03 14:15",
        "UTC",
        None,
        "next_open",
        "2025-11-03",
        "open",
        "2025-11-03 14:30",
    ),
    (
        "seed article 14:42:04 CET is 08:42 New York",
        "2026-01-13 14:42:04",
        "Europe/Berlin",
        None,
        "next_open",
        "2026-01-13",
        "open",
        "2026-01-13 14:30",
    ),
    (
        "ad-hoc closure 2018-12-05 is skipped",
        "2018-12-04 16:30",
        NY,
        None,
        "next_open",
        "2018-12-06",
        "open",
        "2018-12-06 14:30",
    ),
    (
        "Juneteenth 2023 is a holiday",
        "2023-06-19 07:00",
        NY,
        None,
        "next_open",
        "2023-06-20",
        "open",
        "2023-06-20 13:30",
    ),
]


# events.unknown_timing: before_open (E4): the same columns plus the option. Only
# date-only (unknown) events move, to the open of their own date when it is a session.
BEFORE_OPEN_CASES = [
    (
        "before_open: date only -> same open",
        "2026-02-19 00:00",
        NY,
        "unknown",
        "next_open",
        "2026-02-19",
        "open",
        "2026-02-19 14:30",
    ),
    (
        "before_open: date only on a half-day -> its open",
        "2025-11-28 00:00",
        NY,
        "unknown",
        "next_open",
        "2025-11-28",
        "open",
        "2025-11-28 14:30",
    ),
    (
        "before_open: date only on a Saturday -> Monday open",
        "2026-01-10 00:00",
        NY,
        "unknown",
        "next_open",
        "2026-01-12",
        "open",
        "2026-01-12 14:30",
    ),
    (
        "before_open: date only on Christmas -> next session",
        "2025-12-25 00:00",
        NY,
        "unknown",
        "same_close",
        "2025-12-26",
        "open",
        "2025-12-26 14:30",
    ),
    (
        "before_open: date-only amc stays next open",
        "2026-02-13 00:00",
        NY,
        "amc",
        "next_open",
        "2026-02-17",
        "open",
        "2026-02-17 14:30",
    ),
    (
        "before_open: after close stays next open",
        "2026-02-19 16:05",
        NY,
        None,
        "next_open",
        "2026-02-20",
        "open",
        "2026-02-20 14:30",
    ),
    (
        "before_open: intraday stays next open",
        "2026-02-19 12:00",
        NY,
        None,
        "next_open",
        "2026-02-20",
        "open",
        "2026-02-20 14:30",
    ),
    (
        "before_open: intraday same close stays same close",
        "2026-02-19 12:00",
        NY,
        None,
        "same_close",
        "2026-02-19",
        "close",
        "2026-02-19 21:00",
    ),
]
ALL_CASES = [(*c, "after_close") for c in CASES] + [(*c, "before_open") for c in BEFORE_OPEN_CASES]


@pytest.mark.parametrize(
    ("case", "stamp", "tz", "given", "fill", "session", "at", "instant", "unknown"),
    ALL_CASES,
    ids=[c[0] for c in ALL_CASES],
)
def test_align_to_session(case, stamp, tz, given, fill, session, at, instant, unknown):
    event_time = pd.Timestamp(stamp, tz=tz)
    timing = resolve_timing(event_time, given, CAL)
    found = align_to_session(event_time, timing, CAL, fill, unknown)
    assert (found.session, found.fill_at) == (pd.Timestamp(session), at), case
    assert session_instant(CAL, found.session, found.fill_at) == pd.Timestamp(instant, tz="UTC")
    assert session_instant(CAL, found.session, found.fill_at) > event_time, (
        "fill before publication"
    )


def test_same_instant_in_utc_or_new_york_aligns_identically():
    ny = pd.Timestamp("2026-03-09 09:45", tz=NY)
    utc = ny.tz_convert("UTC")
    assert align_to_session(ny, resolve_timing(ny, None, CAL), CAL) == align_to_session(
        utc, resolve_timing(utc, None, CAL), CAL
    )


def test_clock_time_contradicting_timing_is_an_error():
    with pytest.raises(EventError, match="is 'amc' by the clock but is labelled 'bmo'"):
        resolve_timing(pd.Timestamp("2026-02-19 16:30", tz=NY), "bmo", CAL)


def test_naive_event_time_is_rejected():
    with pytest.raises(EventError, match="has no time zone"):
        align_to_session(pd.Timestamp("2026-02-19 08:30"), "bmo", CAL)


def test_unknown_timing_is_rejected():
    with pytest.raises(EventError, match="unknown timing 'pre'"):
        align_to_session(pd.Timestamp("2026-02-19", tz=NY), "pre", CAL)


def test_unknown_timing_option_is_checked():
    with pytest.raises(EventError, match="unknown_timing must be one of"):
        align_to_session(pd.Timestamp("2026-02-19", tz=NY), "unknown", CAL, "next_open", "bmo")


def test_shift_counts_sessions_not_days():
    # Thursday before Good Friday 2026 (04-03): +1 session is Monday 04-06.
    assert shift_session(CAL, pd.Timestamp("2026-04-02"), 1) == pd.Timestamp("2026-04-06")
    assert shift_session(CAL, pd.Timestamp("2026-04-06"), -1) == pd.Timestamp("2026-04-02")


def test_calendar_cache_reads_back_what_it_built_and_rebuilds_a_corrupt_entry(
    tmp_path, monkeypatch
):
    import exchange_calendars as xcals

    from backtest.core.calendar_cache import cached_calendar, entry_path
    from backtest.data.cache import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    built = []

    def build():
        built.append(1)
        return xcals.get_calendar("XNYS", start="2020-01-02", end="2021-12-31")

    first = cached_calendar("XNYS", "2020-01-02", "2021-12-31", build)
    again = cached_calendar("XNYS", "2020-01-02", "2021-12-31", build)
    assert len(built) == 1  # the second came from disk
    assert again.sessions.equals(first.sessions) and again.closes.equals(first.closes)
    assert str(again.session_close(pd.Timestamp("2020-11-27"))) == "2020-11-27 18:00:00+00:00"
    path = entry_path(tmp_path, "XNYS", "2020-01-02", "2021-12-31")
    path.write_bytes(b"not a pickle")
    rebuilt = cached_calendar("XNYS", "2020-01-02", "2021-12-31", build)
    assert len(built) == 2 and rebuilt.sessions.equals(first.sessions)
    assert len(list(path.parent.glob("*.corrupt-*"))) == 1  # kept aside, not deleted
