"""news_reversal: trade against a news catalyst's move for K sessions.

Hypothesis: a sharp move on news over-shoots and partly reverses.

The mirror of :mod:`strategies.news_momentum`, sharing its planner with
``side: contrarian``: entry at the event's first tradable point, direction
opposite to the move the article reports (``move_pct``) or, when it reports
none, opposite to the last *closed* session's return before entry; exit
``hold_sessions`` sessions later at ``exit_at``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from backtest.strategies.news_momentum import plan_news_momentum
from pydantic import Field

from backtest.strategy.plan import EventArrays, Plan
from backtest.strategy.signals import MarketView, StrategyParams, register_planner

__all__ = ["NAME", "NewsReversalParams", "plan_news_reversal"]

NAME = "news_reversal"


class NewsReversalParams(StrategyParams):
    """Parameters of ``news_reversal`` (sessions, not days)."""

    hold_sessions: int = Field(3, ge=1, le=250, description="sessions of exposure")
    exit_at: Literal["open", "close"] = Field("close", description="fill point of the exit")
    min_abs_move_pct: float = Field(0.0, ge=0, description="skip catalysts with smaller moves")


@register_planner(NAME, NewsReversalParams, event_types=("news",))
def plan_news_reversal(ev: EventArrays, market: MarketView, g: dict) -> Plan:
    """Fade a news catalyst's move for a number of sessions."""
    return plan_news_momentum(ev, market, {**g, "side": np.array("contrarian")})
