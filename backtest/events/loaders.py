"""Event loaders: the bundled earnings table, a user CSV, events listed in YAML.

Every loader returns the event table of :mod:`backtest.core.schema` via
:func:`backtest.events.table.make_event_table`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import EventError
from backtest.core.schema import EVENT_TYPES, PAYLOAD_COLUMNS, TIMINGS
from backtest.core.sessions import session_instant, shift_session
from backtest.data.bundled import bundled_file
from backtest.data.csvfile import read_user_csv
from backtest.events.isin import ticker_for_isin
from backtest.events.table import make_event_table, resolve_timing
from backtest.events.times import parse_event_time

__all__ = [
    "acceptance_time",
    "assumed_known_at",
    "load_bundled_earnings",
    "load_event_csv",
    "load_inline_events",
    "load_us100_earnings",
]

# "earniac:asof2026-02-08:0830EST": a calendar snapshot taken on that date saying 08:30 ET.
_SNAPSHOT = re.compile(r"asof(\d{4}-\d{2}-\d{2}):(\d{2})(\d{2})E[SD]T")


def assumed_known_at(
    event_time: pd.Timestamp, cal: xcals.ExchangeCalendar, notice: int
) -> pd.Timestamp:
    """Return the open ``notice`` sessions before the event's date: when its date is assumed public.

    Companies announce report dates weeks ahead, but historical tables rarely
    say when. Pre-event strategies may not enter before this instant.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> cal = get_calendar("XNYS")
    >>> str(assumed_known_at(pd.Timestamp("2026-02-19", tz="America/New_York"), cal, 10))
    '2026-02-04 14:30:00+00:00'
    """
    day = event_time.tz_convert(cal.tz).normalize().tz_localize(None)
    session = cal.date_to_session(day, direction="next")
    return session_instant(cal, shift_session(cal, session, -notice), "open")


def _bundled_row(rec: Mapping[str, object], cal: xcals.ExchangeCalendar, notice: int) -> dict:
    source = str(rec["source"])
    snap = _SNAPSHOT.search(source)
    day = pd.Timestamp(str(rec["report_date"]))
    event_time = day.tz_localize(cal.tz)
    if snap:
        event_time = (
            day + pd.Timedelta(hours=int(snap.group(2)), minutes=int(snap.group(3)))
        ).tz_localize(cal.tz)
    assumed = assumed_known_at(event_time, cal, notice)
    known, basis = assumed, "assumed"
    if snap:
        seen = pd.Timestamp(snap.group(1)).tz_localize(cal.tz) + pd.Timedelta(days=1)
        if seen < assumed:
            known, basis = seen, "source"
    row = {
        "ticker": rec["ticker"],
        "event_type": "earnings",
        "event_time": event_time,
        "timing": rec["timing"],
        "known_at": min(known, event_time),
        "known_at_basis": basis,
        "source": f"bundled:{source}",
    }
    row.update({k: rec[k] for k in ("eps_estimate", "eps_actual", "surprise_pct")})
    return row


def load_bundled_earnings(
    tickers: Iterable[str],
    cal: xcals.ExchangeCalendar,
    notice_sessions: int = 10,
) -> pd.DataFrame:
    """Return the bundled earnings reports of ``tickers`` as an event table.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> ev = load_bundled_earnings(["BABA"], get_calendar("XNYS"))
    >>> len(ev), ev["event_id"].iloc[-1], ev["timing"].iloc[-1]
    (39, 'BABA-earnings-2026-02-19T133000Z', 'bmo')
    """
    table = pd.read_csv(bundled_file("earnings", "earnings_events.csv"))
    table = table[table["ticker"].isin(list(tickers))]
    table = table.astype(object).where(table.notna(), None)
    rows = [_bundled_row(rec, cal, notice_sessions) for rec in table.to_dict("records")]
    return make_event_table(rows, cal)


def load_us100_earnings(
    tickers: Iterable[str] | None,
    cal: xcals.ExchangeCalendar,
    notice_sessions: int = 10,
) -> pd.DataFrame:
    """Return the bundled ``us100`` earnings reports of ``tickers`` (all if None).

    The file (``sample_data/us100/earnings.csv``, see ``sample_data/DATA.md``)
    is an ordinary event CSV: rows are read as :func:`load_event_csv` reads
    them (``event_time`` holds the SEC 8-K acceptance time with its New York
    offset where there is one, else the date), and ``source`` gets a ``us100:``
    prefix.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> ev = load_us100_earnings(["AAPL"], get_calendar("XNYS"))
    >>> ev.loc[ev["event_id"] == "AAPL-earnings-2019-01-29T213000Z", ["timing", "source"]].values
    array([['amc', 'us100:sec_8k;zacks;alphavantage']], dtype=object)
    """
    path = bundled_file("us100", "earnings.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if tickers is not None:
        frame = frame[frame["ticker"].isin(list(tickers))]
    rows = []
    for line, rec in zip(frame.index + 2, frame.to_dict("records"), strict=True):
        rec["source"] = f"us100:{rec['source']}"
        try:
            rows.append(_user_row(rec, "event_time", cal, None, "earnings", "", notice_sessions))
        except EventError as exc:
            raise EventError(f"{path}:{line}: {exc}") from exc
    return make_event_table(rows, cal)


# An acceptance-time column as SEC EDGAR gives it: New York wall-clock time, "ET" optional.
ACCEPT_COLUMN = "accept_et"
ACCEPT_TZ = "America/New_York"
_ET_SUFFIX = re.compile(r"\s*\b(ET|EST|EDT)$", re.IGNORECASE)


def acceptance_time(value: object, cal: xcals.ExchangeCalendar) -> pd.Timestamp:
    """Read an ``accept_et`` stamp: New York local time, with or without an ``ET`` suffix.

    The event's timing is then derived from this instant by the one timing rule
    (:func:`backtest.events.table.resolve_timing`, i.e.
    :func:`backtest.core.sessions.classify_timing`); a bare date stays date-only.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> str(acceptance_time("2018-02-01 16:30 ET", get_calendar("XNYS")))
    '2018-02-01 16:30:00-05:00'
    >>> str(acceptance_time("2018-07-31 07:00", get_calendar("XNYS")))
    '2018-07-31 07:00:00-04:00'
    """
    return parse_event_time(_ET_SUFFIX.sub("", str(value).strip()), ACCEPT_TZ, cal)


def _csv_time_column(columns: Iterable[str], path: Path) -> str:
    for name in ("event_time", "report_date", "date", "time", ACCEPT_COLUMN):
        if name in columns:
            return name
    raise EventError(
        f"{path}:1: no time column (header: {', '.join(columns)}); add one named event_time, "
        f"report_date, date or {ACCEPT_COLUMN} (New York acceptance time, e.g. "
        "2018-02-01 16:30 ET)"
    )


def load_event_csv(
    path: Path,
    cal: xcals.ExchangeCalendar,
    timezone: str | None = None,
    event_type: str = "earnings",
    notice_sessions: int = 10,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Load a user event CSV: ``ticker`` (or ``isin``), a time column, optional extras.

    ``date_format``: the strptime format of the file's time column (and ``known_at``),
    where it is not ISO or ``DD.MM.YYYY``.

    Optional columns: ``event_type, timing, known_at, source`` and the payload
    columns of :data:`backtest.core.schema.PAYLOAD_COLUMNS`. An ``accept_et``
    column (New York acceptance times such as SEC EDGAR's ``2018-02-01 16:30 ET``)
    gives the event's instant where it is filled, before any other time column
    (a filing accepted after the close may carry the next day as its date); the
    timing then follows from it by the one rule (a ``timing`` column that
    contradicts it is an error).
    """
    frame = read_user_csv(path, "event", EventError)
    time_col = _csv_time_column(frame.columns, path)
    if "ticker" not in frame.columns and "isin" not in frame.columns:
        raise EventError(
            f"{path}:1: no ticker column (header: {', '.join(frame.columns)}); add a column "
            "named ticker (or isin)"
        )
    rows = []
    for line, rec in enumerate(frame.to_dict("records"), start=2):
        try:
            rows.append(
                _user_row(
                    rec,
                    time_col,
                    cal,
                    timezone,
                    event_type,
                    f"{path.name}:{line}",
                    notice_sessions,
                    date_format,
                )
            )
        except EventError as exc:
            raise EventError(f"{path}:{line}: {exc}") from exc
    return make_event_table(rows, cal)


