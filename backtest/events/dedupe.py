"""One earnings report, one event: merge the copies several sources give (RELIABILITY E3).

Rules
-----
Same report
    Earnings events of one ticker whose exchange-local dates lie within
    ``events.dedupe_days`` calendar days of the report's earliest date are one
    report: a company does not report twice in a week. Reports are anchored
    windows, the matching of ``backtest events --check``
    (:func:`backtest.events.crosscheck.anchor_groups`). Copies tradable in the
    same session are one report too, whatever their dates (a Sunday date-only
    copy and a Monday morning one); with ``dedupe_days: 0`` these two rules are
    the same-day rule of earlier versions.
Less precise copies
    A date-only copy dated the same day as a timed copy is dropped as
    ``duplicate``: the timed copy says when on that day the report came out.
Identical copies
    Copies tradable at the same point (session and open or close) are one: the
    most precise is kept (timed over date-only, then the smallest event_id) and
    the others are dropped as ``duplicate``.
Conflicts
    Copies tradable at different points raise :class:`~backtest.core.errors.EventError`
    (``events.dedupe: error``), or the copy tradable first is kept and the
    others are dropped as ``duplicate_conflict`` (``events.dedupe: earliest``).

News and analyst events are not merged here: several a week are normal.

Examples
--------
>>> from backtest.events.table import make_event_table
>>> from backtest.events.align import align_events
>>> from backtest.core.sessions import get_calendar
>>> cal = get_calendar("XNYS")
>>> rows = [{"ticker": "X", "event_type": "earnings", "source": s, "timing": "bmo",
...          "event_time": pd.Timestamp(d, tz="America/New_York")}
...         for s, d in (("a", "2026-02-19"), ("b", "2026-02-20"))]
>>> events = make_event_table(rows, cal)
>>> _, drops = align_events(events, {}, cal, dedupe="earliest")
>>> drops.loc[drops["reason"] == "duplicate_conflict", "detail"].item()  # doctest: +NORMALIZE_WHITESPACE
'same report as X-earnings-2026-02-19 (source a), tradable at 2026-02-19 open;
 this copy (source b) was tradable at 2026-02-20 open; events.dedupe: earliest kept the earlier'
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from backtest.core.errors import EventError
from backtest.events.crosscheck import anchor_groups

__all__ = ["DEDUPE_MODES", "Dropped", "dedupe_reports"]

DedupeMode = Literal["error", "earliest"]
DEDUPE_MODES: tuple[str, ...] = ("error", "earliest")


@dataclass(frozen=True)
class Copy:
    """One earnings event as a copy of a report."""

    index: Hashable
    ticker: str
    event_id: str
    source: str
    timed: bool
    day: pd.Timestamp
    session: pd.Timestamp
    at: pd.Timestamp
    point: str

    @property
    def rank(self) -> tuple:
        """Earliest tradable point first, then timed over date-only, then event_id."""
        return (self.at, not self.timed, self.event_id)


@dataclass(frozen=True)
class Dropped:
    """A copy left out: its row index, reason code and detail."""

    index: Hashable
    reason: str
    detail: str


def _copies(aligned: pd.DataFrame, tz) -> list[Copy]:
    earnings = aligned[aligned["event_type"] == "earnings"]
    if earnings.empty:
        return []
    days = earnings["event_time"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    points = earnings["session"].dt.strftime("%Y-%m-%d") + " " + earnings["fill_at"]
    cols = ["ticker", "event_id", "source", "timing", "session", "actionable_at"]
    return [
        Copy(i, tk, eid, str(src), timing != "unknown", day, session, at, point)
        for (i, tk, eid, src, timing, session, at), day, point in zip(
            earnings[cols].itertuples(), days, points, strict=True
        )
    ]


def _merge_same_session(groups: list[list[Copy]]) -> list[list[Copy]]:
    """Merge date-ordered groups that share a session (sessions never go back in time)."""
    out: list[list[Copy]] = []
    for group in groups:
        if out and min(c.session for c in group) <= max(c.session for c in out[-1]):
            out[-1] = out[-1] + group
        else:
            out.append(group)
    return out


def report_groups(copies: list[Copy], window_days: int) -> list[list[Copy]]:
    """The copies of each report, per ticker (rules in the module docstring)."""
    by_ticker: dict[str, list[Copy]] = {}
    for c in sorted(copies, key=lambda c: (c.ticker, c.day, c.event_id)):
        by_ticker.setdefault(c.ticker, []).append(c)
    reports = []
    for mine in by_ticker.values():
        numbers = anchor_groups([c.day.date() for c in mine], window_days)
        groups: list[list[Copy]] = [[] for _ in range(max(numbers) + 1)]
        for c, n in zip(mine, numbers, strict=True):
            groups[n].append(c)
        reports.extend(_merge_same_session(groups))
    return reports


def _conflict_message(kept: Copy, other: Copy, window_days: int) -> str:
    return (
        f"{kept.ticker}: earnings events {kept.event_id} (source {kept.source}, tradable at "
        f"{kept.point}) and {other.event_id} (source {other.source}, tradable at {other.point}) "
        f"are copies of one report (dated within events.dedupe_days = {window_days} days) but "
        "disagree on when it became tradable; remove one of them from your event sources, or "
        "set events.dedupe: earliest to trade the earliest copy"
    )


def _dropped(copy: Copy, kept: Copy) -> Dropped:
    same = f"same report as {kept.event_id} (source {kept.source})"
    if copy.at == kept.at:
        return Dropped(copy.index, "duplicate", f"{same}, tradable at the same {kept.point}")
    detail = (
        f"{same}, tradable at {kept.point}; this copy (source {copy.source}) was tradable at "
        f"{copy.point}; events.dedupe: earliest kept the earlier"
    )
    return Dropped(copy.index, "duplicate_conflict", detail)


def resolve(report: list[Copy], mode: DedupeMode, window_days: int) -> list[Dropped]:
    """The copies of one report to drop; raise on a conflict unless ``mode`` is earliest."""
    timed_days = {c.day for c in report if c.timed}
    vague = [c for c in report if not c.timed and c.day in timed_days]
    rest = sorted((c for c in report if c not in vague), key=lambda c: c.rank)
    kept = rest[0]
    conflict = next((c for c in rest[1:] if c.at != kept.at), None)
    if conflict is not None and mode != "earliest":
        raise EventError(_conflict_message(kept, conflict, window_days))
    less_precise = f"same report as {kept.event_id} (source {kept.source}), which gives its time"
    return [Dropped(c.index, "duplicate", f"{less_precise} of day") for c in vague] + [
        _dropped(c, kept) for c in rest[1:]
    ]


def dedupe_reports(
    aligned: pd.DataFrame, tz, mode: DedupeMode = "error", window_days: int = 5
) -> list[Dropped]:
    """The earnings copies to drop from ``aligned`` (needs its session and fill columns).

    Parameters
    ----------
    aligned : pandas.DataFrame
        Events with ``session``, ``fill_at`` and ``actionable_at``.
    tz : zoneinfo.ZoneInfo
        Exchange zone: an event's date is its local date there.
    mode : {"error", "earliest"}
        What a conflict does (``events.dedupe``).
    window_days : int
        Calendar days of one report (``events.dedupe_days``).

    Returns
    -------
    list of Dropped
        One entry per copy left out, with reason ``duplicate`` or ``duplicate_conflict``.
    """
    groups = report_groups(_copies(aligned, tz), window_days)
    return [d for g in groups if len(g) > 1 for d in resolve(g, mode, window_days)]
