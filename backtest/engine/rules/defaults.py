"""Defaults of every execution setting, in one place.

The config model (:class:`backtest.config.model.EngineConfig`,
``EventsConfig.overlap``) and :class:`~backtest.engine.rules.settings.EngineSettings`
both read them from here, so a run from a YAML file and a run from Python
settings size, charge and overlap alike.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_FEES_BPS",
    "DEFAULT_INIT_CASH",
    "DEFAULT_OVERLAP",
    "DEFAULT_SIZE",
    "DEFAULT_SIZING",
    "DEFAULT_SLIPPAGE_BPS",
    "DEFAULT_VOL_MAX_PCT",
    "DEFAULT_VOL_WINDOW",
]

DEFAULT_INIT_CASH = 100_000.0
DEFAULT_FEES_BPS = 10.0
DEFAULT_SLIPPAGE_BPS = 5.0
# Percent of the cash available at entry: 10 % leaves room for overlapping trades.
DEFAULT_SIZING = "percent"
DEFAULT_SIZE = 10.0
DEFAULT_OVERLAP = "skip"
# vol_target sizing: a month of daily returns, and no position above the whole equity.
DEFAULT_VOL_WINDOW = 20
DEFAULT_VOL_MAX_PCT = 100.0
