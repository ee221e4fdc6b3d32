"""Long-form price panels: the bundled ``us100`` set and users' own panel files.

A panel holds many tickers in one table, one row per (ticker, session), with
columns ``ticker, date, open, high, low, close[, adj_close], volume`` (any
case; ``Adj Close`` is read as ``adj_close``). :func:`read_panel` checks it at
the boundary and :func:`split_panel` turns it into the per-ticker frames every
other price source returns (index ``session``, float64 columns, as
:func:`backtest.data.bundled.read_price_csv`).

Rules of :func:`read_panel`:

- tickers are stripped and upper-cased (``aapl`` and ``AAPL`` are one name), so
  two rows that differ only by the case of the ticker are duplicates;
- dates are calendar dates ``YYYY-MM-DD`` (a Parquet ``date`` or naive
  midnight ``timestamp`` column is accepted as is); anything else is an error
  naming the file, row and column;
- a repeated (ticker, date) is an error naming the file and the first repeat.

The bundled panel (``sample_data/us100/prices.parquet``, see
``sample_data/DATA.md``) holds the 100 most liquid names of a 2023-03..2024-03
ranking, sessions 2010-01-04..2024-03-08, prices at float32 precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backtest.core.errors import DataIntegrityError, DataUnavailable
from backtest.data.bundled import BundledPrices, bundled_file

__all__ = [
    "BundledUniverse",
    "PanelPrices",
    "load_us100",
    "panel_tickers",
    "read_panel",
    "split_panel",
    "survivorship_note",
    "us100_tickers",
]

PANEL_REQUIRED = ("ticker", "date", "open", "high", "low", "close", "volume")
VALUE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
DATE_FORMAT = "%Y-%m-%d"
# The resolution pandas gives parsed dates (ns in pandas 2, us in 3), as read_price_csv has.
_DATE_DTYPE = pd.to_datetime(pd.Series(["2024-01-02"]), format=DATE_FORMAT).dtype


def clean_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A panel's columns, lower-cased (``Adj Close`` -> ``adj_close``), required ones checked."""
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    missing = [c for c in PANEL_REQUIRED if c not in frame.columns]
    if missing:
        raise DataIntegrityError(
            f"{path}: panel lacks column(s) {', '.join(missing)}; a panel needs "
            f"{', '.join(PANEL_REQUIRED)} (adj_close optional)"
        )
    return frame[[c for c in ("ticker", "date", *VALUE_COLUMNS) if c in frame.columns]]


def _row_name(path: Path, pos: int) -> str:
    """A row as the user finds it: the CSV line (header is line 1) or the Parquet row."""
    return f"line {pos + 2}" if path.suffix.lower() == ".csv" else f"row {pos + 1}"


