"""Subprocess bodies for tests/test_cache.py (importable by spawned children)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.cache import CacheKey, ParquetCache

KEY = CacheKey("prices", "KILL", "1d", "unadjusted")
ROWS = 200_000


def version_frame(version: int, rows: int = ROWS) -> pd.DataFrame:
    """Every cell of version ``v`` equals ``v``: a torn mix of two versions is visible."""
    return pd.DataFrame({"close": np.full(rows, float(version)), "volume": np.full(rows, version)})


def write_forever(root: str, start_version: int) -> None:
    """Write versions start, start+1, ... until killed."""
    cache = ParquetCache(Path(root))
    version = start_version
    while True:
        cache.write(KEY, version_frame(version), pd.Timestamp.now(tz="UTC"), "test")
        version += 1


def write_n(root: str, writer: int, times: int) -> None:
    """Write ``times`` entries whose cells all equal ``writer * 1000 + i``."""
    cache = ParquetCache(Path(root))
    for i in range(times):
        frame = version_frame(writer * 1000 + i, rows=20_000)
        cache.write(KEY, frame, pd.Timestamp.now(tz="UTC"), "test")
