"""Cross-check earnings reports across event sources: dates, timings, EPS (issue 4.3).

The same report often reaches a user from several places (the bundled table,
Yahoo, their own CSV), and the places disagree: a date one day off, a
before-the-open report listed as after the close, a revised EPS. A run keeps
one copy per report and stops on a conflict (:mod:`backtest.events.dedupe`);
this module lists every disagreement instead, so the user can decide.

Rules
-----
Matching
    Per ticker, every source's earnings events are sorted by their exchange-local
    date. A report starts at the earliest unmatched date (its *anchor*); every
    event within ``match_window_days`` **calendar** days after the anchor
    belongs to it. Calendar days, not sessions, because source dates are
    calendar dates (a weekend-dated row is still a row) and because reports
    come about 90 days apart, so any window far below 45 days never merges two
    reports; anchoring (rather than chaining neighbours) keeps a report from
    growing across a run of dates.
Representatives
    A source with two events in one report is listed as ``repeated in <source>``;
    its timed copy (else its earliest) stands for it in the comparisons.
Date
    Dates are equal, or their *sessions* (the session on or after each date)
    are at most ``date_tolerance_sessions`` apart (``within tolerance``), or it
    is a ``conflict``. A Saturday date and the Monday after are 0 sessions apart.
Timing
    Two different known timings (bmo, amc, intraday) are a ``conflict``; a known
    timing against ``unknown`` is ``less precise`` (listed, not a conflict).
Numbers
    ``eps_actual``, ``eps_estimate`` and ``surprise_pct`` agree when every pair
    satisfies ``|a - b| <= eps_tolerance_pct / 100 * max(|a|, |b|)`` (the
    symmetric rule of :func:`math.isclose`); equal values are silent, unequal
    ones inside the tolerance are ``within tolerance``, others a ``conflict``.
    A value missing (NaN) in some sources but given in another is ``missing``,
    unless the given values themselves conflict.
Coverage
    A report seen by one source only is ``only in <source>``.

Examples
--------
>>> from backtest.core.sessions import get_calendar
>>> day = lambda d, timing: pd.DataFrame({"ticker": ["X"], "event_type": ["earnings"],
...     "event_time": [pd.Timestamp(d, tz="America/New_York").tz_convert("UTC")],
...     "timing": [timing]})
>>> res = cross_check({"a": day("2026-02-19", "bmo"), "b": day("2026-02-20", "amc")},
...                   get_calendar("XNYS"))
>>> res.conflicts[["field", "kind"]].values.tolist()
[['date', 'conflict'], ['timing', 'conflict']]
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import exchange_calendars as xcals
import pandas as pd

__all__ = [
    "CONFLICT",
    "CONFLICT_COLUMNS",
    "LESS_PRECISE",
    "MISSING",
    "NUMBER_FIELDS",
    "TOLERATED",
    "CheckResult",
    "CheckSettings",
    "anchor_groups",
    "compare_numbers",
    "compare_timings",
    "cross_check",
    "match_reports",
    "session_gap",
    "summarize",
]

CONFLICT = "conflict"
TOLERATED = "within tolerance"
LESS_PRECISE = "less precise"
MISSING = "missing"
NUMBER_FIELDS = ("eps_actual", "eps_estimate", "surprise_pct")
CONFLICT_COLUMNS = ("ticker", "report", "field", "kind", "dates", "values")


@dataclass(frozen=True)
class CheckSettings:
    """Tolerances of the cross-check (``events.check`` in the config)."""

    match_window_days: int = 5
    date_tolerance_sessions: int = 0
    eps_tolerance_pct: float = 1.0


@dataclass(frozen=True)
class CheckResult:
    """Every listed disagreement, its counts, and what was compared.

    ``conflicts`` has :data:`CONFLICT_COLUMNS`: ``report`` is the anchor date,
    ``dates`` and ``values`` map each source to its date and value.
    ``summary`` counts rows per ``field, kind``; ``reports`` counts reports per
    source (after matching, within the period).
    """

    conflicts: pd.DataFrame
    summary: pd.DataFrame
    reports: dict[str, int]
    n_reports: int

    @property
    def n_conflicts(self) -> int:
        """Rows of kind ``conflict`` (the ones a run could trip on)."""
        return int((self.conflicts["kind"] == CONFLICT).sum())


def _tagged(by_source: Mapping[str, pd.DataFrame], tz: str) -> pd.DataFrame:
    """One table of every source's earnings events, with ``origin`` and local ``date``."""
    earnings = {name: ev[ev["event_type"] == "earnings"] for name, ev in by_source.items()}
    # Empty frames are left out: concatenating them is deprecated in pandas.
    frames = [ev.assign(origin=name) for name, ev in earnings.items() if len(ev)]
    cols = ["ticker", "event_time", "timing", "origin", *NUMBER_FIELDS]
    if not frames:
        return pd.DataFrame(columns=[*cols, "date"])
    out = pd.concat(frames, ignore_index=True).reindex(columns=cols)
    out["date"] = [t.tz_convert(tz).date() for t in out["event_time"]]
    return out


