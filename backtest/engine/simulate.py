"""Engine contract: signals + prices -> trades, equity and exposure (:func:`simulate`).

One engine implements it, vectorbt (:mod:`backtest.engine.vectorbt`), taking
every fill, cost, sizing and exit rule from :mod:`backtest.engine.rules`. The
sweep kernel (:mod:`backtest.engine.kernel`) prices trades with the same rules;
tests/oracle_engine.py is a hand-checkable loop both are tested against.
"""

from __future__ import annotations

import pandas as pd

from backtest.core.timeline import Timeline
from backtest.engine.rules.settings import EngineResult, EngineSettings

__all__ = ["EngineResult", "EngineSettings", "simulate"]


def simulate(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> EngineResult:
    """Simulate one strategy's signals (vectorbt keeps the books, the rules price the fills)."""
    from backtest.engine.vectorbt import run_vectorbt

    return run_vectorbt(signals, prices, timeline, settings)
