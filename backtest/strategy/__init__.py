"""The strategy API: what user plugins and the built-in library import.

Per-event strategies (one function per event)::

    from backtest.strategy import Skip, StrategyParams, Trade, at_close, register_event_strategy

Vectorized planners (every parameter combination at once, over arrays):
:func:`register_planner` and :mod:`backtest.strategy.plan`.
"""

from backtest.strategy.per_event import (
    Event,
    EventMarket,
    Point,
    Skip,
    Trade,
    at_close,
    at_open,
    hold,
    register_event_strategy,
    surprise_pct,
)
from backtest.strategy.signals import MarketView, StrategyParams, register_planner

__all__ = [
    "Event",
    "EventMarket",
    "MarketView",
    "Point",
    "Skip",
    "StrategyParams",
    "Trade",
    "at_close",
    "at_open",
    "hold",
    "register_event_strategy",
    "register_planner",
    "surprise_pct",
]
