"""news_momentum: trade in the direction of a news catalyst's move for K sessions.

Hypothesis: a stock that moved sharply on news keeps drifting that way.

Timing. Entry is at the event's first tradable point (its aligned session and
fill point: a pre-market article fills at that day's open). Direction, with
``side: catalyst``, is the sign of the move the article reports (``move_pct``)
or, when it reports none, the sign of the last *closed* session's return before
entry. Exit is at ``exit_at`` after ``hold_sessions`` sessions of exposure: at
the close of session entry + hold_sessions - 1, or at the open of session
entry + hold_sessions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from backtest.signals import MarketView, StrategyParams, register
from strategies._rows import collect, signal_row

NAME = "news_momentum"


class NewsMomentumParams(StrategyParams):
    """Parameters of ``news_momentum`` (sessions, not days)."""

    hold_sessions: int = Field(3, ge=1, le=250, description="sessions of exposure")
    exit_at: Literal["open", "close"] = "close"
    side: Literal["catalyst", "contrarian", "long", "short"] = "catalyst"
    min_abs_move_pct: float = Field(0.0, ge=0, description="skip catalysts with smaller moves")


def _last_move(event: pd.Series, market: MarketView) -> tuple[float, pd.Timestamp]:
    """Return the last closed session's % return before the entry, and its close instant."""
    bars = market.closed_bars(event["ticker"], event["actionable_at"])
    if len(bars) < 2:
        return float("nan"), event["actionable_at"]
    move = 100.0 * (bars["close"].iloc[-1] / bars["close"].iloc[-2] - 1.0)
    return move, market.instant(bars.index[-1], "close")


def _direction(
    event: pd.Series,
    market: MarketView,
    params: NewsMomentumParams,
) -> tuple[int, pd.Timestamp, str]:
    if params.side in ("long", "short"):
        return (1 if params.side == "long" else -1), event["event_time"], ""
    move, info = event.get("move_pct", np.nan), event["event_time"]
    if move is None or pd.isna(move):
        move, info = _last_move(event, market)
    if pd.isna(move) or abs(move) <= params.min_abs_move_pct or move == 0:
        return 0, info, "no_direction"
    sign = 1 if move > 0 else -1
    return (sign if params.side == "catalyst" else -sign), max(info, event["event_time"]), ""


def _exit(event: pd.Series, market: MarketView, params: NewsMomentumParams) -> tuple:
    start = event["session"]
    if params.exit_at == "close":
        return market.shift(start, params.hold_sessions - 1), "close"
    return market.shift(start, params.hold_sessions), "open"


@register(NAME, NewsMomentumParams, event_types=("news",))
def news_momentum(
    events: pd.DataFrame,
    market: MarketView,
    params: NewsMomentumParams,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Follow (or fade) a news catalyst's move for a number of sessions."""
    rows, dropped = [], []
    for _, event in events.iterrows():
        side, info, reason = _direction(event, market, params)
        if not side:
            dropped.append((event, reason, "catalyst move unknown, zero or below min_abs_move_pct"))
            continue
        entry = (event["session"], event["fill_at"])
        exit_ = _exit(event, market, params)
        if entry[1] == "close" and exit_ == (entry[0], "close"):
            exit_ = (market.shift(entry[0], 1), "close")
        rows.append(signal_row(NAME, event, side, event["actionable_at"], info, entry, exit_))
    return collect(rows, dropped, NAME)
