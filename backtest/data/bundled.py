"""Real daily prices that ship inside the package (see sample_data/DATA.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from backtest.core.errors import DataUnavailable

__all__ = ["BundledPrices", "bundled_file", "bundled_tickers"]


def bundled_file(*parts: str) -> Path:
    """Return the path of a file inside ``backtest/sample_data``.

    Examples
    --------
    >>> bundled_file("prices", "BABA.csv").name
    'BABA.csv'
    """
    return Path(str(resources.files("backtest").joinpath("sample_data", *parts)))


def bundled_tickers() -> list[str]:
    """Return the tickers with bundled prices, sorted.

    Examples
    --------
    >>> "BABA" in bundled_tickers() and "SPY" in bundled_tickers()
    True
    """
    folder = bundled_file("prices")
    return sorted(p.stem for p in folder.glob("*.csv") if not p.stem.startswith("_"))


def read_price_csv(path: Path) -> pd.DataFrame:
    """Read a ``date,open,high,low,close[,adj_close],volume`` CSV into the prices schema."""
    frame = pd.read_csv(path, parse_dates=["date"])
    frame.columns = [c.strip().lower().replace(" ", "_") for c in frame.columns]
    frame = frame.rename(columns={"date": "session"}).set_index("session")
    return frame.astype("float64")


class BundledPrices:
    """Price source reading the CSVs bundled with the package.

    Examples
    --------
    >>> BundledPrices().load("BABA").loc["2026-01-12", "close"]
    np.float64(166.31)
    """

    name = "bundled"

    def load(self, ticker: str) -> pd.DataFrame:
        """Return the raw bundled prices of ``ticker``."""
        path = bundled_file("prices", f"{ticker}.csv")
        if not path.is_file():
            raise DataUnavailable(
                ticker,
                f"not in the bundled sample (have: {', '.join(bundled_tickers())}); "
                "use data.source: yfinance or files",
            )
        return read_price_csv(path)
