"""Deterministic synthetic prices for tests and examples (alphalens-style geometric series).

Close grows by a fixed factor each session and every open gaps by a fixed
fraction from the previous close, so every expected trade return can be
written down by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["geometric_prices"]


def geometric_prices(
    sessions: pd.DatetimeIndex, start: float = 100.0, growth: float = 0.01, gap: float = 0.002
) -> pd.DataFrame:
    """Return OHLCV bars with ``close[i] = start * (1 + growth) ** i``.

    ``open[i] = close[i - 1] * (1 + gap)`` (for i = 0 the virtual previous close
    ``start / (1 + growth)``); high and low wrap open and close by 0.5%.

    Examples
    --------
    >>> s = pd.bdate_range("2026-01-05", periods=3)
    >>> geometric_prices(s)["close"].round(4).tolist()
    [100.0, 101.0, 102.01]
    >>> round(float(geometric_prices(s)["open"].iloc[1]), 6)
    100.2
    """
    i = np.arange(len(sessions))
    close = start * (1.0 + growth) ** i
    prev = np.r_[start / (1.0 + growth), close[:-1]]
    open_ = prev * (1.0 + gap)
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.005,
            "low": np.minimum(open_, close) * 0.995,
            "close": close,
            "volume": np.full(len(i), 1_000_000.0),
        },
        index=pd.DatetimeIndex(sessions, name="session"),
    )
    return frame
