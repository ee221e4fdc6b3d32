"""Events: load from any source into one table, then align each to a tradable session."""

from backtest.events.align import align_events
from backtest.events.loaders import (
    load_bundled_earnings,
    load_event_csv,
    load_inline_events,
    load_us100_earnings,
)
from backtest.events.news import load_news_folder
from backtest.events.table import make_event_table

__all__ = [
    "align_events",
    "load_bundled_earnings",
    "load_event_csv",
    "load_inline_events",
    "load_news_folder",
    "load_us100_earnings",
    "make_event_table",
]
