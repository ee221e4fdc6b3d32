"""Per-event twins of three built-ins: the same hypotheses, one event at a time.

Each twin takes its planner's parameters and, through
:func:`backtest.strategy.register_event_strategy`, the planner path; the tests
(tests/test_per_event.py) prove that a twin's signals and drops equal its
planner's. They are slower (one Python call per combination and event) and
exist to show the per-event API on rules everyone knows, and to keep it honest.
"""

from __future__ import annotations

import numpy as np
from backtest.strategies.earnings_hold import EarningsHoldParams
from backtest.strategies.gap import GapParams
from backtest.strategies.pre_earnings_runup import PreEarningsRunupParams

from backtest.strategy import (
    Point,
    Skip,
    Trade,
    at_close,
    at_open,
    hold,
    register_event_strategy,
    surprise_pct,
)

__all__ = ["earnings_hold_per_event", "gap_follow_per_event", "pre_earnings_runup_per_event"]


@register_event_strategy("earnings_hold_per_event", EarningsHoldParams, ("earnings",))
def earnings_hold_per_event(event, market, p: EarningsHoldParams):
    """earnings_hold, one event at a time: hold from N sessions before the reaction to K after."""
    enter = Point(-p.entry_offset, p.entry_at)
    leave = (
        hold(enter, p.hold_sessions, p.exit_at)
        if p.hold_sessions
        else Point(p.exit_offset, p.exit_at)
    )
    if p.side != "surprise":
        return Trade(p.side, enter, leave)
    surprise = surprise_pct(event)
    if np.isnan(surprise):
        return Skip("no_surprise")
    if surprise == 0 or abs(surprise) <= p.min_abs_surprise_pct:
        return Skip("no_direction")
    return Trade("long" if surprise > 0 else "short", enter, leave)


@register_event_strategy("pre_earnings_runup_per_event", PreEarningsRunupParams, ("earnings",))
def pre_earnings_runup_per_event(event, market, p: PreEarningsRunupParams):
    """pre_earnings_runup, one event at a time: in k sessions before the report, out before it."""
    leave = at_close(-1) if p.exit_at == "prior_close" else at_open(0)
    return Trade(p.side, Point(-p.entry_sessions, p.entry_at), leave)


@register_event_strategy("gap_follow_per_event", GapParams, ("earnings",))
def gap_follow_per_event(event, market, p: GapParams):
    """gap_follow, one event at a time: trade with an earnings opening gap from its session's close."""
    gap = market.gap_pct()
    if np.isnan(gap) or gap == 0:
        return Skip("no_direction")
    if abs(gap) < p.min_abs_gap_pct:
        return Skip("below_threshold")
    first = 1 if event.fill_at == "close" else 0  # the gap is at the first open after the report
    enter = at_close(first) if p.entry_at == "close" else at_open(first + 1)
    return Trade("long" if gap > 0 else "short", enter, hold(enter, p.hold_sessions, p.exit_at))
