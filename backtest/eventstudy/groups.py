"""Group labels of events: all, timing, event type and earnings-surprise bucket.

The result is a long table (``event_id, group_by, group``): an event appears once
per grouping it belongs to. Events without ``surprise_pct`` (news, analyst
actions, reports without estimates) are simply not in the surprise grouping;
they still count in ``all``, ``timing`` and ``event_type``.

Tercile buckets are cut on the study's own events, i.e. with hindsight: that is
fine for describing past reactions, but a trading rule must use fixed thresholds
(``surprise_thresholds``) instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.core.schema import EVENT_TYPES, TIMINGS

__all__ = ["GROUPINGS", "group_labels", "surprise_bucket"]

GROUPINGS = ("all", "timing", "event_type", "surprise")
TERCILES = ("low", "mid", "high")


def _threshold_labels(thresholds: tuple[float, ...]) -> list[str]:
    edges = [f"{t:g}%" for t in thresholds]
    return (
        [f"<{edges[0]}"]
        + [f"{a}..{b}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        + [f">={edges[-1]}"]
    )


def surprise_bucket(surprise: pd.Series, thresholds: tuple[float, ...] | None) -> pd.Series:
    """Label each event's ``surprise_pct`` with its bucket; NaN stays unlabelled.

    Parameters
    ----------
    surprise : pandas.Series
        Surprise in percent, NaN where unknown.
    thresholds : tuple of float, optional
        Ascending cut points (a value equal to a cut point goes up); ``None`` for
        terciles of the known values (``low, mid, high``; fewer than 3 known
        values give no buckets).

    Examples
    --------
    >>> s = pd.Series([-8.0, 0.5, 12.0, None])
    >>> surprise_bucket(s, (-5.0, 5.0)).tolist()
    ['<-5%', '-5%..5%', '>=5%', nan]
    >>> surprise_bucket(s, None).tolist()
    ['low', 'mid', 'high', nan]
    """
    values = pd.to_numeric(surprise, errors="coerce").astype(float)
    if thresholds:
        codes = np.searchsorted(np.asarray(thresholds), values.to_numpy(), side="right")
        labels = np.asarray(_threshold_labels(thresholds), dtype=object)[codes]
    else:
        known = values.dropna()
        if len(known) < len(TERCILES):
            return pd.Series(np.nan, index=values.index, dtype=object)
        # Ranking first makes the terciles well defined when values repeat.
        ranks = values.rank(method="first")
        labels = pd.qcut(ranks, len(TERCILES), labels=list(TERCILES)).astype(object)
        labels = labels.to_numpy()
    return pd.Series(labels, index=values.index, dtype=object).where(values.notna())


def group_labels(events: pd.DataFrame, thresholds: tuple[float, ...] | None) -> pd.DataFrame:
    """Return ``event_id, group_by, group`` rows for every grouping of :data:`GROUPINGS`.

    Examples
    --------
    >>> ev = pd.DataFrame({"event_id": ["a", "b"], "timing": ["bmo", "amc"],
    ...                    "event_type": ["earnings", "news"], "surprise_pct": [1.0, None]})
    >>> group_labels(ev, (0.0,)).values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['a', 'all', 'all'], ['b', 'all', 'all'], ['a', 'timing', 'bmo'], ['b', 'timing', 'amc'],
     ['a', 'event_type', 'earnings'], ['b', 'event_type', 'news'], ['a', 'surprise', '>=0%']]
    """
    surprise = events.get("surprise_pct", pd.Series(np.nan, index=events.index))
    columns = {
        "all": pd.Series("all", index=events.index),
        "timing": events["timing"].astype(object),
        "event_type": events["event_type"].astype(object),
        "surprise": surprise_bucket(surprise, thresholds),
    }
    natural = {
        "timing": TIMINGS,
        "event_type": EVENT_TYPES,
        "surprise": _threshold_labels(thresholds) if thresholds else TERCILES,
    }
    frames = [
        pd.DataFrame(
            {
                "event_id": events["event_id"],
                "group_by": name,
                "group": labels,
                "_order": _order(labels, natural.get(name, ()), GROUPINGS.index(name)),
            }
        )
        for name, labels in columns.items()
    ]
    out = pd.concat(frames, ignore_index=True)
    out = out[out["group"].notna()].sort_values("_order", kind="stable")
    return out.drop(columns="_order").reset_index(drop=True).astype(object)


def _order(labels: pd.Series, natural: tuple | list, grouping: int) -> np.ndarray:
    """Sort key: groupings apart, groups in natural order (bmo before amc, low before high)."""
    rank = labels.map({v: i for i, v in enumerate(natural)}).astype(float).fillna(len(natural))
    return grouping * 1000 + rank.to_numpy(dtype=float)
