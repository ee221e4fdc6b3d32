"""Group labels of events: all, timing, event type and earnings-surprise bucket.

The result is a long table (``event_id, group_by, group``): an event appears once
per grouping it belongs to. Events without ``surprise_pct`` (news, analyst
actions, reports without estimates) are simply not in the surprise grouping;
they still count in ``all``, ``timing`` and ``event_type``.

Tercile buckets are cut on the study's own events, i.e. with hindsight: that is
fine for describing past reactions, but a trading rule must use fixed thresholds
(``surprise_thresholds``) instead.

Surprise *quantiles* (grouping ``surprise_quantile``, :func:`point_in_time_quantiles`)
are known at the event: an event's breakpoints are the quantiles of the surprises
of events published strictly before it (expanding window by event time), so no
later event can ever change an earlier event's quantile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.core.schema import EVENT_TYPES, TIMINGS

__all__ = [
    "GROUPINGS",
    "group_labels",
    "point_in_time_quantiles",
    "quantile_names",
    "surprise_bucket",
]

GROUPINGS = ("all", "timing", "event_type", "surprise", "surprise_quantile")
DEFAULT_GROUP_BY = ("timing", "event_type", "surprise")
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


def quantile_names(n: int) -> list[str]:
    """Labels of ``n`` quantiles, lowest surprise first.

    Examples
    --------
    >>> quantile_names(5)
    ['Q1', 'Q2', 'Q3', 'Q4', 'Q5']
    """
    return [f"Q{k}" for k in range(1, n + 1)]


def point_in_time_quantiles(events: pd.DataFrame, n: int, min_history: int) -> pd.Series:
    """Surprise quantile of each event, from the surprises published strictly before it.

    For an event at time *t* with a known ``surprise_pct`` the breakpoints are the
    ``1/n, 2/n, ..., (n-1)/n`` quantiles (numpy's linear rule) of the surprises of
    the events with ``event_time < t``; a value equal to a breakpoint goes up. Events
    with fewer than ``min_history`` earlier surprises, or none of their own, get no
    label (NaN). Events at the same instant never see each other's surprise.

    Parameters
    ----------
    events : pandas.DataFrame
        ``event_id, event_time`` and ``surprise_pct`` (percent; NaN where unknown).
    n : int
        Number of quantiles (5: quintiles ``Q1`` lowest .. ``Q5`` highest).
    min_history : int
        Fewest earlier surprises needed for breakpoints.

    Returns
    -------
    pandas.Series
        ``Q1``..``Qn`` or NaN, indexed by ``event_id``.

    Examples
    --------
    >>> t = pd.date_range("2020-01-01", periods=5, freq="D", tz="UTC")
    >>> ev = pd.DataFrame({"event_id": list("abcde"), "event_time": t,
    ...                    "surprise_pct": [1.0, 2.0, 3.0, 10.0, -4.0]})
    >>> point_in_time_quantiles(ev, 2, 3).tolist()  # d: median of 1, 2, 3 is 2
    [nan, nan, nan, 'Q2', 'Q1']
    """
    raw = events["surprise_pct"] if "surprise_pct" in events else pd.Series(np.nan, events.index)
    value = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    known = pd.DataFrame(
        {
            "time": pd.to_datetime(events["event_time"], utc=True).to_numpy(),
            "value": value,
            "pos": np.arange(len(events)),
        }
    )[~np.isnan(value)]
    out = np.full(len(events), np.nan, dtype=object)
    names = np.asarray(quantile_names(n), dtype=object)
    probs = np.arange(1, n) / n
    history = np.empty(0)
    for _, same_time in known.groupby("time", sort=True):
        values = same_time["value"].to_numpy()
        if len(history) >= min_history:
            cuts = np.quantile(history, probs)
            out[same_time["pos"].to_numpy()] = names[np.searchsorted(cuts, values, side="right")]
        history = np.sort(np.concatenate([history, values]))
    return pd.Series(out, index=events["event_id"].to_numpy(), dtype=object)


def group_labels(
    events: pd.DataFrame,
    thresholds: tuple[float, ...] | None,
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY,
    quantiles: pd.Series | None = None,
) -> pd.DataFrame:
    """Return ``event_id, group_by, group`` rows for ``all`` and every grouping in ``group_by``.

    ``quantiles`` (``Q1``.. by ``event_id``, from :func:`point_in_time_quantiles`)
    labels the ``surprise_quantile`` grouping.

    Examples
    --------
    >>> ev = pd.DataFrame({"event_id": ["a", "b"], "timing": ["bmo", "amc"],
    ...                    "event_type": ["earnings", "news"], "surprise_pct": [1.0, None]})
    >>> group_labels(ev, (0.0,)).values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['a', 'all', 'all'], ['b', 'all', 'all'], ['a', 'timing', 'bmo'], ['b', 'timing', 'amc'],
     ['a', 'event_type', 'earnings'], ['b', 'event_type', 'news'], ['a', 'surprise', '>=0%']]
    >>> q = pd.Series(["Q2", None], index=["a", "b"])
    >>> group_labels(ev, None, ("surprise_quantile",), q).values.tolist()
    [['a', 'all', 'all'], ['b', 'all', 'all'], ['a', 'surprise_quantile', 'Q2']]
    """
    surprise = events.get("surprise_pct", pd.Series(np.nan, index=events.index))
    quantile = (
        events["event_id"].map(quantiles).astype(object)
        if quantiles is not None
        else pd.Series(np.nan, index=events.index, dtype=object)
    )
    every = {
        "all": lambda: pd.Series("all", index=events.index),
        "timing": lambda: events["timing"].astype(object),
        "event_type": lambda: events["event_type"].astype(object),
        "surprise": lambda: surprise_bucket(surprise, thresholds),
        "surprise_quantile": lambda: quantile,
    }
    columns = {name: every[name]() for name in GROUPINGS if name == "all" or name in group_by}
    n_quantiles = int(quantile.dropna().str[1:].astype(int).max()) if quantile.notna().any() else 0
    natural = {
        "timing": TIMINGS,
        "event_type": EVENT_TYPES,
        "surprise": _threshold_labels(thresholds) if thresholds else TERCILES,
        "surprise_quantile": quantile_names(n_quantiles),
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
