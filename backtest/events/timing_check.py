"""Timing diagnostics of date-only earnings reports: when does the price move?

A report with a date but no hour (``timing == "unknown"``) is traded by the
conservative rule of :func:`backtest.core.sessions.align_to_session`: as if it
came after the close, at the next session's open. The data can tell whether
that is what happened. If the reports came **after the close**, the price
moves on the next session; if they came **before the open**, on the report
date itself. This module compares the two, per ticker and source, and says
what the data suggest. It never changes the rule: a user who knows the
reports were pre-market sets ``unknown_timing: before_open`` on that source
(``events.sources[i]``) or for every source (``events.unknown_timing``).

Rules
-----
Report date
    The exchange-local date of ``event_time``. A report dated on a non-session
    day, or without a close the session before it, on it, and on the next
    session, has no pair of returns and is counted in ``n_skipped``.
Returns
    Close-to-close: ``r_report = close(D) / close(D-1) - 1`` and
    ``r_next = close(D+1) / close(D) - 1`` with D-1, D+1 the neighbouring rows
    of the validated price table (sessions).
Verdict
    Only with ``n >= MIN_REPORTS`` pairs. The paired differences
    ``|r_report| - |r_next|`` are tested with the Wilcoxon signed-rank test
    (:func:`scipy.stats.wilcoxon`, two-sided); at ``p < ALPHA`` the larger mean
    ``|r|`` names the likely timing (report date: pre-market; next session:
    after the close), else there is no clear sign.

Examples
--------
>>> from backtest.core.sessions import get_calendar
>>> days = pd.bdate_range("2026-01-05", periods=6)
>>> prices = {"X": pd.DataFrame({"close": [100.0, 100.0, 110.0, 110.0, 110.0, 110.0]},
...                             index=days)}
>>> ev = pd.DataFrame({"ticker": ["X"], "event_type": ["earnings"], "timing": ["unknown"],
...     "event_time": [pd.Timestamp("2026-01-07", tz="America/New_York").tz_convert("UTC")]})
>>> moves = report_day_moves(ev, prices, "America/New_York")
>>> moves[["r_report", "r_next"]].round(4).values.tolist()
[[0.1, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = [
    "ALPHA",
    "MIN_REPORTS",
    "MOVE_COLUMNS",
    "TIMING_COLUMNS",
    "in_period",
    "report_day_moves",
    "timing_diagnostics",
    "verdict_line",
]

MIN_REPORTS = 10
ALPHA = 0.05
MOVE_COLUMNS = ("ticker", "event_id", "report_date", "r_report", "r_next")
TIMING_COLUMNS = (
    "ticker",
    "source",
    "n",
    "n_skipped",
    "mean_abs_report_day",
    "mean_abs_next_day",
    "larger_on_report_day",
    "p_value",
    "suggests",
    "verdict",
)
HINT = "events.unknown_timing"


def report_day_moves(
    events: pd.DataFrame, prices: Mapping[str, pd.DataFrame], tz: str
) -> pd.DataFrame:
    """Per date-only earnings report: the close-to-close return of its date and the next session.

    Parameters
    ----------
    events : pandas.DataFrame
        Events with ``ticker, event_type, event_time, timing`` (``event_id`` optional).
    prices : mapping of str to pandas.DataFrame
        Daily bars (``close``) per ticker, indexed by session.
    tz : str
        The exchange's time zone (the report date is the local date of ``event_time``).

    Returns
    -------
    pandas.DataFrame
        ``ticker, event_id, report_date, r_report, r_next``; NaN returns where the
        date is not a session or a neighbouring close is missing.
    """
    rows = events[(events["event_type"] == "earnings") & (events["timing"] == "unknown")]
    out = []
    for ticker, part in rows.groupby("ticker", sort=True):
        dates = part["event_time"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
        close = prices[ticker]["close"] if ticker in prices else pd.Series(dtype=float)
        returns = close / close.shift(1) - 1.0
        pos = close.index.get_indexer(pd.DatetimeIndex(dates))
        ok = (pos >= 1) & (pos + 1 < len(close))
        safe = np.where(ok, pos, 0)
        ids = part["event_id"] if "event_id" in part else pd.Series([""] * len(part))
        out.append(
            pd.DataFrame(
                {
                    "ticker": ticker,
                    "event_id": ids.to_numpy(),
                    "report_date": dates.to_numpy(),
                    "r_report": np.where(ok, returns.to_numpy()[safe], np.nan),
                    "r_next": np.where(
                        ok, returns.to_numpy()[np.minimum(safe + 1, len(close) - 1)], np.nan
                    ),
                }
            )
        )
    if not out:
        return pd.DataFrame(columns=list(MOVE_COLUMNS))
    return pd.concat(out, ignore_index=True)[list(MOVE_COLUMNS)]


def in_period(events: pd.DataFrame, tz: str, start=None, end=None) -> pd.DataFrame:
    """``events`` whose exchange-local date lies in ``[start, end]`` (None: open end).

    Examples
    --------
    >>> import datetime as dt
    >>> ev = pd.DataFrame({"event_time": pd.to_datetime(["2026-01-02 03:00", "2026-02-01 15:00"],
    ...                                                  utc=True)})
    >>> len(in_period(ev, "America/New_York", start=dt.date(2026, 1, 2)))  # 1 Jan in New York
    1
    """
    if events.empty:
        return events
    day = events["event_time"].dt.tz_convert(tz).dt.date
    keep = pd.Series(True, index=events.index)
    if start is not None:
        keep &= day >= start
    if end is not None:
        keep &= day <= end
    return events[keep]


def _wilcoxon_p(diff: np.ndarray) -> float:
    if len(diff) == 0 or not np.any(diff != 0):
        return math.nan
    from scipy.stats import wilcoxon  # scipy only for the runs and checks that ask for it

    return float(wilcoxon(diff).pvalue)


def _summary(ticker: str, source: str, moves: pd.DataFrame, min_n: int) -> dict:
    both = moves.dropna(subset=["r_report", "r_next"])
    a, b = both["r_report"].abs().to_numpy(), both["r_next"].abs().to_numpy()
    n = len(both)
    p = _wilcoxon_p(a - b) if n >= min_n else math.nan
    row = {
        "ticker": ticker,
        "source": source,
        "n": n,
        "n_skipped": len(moves) - n,
        "mean_abs_report_day": float(a.mean()) if n else math.nan,
        "mean_abs_next_day": float(b.mean()) if n else math.nan,
        "larger_on_report_day": int((a > b).sum()),
        "p_value": p,
        "suggests": _suggests(n, min_n, p, a, b),
    }
    return {**row, "verdict": verdict_line(row, min_n)}


def _suggests(n: int, min_n: int, p: float, a: np.ndarray, b: np.ndarray) -> str:
    if n < min_n:
        return "too_few"
    if not p < ALPHA:
        return "unclear"
    return "before_open" if a.mean() > b.mean() else "after_close"


def verdict_line(row: Mapping[str, object], min_n: int = MIN_REPORTS) -> str:
    """One line saying what a :func:`timing_diagnostics` row shows and what to do about it.

    Examples
    --------
    >>> row = {"ticker": "X", "source": "csv:x.csv", "n": 3, "n_skipped": 0,
    ...        "mean_abs_report_day": 0.05, "mean_abs_next_day": 0.01,
    ...        "larger_on_report_day": 3, "p_value": float("nan"), "suggests": "too_few"}
    >>> verdict_line(row)  # doctest: +NORMALIZE_WHITESPACE
    'X csv:x.csv: 3 date-only reports, |r| report day 5.00 % vs next day 1.00 % (3 of 3
     larger on report day): too few for a verdict (needs 10)'
    """
    n = int(row["n"])
    head = f"{row['ticker']} {row['source']}: {n} date-only reports"
    if row["n_skipped"]:
        head += f" (+{row['n_skipped']} without prices around the date)"
    if n == 0:
        return f"{head}: nothing to compare"
    head += (
        f", |r| report day {row['mean_abs_report_day']:.2%} vs next day "
        f"{row['mean_abs_next_day']:.2%} ({row['larger_on_report_day']} of {n} larger on "
        f"report day)"
    ).replace("%", " %")
    tail = {
        "too_few": f"too few for a verdict (needs {min_n})",
        "unclear": f"no clear sign (Wilcoxon p = {row['p_value']:.2g})",
        "before_open": (
            f"the data suggest pre-market reports (Wilcoxon p = {row['p_value']:.2g}); set "
            "unknown_timing: before_open on this source (events.sources) or for all "
            f"({HINT}) if you know they are (after_close, the default, trades them "
            "at the next open)"
        ),
        "after_close": (
            f"the data agree with after-close reports (Wilcoxon p = {row['p_value']:.2g}), as "
            f"{HINT}: after_close (the default) assumes"
        ),
    }[str(row["suggests"])]
    return f"{head}: {tail}"


def timing_diagnostics(
    by_source: Mapping[str, pd.DataFrame],
    prices: Mapping[str, pd.DataFrame],
    tz: str,
    min_n: int = MIN_REPORTS,
) -> pd.DataFrame:
    """Per ticker and source: date-only reports' |return| on the report date vs the next session.

    Parameters
    ----------
    by_source : mapping of str to pandas.DataFrame
        Each configured source's events (as for :func:`backtest.events.crosscheck.cross_check`).
    prices : mapping of str to pandas.DataFrame
        Daily bars per ticker.
    tz : str
        The exchange's time zone.
    min_n : int
        Fewest report pairs before a verdict.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIMING_COLUMNS`, one row per ticker and source with date-only
        earnings reports; ``verdict`` is the line to print.
    """
    rows = []
    for source, events in by_source.items():
        moves = report_day_moves(events, prices, tz)
        for ticker, part in moves.groupby("ticker", sort=True):
            rows.append(_summary(str(ticker), source, part, min_n))
    return pd.DataFrame(rows, columns=list(TIMING_COLUMNS))
