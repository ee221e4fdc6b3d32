"""Known stock splits: read them from a price table and check the prices honour them (P9).

A price table may carry the optional column ``split_ratio`` (or yfinance's
``Stock Splits``, read from a file as ``stock_splits``): on a split's ex-date
the number of shares after the split per share before it (``10.0`` for NVDA's
10:1 of 2024-06-10, ``0.1`` for a 1:10 reverse split); ``0``, ``1`` or empty on
every other row.

Prices should be split-adjusted (Yahoo's ``Close`` is, yfinance #2076): across
a correctly adjusted split the close-to-close ratio is an ordinary session's.
Yahoo sometimes fails to apply a split or applies it twice (yfinance #1531,
#2002). On the split session and the sessions either side of it (Yahoo dates
are sometimes a day off) this module compares each close-to-close ratio with
what each fault would leave:

* missing adjustment: the price falls (rises, for a reverse split) by the
  split: the ratio is near ``1 / split_ratio``;
* double adjustment: history was divided by the split twice, so the old
  prices sit one split too low: the ratio is near ``split_ratio``.

A ratio is suspect when it lies within :data:`MATCH_TOLERANCE` (in log terms)
of one of these and closer to it than to 1 (no fault). Only sessions next to a
known split are examined: a genuine -50% session on any other day is never
flagged, as no return-ratio heuristic without split dates can tell it from a
missed 2:1 split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from backtest.core.errors import DataIntegrityError

__all__ = [
    "MATCH_TOLERANCE",
    "SPLIT_COLUMN",
    "SPLIT_COLUMNS",
    "SuspectSplit",
    "classify_ratio",
    "SPIKE_FACTOR",
    "find_spikes",
    "find_suspect_splits",
    "pop_splits",
]

SPLIT_COLUMN = "split_ratio"
# Accepted spellings, the first found wins: ours, and yfinance's "Stock Splits" lower-cased.
SPLIT_COLUMNS = (SPLIT_COLUMN, "stock_splits")
# Sessions either side of a split's date that are checked too.
NEIGHBOURS = 1
# A ratio within 25% (log terms) of a fault's signature, and nearer it than to 1, is suspect.
MATCH_TOLERANCE = math.log(1.25)
PRICE_COLUMNS_CHECKED = ("close", "adj_close")


@dataclass(frozen=True)
class SuspectSplit:
    """A close-to-close ratio next to a known split that looks like a fault.

    Examples
    --------
    >>> s = SuspectSplit("NVDA", pd.Timestamp("2024-06-10"), 10.0, pd.Timestamp("2024-06-10"),
    ...                  "close", 0.1007, 0.1, "missing_adjustment")
    >>> s.describe()
    'NVDA: close ratio 0.1007 on 2024-06-10 (10:1 split of 2024-06-10 looks not applied; expected ~0.1)'
    """

    ticker: str
    split_session: pd.Timestamp
    split_ratio: float
    session: pd.Timestamp
    column: str
    seen: float
    expected: float
    kind: str

    def describe(self) -> str:
        """One line naming the ticker, session, ratio seen and ratio the fault gives."""
        if self.kind == "spike":
            return (
                f"{self.ticker}: {self.column} ratio {self.seen:.4g} on {self.session.date()} is "
                f"half of a one-session spike of {self.split_session.date()} that reverses "
                f"(a jump of {SPIKE_FACTOR:g}x or more and back): a bad tick, not a price"
            )
        what = "not applied" if self.kind == "missing_adjustment" else "applied twice"
        return (
            f"{self.ticker}: {self.column} ratio {self.seen:.4g} on {self.session.date()} "
            f"({_ratio_text(self.split_ratio)} split of {self.split_session.date()} looks "
            f"{what}; expected ~{self.expected:.4g})"
        )

    def as_dict(self) -> dict:
        """JSON-ready fields, for the run manifest."""
        return {
            "session": str(self.session.date()),
            "split_session": str(self.split_session.date()),
            "split_ratio": self.split_ratio,
            "column": self.column,
            "ratio_seen": round(self.seen, 6),
            "ratio_expected": round(self.expected, 6),
            "kind": self.kind,
        }


def _ratio_text(ratio: float) -> str:
    """``10.0 -> '10:1'``, ``0.1 -> '1:10'``, ``1.5 -> '3:2'``.

    Examples
    --------
    >>> [_ratio_text(r) for r in (10.0, 0.1, 1.5)]
    ['10:1', '1:10', '3:2']
    """
    from fractions import Fraction

    frac = Fraction(ratio).limit_denominator(1000)
    return f"{frac.numerator}:{frac.denominator}"


def pop_splits(
    frame: pd.DataFrame, ticker: str, cal: xcals.ExchangeCalendar
) -> tuple[pd.DataFrame, pd.Series]:
    """Split the optional split column off ``frame``; return the prices and the splits.

    Call this before rows are dropped: a split stamped on a row without prices
    (yfinance #134, #559) still counts. A split dated on a non-session day
    applies from the next session.

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        ``frame`` without the column, and split ratios indexed by session.

    Raises
    ------
    DataIntegrityError
        A ratio is negative or not finite.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> idx = pd.DatetimeIndex(["2024-06-07", "2024-06-10"])
    >>> f = pd.DataFrame({"close": [120.9, 121.8], "split_ratio": [0.0, 10.0]}, index=idx)
    >>> prices, splits = pop_splits(f, "NVDA", get_calendar("XNYS"))
    >>> list(prices.columns), splits.to_dict()
    (['close'], {Timestamp('2024-06-10 00:00:00'): 10.0})
    """
    column = next((c for c in SPLIT_COLUMNS if c in frame.columns), None)
    if column is None:
        return frame, pd.Series(dtype="float64", index=pd.DatetimeIndex([], name="session"))
    ratio = frame[column].astype("float64")
    events = ratio[ratio.notna() & (ratio != 0.0) & (ratio != 1.0)]
    bad = events[~np.isfinite(events) | (events < 0)]
    if len(bad):
        raise DataIntegrityError(
            f"{ticker}: {column} on {bad.index[0].date()} is {bad.iloc[0]}; a split ratio is "
            "shares after per share before (10 for 10:1), 0 or empty on other days"
        )
    sessions = [cal.date_to_session(d, "next") for d in events.index]
    splits = pd.Series(events.to_numpy(), index=pd.DatetimeIndex(sessions, name="session"))
    return frame.drop(columns=[c for c in SPLIT_COLUMNS if c in frame.columns]), splits


def classify_ratio(seen: float, split_ratio: float) -> tuple[str, float] | None:
    """Return ``(kind, expected ratio)`` when ``seen`` looks like a split fault, else None.

    Examples
    --------
    >>> classify_ratio(0.52, 2.0)
    ('missing_adjustment', 0.5)
    >>> classify_ratio(1.9, 2.0)
    ('double_adjustment', 2.0)
    >>> classify_ratio(0.97, 2.0) is None
    True
    """
    if not (np.isfinite(seen) and seen > 0):
        return None
    signatures = {"missing_adjustment": 1.0 / split_ratio, "double_adjustment": split_ratio}
    kind, expected = min(signatures.items(), key=lambda kv: abs(math.log(seen / kv[1])))
    distance = abs(math.log(seen / expected))
    if distance <= MATCH_TOLERANCE and distance < abs(math.log(seen)):
        return kind, expected
    return None


def _near(ratios: pd.Series, session: pd.Timestamp) -> pd.Series:
    """The ratios of the first row at or after ``session`` and its neighbours."""
    at = int(ratios.index.searchsorted(session))
    return ratios.iloc[max(at - NEIGHBOURS, 1) : at + NEIGHBOURS + 1]


def _check_one(
    ratios: pd.Series, column: str, ticker: str, session: pd.Timestamp, split_ratio: float
) -> SuspectSplit | None:
    """The most suspect ratio next to one split in one column, or None."""
    found = []
    for day, seen in _near(ratios, session).items():
        match = classify_ratio(float(seen), split_ratio)
        if match is not None:
            distance = abs(math.log(seen / match[1]))
            found.append((distance, day, float(seen), *match))
    if not found:
        return None
    _, day, seen, kind, expected = min(found)
    return SuspectSplit(ticker, session, split_ratio, day, column, seen, expected, kind)


# A close that moves this many times (or 1/this) in one session and comes back the next is a
# bad tick; real moves of that size (bankruptcy, a biotech read-out) do not reverse at once.
SPIKE_FACTOR = 5.0
# "Back": the session after the spike ends within this factor of the close before it.
SPIKE_RETURN = 2.0


def find_spikes(prices: pd.DataFrame, ticker: str) -> list[SuspectSplit]:
    """Flag one-session spikes that reverse: both jumps, like a suspect split (kind ``spike``).

    Examples
    --------
    >>> idx = pd.bdate_range("2026-02-16", periods=4)
    >>> prices = pd.DataFrame({"close": [150.0, 1e6, 151.0, 152.0]}, index=idx)
    >>> [(str(s.session.date()), s.kind) for s in find_spikes(prices, "BABA")]
    [('2026-02-17', 'spike'), ('2026-02-18', 'spike')]
    """
    found = []
    for column in (c for c in PRICE_COLUMNS_CHECKED if c in prices.columns):
        series = prices[column].dropna()
        if len(series) < 3:
            continue
        values = series.to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            jump = values[1:-1] / values[:-2]
            back = values[2:] / values[1:-1]
            big = (jump >= SPIKE_FACTOR) | (jump <= 1 / SPIKE_FACTOR)
            level = values[2:] / values[:-2]
            returns = (level <= SPIKE_RETURN) & (level >= 1 / SPIKE_RETURN)
        for i in np.flatnonzero(big & returns):
            day = series.index[i + 1]
            for session, seen in ((day, jump[i]), (series.index[i + 2], back[i])):
                found.append(
                    SuspectSplit(
                        ticker, day, float("nan"), session, column, float(seen), 1.0, "spike"
                    )
                )
    return found


def find_suspect_splits(prices: pd.DataFrame, splits: pd.Series, ticker: str) -> list[SuspectSplit]:
    """Check ``close`` (and ``adj_close``) next to every known split.

    Parameters
    ----------
    prices : pandas.DataFrame
        Validated prices (sorted session index).
    splits : pandas.Series
        Split ratios by session, from :func:`pop_splits`.
    ticker : str
        Used in the findings.

    Returns
    -------
    list of SuspectSplit
        At most one per split and column, the ratio nearest a fault's signature.

    Examples
    --------
    >>> idx = pd.DatetimeIndex(["2024-06-06", "2024-06-07", "2024-06-10", "2024-06-11"])
    >>> prices = pd.DataFrame({"close": [1209.98, 1208.88, 121.79, 120.91]}, index=idx)
    >>> [s.kind for s in find_suspect_splits(prices, pd.Series([10.0], [idx[2]]), "NVDA")]
    ['missing_adjustment']
    """
    found = []
    for column in (c for c in PRICE_COLUMNS_CHECKED if c in prices.columns):
        series = prices[column].dropna()
        ratios = series / series.shift(1)
        for session, split_ratio in splits.items():
            hit = _check_one(ratios, column, ticker, session, float(split_ratio))
            if hit is not None:
                found.append(hit)
    return found
