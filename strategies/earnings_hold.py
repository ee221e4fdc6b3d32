"""earnings_hold: hold a position across an earnings reaction, timed in sessions.

Hypothesis: the reaction session of an earnings report carries a drift (long),
a reversal (short), or follows the surprise sign (``side: surprise``).

Timing. The *reaction session* R is the event's aligned session (a bmo report:
the report day; amc or unknown: the next session). Entry is at ``entry_at`` of
session R - ``entry_offset``; exit at ``exit_at`` of session R + ``exit_offset``.
Offsets count exchange sessions, never calendar days. An entry before the
report's date was public (``known_at``) is dropped as ``entry_before_known_at``.
``side: surprise`` uses the report's content, so it may only enter at or after
the report's first tradable instant.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from backtest.signals import AT_RANK, MarketView, StrategyParams, register
from strategies._rows import collect, signal_row

NAME = "earnings_hold"


class EarningsHoldParams(StrategyParams):
    """Parameters of ``earnings_hold`` (sessions, not days)."""

    entry_offset: int = Field(1, ge=0, le=60, description="sessions before the reaction session")
    entry_at: Literal["open", "close"] = "close"
    exit_offset: int = Field(0, ge=0, le=250, description="sessions after the reaction session")
    exit_at: Literal["open", "close"] = "close"
    side: Literal["long", "short", "surprise"] = "long"
    min_abs_surprise_pct: float = Field(0.0, ge=0, description="with side=surprise, skip smaller")

    @model_validator(mode="after")
    def _entry_before_exit(self) -> EarningsHoldParams:
        if (-self.entry_offset, AT_RANK[self.entry_at]) >= (
            self.exit_offset,
            AT_RANK[self.exit_at],
        ):
            raise ValueError(
                "entry must come before exit: with entry_offset 0 and exit_offset 0 "
                "use entry_at: open and exit_at: close"
            )
        if self.side == "surprise" and self.entry_offset > 0:
            raise ValueError(
                "side: surprise needs the report, which is not public before the "
                "reaction session; set entry_offset: 0 (look-ahead otherwise)"
            )
        return self


def _surprise_side(event: pd.Series, params: EarningsHoldParams) -> tuple[int, str]:
    surprise = event.get("surprise_pct")
    if surprise is None or pd.isna(surprise):
        est, act = event.get("eps_estimate"), event.get("eps_actual")
        if est is None or act is None or pd.isna(est) or pd.isna(act) or est == 0:
            return 0, "no_surprise"
        surprise = 100.0 * (act - est) / abs(est)
    if abs(surprise) <= params.min_abs_surprise_pct or surprise == 0:
        return 0, "no_direction"
    return (1 if surprise > 0 else -1), ""


def _side(event: pd.Series, params: EarningsHoldParams) -> tuple[int, str]:
    if params.side == "surprise":
        return _surprise_side(event, params)
    return (1 if params.side == "long" else -1), ""


def _plan(
    event: pd.Series, market: MarketView, params: EarningsHoldParams
) -> tuple[dict | None, str, str]:
    side, reason = _side(event, params)
    if not side:
        return None, reason, "no usable EPS surprise for side: surprise"
    entry = (market.shift(event["session"], -params.entry_offset), params.entry_at)
    exit_ = (market.shift(event["session"], params.exit_offset), params.exit_at)
    decision = market.instant(*entry)
    info = event["actionable_at"] if params.side == "surprise" else event["known_at"]
    if decision < info:
        return None, "entry_before_known_at", f"entry {decision} precedes known_at {info}"
    return signal_row(NAME, event, side, decision, info, entry, exit_), "", ""


@register(NAME, EarningsHoldParams, event_types=("earnings",))
def earnings_hold(
    events: pd.DataFrame,
    market: MarketView,
    params: EarningsHoldParams,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold from N sessions before an earnings reaction to K sessions after it."""
    rows, dropped = [], []
    for _, event in events.iterrows():
        row, reason, detail = _plan(event, market, params)
        if row is None:
            dropped.append((event, reason, detail))
        else:
            rows.append(row)
    return collect(rows, dropped, NAME)
