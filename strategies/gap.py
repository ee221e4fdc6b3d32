"""gap_follow and gap_fade: trade with (or against) an earnings report's opening gap.

Hypothesis: a large opening gap on an earnings report either continues
(``gap_follow``: under-reaction) or partly reverses (``gap_fade``:
over-reaction).

The gap. The *gap session* G is the first session that opens after the report
is public: the aligned session for reports filled at an open (bmo: the report
day; amc, unknown and, by default, intraday: the next session); the session
after it for an intraday report filled at the close (``same_close``). The gap
is ``100 * (open[G] / close[G - 1] - 1)`` in %, read through the as-of market
view; its ``info_time`` is G's open. Events whose ``|gap|`` is below
``min_abs_gap_pct`` are dropped as ``below_threshold``; a zero or missing gap
as ``no_direction``.

Why the entry is never G's open. The gap is known only once the open price is
printed, i.e. after the opening auction has filled at that price. An order
that fills at the open must be in before the auction, when only pre-market
quotes are known; filling at a price and deciding from that same price is a
decision that precedes its own input. So the entry is at G's close
(``entry_at: close``, e.g. a market-on-close order sent during the session) or
at the next session's open (``entry_at: next_open``). The exit is
``hold_sessions`` sessions after the entry, at ``exit_at``
(:func:`backtest.strategy.plan.hold_exit_tick`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from backtest.strategies._shared import assemble, first_open_after, leaves_calendar, signed, tick_ns
from pydantic import Field

from backtest.strategy.plan import Drop, EventArrays, Plan, drop_codes, hold_exit_tick
from backtest.strategy.signals import MarketView, StrategyParams, register_planner

__all__ = ["GapParams", "opening_gap", "opening_gaps", "plan_gap_fade", "plan_gap_follow"]


class GapParams(StrategyParams):
    """Parameters of ``gap_follow`` and ``gap_fade`` (sessions, not days; gap in %)."""

    min_abs_gap_pct: float = Field(0.0, ge=0, description="skip gaps smaller than this (%)")
    entry_at: Literal["close", "next_open"] = Field(
        "close", description="gap session's close, or the next session's open"
    )
    hold_sessions: int = Field(1, ge=1, le=250, description="sessions of exposure")
    exit_at: Literal["open", "close"] = Field("close", description="fill point of the exit")


def opening_gap(market: MarketView, ticker: str, session: pd.Timestamp) -> float:
    """Open of ``session`` vs the previous session's close, in %; NaN if either is missing.

    Reads only bars closed by ``session``'s close (the earliest entry) and uses only
    ``session``'s open from the last of them.
    """
    bars = market.closed_bars(ticker, market.instant(session, "close"))
    if len(bars) < 2 or bars.index[-1] != session or bars.index[-2] != market.shift(session, -1):
        return np.nan
    return 100.0 * (bars["open"].iloc[-1] / bars["close"].iloc[-2] - 1.0)


def opening_gaps(ev: EventArrays, market: MarketView) -> tuple[np.ndarray, np.ndarray]:
    """Gap (%) of every event's gap session, and that session's position."""
    pos = first_open_after(ev.actionable_tick)
    gaps = np.full(len(pos), np.nan)
    for i, (ticker, p) in enumerate(zip(ev.events["ticker"], pos, strict=True)):
        if 0 < p < len(ev.cal.sessions):
            gaps[i] = opening_gap(market, ticker, ev.cal.sessions[p])
    return gaps, pos


def plan_gap(ev: EventArrays, market: MarketView, g: dict, direction: int) -> Plan:
    """Shared planner: side = ``direction`` * sign of the gap (+1 follow, -1 fade)."""
    gaps, pos = opening_gaps(ev, market)
    entry = 2 * pos[None, :] + np.where(g["entry_at"] == "close", 1, 2)
    exit_ = hold_exit_tick(entry, g["hold_sessions"], g["exit_at"])
    sign, drop = signed(gaps, g["min_abs_gap_pct"])
    drop = drop_codes((leaves_calendar(ev, entry, exit_), Drop.OUTSIDE_CALENDAR), default=drop)
    return assemble(entry, exit_, direction * sign, tick_ns(ev, 2 * pos)[None, :], drop)


@register_planner("gap_follow", GapParams, event_types=("earnings",))
def plan_gap_follow(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Trade in the direction of an earnings opening gap, from the gap session's close."""
    return plan_gap(ev, market, g, 1)


@register_planner("gap_fade", GapParams, event_types=("earnings",))
def plan_gap_fade(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Trade against an earnings opening gap, from the gap session's close."""
    return plan_gap(ev, market, g, -1)
