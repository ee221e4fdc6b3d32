"""Engine contract: signals + prices -> trades, equity and exposure (:func:`simulate`).

Two engines implement it: ``vectorbt`` (:mod:`backtest.engine.vectorbt`, the
default) and ``reference`` (:mod:`backtest.engine.reference`, its parity oracle).
Both take their fill, cost and exit rules from :mod:`backtest.engine.rules`.
"""

from __future__ import annotations

import pandas as pd

from backtest.core.errors import ConfigError
from backtest.core.timeline import Timeline
from backtest.engine.rules import EngineResult, EngineSettings

__all__ = ["EngineResult", "EngineSettings", "simulate"]


def simulate(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> EngineResult:
    """Run the configured engine on one strategy's signals."""
    if settings.engine == "vectorbt":
        from backtest.engine.vectorbt import run_vectorbt

        return run_vectorbt(signals, prices, timeline, settings)
    if settings.engine == "reference":
        from backtest.engine.reference import run_reference

        return run_reference(signals, prices, timeline, settings)
    raise ConfigError(f"engine.engine must be 'vectorbt' or 'reference', got {settings.engine!r}")
