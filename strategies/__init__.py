"""Built-in strategies, one per module; importing this package registers them all."""

from backtest.strategies import (
    analyst_revision_drift,
    earnings_hold,
    gap,
    news_momentum,
    news_reversal,
    per_event,
    post_earnings_drift,
    pre_earnings_runup,
)

__all__ = [
    "analyst_revision_drift",
    "earnings_hold",
    "gap",
    "news_momentum",
    "news_reversal",
    "per_event",
    "post_earnings_drift",
    "pre_earnings_runup",
]
