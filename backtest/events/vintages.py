"""Point-in-time earnings dates: every refetch that changes an event is a new vintage.

A vintage table has one row per (event, fetch that changed it)::

    event_key     str  stable id, ticker plus the local date the event was first seen on
    ticker        str
    event_time    tz-aware UTC, as stated by that fetch
    eps_estimate, eps_actual, surprise_pct   floats (NaN when not given)
    flag          str  "" or why the time is suspect (see yahoo_earnings)
    fetched_at    tz-aware UTC, when that fetch happened

Rows are only ever appended: a date Yahoo moves later is a new row, the old one
stays, so a backtest can ask what was known at any instant
(:func:`vintages_as_of`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MATCH_DAYS",
    "VINTAGE_COLUMNS",
    "empty_vintages",
    "merge_vintages",
    "vintages_as_of",
]

# Two reports of one company are ~90 days apart; a moved date stays within this.
MATCH_DAYS = 20
PAYLOAD = ("eps_estimate", "eps_actual", "surprise_pct")
VINTAGE_COLUMNS = ("event_key", "ticker", "event_time", *PAYLOAD, "flag", "fetched_at")


def empty_vintages() -> pd.DataFrame:
    """Return an empty vintage table with the documented columns and dtypes.

    Examples
    --------
    >>> list(empty_vintages().columns)[:3]
    ['event_key', 'ticker', 'event_time']
    """
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in VINTAGE_COLUMNS})
    for col in ("event_time", "fetched_at"):
        frame[col] = pd.Series(dtype="datetime64[us, UTC]")
    for col in PAYLOAD:
        frame[col] = pd.Series(dtype="float64")
    return frame


def _latest(store: pd.DataFrame) -> pd.DataFrame:
    ordered = store.sort_values(["event_key", "fetched_at"], kind="stable")
    return ordered.groupby("event_key", sort=False).tail(1)


def _same(old: pd.Series, new: pd.Series) -> bool:
    if old["event_time"] != new["event_time"] or old["flag"] != new["flag"]:
        return False
    a = np.array([old[c] for c in PAYLOAD], dtype=float)
    b = np.array([new[c] for c in PAYLOAD], dtype=float)
    return bool(np.allclose(a, b, equal_nan=True, rtol=0, atol=1e-9))


def _match(latest: pd.DataFrame, row: pd.Series, taken: set[str]) -> str | None:
    """Key of the nearest known event of the same ticker within MATCH_DAYS, if any."""
    mine = latest[(latest["ticker"] == row["ticker"]) & ~latest["event_key"].isin(taken)]
    if mine.empty:
        return None
    gaps = (mine["event_time"] - row["event_time"]).abs()
    best = gaps.idxmin()
    return mine.at[best, "event_key"] if gaps[best] <= pd.Timedelta(days=MATCH_DAYS) else None


def merge_vintages(store: pd.DataFrame, fetched: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Append the rows of one fetch that are new or changed; never rewrite old rows.

    Parameters
    ----------
    store : pandas.DataFrame
        Vintages so far (:func:`empty_vintages` at first).
    fetched : pandas.DataFrame
        One fetch: ``ticker, event_time, eps_*, surprise_pct, flag, fetched_at``.
    tz : str
        Exchange time zone; new keys use the event's local date.

    Examples
    --------
    >>> t = pd.Timestamp("2026-02-19 13:59:59", tz="UTC")
    >>> one = pd.DataFrame({"ticker": ["BABA"], "event_time": [t], "eps_estimate": [2.4],
    ...     "eps_actual": [np.nan], "surprise_pct": [np.nan], "flag": [""],
    ...     "fetched_at": [pd.Timestamp("2026-02-01", tz="UTC")]})
    >>> s = merge_vintages(empty_vintages(), one, "America/New_York")
    >>> moved = one.assign(event_time=t + pd.Timedelta(days=1),
    ...                    fetched_at=pd.Timestamp("2026-02-10", tz="UTC"))
    >>> s = merge_vintages(merge_vintages(s, one, "America/New_York"), moved, "America/New_York")
    >>> s["event_key"].tolist(), len(s)
    (['BABA-2026-02-19', 'BABA-2026-02-19'], 2)
    """
    latest = _latest(store) if len(store) else store
    taken: set[str] = set()
    new_rows = []
    for _, row in fetched.sort_values("event_time").iterrows():
        key = _match(latest, row, taken) if len(latest) else None
        if key is None:
            key = f"{row['ticker']}-{row['event_time'].tz_convert(tz):%Y-%m-%d}"
        taken.add(key)
        previous = latest[latest["event_key"] == key] if len(latest) else latest
        if len(previous) and _same(previous.iloc[0], row):
            continue
        new_rows.append({**row.to_dict(), "event_key": key})
    if not new_rows:
        return store
    added = pd.DataFrame(new_rows, columns=list(VINTAGE_COLUMNS))
    parts = [f for f in (store, added) if len(f)]
    return pd.concat(parts, ignore_index=True)[list(VINTAGE_COLUMNS)]


def vintages_as_of(store: pd.DataFrame, when: pd.Timestamp | None) -> pd.DataFrame:
    """Return each event's latest vintage fetched at or before ``when`` (None: latest overall).

    Examples
    --------
    >>> s = pd.DataFrame({"event_key": ["k", "k"], "event_time": [1, 2],
    ...     "fetched_at": pd.to_datetime(["2026-01-01", "2026-02-01"], utc=True)})
    >>> vintages_as_of(s, pd.Timestamp("2026-01-15", tz="UTC"))["event_time"].tolist()
    [1]
    """
    known = store if when is None else store[store["fetched_at"] <= when]
    return _latest(known).reset_index(drop=True) if len(known) else known
