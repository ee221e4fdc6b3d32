"""Prices from the user's own CSV or Parquet files, one file per ticker."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.core.errors import DataUnavailable
from backtest.data.bundled import read_price_csv

__all__ = ["FilePrices"]


class FilePrices:
    """Price source reading ``<folder>/<TICKER>.csv`` or ``<TICKER>.parquet``.

    Files need the columns ``date, open, high, low, close, volume`` (any case;
    ``Adj Close``/``adj_close`` optional).
    """

    name = "files"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def load(self, ticker: str) -> pd.DataFrame:
        """Return the raw prices of ``ticker`` from the folder."""
        for suffix in (".parquet", ".csv"):
            path = self.folder / f"{ticker}{suffix}"
            if path.is_file():
                return self._read(path)
        raise DataUnavailable(
            ticker, f"no {ticker}.csv or {ticker}.parquet in {self.folder.resolve()}"
        )

    @staticmethod
    def _read(path: Path) -> pd.DataFrame:
        if path.suffix == ".csv":
            return read_price_csv(path)
        frame = pd.read_parquet(path)
        frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
        if "date" in frame.columns:
            frame = frame.set_index("date")
        frame.index = pd.DatetimeIndex(frame.index, name="session")
        return frame.astype("float64")
