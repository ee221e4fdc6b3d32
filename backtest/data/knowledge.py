"""What was knowable at an instant: prices cut at a cut instant.

One rule, used by the look-ahead audit (:mod:`backtest.audit.future`) and by
``backtest signals`` (:mod:`backtest.run.ahead`): daily bar D is knowable at D's
close, so the prices known at ``cut`` are the bars that closed at or before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["closes_after", "truncate_after"]


def closes_after(frame: pd.DataFrame, cut: pd.Timestamp, cal) -> np.ndarray:
    """Per bar of ``frame``: whether its session closes after ``cut``."""
    return (cal.closes.reindex(frame.index) > cut).to_numpy()


def truncate_after(prices: dict[str, pd.DataFrame], cut: pd.Timestamp, cal) -> dict:
    """Keep only bars that closed at or before ``cut`` (tickers left empty are removed).

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> from backtest.data.synthetic import geometric_prices
    >>> cal = get_calendar("XNYS")
    >>> days = cal.sessions_in_range("2026-01-05", "2026-01-09")
    >>> cut = pd.Timestamp("2026-01-07 21:00", tz="UTC")  # the close of 01-07
    >>> len(truncate_after({"A": geometric_prices(days)}, cut, cal)["A"])
    3
    """
    kept = {t: f[~closes_after(f, cut, cal)] for t, f in prices.items()}
    return {t: f for t, f in kept.items() if len(f)}
