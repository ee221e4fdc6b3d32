"""Align events to the first session that can act on them; record every drop.

Conservation (RELIABILITY I12): every input event ends up either in the aligned
table or in the drops table, exactly once, with a reason.
"""

from __future__ import annotations

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import EventError
from backtest.core.schema import DROP_COLUMNS, empty_drops
from backtest.core.sessions import align_to_session, session_instant
from backtest.events.dedupe import dedupe_reports

__all__ = [
    "UNKNOWN_TIMING_COLUMN",
    "DATA_LOSS_REASONS",
    "align_events",
    "check_loss_budget",
    "drop_rows",
]

# An events column a source may add: its own rule for date-only events
# (events.sources[i].unknown_timing), read before the run's events.unknown_timing.
UNKNOWN_TIMING_COLUMN = "unknown_timing"

# Reasons that mean "data we wanted but could not use"; the loss budget counts these.
# Filters the user asked for (period, duplicates) are recorded but not budgeted.
DATA_LOSS_REASONS = frozenset(
    {
        "outside_price_range",
        "ticker_missing",
        "price_missing",
        "price_nan",
        "window_incomplete",
        "price_nan_in_window",
        "suspect_split",
        "no_surprise",
        "no_direction",
    }
)


def drop_rows(
    events: pd.DataFrame, stage: str, reason: str, detail: str | pd.Series
) -> pd.DataFrame:
    """Return drops-table rows for ``events`` (one per event) with a reason.

    Examples
    --------
    >>> ev = pd.DataFrame({"event_id": ["a"], "ticker": ["X"]})
    >>> drop_rows(ev, "align", "future_event", "after now")["reason"].tolist()
    ['future_event']
    """
    if events.empty:
        return empty_drops()
    out = pd.DataFrame(
        {"event_id": events["event_id"].to_numpy(), "ticker": events["ticker"].to_numpy()}
    )
    out["stage"], out["reason"] = stage, reason
    out["detail"] = detail.to_numpy() if isinstance(detail, pd.Series) else detail
    return out[list(DROP_COLUMNS)]


def _alignment_columns(
    events: pd.DataFrame, cal: xcals.ExchangeCalendar, intraday_fill: str, unknown_timing: str
) -> pd.DataFrame:
    # A source's own rule (its events carry it) wins over the run's.
    rules = (
        events[UNKNOWN_TIMING_COLUMN].fillna(unknown_timing).tolist()
        if UNKNOWN_TIMING_COLUMN in events
        else [unknown_timing] * len(events)
    )
    found = [
        align_to_session(t, timing, cal, intraday_fill, rule)
        for t, timing, rule in zip(events["event_time"], events["timing"], rules, strict=True)
    ]
    out = events.copy()
    out["session"] = pd.DatetimeIndex([a.session for a in found]) if found else pd.DatetimeIndex([])
    out["fill_at"] = [a.fill_at for a in found]
    out["align_rule"] = [a.rule for a in found]
    out["actionable_at"] = pd.to_datetime(
        [session_instant(cal, a.session, a.fill_at) for a in found], utc=True
    )
    return out


