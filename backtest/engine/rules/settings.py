"""Engine settings and result (units in the names: bps, pct, cash in account currency)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backtest.core.schema import empty_drops
from backtest.engine.rules.caps import BookCaps
from backtest.engine.rules.defaults import (
    DEFAULT_FEES_BPS,
    DEFAULT_INIT_CASH,
    DEFAULT_SIZE,
    DEFAULT_SIZING,
    DEFAULT_SLIPPAGE_BPS,
)
from backtest.engine.rules.trade_costs import TradeCosts

__all__ = ["ENTRY_COLUMNS", "EngineResult", "EngineSettings", "empty_entries"]

# Per signal the book sized: when it entered, exited and planned to exit, the equity
# and target it was sized from, its size_pct (percent, portfolio: or vol_target sizing;
# NaN for fixed), the shares and entry fill the book gave it, the estimates its entry
# costs read and the impact they made (fractions of the price), its exit fill and what
# the exit's costs moved it by (spread and impact, a fraction), and the cut or drop
# reason ('' if none). Cost columns are NaN without a costs: section.
ENTRY_COLUMNS = [
    "event_id",
    "ticker",
    "entry_time",
    "exit_time",
    "exit_planned",
    "entry_equity",
    "target_spend",
    "size_pct",
    "shares",
    "entry_fill",
    "half_spread_in",
    "sigma_in",
    "adv_in",
    "impact_in",
    "exit_fill",
    "exit_cost",
    "reason",
]

_TEXT = {"event_id", "ticker", "reason"}
_TIMES = {"entry_time", "exit_time", "exit_planned"}


def empty_entries() -> pd.DataFrame:
    """An entries table without rows, with its columns' types (text, UTC times, floats).

    Examples
    --------
    >>> empty_entries().dtypes["shares"]
    dtype('float64')
    """
    return pd.DataFrame(
        {
            c: pd.Series(
                dtype=object if c in _TEXT else "datetime64[ns, UTC]" if c in _TIMES else float
            )
            for c in ENTRY_COLUMNS
        }
    )


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
    # Caps on the book (engine.caps). Sizing "vol_target" needs no setting here: each
    # signal carries its size_pct (backtest.engine.rules.sizing.vol_target_sizes).
    caps: BookCaps = BookCaps()


@dataclass(frozen=True)
class EngineResult:
    """Trades (schema in :mod:`backtest.core.schema`), daily equity and daily exposure.

    ``drops`` records the engine's own cuts and drops (stage ``sizing``, ``caps``
    or ``costs``: an entry cut to the free cash or a cap, a short on the
    do-not-short list...). ``entries`` has one row per signal the book sized
    (dropped ones too): what each entry was decided from (:data:`ENTRY_COLUMNS`),
    which the look-ahead audit compares; it is not written to the results folder.
    """

    trades: pd.DataFrame
    equity: pd.Series
    in_market: pd.Series
    drops: pd.DataFrame = field(default_factory=empty_drops)
    entries: pd.DataFrame = field(default_factory=lambda: empty_entries())
