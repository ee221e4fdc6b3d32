"""Engine settings and result (units in the names: bps, pct, cash in account currency)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backtest.core.schema import empty_drops
from backtest.engine.rules.defaults import (
    DEFAULT_FEES_BPS,
    DEFAULT_INIT_CASH,
    DEFAULT_SIZE,
    DEFAULT_SIZING,
    DEFAULT_SLIPPAGE_BPS,
)
from backtest.engine.rules.trade_costs import TradeCosts

__all__ = ["EngineResult", "EngineSettings"]


@dataclass(frozen=True)
class EngineSettings:
    """Simulation settings; the defaults are the config's (:mod:`~backtest.engine.rules.defaults`).

    Examples
    --------
    >>> EngineSettings().size
    10.0
    """

    init_cash: float = DEFAULT_INIT_CASH
    fees_bps: float = DEFAULT_FEES_BPS
    slippage_bps: float = DEFAULT_SLIPPAGE_BPS
    sizing: str = DEFAULT_SIZING
    size: float = DEFAULT_SIZE
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    costs: TradeCosts = TradeCosts()


@dataclass(frozen=True)
class EngineResult:
    """Trades (schema in :mod:`backtest.core.schema`), daily equity and daily exposure.

    ``drops`` records the engine's own cuts and drops (stage ``sizing`` or
    ``costs``: an entry cut to the free cash, a short on the do-not-short list...).
    """

    trades: pd.DataFrame
    equity: pd.Series
    in_market: pd.Series
    drops: pd.DataFrame = field(default_factory=empty_drops)
