"""Clustered events: events of one ticker with the same day 0 are one observation.

A news article and the analyst notes quoted in it, or an earnings report listed
by two feeds, reach the study as several events of one ticker with the same
day 0 (aligned ``session``). Their abnormal returns are the same numbers, so
counting each would count one price move several times and overstate every
test's n. With ``cluster: same_ticker_day0`` (the default) the study keeps one
event per (ticker, day 0): the **earliest published** (smallest ``event_time``,
then smallest ``event_id``), and lists each of the others as a drop with reason
``clustered`` and the kept event's id in its detail. ``cluster: none`` studies
every event.

Examples
--------
>>> ev = pd.DataFrame({"event_id": ["n1", "a1", "a2"], "ticker": ["X"] * 3,
...     "session": pd.to_datetime(["2026-01-13"] * 3),
...     "event_time": pd.to_datetime(["2026-01-13 13:42", "2026-01-13 12:00",
...                                   "2026-01-13 12:00"], utc=True)})
>>> kept, drops = cluster_events(ev)
>>> kept["event_id"].tolist(), drops["detail"].tolist()  # doctest: +NORMALIZE_WHITESPACE
(['a1'], ['same ticker and day 0 (2026-01-13) as kept event a1',
          'same ticker and day 0 (2026-01-13) as kept event a1'])
"""

from __future__ import annotations

import pandas as pd

from backtest.core.schema import empty_drops
from backtest.events.align import drop_rows

__all__ = ["CLUSTER_RULES", "CLUSTERED", "cluster_events"]

CLUSTER_RULES = ("same_ticker_day0", "none")
CLUSTERED = "clustered"


def cluster_events(
    events: pd.DataFrame, stage: str = "event_study"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the earliest event per (ticker, session); return it and the drops of the others.

    Parameters
    ----------
    events : pandas.DataFrame
        Aligned events with ``event_id, ticker, session`` (``event_time`` optional:
        without it the smallest ``event_id`` is kept).
    stage : str
        Stage named in the drops.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The kept events in their input order, and one ``clustered`` drop per other event.
    """
    order = ["ticker", "session", *(["event_time"] if "event_time" in events else []), "event_id"]
    ranked = events.sort_values(order, kind="stable")
    first = ~ranked.duplicated(["ticker", "session"], keep="first")
    kept_id = (
        ranked["event_id"]
        .where(first)
        .groupby([ranked["ticker"], ranked["session"]], sort=False)
        .transform("first")
    )
    others = ranked[~first]
    if others.empty:
        return events, empty_drops()
    day = pd.DatetimeIndex(others["session"]).strftime("%Y-%m-%d")
    detail = pd.Series(
        [
            f"same ticker and day 0 ({d}) as kept event {k}"
            for d, k in zip(day, kept_id[~first], strict=True)
        ]
    )
    keep = events.index.isin(ranked.index[first])
    return events[keep], drop_rows(others, stage, CLUSTERED, detail)
