"""post_earnings_drift: long big positive EPS surprises, short big negative ones, after the reaction.

Hypothesis (post-earnings-announcement drift, Ball and Brown 1968; Bernard and
Thomas 1989): prices keep drifting in the direction of the earnings surprise
for weeks after the report.

Surprise. ``surprise_pct`` when the source gives it, else
100 * (eps_actual - eps_estimate) / |eps_estimate|
(:func:`strategies.earnings_hold.surprise_pct`). An event is in the *top
bucket* when its surprise is at least ``long_above_pct`` (long), in the
*bottom bucket* when at most ``short_below_pct`` (short); otherwise it is
dropped as ``middle_bucket``, and without a surprise as ``no_surprise``.
The buckets are fixed thresholds in %, not quantiles: quantiles of a sample's
surprises would rank an event against reports published after it (look-ahead).

Timing. The surprise is public only at the report's ``event_time``, so the
entry is at ``entry_at`` of session R + ``entry_delay``, where R is the
reaction session (the event's aligned session), and never before R's close:
``entry_delay: 0`` with ``entry_at: open`` is rejected, because for an intraday
report filled at the close R's open precedes the report, and for the others it
would trade the reaction gap rather than the drift. The exit is
``hold_sessions`` sessions after the entry, at ``exit_at``
(:func:`backtest.strategy.plan.hold_exit_tick`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from backtest.strategies._shared import assemble, leaves_calendar
from backtest.strategies.earnings_hold import surprise_pct
from pydantic import Field, model_validator

from backtest.strategy.plan import Drop, EventArrays, Plan, drop_codes, hold_exit_tick, session_tick
from backtest.strategy.signals import MarketView, StrategyParams, register_planner

__all__ = ["NAME", "PostEarningsDriftParams", "bucket_side", "plan_post_earnings_drift"]

NAME = "post_earnings_drift"


class PostEarningsDriftParams(StrategyParams):
    """Parameters of ``post_earnings_drift`` (sessions, not days; thresholds in %)."""

    long_above_pct: float = Field(5.0, description="long when the EPS surprise is >= this (%)")
    short_below_pct: float = Field(-5.0, description="short when the EPS surprise is <= this (%)")
    entry_delay: int = Field(0, ge=0, le=60, description="sessions after the reaction session")
    entry_at: Literal["open", "close"] = Field(
        "close", description="fill point of the entry (open needs entry_delay >= 1)"
    )
    hold_sessions: int = Field(20, ge=1, le=250, description="sessions of exposure")
    exit_at: Literal["open", "close"] = Field("close", description="fill point of the exit")

    @model_validator(mode="after")
    def _check(self) -> PostEarningsDriftParams:
        if self.short_below_pct >= self.long_above_pct:
            raise ValueError(
                f"short_below_pct ({self.short_below_pct}) must be below long_above_pct "
                f"({self.long_above_pct}), so no surprise is in both buckets"
            )
        if self.entry_delay == 0 and self.entry_at == "open":
            raise ValueError(
                "entry_at: open with entry_delay: 0 enters at the reaction session's open, "
                "which can precede the report (look-ahead); use entry_at: close or entry_delay >= 1"
            )
        return self


def bucket_side(surprise: np.ndarray, g: dict) -> tuple[np.ndarray, np.ndarray]:
    """Side (+1 top bucket, -1 bottom bucket) and drop code per (combination, event).

    Examples
    --------
    >>> g = {"long_above_pct": np.array([[5.0]]), "short_below_pct": np.array([[-5.0]])}
    >>> side, drop = bucket_side(np.array([5.0, -7.0, 1.0, np.nan]), g)
    >>> from backtest.strategy.plan import REASONS
    >>> side.tolist(), [REASONS[c] for c in drop[0]]
    ([[1, -1, 0, 0]], ['', '', 'middle_bucket', 'no_surprise'])
    """
    s = surprise[None, :]
    with np.errstate(invalid="ignore"):
        top, bottom = s >= g["long_above_pct"], s <= g["short_below_pct"]
    side = np.where(top, 1, np.where(bottom, -1, 0))
    drop = drop_codes((np.isnan(s), Drop.NO_SURPRISE), (side == 0, Drop.MIDDLE_BUCKET))
    return side, drop


@register_planner(NAME, PostEarningsDriftParams, event_types=("earnings",))
def plan_post_earnings_drift(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Trade the EPS surprise's direction from the reaction session's close for K sessions."""
    pos = ev.session_pos[None, :]
    entry = session_tick(pos, g["entry_delay"], g["entry_at"])
    exit_ = hold_exit_tick(entry, g["hold_sessions"], g["exit_at"], g["entry_at"])
    side, drop = bucket_side(surprise_pct(ev), g)
    drop = drop_codes((leaves_calendar(ev, entry, exit_), Drop.OUTSIDE_CALENDAR), default=drop)
    return assemble(entry, exit_, side, ev.published_ns[None, :], drop)
