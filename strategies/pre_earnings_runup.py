"""pre_earnings_runup: hold into a scheduled earnings report and get out before it.

Hypothesis: attention before a scheduled report lifts (or, ``side: short``,
depresses) the price during the sessions leading up to it.

Timing. The *reaction session* R is the event's aligned session. Entry is at
``entry_at`` of session R - ``entry_sessions``; exit is either at the close of
session R - 1 (``exit_at: prior_close``) or at the open of R
(``exit_at: reaction_open``). Offsets count exchange sessions, never calendar
days. The decision uses only the report's *date*, public since ``known_at``;
an entry before that is dropped as ``entry_before_known_at``.

What the two exits hold, by report timing (R - 1 close and R open):

===========  ====================  ==========================  ==========================
timing       R                     ``prior_close`` exit        ``reaction_open`` exit
===========  ====================  ==========================  ==========================
bmo (day D)  D                     close of D - 1: before the  open of D: after the report,
                                   report, no reaction         so the overnight reaction
                                                               gap is in the trade
amc (day D)  D + 1                 close of D: before the      open of D + 1: the
                                   report, no reaction         overnight reaction gap is
                                                               in the trade
intraday     D + 1 (next_open)     close of D: *after* the     open of D + 1: as for
(day D)                            report, so the afternoon    ``prior_close`` plus the
                                   reaction is in the trade    overnight gap
unknown      D + 1                 close of D: the report may  open of D + 1: the reaction
(date only)                        have come before the open   is in the trade either way
===========  ====================  ==========================  ==========================

(With ``events.intraday_fill: same_close`` an intraday report's R is D itself,
and both exits come before the report. With ``events.unknown_timing:
before_open`` a date-only report's R is D, as for bmo.) ``prior_close`` is the pure run-up
for bmo and amc reports; ``reaction_open``
also bets on the opening reaction. Neither uses the report's content, so
neither is look-ahead; they differ in exposure, not in information.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from backtest.strategies._shared import assemble, leaves_calendar
from pydantic import Field, model_validator

from backtest.strategy.plan import Drop, EventArrays, Plan, drop_codes, session_tick
from backtest.strategy.signals import AT_RANK, MarketView, StrategyParams, register_planner

__all__ = ["NAME", "PreEarningsRunupParams", "exit_tick", "plan_pre_earnings_runup"]

NAME = "pre_earnings_runup"
# Exit as (sessions after R, tick within the session), to compare with the entry.
EXIT_POINT = {"prior_close": (-1, 1), "reaction_open": (0, 0)}


class PreEarningsRunupParams(StrategyParams):
    """Parameters of ``pre_earnings_runup`` (sessions, not days)."""

    entry_sessions: int = Field(
        5, ge=1, le=60, description="enter this many sessions before the reaction session"
    )
    entry_at: Literal["open", "close"] = Field("close", description="fill point of the entry")
    exit_at: Literal["prior_close", "reaction_open"] = Field(
        "prior_close", description="close before the reaction session, or its open"
    )
    side: Literal["long", "short"] = Field("long", description="direction of every trade")

    @model_validator(mode="after")
    def _entry_before_exit(self) -> PreEarningsRunupParams:
        if (-self.entry_sessions, AT_RANK[self.entry_at]) >= EXIT_POINT[self.exit_at]:
            raise ValueError(
                f"entry_sessions: {self.entry_sessions} with entry_at: {self.entry_at} enters at "
                f"the {self.exit_at} exit itself; use entry_sessions >= 2, entry_at: open, "
                "or exit_at: reaction_open"
            )
        return self


def exit_tick(reaction_pos: np.ndarray, exit_at: np.ndarray) -> np.ndarray:
    """Tick of the close before the reaction session, or of its open.

    Examples
    --------
    >>> exit_tick(np.array([5]), np.array("prior_close")).tolist()  # close of session 4
    [9]
    >>> exit_tick(np.array([5]), np.array("reaction_open")).tolist()  # open of session 5
    [10]
    """
    return np.where(exit_at == "prior_close", 2 * reaction_pos - 1, 2 * reaction_pos)


@register_planner(NAME, PreEarningsRunupParams, event_types=("earnings",))
def plan_pre_earnings_runup(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Enter k sessions before an earnings reaction session and exit just before it."""
    pos = ev.session_pos[None, :]
    entry = session_tick(pos, -g["entry_sessions"], g["entry_at"])
    exit_ = exit_tick(pos, g["exit_at"])
    side = np.where(g["side"] == "short", -1, 1)
    info = ev.known_ns[None, :]
    drop = drop_codes(
        (leaves_calendar(ev, entry, exit_), Drop.OUTSIDE_CALENDAR),
        (entry < ev.first_tick_at(info), Drop.ENTRY_BEFORE_KNOWN_AT),
    )
    return assemble(entry, exit_, side, info, drop)
