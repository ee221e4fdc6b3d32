"""Performance metrics: pure functions of equity curves and trade returns.

Placeholder-free minimal set used by runs; see tests/test_metrics.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["summarize"]

SESSIONS_PER_YEAR = 252


def _returns(equity: pd.Series) -> pd.Series:
    return equity.pct_change().dropna()


def _sharpe(r: pd.Series) -> float:
    sd = r.std(ddof=1)
    if len(r) < 2 or not np.isfinite(sd) or sd <= 1e-12 * max(abs(r.mean()), 1e-12):
        return float("nan")
    return float(r.mean() / sd * np.sqrt(SESSIONS_PER_YEAR))


def summarize(equity, trade_returns, in_market, benchmark_equity=None) -> dict:
    """Temporary summary; replaced by the full metrics module."""
    r = _returns(equity)
    t = trade_returns.dropna()
    total = float(equity.iloc[-1] / equity.iloc[0] - 1)
    years = (len(equity) - 1) / SESSIONS_PER_YEAR
    bench = float("nan")
    if benchmark_equity is not None and benchmark_equity.notna().sum() >= 2:
        b = benchmark_equity.dropna()
        bench = float(b.iloc[-1] / b.iloc[0] - 1)
    down = r[r < 0]
    return {
        "total_return": total,
        "cagr": float((1 + total) ** (1 / years) - 1) if years > 0 else float("nan"),
        "sharpe": _sharpe(r),
        "sortino": float(r.mean() / np.sqrt((down**2).mean()) * np.sqrt(SESSIONS_PER_YEAR))
        if len(down)
        else float("nan"),
        "max_drawdown": float((equity / equity.cummax() - 1).min()),
        "annual_volatility": float(r.std(ddof=1) * np.sqrt(SESSIONS_PER_YEAR)),
        "hit_rate": float((t > 0).mean()) if len(t) else float("nan"),
        "avg_trade_return": float(t.mean()) if len(t) else float("nan"),
        "n_trades": int(len(t)),
        "exposure": float(in_market.mean()),
        "benchmark_return": bench,
    }
