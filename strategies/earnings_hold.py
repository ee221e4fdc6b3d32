"""earnings_hold: hold a position across an earnings reaction, timed in sessions.

Hypothesis: the reaction session of an earnings report carries a drift (long),
a reversal (short), or follows the surprise sign (``side: surprise``).

Timing. The *reaction session* R is the event's aligned session (a bmo report:
the report day; amc or unknown: the next session, or the report day for unknown
with ``events.unknown_timing: before_open``). Entry is at ``entry_at`` of
session R - ``entry_offset`` (negative: after R); exit at ``exit_at`` of session
R + ``exit_offset`` (negative: before R, e.g. a pre-earnings run-up), or, when
``hold_sessions`` > 0, that many sessions after the entry
(:func:`backtest.strategy.plan.hold_exit_tick`). Offsets count exchange sessions, never
calendar days. An entry before the
report's date was public (``known_at``) is dropped as ``entry_before_known_at``.
``side: surprise`` uses the report's content, so it may only enter at or after
the report's first tradable instant.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from backtest.strategies._shared import assemble, leaves_calendar
from pydantic import Field, model_validator

from backtest.strategy.plan import (
    Drop,
    EventArrays,
    Plan,
    choose,
    drop_codes,
    hold_exit_tick,
    session_tick,
)
from backtest.strategy.signals import AT_RANK, MarketView, StrategyParams, register_planner

NAME = "earnings_hold"


class EarningsHoldParams(StrategyParams):
    """Parameters of ``earnings_hold`` (sessions, not days)."""

    entry_offset: int = Field(1, ge=-60, le=60, description="sessions before the reaction session")
    entry_at: Literal["open", "close"] = "close"
    exit_offset: int = Field(0, ge=-60, le=250, description="sessions after the reaction session")
    exit_at: Literal["open", "close"] = "close"
    hold_sessions: int = Field(
        0, ge=0, le=250, description="if > 0: exit this many sessions after entry"
    )
    side: Literal["long", "short", "surprise"] = "long"
    min_abs_surprise_pct: float = Field(0.0, ge=0, description="with side=surprise, skip smaller")

    @model_validator(mode="after")
    def _entry_before_exit(self) -> EarningsHoldParams:
        entry = (-self.entry_offset, AT_RANK[self.entry_at])
        if self.hold_sessions == 0 and entry >= (self.exit_offset, AT_RANK[self.exit_at]):
            raise ValueError(
                "entry must come before exit: with entry_offset 0 and exit_offset 0 "
                "use entry_at: open and exit_at: close (or set hold_sessions)"
            )
        if self.side == "surprise" and self.entry_offset > 0:
            raise ValueError(
                "side: surprise needs the report, which is not public before the "
                "reaction session; set entry_offset: 0 or less (look-ahead otherwise)"
            )
        return self


def surprise_pct(ev: EventArrays) -> np.ndarray:
    """EPS surprise in %: the source's figure, else 100 * (actual - estimate) / |estimate|."""
    given = ev.column("surprise_pct")
    est, act = ev.column("eps_estimate"), ev.column("eps_actual")
    with np.errstate(divide="ignore", invalid="ignore"):
        computed = np.where(est != 0, 100.0 * (act - est) / np.abs(est), np.nan)
    return np.where(np.isnan(given), computed, given)


def _side(ev: EventArrays, g: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Side, and the no-surprise and no-direction conditions of ``side: surprise``."""
    surprise = surprise_pct(ev)[None, :]
    by_surprise = g["side"] == "surprise"
    sign = np.sign(np.nan_to_num(surprise)).astype(int)
    side = choose(by_surprise, sign, np.where(g["side"] == "short", -1, 1))
    weak = np.abs(np.nan_to_num(surprise)) <= g["min_abs_surprise_pct"]
    return side, by_surprise & np.isnan(surprise), by_surprise & (weak | (sign == 0))


@register_planner(NAME, EarningsHoldParams, event_types=("earnings",))
def plan_earnings_hold(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Hold from N sessions before an earnings reaction to K sessions after it."""
    pos = ev.session_pos[None, :]
    entry = session_tick(pos, -g["entry_offset"], g["entry_at"])
    hold = np.asarray(g.get("hold_sessions", 0))
    by_hold = hold_exit_tick(entry, hold, g["exit_at"], g["entry_at"])
    if (hold > 0).all():  # the exit offset is unused (the usual sweep: skip computing it)
        exit_ = by_hold
    else:
        exit_ = np.where(hold > 0, by_hold, session_tick(pos, g["exit_offset"], g["exit_at"]))
    side, no_surprise, no_direction = _side(ev, g)
    actionable_ns = ev.instants[ev.actionable_tick][None, :]
    info = choose(g["side"] == "surprise", actionable_ns, ev.known_ns[None, :])
    drop = drop_codes(
        (leaves_calendar(ev, entry, exit_), Drop.OUTSIDE_CALENDAR),
        (no_surprise, Drop.NO_SURPRISE),
        (no_direction, Drop.NO_DIRECTION),
        (entry < ev.first_tick_at(info), Drop.ENTRY_BEFORE_KNOWN_AT),
    )
    return assemble(entry, exit_, side, info, drop)