def _number(value: object) -> object:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value


def _user_row(
    rec: Mapping[str, object],
    time_col: str,
    cal: xcals.ExchangeCalendar,
    tz: str | None,
    default_type: str,
    source: str,
    notice: int,
    date_format: str | None = None,
) -> dict:
    rec = {k: v for k, v in rec.items() if v not in ("", None)}
    tz = str(rec.get("timezone", tz)) if rec.get("timezone", tz) else None
    if ACCEPT_COLUMN in rec:
        event_time = acceptance_time(rec[ACCEPT_COLUMN], cal)
    elif time_col in rec:
        event_time = _time_field(rec, time_col, tz, cal, date_format)
    else:
        raise EventError(f"{time_col} is empty; every event needs a date or time")
    timing = rec.get("timing")
    if timing is not None and timing not in TIMINGS:
        raise EventError(
            f"timing {timing!r} is not one of {', '.join(TIMINGS)} (bmo: before the open, "
            "amc: after the close); fix it or leave the cell empty"
        )
    etype = str(rec.get("event_type", default_type))
    if etype not in EVENT_TYPES:
        raise EventError(f"event_type {etype!r} is not one of {', '.join(EVENT_TYPES)}")
    if "ticker" not in rec and "isin" not in rec:
        raise EventError("neither ticker nor isin is given; fill one of them")
    ticker = str(rec["ticker"]) if "ticker" in rec else ticker_for_isin(str(rec.get("isin", "")))
    known = rec.get("known_at")
    row = {
        "ticker": ticker,
        "event_type": etype,
        "event_time": event_time,
        # Resolved here too (the same rule make_event_table applies), so a clock time that
        # contradicts the timing column is reported with the file and line.
        "timing": _resolved_timing(event_time, rec.get("timing"), cal),
        "source": str(rec.get("source", source)),
    }
    if known is not None:
        row["known_at"], row["known_at_basis"] = (
            _time_field(rec, "known_at", tz, cal, date_format),
            "source",
        )
    elif etype == "earnings":
        row["known_at"] = min(assumed_known_at(event_time, cal, notice), event_time)
        row["known_at_basis"] = "assumed"
    else:
        row["known_at_basis"] = "published"
    if "isin" in rec:
        row["isin"] = _check_isin_matches(str(rec["isin"]), ticker)
    row.update({k: _number(rec[k]) for k in PAYLOAD_COLUMNS if k in rec and k != "isin"})
    return row


