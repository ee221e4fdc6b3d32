"""Prices from the user's own CSV or Parquet files: one file per ticker, or one panel file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.core.errors import DataIntegrityError, DataUnavailable
from backtest.data.bundled import read_price_csv
from backtest.data.universe import PanelPrices

__all__ = ["FilePrices"]


class FilePrices:
    """Price source reading ``<folder>/<TICKER>.csv`` or ``<TICKER>.parquet``, or one panel.

    Files need the columns ``date, open, high, low, close, volume`` (any case;
    ``Adj Close``/``adj_close`` optional). When ``folder`` is a ``.csv`` or
    ``.parquet`` file instead of a folder, it is read as a long-form panel with
    a ``ticker`` column too, checked as :func:`backtest.data.universe.read_panel`
    says (tickers upper-cased; a repeated ticker and date or an unreadable date
    is an error naming the file and row).
    """

    name = "files"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        is_panel = self.folder.suffix.lower() in (".csv", ".parquet") and not self.folder.is_dir()
        self._panel = PanelPrices(self.folder) if is_panel else None

    def load(self, ticker: str) -> pd.DataFrame:
        """Return the raw prices of ``ticker`` from the folder or the panel."""
        if self._panel is not None:
            return self._panel.load(ticker)
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
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises its own types for a file that is not Parquet
            raise DataIntegrityError(
                f"{path}: cannot read it as Parquet ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:160]}); write it with pandas.to_parquet or use CSV"
            ) from None
        frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
        if "date" in frame.columns:
            frame = frame.set_index("date")
        try:
            frame.index = pd.DatetimeIndex(frame.index, name="session")
            return frame.astype("float64")
        except (ValueError, TypeError) as exc:
            raise DataIntegrityError(
                f"{path}: needs a date column of dates and numeric price columns "
                f"({' '.join(str(exc).split())[:160]})"
            ) from None