def anchor_groups(dates: Sequence[dt.date], window_days: int) -> list[int]:
    """Group ascending ``dates``: a new group when a date is past the anchor's window.

    Also the report key of a run's deduplication (:mod:`backtest.events.dedupe`).

    Examples
    --------
    >>> d = [dt.date(2026, 2, x) for x in (1, 4, 6, 9, 27)]
    >>> anchor_groups(d, 5)
    [0, 0, 0, 1, 2]
    """
    groups, anchor, n = [], None, -1
    for day in dates:
        if anchor is None or (day - anchor).days > window_days:
            anchor, n = day, n + 1
        groups.append(n)
    return groups


def match_reports(tagged: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Sort ``tagged`` by ticker and date and number its reports (column ``report_no``).

    Examples
    --------
    >>> t = pd.DataFrame({"ticker": ["X", "X", "Y"], "origin": ["a", "b", "a"],
    ...     "date": [dt.date(2026, 2, 19), dt.date(2026, 2, 20), dt.date(2026, 2, 20)]})
    >>> match_reports(t, 5)["report_no"].tolist()
    [0, 0, 1]
    """
    out = tagged.sort_values(["ticker", "date", "origin"], kind="stable").reset_index(drop=True)
    numbers, offset = [], 0
    for _, part in out.groupby("ticker", sort=False):
        groups = anchor_groups(list(part["date"]), window_days)
        numbers.extend(g + offset for g in groups)
        offset += max(groups) + 1
    return out.assign(report_no=pd.Series(numbers, index=out.index, dtype="int64"))


def session_gap(cal: xcals.ExchangeCalendar, a: dt.date, b: dt.date) -> int:
    """Sessions between the sessions on or after dates ``a`` and ``b``.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> cal = get_calendar("XNYS")
    >>> session_gap(cal, dt.date(2026, 2, 13), dt.date(2026, 2, 17))  # Fri, Tue after Presidents' Day
    1
    >>> session_gap(cal, dt.date(2026, 2, 14), dt.date(2026, 2, 17))  # Saturday -> Tuesday
    0
    """
    locs = [cal.sessions.get_loc(cal.date_to_session(pd.Timestamp(d), "next")) for d in (a, b)]
    return abs(locs[0] - locs[1])


def compare_timings(timings: Mapping[str, str]) -> str | None:
    """Kind of disagreement among the sources' timings, or None when they agree.

    Examples
    --------
    >>> compare_timings({"a": "bmo", "b": "amc"}), compare_timings({"a": "bmo", "b": "unknown"})
    ('conflict', 'less precise')
    >>> compare_timings({"a": "bmo", "b": "bmo"}) is None
    True
    """
    known = {t for t in timings.values() if t != "unknown"}
    if len(known) > 1:
        return CONFLICT
    if known and len(set(timings.values())) > 1:
        return LESS_PRECISE
    return None


def compare_numbers(values: Mapping[str, float | None], tolerance_pct: float) -> str | None:
    """Kind of disagreement among numbers (NaN or None: not given), or None.

    Examples
    --------
    >>> compare_numbers({"a": 99.0, "b": 100.0}, 1.0)   # 1 <= 1% of 100: the edge is inside
    'within tolerance'
    >>> compare_numbers({"a": 98.9, "b": 100.0}, 1.0), compare_numbers({"a": 2.0, "b": None}, 1.0)
    ('conflict', 'missing')
    """
    given = [float(v) for v in values.values() if v is not None and not pd.isna(v)]
    rel = tolerance_pct / 100.0
    if any(not math.isclose(a, b, rel_tol=rel, abs_tol=0.0) for a, b in combinations(given, 2)):
        return CONFLICT
    if given and len(given) < len(values):
        return MISSING
    if len(set(given)) > 1:
        return TOLERATED
    return None


def _compare_dates(dates: Mapping[str, dt.date], cal, tolerance: int) -> str | None:
    if len(set(dates.values())) == 1:
        return None
    gap = max(session_gap(cal, a, b) for a, b in combinations(dates.values(), 2))
    return TOLERATED if gap <= tolerance else CONFLICT


def _representatives(report: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per source (its timed copy first, then its earliest) and the extra copies."""
    ranked = report.assign(_vague=report["timing"] == "unknown").sort_values(
        ["origin", "_vague", "date"], kind="stable"
    )
    extra = ranked.duplicated("origin", keep="first")
    return ranked[~extra].drop(columns="_vague"), ranked[extra].drop(columns="_vague")


def _row(reps: pd.DataFrame, anchor: dt.date, field: str, kind: str, values: dict) -> dict:
    dates = {o: d.isoformat() for o, d in zip(reps["origin"], reps["date"], strict=True)}
    return {
        "ticker": reps["ticker"].iloc[0],
        "report": anchor.isoformat(),
        "field": field,
        "kind": kind,
        "dates": dates,
        "values": values,
    }


def _field_rows(reps: pd.DataFrame, anchor: dt.date, cal, settings: CheckSettings) -> list[dict]:
    by = dict(zip(reps["origin"], reps.index, strict=True))
    dates = {o: reps.at[i, "date"] for o, i in by.items()}
    timings = {o: reps.at[i, "timing"] for o, i in by.items()}
    found = [
        ("date", _compare_dates(dates, cal, settings.date_tolerance_sessions), dates),
        ("timing", compare_timings(timings), timings),
    ]
    for field in NUMBER_FIELDS:
        values = {o: _number(reps.at[i, field]) for o, i in by.items()}
        found.append((field, compare_numbers(values, settings.eps_tolerance_pct), values))
    return [_row(reps, anchor, f, k, _printable(v)) for f, k, v in found if k is not None]


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _printable(values: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}


def _report_rows(report: pd.DataFrame, cal, settings: CheckSettings) -> list[dict]:
    reps, extra = _representatives(report)
    anchor = min(report["date"])  # the report's earliest date, extra copies included
    rows = [
        _row(reps, anchor, "report", f"repeated in {origin}", {origin: d.isoformat()})
        for origin, d in zip(extra["origin"], extra["date"], strict=True)
    ]
    if len(reps) == 1:
        origin, timing = reps["origin"].iloc[0], reps["timing"].iloc[0]
        return [*rows, _row(reps, anchor, "report", f"only in {origin}", {origin: timing})]
    return rows + _field_rows(reps, anchor, cal, settings)


def summarize(conflicts: pd.DataFrame) -> pd.DataFrame:
    """Count listed rows per ``field, kind`` (columns ``field, kind, count``).

    Examples
    --------
    >>> c = pd.DataFrame({"field": ["date", "date", "timing"],
    ...                   "kind": ["conflict", "conflict", "less precise"]})
    >>> summarize(c).values.tolist()
    [['date', 'conflict', 2], ['timing', 'less precise', 1]]
    """
    if conflicts.empty:
        return pd.DataFrame({"field": [], "kind": [], "count": []}).astype({"count": "int64"})
    counts = conflicts.groupby(["field", "kind"], sort=True).size()
    return counts.rename("count").reset_index()


def _in_period(matched: pd.DataFrame, start, end) -> pd.DataFrame:
    """Reports whose anchor (earliest date) lies in [start, end] (either may be None)."""
    anchor = matched.groupby("report_no")["date"].transform("min")
    keep = pd.Series(True, index=matched.index)
    if start is not None:
        keep &= anchor >= pd.Timestamp(start).date()
    if end is not None:
        keep &= anchor <= pd.Timestamp(end).date()
    return matched[keep]


def cross_check(
    by_source: Mapping[str, pd.DataFrame],
    cal: xcals.ExchangeCalendar,
    settings: CheckSettings = CheckSettings(),
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> CheckResult:
    """Match earnings reports across sources and list every disagreement.

    Parameters
    ----------
    by_source : mapping of str to pandas.DataFrame
        Each configured source's event table (schema in :mod:`backtest.core.schema`),
        as loaded, before any deduplication; only earnings rows are compared.
    cal : exchange_calendars.ExchangeCalendar
        Calendar whose zone gives each event's local date and whose sessions
        measure date differences.
    settings : CheckSettings
        Matching window and tolerances (rules in the module docstring).
    start, end : datetime.date, optional
        Keep reports whose earliest date lies in [start, end].

    Returns
    -------
    CheckResult
        Conflicts table, counts per field and kind, reports per source.
    """
    matched = match_reports(_tagged(by_source, cal.tz.key), settings.match_window_days)
    matched = _in_period(matched, start, end)
    rows = [r for _, rep in matched.groupby("report_no") for r in _report_rows(rep, cal, settings)]
    conflicts = pd.DataFrame(rows, columns=list(CONFLICT_COLUMNS))
    per_source = matched.drop_duplicates(["report_no", "origin"])["origin"].value_counts()
    reports = {name: int(per_source.get(name, 0)) for name in by_source}
    return CheckResult(conflicts, summarize(conflicts), reports, matched["report_no"].nunique())
