"""Cost sensitivity of every strategy: its break-even cost and headline trade figures by cost.

For each strategy the table gives the break-even cost (bps per side at which
the mean trade return is zero) and, at an all-in cost of 0, 5, 10, 25 and 50
bps per side (replacing the configured fees and slippage, applied to both
fills at the reference prices: :func:`backtest.engine.rules.costs.return_at_cost`),
the mean and median trade return, the hit rate and the per-trade Sharpe ratio
(mean over standard deviation, not annualised), each with its ``n``. A run
writes it as ``cost_sensitivity.csv`` and prints it. A hedged strategy also
has ``<strategy>+hedge`` rows: both legs at that cost on each fill
(:func:`backtest.engine.rules.hedge.hedged_return_at_cost`).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from backtest.engine.rules.costs import break_even_bps, return_at_cost
from backtest.engine.rules.hedge import hedged_break_even_bps, hedged_return_at_cost

__all__ = ["COST_LEVELS_BPS", "cost_sensitivity"]

COST_LEVELS_BPS = (0.0, 5.0, 10.0, 25.0, 50.0)


def cost_sensitivity(trades: pd.DataFrame, levels=COST_LEVELS_BPS) -> pd.DataFrame:
    """One row per strategy and cost level (trades need reference prices, side, strategy).

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": "s", "side": [1, -1], "entry_ref_price": [100.0, 50.0],
    ...                   "exit_ref_price": [103.0, 49.0]})
    >>> out = cost_sensitivity(t, levels=(0.0, 50.0))
    >>> out[["cost_bps_per_side", "n", "mean_trade_return", "trade_hit_rate"]].round(4).values.tolist()
    [[0.0, 2.0, 0.025, 1.0], [50.0, 2.0, 0.015, 1.0]]
    >>> round(float(out["break_even_bps"].iloc[0]), 2)
    124.69
    """
    rows = []
    for strategy, t in trades.groupby("strategy", sort=False):
        ref_in = t["entry_ref_price"].to_numpy(dtype=float)
        ref_out = t["exit_ref_price"].to_numpy(dtype=float)
        side = t["side"].to_numpy(dtype=float)
        even = break_even_bps(ref_in, ref_out, side)
        rows += _level_rows(strategy, even, levels, partial(return_at_cost, ref_in, ref_out, side))
        if "hedge_ratio" in t and t["hedge_ratio"].notna().all():
            h_in = t["hedge_entry_ref_price"].to_numpy(dtype=float)
            h_out = t["hedge_exit_ref_price"].to_numpy(dtype=float)
            ratio = t["hedge_ratio"].to_numpy(dtype=float)
            h_even = hedged_break_even_bps(ref_in, ref_out, h_in, h_out, side, ratio)
            rows += _level_rows(
                f"{strategy}+hedge",
                h_even,
                levels,
                partial(hedged_return_at_cost, ref_in, ref_out, h_in, h_out, side, ratio),
            )
    return pd.DataFrame(rows, columns=list(_COLUMNS))


_COLUMNS = (
    "strategy",
    "n",
    "break_even_bps",
    "cost_bps_per_side",
    "mean_trade_return",
    "median_trade_return",
    "trade_hit_rate",
    "trade_sharpe",
)


def _level_rows(strategy: str, even: float, levels, returns_at) -> list[dict]:
    rows = []
    for c in levels:
        r = np.asarray(returns_at(c), dtype=float)
        sd = r.std(ddof=1) if len(r) > 1 else np.nan
        rows.append(
            {
                "strategy": strategy,
                "n": len(r),
                "break_even_bps": even,
                "cost_bps_per_side": c,
                "mean_trade_return": r.mean(),
                "median_trade_return": float(np.median(r)),
                "trade_hit_rate": float((r > 0).mean()),
                "trade_sharpe": r.mean() / sd if sd and sd > 0 else np.nan,
            }
        )
    return rows
