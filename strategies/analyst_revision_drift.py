"""analyst_revision_drift: trade in the direction of an analyst's price-target change.

Hypothesis: prices drift in the direction of analyst revisions for some
sessions after they are published (Womack 1996; Brav and Lehavy 2003).

Direction, per ``analyst`` event: the sign of the price-target change
``100 * (target_new / target_old - 1)`` in %; events whose ``|change|`` is
below ``min_abs_change_pct`` are dropped as ``below_threshold``. Without both
targets, and with ``use_stated: true``, the stated direction decides: the
``direction`` column (``up``/``down``, e.g. "lowered its target" read by the
news loader), else a ``rating`` text containing "upgrade" (long) or
"downgrade" (short). A stated direction carries no size, so the threshold does
not apply to it. Anything else is dropped as ``no_direction``.

Timing. Entry at the event's first tradable point (its aligned session and
fill point: a note published before the open fills at that open; during or
after the session, at the next open), which is after publication; exit
``hold_sessions`` sessions later at ``exit_at``
(:func:`backtest.strategy.plan.hold_exit_tick`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from backtest.strategies._shared import assemble, leaves_calendar, signed
from pydantic import Field

from backtest.strategy.plan import Drop, EventArrays, Plan, drop_codes, hold_exit_tick
from backtest.strategy.signals import MarketView, StrategyParams, register_planner

__all__ = [
    "NAME",
    "AnalystRevisionDriftParams",
    "plan_analyst_revision_drift",
    "rating_sign",
    "stated_sign",
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
    use_stated: bool = Field(
        True, description="without targets: direction up/down, or rating upgrade/downgrade"
    )


def target_change_pct(ev: EventArrays) -> np.ndarray:
    """Price-target change in % (NaN without two targets or with a non-positive old one).

    Examples
    --------
    >>> frame = pd.DataFrame({"target_old": [100.0, 50.0, 0.0], "target_new": [110.0, None, 9.0]})
    >>> ev = EventArrays(frame, None, None, None, None, None, None)
    >>> target_change_pct(ev).round(6).tolist()
    [10.0, nan, nan]
    """
    old, new = ev.column("target_old"), ev.column("target_new")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(old > 0, 100.0 * (new / old - 1.0), np.nan)


def _text(ev: EventArrays, name: str) -> pd.Series:
    """A text payload column, lower case ("" where absent)."""
    if name not in ev.events.columns:
        return pd.Series("", index=ev.events.index)
    return ev.events[name].fillna("").astype(str).str.strip().str.lower()


def rating_sign(ev: EventArrays) -> np.ndarray:
    """+1 for a rating text containing "upgrade", -1 for "downgrade", else 0.

    Examples
    --------
    >>> frame = pd.DataFrame({"rating": ["Upgrade to Buy", "downgraded: Sell", "Hold", None]})
    >>> rating_sign(EventArrays(frame, None, None, None, None, None, None)).tolist()
    [1, -1, 0, 0]
    """
    text = _text(ev, "rating")
    up, down = text.str.contains("upgrade"), text.str.contains("downgrade")
    return np.where(up & ~down, 1, np.where(down & ~up, -1, 0))


def stated_sign(ev: EventArrays) -> np.ndarray:
    """+1/-1 from the ``direction`` column (up/down), else from the rating text; else 0.

    Examples
    --------
    >>> frame = pd.DataFrame({"direction": ["down", None, "unchanged"],
    ...                       "rating": ["Upgrade to Buy", "Upgrade to Buy", None]})
    >>> stated_sign(EventArrays(frame, None, None, None, None, None, None)).tolist()
    [-1, 1, 0]
    """
    direction = _text(ev, "direction")
    stated = np.where(direction == "up", 1, np.where(direction == "down", -1, 0))
    return np.where(stated != 0, stated, rating_sign(ev))


def revision_side(ev: EventArrays, g: dict) -> tuple[np.ndarray, np.ndarray]:
    """Side and drop code per (combination, event): targets first, then the stated direction."""
    change = target_change_pct(ev)
    side, drop = signed(change, g["min_abs_change_pct"])
    by_stated = np.isnan(change)[None, :] & np.asarray(g["use_stated"], dtype=bool)
    stated = np.broadcast_to(stated_sign(ev)[None, :], side.shape)
    side = np.where(by_stated, stated, side)
    # A stated direction replaces the target rule's verdict: trade it, or no_direction without one.
    drop = drop_codes(
        (by_stated & (stated == 0), Drop.NO_DIRECTION), (by_stated, Drop.KEEP), default=drop
    )
    return side, drop


@register_planner(NAME, AnalystRevisionDriftParams, event_types=("analyst",))
def plan_analyst_revision_drift(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Follow an analyst's price-target change (or stated up/down) for K sessions."""
    entry = ev.actionable_tick[None, :]
    exit_ = hold_exit_tick(entry, g["hold_sessions"], g["exit_at"])
    side, drop = revision_side(ev, g)
    drop = drop_codes((leaves_calendar(ev, entry, exit_), Drop.OUTSIDE_CALENDAR), default=drop)
    return assemble(entry, exit_, side, ev.published_ns[None, :], drop)
