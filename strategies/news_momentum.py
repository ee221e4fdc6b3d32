"""news_momentum: trade in the direction of a news catalyst's move for K sessions.

Hypothesis: a stock that moved sharply on news keeps drifting that way.

Timing. Entry is at the event's first tradable point (its aligned session and
fill point: a pre-market article fills at that day's open). Direction, with
``side: catalyst``, is the sign of the move the article reports (``move_pct``)
or, when it reports none, the sign of the last *closed* session's return before
entry. Exit is ``hold_sessions`` sessions later at ``exit_at``
(:func:`backtest.strategy.plan.hold_exit_tick`: an open entry with a close exit and
``hold_sessions: 1`` exits the same day's close).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from backtest.strategy.plan import Drop, EventArrays, Plan, drop_codes, hold_exit_tick
from backtest.strategy.signals import MarketView, StrategyParams, register_planner

NAME = "news_momentum"


class NewsMomentumParams(StrategyParams):
    """Parameters of ``news_momentum`` (sessions, not days)."""

    hold_sessions: int = Field(3, ge=1, le=250, description="sessions of exposure")
    exit_at: Literal["open", "close"] = "close"
    side: Literal["catalyst", "contrarian", "long", "short"] = "catalyst"
    min_abs_move_pct: float = Field(0.0, ge=0, description="skip catalysts with smaller moves")


def _last_closed_move(event: pd.Series, market: MarketView) -> tuple[float, int]:
    """% return of the last session closed before the event is tradable, and its close (ns)."""
    bars = market.closed_bars(event["ticker"], event["actionable_at"])
    if len(bars) < 2:
        return np.nan, 0
    move = 100.0 * (bars["close"].iloc[-1] / bars["close"].iloc[-2] - 1.0)
    return move, market.instant(bars.index[-1], "close").value


def catalyst_moves(ev: EventArrays, market: MarketView) -> tuple[np.ndarray, np.ndarray]:
    """The catalyst's move (%) per event and when it was known (ns)."""
    move, info = ev.column("move_pct"), ev.published_ns.copy()
    for i in np.flatnonzero(np.isnan(move)):
        move[i], seen = _last_closed_move(ev.events.iloc[i], market)
        info[i] = max(info[i], seen)
    return move, info


@register_planner(NAME, NewsMomentumParams, event_types=("news",))
def plan_news_momentum(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Follow (or fade) a news catalyst's move for a number of sessions."""
    entry = ev.actionable_tick[None, :]
    exit_ = hold_exit_tick(entry, g["hold_sessions"], g["exit_at"])
    move, moved_info = catalyst_moves(ev, market)
    sign = np.sign(np.nan_to_num(move))[None, :]
    follow = np.where(g["side"] == "contrarian", -sign, sign)
    side = np.where(g["side"] == "long", 1, np.where(g["side"] == "short", -1, follow)).astype(int)
    by_move = (g["side"] == "catalyst") | (g["side"] == "contrarian")
    weak = np.isnan(move)[None, :] | (np.abs(np.nan_to_num(move))[None, :] <= g["min_abs_move_pct"])
    drop = drop_codes(
        (exit_ >= len(ev.instants), Drop.OUTSIDE_CALENDAR),
        (by_move & (weak | (sign == 0)), Drop.NO_DIRECTION),
    )
    info = np.where(by_move, moved_info[None, :], ev.published_ns[None, :])
    shape = np.broadcast_shapes(entry.shape, exit_.shape, side.shape, drop.shape)
    return Plan(*(np.broadcast_to(a, shape) for a in (entry, exit_, side, info, drop)))
