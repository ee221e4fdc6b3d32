"""Real daily prices that ship inside the package (see sample_data/DATA.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from backtest.core.errors import DataIntegrityError, DataUnavailable
from backtest.data.csvfile import csv_line, read_user_csv

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
    """Read a ``date,open,high,low,close[,adj_close],volume`` CSV into the prices schema.

    Headers are matched in any case, with spaces read as ``_`` (yfinance's
    ``Date,Open,High,Low,Close,Adj Close,Volume`` reads as is). Dates must be ISO
    (``2026-01-13``, optionally with a time and UTC offset); every other column a
    number or empty.

    Raises
    ------
    DataIntegrityError
        Naming the file, the line and the column of the first value that cannot be
        read, or the file problem (see :func:`backtest.data.csvfile.read_user_csv`).

    Examples
    --------
    >>> read_price_csv(bundled_file("prices", "BABA.csv")).loc["2026-01-12", "close"]
    np.float64(166.31)
    """
    frame = read_user_csv(path, "price", DataIntegrityError, as_text=False)
    frame.columns = [c.strip().lower().replace(" ", "_") for c in frame.columns]
    if "date" not in frame.columns:
        raise DataIntegrityError(
            f"{path}:1: no date column (header: {', '.join(frame.columns)}); the header must "
            "be date,open,high,low,close,volume (adj_close optional)"
        )
    if frame.empty:
        raise DataIntegrityError(f"{path}: no price rows (only a header); add one row per session")
    index = pd.DatetimeIndex(price_dates(frame.pop("date"), path), name="session")
    for column in frame.columns:
        frame[column] = _numbers(frame[column], path, column)
    frame.index = index
    return frame.astype("float64")


_ISO_DATE = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"


def price_dates(texts: pd.Series, path: Path) -> pd.DatetimeIndex:
    """Parse a price file's ISO dates; the first unreadable one is an error naming its line."""
    texts = texts.astype(str).str.strip()
    bad = ~texts.str.fullmatch(_ISO_DATE)
    if bad.any():
        pos = int(bad.to_numpy().argmax())
        raise DataIntegrityError(
            f"{path}:{csv_line(pos)}: date {texts.iloc[pos]!r} is not an ISO date; write "
            "YYYY-MM-DD (e.g. 2026-01-13; DD.MM.YYYY and MM/DD/YYYY are not read in price files)"
        )
    try:
        return pd.DatetimeIndex(pd.to_datetime(texts, format="ISO8601"))
    except (ValueError, OverflowError) as exc:  # mixed UTC offsets, out of range
        raise DataIntegrityError(
            f"{path}: dates cannot be read together ({' '.join(str(exc).split())[:120]}); "
            "give every date as plain YYYY-MM-DD or all with one UTC offset"
        ) from None


def _numbers(values: pd.Series, path: Path, column: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        pos = int(bad.to_numpy().argmax())
        raise DataIntegrityError(
            f"{path}:{csv_line(pos)}: {column} {values.iloc[pos]!r} is not a number; write a "
            "plain number with a dot for decimals (e.g. 166.31), or leave the cell empty"
        )
    return numbers


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