def _resolved_timing(event_time: pd.Timestamp, given: object, cal) -> str:
    try:
        return resolve_timing(event_time, None if given is None else str(given), cal)
    except EventError as exc:
        raise EventError(f"column timing: {exc}") from None


def _time_field(
    rec: Mapping[str, object],
    key: str,
    tz: str | None,
    cal: xcals.ExchangeCalendar,
    date_format: str | None = None,
) -> pd.Timestamp:
    try:
        return parse_event_time(rec[key], tz, cal, date_format)
    except EventError as exc:
        raise EventError(f"{key}: {exc}") from exc


def _check_isin_matches(isin: str, ticker: str) -> str:
    mapped = ticker_for_isin(isin, required=False)
    if mapped is not None and mapped != ticker:
        raise EventError(f"ISIN {isin} belongs to {mapped}, not {ticker}")
    return isin


def load_inline_events(
    items: Iterable[Mapping[str, object]],
    cal: xcals.ExchangeCalendar,
    notice_sessions: int = 10,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Return events listed inline in the YAML config (``time`` key holds the stamp).

    ``date_format``: the strptime format of every ``time`` (and ``known_at``) string.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> ev = load_inline_events([{"ticker": "BABA", "event_type": "news",
    ...     "time": "13.01.2026 14:42:04", "timezone": "Europe/Berlin", "move_pct": 10}],
    ...     get_calendar("XNYS"))
    >>> ev.loc[0, ["timing", "event_time"]].astype(str).tolist()
    ['bmo', '2026-01-13 13:42:04+00:00']
    """
    rows = []
    for n, item in enumerate(items):
        try:
            rows.append(
                _user_row(
                    dict(item),
                    "time",
                    cal,
                    None,
                    "news",
                    f"inline:{n}",
                    notice_sessions,
                    date_format,
                )
            )
        except EventError as exc:
            raise EventError(f"events.inline[{n}]: {exc}") from exc
    return make_event_table(rows, cal)
