"""Execution rules, written once: fills, costs, sizing, stops, time exits and overlaps.

Every engine takes its rules from here, as plain functions over arrays:

* :mod:`~backtest.engine.rules.costs`: slipped fill prices, fees, net returns;
* :mod:`~backtest.engine.rules.exits`: time exits, stop-loss / take-profit levels
  and the gap-through rule, exit reasons;
* :mod:`~backtest.engine.rules.sizing` and :mod:`~backtest.engine.rules.book`: percent of
  equity, fixed or volatility-targeted entry sizes, in shares, never spending short proceeds;
* :mod:`~backtest.engine.rules.caps`: caps on a book's positions, gross and net
  exposure and per-name weight, which the book applies;
* :mod:`~backtest.engine.rules.estimates`: trailing beta, spread, volatility and ADV;
* :mod:`~backtest.engine.rules.overlap`: ``events.overlap`` (skip, allow, truncate);
* :mod:`~backtest.engine.rules.defaults`: the defaults of all of them, which the
  config model reads too;
* :mod:`~backtest.engine.rules.settings`: :class:`EngineSettings` and :class:`EngineResult`.

The vectorbt engine (:mod:`backtest.engine.vectorbt`) asks these functions for
every trade's exit tick and fill prices, sizes and fee rate and leaves vectorbt
only the cash and positions; the sweep kernel (:mod:`backtest.engine.kernel`)
prices trades with the same functions. tests/test_rules_once.py keeps the
arithmetic here.

Returns. ``gross_return`` is the market move over the holding window at the
reference (unslipped) prices, signed by side. ``net_return`` is the trade's
P&L after fees and slippage divided by its entry fill value (size times entry
fill price), as vectorbt defines it; with zero costs it equals ``gross_return``.
"""

from backtest.engine.rules.book import book_sizes
from backtest.engine.rules.costs import BPS, fee, fee_rate, fill_price, net_return, slip_rate
from backtest.engine.rules.exits import (
    EXIT_REASONS,
    Exits,
    planned_exit_reason,
    reason_names,
    stop_fill,
    stop_levels,
    trade_exits,
)
from backtest.engine.rules.overlap import (
    OVERLAPS,
    apply_overlap,
    overlap_signals,
    truncate_signals,
)
from backtest.engine.rules.settings import EngineResult, EngineSettings

__all__ = [
    "BPS",
    "EXIT_REASONS",
    "OVERLAPS",
    "EngineResult",
    "EngineSettings",
    "Exits",
    "apply_overlap",
    "book_sizes",
    "fee",
    "fee_rate",
    "fill_price",
    "net_return",
    "overlap_signals",
    "planned_exit_reason",
    "reason_names",
    "slip_rate",
    "stop_fill",
    "stop_levels",
    "trade_exits",
    "truncate_signals",
]