def parse_dates(
    values: pd.Series, path: Path, offset: int = 0, date_format: str = DATE_FORMAT
) -> pd.Series:
    """Session dates of a panel's ``date`` column (rows of a chunk start at ``offset``).

    Raises
    ------
    DataIntegrityError
        Naming the file, the first bad line (CSV) or row (Parquet), its value and the
        expected format.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            raise DataIntegrityError(
                f"{path}: column date holds time-zone-aware timestamps; "
                f"store calendar dates ({DATE_FORMAT}) of the session"
            )
        parsed = values
    elif pd.api.types.infer_dtype(values, skipna=False) == "date":
        parsed = pd.to_datetime(values)  # Parquet date32, read as datetime.date objects
    else:
        parsed = pd.to_datetime(values.astype(str).str.strip(), format=date_format, errors="coerce")
    bad = parsed.isna() | (parsed != parsed.dt.normalize())
    if bad.any():
        pos = int(bad.to_numpy().nonzero()[0][0])
        example = pd.Timestamp("2024-03-08").strftime(date_format)
        expected = "YYYY-MM-DD" if date_format == DATE_FORMAT else date_format
        raise DataIntegrityError(
            f"{path}: {_row_name(path, offset + pos)}, column date: cannot read "
            f"{values.iloc[pos]!r} as a session date; expected {expected} (e.g. {example}), "
            f"{int(bad.sum())} such row(s)" + (_FORMAT_HINT if date_format == DATE_FORMAT else "")
        )
    return parsed.astype(_DATE_DTYPE)


_FORMAT_HINT = "; another format can be read with `backtest data import --date-format`"


def parse_numbers(frame: pd.DataFrame, path: Path, offset: int = 0) -> pd.DataFrame:
    """The value columns of a panel chunk as float64 (rows start at ``offset``)."""
    for col in [c for c in VALUE_COLUMNS if c in frame.columns]:
        raw = frame[col]
        if pd.api.types.is_numeric_dtype(raw):
            frame[col] = raw.astype("float64")
            continue
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            pos = int(bad.to_numpy().nonzero()[0][0])
            raise DataIntegrityError(
                f"{path}: {_row_name(path, offset + pos)}, column {col}: {raw.iloc[pos]!r} is "
                "not a number"
            )
        frame[col] = values.astype("float64")
    return frame


def normalise_tickers(values: pd.Series) -> pd.Series:
    """Tickers stripped and upper-cased: ``aapl`` and ``AAPL`` are one name.

    Examples
    --------
    >>> normalise_tickers(pd.Series([" aapl", "Msft"])).tolist()
    ['AAPL', 'MSFT']
    """
    return values.astype(str).str.strip().str.upper()


def check_duplicates(frame: pd.DataFrame, path: Path, rows: pd.Series | None = None) -> None:
    """Raise on a repeated (ticker, date), naming the file and the rows of the first repeat.

    ``rows`` holds each row's position in the file (default: its position in ``frame``).
    """
    dup = frame.duplicated(["ticker", "date"], keep=False)
    if dup.any():
        where = np.arange(len(frame)) if rows is None else np.asarray(rows)
        pos = dup.to_numpy().nonzero()[0]
        first = frame.iloc[pos[0]]
        same = pos[(frame["ticker"].iloc[pos] == first["ticker"]).to_numpy()]
        same = same[(frame["date"].iloc[same] == first["date"]).to_numpy()]
        first_rows = sorted(int(where[p]) for p in same)[:3]
        rows = ", ".join(_row_name(path, p) for p in first_rows)
        raise DataIntegrityError(
            f"{path}: duplicate (ticker, date) {first['ticker']} {first['date']:%Y-%m-%d} at "
            f"{rows} (tickers are compared upper-case); {int(dup.sum())} rows in all are "
            "repeats: keep one row per ticker and session"
        )


def _read_raw(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataUnavailable(str(path), "panel file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise DataUnavailable(str(path), "a panel must be a .csv or .parquet file")


def read_panel(
    path: Path,
    tickers: Iterable[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Read and check a long-form panel; keep ``tickers`` and dates ``start..end`` (inclusive).

    Returns a frame with columns ``ticker, date`` (naive midnight) and float64
    values, sorted by ticker and date. The whole file is checked before
    filtering, so an error does not depend on which tickers were asked for.

    Raises
    ------
    DataUnavailable
        The file does not exist or is neither CSV nor Parquet.
    DataIntegrityError
        A missing column, an unreadable date or number, or a repeated (ticker, date).

    Examples
    --------
    >>> p = read_panel(bundled_file("us100", "prices.parquet"), ["aapl"], "2024-03-07")
    >>> p[["ticker", "close"]].round(2).values.tolist()
    [['AAPL', 169.0], ['AAPL', 170.73]]
    """
    path = Path(path)
    frame = clean_columns(_read_raw(path), path).reset_index(drop=True)
    frame["ticker"] = normalise_tickers(frame["ticker"])
    frame["date"] = parse_dates(frame["date"], path)
    frame = parse_numbers(frame, path)
    check_duplicates(frame, path)
    if tickers is not None:
        frame = frame[frame["ticker"].isin([str(t).strip().upper() for t in tickers])]
    if start is not None:
        frame = frame[frame["date"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["date"] <= pd.Timestamp(end)]
    return frame.sort_values(["ticker", "date"]).reset_index(drop=True)


def split_panel(panel: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per-ticker price frames (index ``session``, float64 columns) from a checked panel.

    Examples
    --------
    >>> panel = pd.DataFrame({"ticker": ["A", "A"], "date": pd.to_datetime(["2024-01-02",
    ...     "2024-01-03"]), "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0})
    >>> f = split_panel(panel)["A"]; f.index.name, list(f.columns)
    ('session', ['open', 'high', 'low', 'close', 'volume'])
    """
    columns = [c for c in VALUE_COLUMNS if c in panel.columns]
    out = {}
    for ticker, rows in panel.groupby("ticker", sort=True):
        frame = rows.set_index(pd.DatetimeIndex(rows["date"], name="session"))[columns]
        out[str(ticker)] = frame.astype("float64")
    return out


class PanelPrices:
    """Price source reading one long-form panel file (CSV or Parquet), checked once.

    Examples
    --------
    >>> src = PanelPrices(bundled_file("us100", "prices.parquet"))
    >>> src.load("MSFT").loc["2024-03-08", "volume"] > 0
    np.True_
    """

    name = "panel"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._frames: dict[str, pd.DataFrame] | None = None

    def tickers(self) -> list[str]:
        """The tickers in the panel, sorted."""
        return sorted(self._all())

    def _all(self) -> dict[str, pd.DataFrame]:
        if self._frames is None:
            self._frames = split_panel(read_panel(self.path))
        return self._frames

    def load(self, ticker: str) -> pd.DataFrame:
        """Return the raw prices of ``ticker`` (a copy)."""
        frames = self._all()
        if ticker not in frames:
            raise DataUnavailable(
                ticker,
                f"not in the panel {self.path} ({len(frames)} tickers; tickers are upper-case)",
            )
        return frames[ticker].copy()


class BundledUniverse(PanelPrices):
    """The bundled ``us100`` panel as a price source (see ``sample_data/DATA.md``).

    A ticker that is not one of the 100 names (a benchmark such as SPY or QQQ)
    is read from the bundled per-ticker CSVs (:class:`~backtest.data.bundled.BundledPrices`);
    a name in the panel always comes from the panel.

    Examples
    --------
    >>> src = BundledUniverse()
    >>> "SPY" in src.tickers(), src.load("SPY").loc["2024-03-08", "close"] > 0
    (False, np.True_)
    """

    name = "us100"

    def __init__(self) -> None:
        super().__init__(bundled_file("us100", "prices.parquet"))

    def load(self, ticker: str) -> pd.DataFrame:
        """Return the raw prices of ``ticker``: from the panel, else from the bundled CSVs."""
        if ticker in self._all():
            return super().load(ticker)
        return BundledPrices().load(ticker)


@lru_cache(maxsize=4)
def panel_tickers(path: Path) -> tuple[str, ...]:
    """The distinct tickers of a Parquet panel, sorted, reading only its ``ticker`` column.

    Cheap (no prices are read), so a config can default to "every name of the panel".

    Examples
    --------
    >>> panel_tickers(bundled_file("us100", "prices.parquet"))[-2:]
    ('WMT', 'XOM')
    """
    column = pq.read_table(path, columns=["ticker"]).column("ticker")
    return tuple(sorted(str(t).strip().upper() for t in pc.unique(column).to_pylist()))


def us100_tickers() -> list[str]:
    """The 100 tickers of the bundled panel, sorted.

    Examples
    --------
    >>> t = us100_tickers(); len(t), t[:3]
    (100, ['AAPL', 'ABBV', 'ABNB'])
    """
    return list(panel_tickers(bundled_file("us100", "prices.parquet")))


def survivorship_note(n_names: int) -> str:
    """What a run on the bundled ``us100`` universe must say about its names (manifest, report).

    Examples
    --------
    >>> survivorship_note(100)[:41]
    "us100: 100 names, today's survivors (the "
    """
    return (
        f"us100: {n_names} names, today's survivors (the most liquid US names of "
        "2023-03..2024-03, chosen with knowledge of the end of the sample): survivorship "
        "bias, results overstate what picking from the 2010 universe would have earned "
        "(sample_data/DATA.md)"
    )


def load_us100(
    tickers: Iterable[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> dict[str, pd.DataFrame]:
    """Per-ticker frames of the bundled panel, optionally only ``tickers`` and ``start..end``.

    Examples
    --------
    >>> frames = load_us100(["NVDA", "TSLA"], start="2024-01-01")
    >>> sorted(frames), len(frames["NVDA"])
    (['NVDA', 'TSLA'], 47)
    """
    path = bundled_file("us100", "prices.parquet")
    return split_panel(read_panel(path, tickers, start, end))
