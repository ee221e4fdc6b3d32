"""analyst_revision_drift: trade in the direction of an analyst's price-target change.

Hypothesis: prices drift in the direction of analyst revisions for some
sessions after they are published (Womack 1996; Brav and Lehavy 2003).

Direction, per ``analyst`` event: the sign of the price-target change
``100 * (target_new / target_old - 1)`` in %; events whose ``|change|`` is
below ``min_abs_change_pct`` are dropped as ``below_threshold``. Without both
targets, and with ``use_rating: true``, the ``rating`` text decides: one that
contains "upgrade" is long, "downgrade" short (a rating carries no size, so
the threshold does not apply). Anything else is dropped as ``no_direction``.

Timing. Entry at the event's first tradable point (its aligned session and
fill point: a note published before the open fills at that open; during or
after the session, at the next open), which is after publication; exit
``hold_sessions`` sessions later at ``exit_at``
(:func:`backtest.plan.hold_exit_tick`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from backtest.plan import KEEP, EventArrays, Plan, hold_exit_tick
from backtest.signals import MarketView, StrategyParams, register_planner
from strategies._shared import assemble, leaves_calendar, signed

__all__ = [
    "NAME",
    "AnalystRevisionDriftParams",
    "plan_analyst_revision_drift",
    "rating_sign",
    "target_change_pct",
]

NAME = "analyst_revision_drift"


class AnalystRevisionDriftParams(StrategyParams):
    """Parameters of ``analyst_revision_drift`` (sessions, not days; change in %)."""

    hold_sessions: int = Field(5, ge=1, le=250, description="sessions of exposure")
    exit_at: Literal["open", "close"] = Field("close", description="fill point of the exit")
    min_abs_change_pct: float = Field(
        0.0, ge=0, description="skip price-target changes smaller than this (%)"
    )
    use_rating: bool = Field(True, description="without targets, upgrade = long, downgrade = short")


def target_change_pct(ev: EventArrays) -> np.ndarray:
    """Price-target change in % (NaN without two targets or with a non-positive old one).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"target_old": [100.0, 50.0, 0.0], "target_new": [110.0, None, 9.0]})
    >>> ev = EventArrays(frame, None, None, None, None, None, None)
    >>> target_change_pct(ev).round(6).tolist()
    [10.0, nan, nan]
    """
    old, new = ev.column("target_old"), ev.column("target_new")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(old > 0, 100.0 * (new / old - 1.0), np.nan)


def rating_sign(ev: EventArrays) -> np.ndarray:
    """+1 for a rating text containing "upgrade", -1 for "downgrade", else 0.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"rating": ["Upgrade to Buy", "downgraded: Sell", "Hold", None]})
    >>> rating_sign(EventArrays(frame, None, None, None, None, None, None)).tolist()
    [1, -1, 0, 0]
    """
    if "rating" not in ev.events.columns:
        return np.zeros(len(ev.events), dtype=int)
    text = ev.events["rating"].fillna("").astype(str).str.lower()
    up, down = text.str.contains("upgrade"), text.str.contains("downgrade")
    return np.where(up & ~down, 1, np.where(down & ~up, -1, 0))


def revision_side(ev: EventArrays, g: dict) -> tuple[np.ndarray, np.ndarray]:
    """Side and drop code per (combination, event): targets first, then the rating."""
    change = target_change_pct(ev)
    side, drop = signed(change, g["min_abs_change_pct"])
    by_rating = np.isnan(change)[None, :] & np.asarray(g["use_rating"], dtype=bool)
    rating = np.broadcast_to(rating_sign(ev)[None, :], side.shape)
    side = np.where(by_rating, rating, side)
    drop = np.where(by_rating, np.where(rating == 0, "no_direction", KEEP), drop)
    return side, drop


@register_planner(NAME, AnalystRevisionDriftParams, event_types=("analyst",))
def plan_analyst_revision_drift(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Follow an analyst's price-target change (or rating change) for K sessions."""
    entry = ev.actionable_tick[None, :]
    exit_ = hold_exit_tick(entry, g["hold_sessions"], g["exit_at"])
    side, drop = revision_side(ev, g)
    drop = np.where(leaves_calendar(ev, entry, exit_), "outside_calendar", drop)
    return assemble(entry, exit_, side, ev.published_ns[None, :], drop)