def _repeated_ids(aligned: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop exact repeats of one event_id (the same row from two places), most precise first."""
    keyed = aligned.assign(_precise=aligned["timing"] != "unknown")
    keyed = keyed.sort_values(["_precise", "event_id"], ascending=[False, True], kind="stable")
    is_dup = keyed.duplicated(subset=["event_id"], keep="first")
    kept = (
        keyed[~is_dup].drop(columns="_precise").sort_values(["event_time", "ticker"], kind="stable")
    )
    return kept, drop_rows(keyed[is_dup], "align", "duplicate", "same event from another source")


def _dedupe(
    aligned: pd.DataFrame, tz, mode: str, window_days: int
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """One event per earnings report (:mod:`backtest.events.dedupe`), then per event_id."""
    dropped = dedupe_reports(aligned, tz, mode, window_days)  # type: ignore[arg-type]
    drops = [
        drop_rows(
            aligned.loc[[d.index for d in dropped if d.reason == reason]],
            "align",
            reason,
            pd.Series([d.detail for d in dropped if d.reason == reason], dtype=object),
        )
        for reason in ("duplicate", "duplicate_conflict")
    ]
    kept, repeats = _repeated_ids(aligned.drop(index=[d.index for d in dropped]))
    return kept, [*drops, repeats]


def _price_at(row: pd.Series, prices: dict[str, pd.DataFrame]) -> float:
    frame = prices.get(row["ticker"])
    if frame is None or row["session"] not in frame.index:
        return float("nan")
    return float(frame.at[row["session"], row["fill_at"]])


def _split(
    frame: pd.DataFrame,
    mask: pd.Series,
    reason: str,
    detail: str | pd.Series,
    drops: list[pd.DataFrame],
) -> pd.DataFrame:
    if isinstance(detail, pd.Series):
        detail = detail[mask]
    drops.append(drop_rows(frame[mask], "align", reason, detail))
    return frame[~mask]


def _range_mask(frame: pd.DataFrame, prices: dict[str, pd.DataFrame]) -> pd.Series:
    first = frame["ticker"].map(lambda t: prices[t].index[0] if t in prices else pd.NaT)
    last = frame["ticker"].map(lambda t: prices[t].index[-1] if t in prices else pd.NaT)
    return ~((frame["session"] >= first) & (frame["session"] <= last))


def align_events(
    events: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    cal: xcals.ExchangeCalendar,
    intraday_fill: str = "next_open",
    period: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None),
    now: pd.Timestamp | None = None,
    unknown_timing: str = "after_close",
    dedupe: str = "error",
    dedupe_days: int = 5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Align every event to its first tradable session and price.

    Parameters
    ----------
    events : pandas.DataFrame
        Event table (schema in :mod:`backtest.core.schema`).
    prices : dict of str to pandas.DataFrame
        Validated prices by ticker.
    cal : exchange_calendars.ExchangeCalendar
        Exchange calendar of the listings.
    intraday_fill : {"next_open", "same_close"}
        Fill point for events published during the session.
    period : (Timestamp or None, Timestamp or None)
        Keep events whose session lies in [start, end]; others are dropped as
        ``outside_period``.
    now : pandas.Timestamp, optional
        Events published after ``now`` are dropped as ``future_event``.
    unknown_timing : {"after_close", "before_open"}
        How events of ``unknown`` timing (date only) align
        (:func:`backtest.core.sessions.align_to_session`), unless an event carries
        its source's own rule in :data:`UNKNOWN_TIMING_COLUMN`.
    dedupe : {"error", "earliest"}
        Copies of one earnings report tradable at different points raise
        :class:`~backtest.core.errors.EventError`, or the earliest is kept and the
        others dropped as ``duplicate_conflict`` (:mod:`backtest.events.dedupe`).
    dedupe_days : int
        Earnings events of one ticker dated within this many calendar days are
        one report; identical copies are dropped as ``duplicate``.

    Returns
    -------
    (aligned, drops) : tuple of pandas.DataFrame
        Aligned events sorted by event time, and one drop row per event left out.
    """
    drops: list[pd.DataFrame] = [empty_drops()]
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    frame = _split(
        events,
        events["event_time"] > now,
        "future_event",
        "published after the run's clock; not yet known",
        drops,
    )
    frame = _alignment_columns(frame, cal, intraday_fill, unknown_timing)
    frame, dup_drops = _dedupe(frame, cal.tz, dedupe, dedupe_days)
    drops.extend(dup_drops)
    start, end = period
    in_period = pd.Series(True, index=frame.index)
    if start is not None:
        in_period &= frame["session"] >= start
    if end is not None:
        in_period &= frame["session"] <= end
    frame = _split(
        frame, ~in_period, "outside_period", "session outside data.start..data.end", drops
    )
    frame = _split(
        frame,
        ~frame["ticker"].isin(list(prices)),
        "ticker_missing",
        "no prices were loaded for this ticker (not in data.tickers, or skipped by "
        "data.on_missing_ticker: skip)",
        drops,
    )
    frame = _split(
        frame,
        _range_mask(frame, prices),
        "outside_price_range",
        "no price history covers the event's session",
        drops,
    )
    frame = frame.assign(
        session_price=frame.apply(_price_at, axis=1, prices=prices)
        if len(frame)
        else pd.Series(dtype=float)
    )
    missing = frame["session_price"].isna()
    detail = (
        "no "
        + frame["fill_at"].astype(str)
        + " price on "
        + frame["session"].dt.strftime("%Y-%m-%d")
    )
    frame = _split(frame, missing, "price_missing", detail, drops)
    return frame.reset_index(drop=True), pd.concat(drops, ignore_index=True)


def check_loss_budget(n_events: int, drops: pd.DataFrame, max_drop_pct: float) -> None:
    """Raise when data-loss drops exceed ``max_drop_pct`` percent of the events.

    Examples
    --------
    >>> d = pd.DataFrame({"reason": ["price_missing"] * 3})
    >>> check_loss_budget(10, d, 25.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    backtest.core.errors.EventError: dropped 3 of 10 events (30.0%) ... = 25.0%: {'price_missing': 3}
    """
    lost = drops[drops["reason"].isin(DATA_LOSS_REASONS)]
    if n_events == 0 or lost.empty:
        return
    pct = 100.0 * len(lost) / n_events
    if pct > max_drop_pct:
        breakdown = lost["reason"].value_counts().to_dict()
        raise EventError(
            f"dropped {len(lost)} of {n_events} events ({pct:.1f}%) for missing or "
            f"unusable data, more than events.max_drop_pct = {max_drop_pct}%: {breakdown}"
        )
