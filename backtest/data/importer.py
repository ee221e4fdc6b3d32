"""Convert a long-form price panel into a folder of per-ticker files, streaming.

``backtest data import SRC --to DIR`` reads a panel (``ticker, date, open, high,
low, close[, adj_close], volume``; CSV or Parquet) and writes ``DIR/<TICKER>.parquet``,
the per-ticker format ``data.source: files`` reads. The rules are those of
:func:`backtest.data.universe.read_panel` (tickers upper-cased, dates ``YYYY-MM-DD``
unless ``date_format`` says otherwise, a repeated ticker and date is an error naming
the file and rows), applied chunk by chunk so the file is never held in memory:

1. Parquet is read by record batches (:meth:`pyarrow.parquet.ParquetFile.iter_batches`),
   CSV by blocks (:func:`pyarrow.csv.open_csv`); each chunk is checked and its rows
   are appended to per-ticker part files in a temporary folder next to ``DIR``.
2. Each ticker's parts (one ticker's history: thousands of rows) are read back,
   sorted by date, checked for repeated dates and written as ``<TICKER>.parquet``.
3. The temporary folder is renamed to ``DIR``: on any error nothing is left behind
   and ``DIR`` is not created (an existing non-empty ``DIR`` is refused up front).

Files larger than ``max_bytes`` are refused before anything is read.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from backtest.core.errors import DataError, DataIntegrityError, DataUnavailable
from backtest.data.universe import (
    DATE_FORMAT,
    VALUE_COLUMNS,
    check_duplicates,
    clean_columns,
    normalise_tickers,
    parse_dates,
    parse_numbers,
)

__all__ = ["DEFAULT_MAX_BYTES", "ImportReport", "import_panel"]

DEFAULT_MAX_BYTES = 50 * 2**30  # 50 GiB: a bound on disk use, not on memory (streamed)
CHUNK_ROWS = 250_000
CSV_BLOCK_BYTES = 16 * 2**20
Progress = Callable[[int, int], None]  # (units done, units in all): rows or bytes


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_panel` wrote."""

    folder: Path
    tickers: int
    rows: int
    chunks: int
    first: pd.Timestamp
    last: pd.Timestamp
    recased: int  # tickers written in another case in the source (e.g. "aapl")


def _size_check(src: Path, max_bytes: int) -> None:
    if not src.is_file():
        raise DataUnavailable(str(src), "panel file not found")
    if src.suffix.lower() not in (".csv", ".parquet"):
        raise DataUnavailable(str(src), "a panel must be a .csv or .parquet file")
    size = src.stat().st_size
    if size > max_bytes:
        raise DataError(
            f"{src}: {size / 2**20:,.1f} MiB is above the import limit of "
            f"{max_bytes / 2**20:,.1f} MiB; split the file, or raise the limit with --max-mb"
        )


def _parquet_chunks(src: Path, rows: int, progress: Progress | None) -> Iterator[pd.DataFrame]:
    reader = pq.ParquetFile(src)
    total, done = reader.metadata.num_rows, 0
    for batch in reader.iter_batches(batch_size=rows):
        frame = batch.to_pandas()
        done += len(frame)
        yield frame
        if progress:
            progress(done, total)


def _csv_chunks(src: Path, block: int, progress: Progress | None) -> Iterator[pd.DataFrame]:
    total = src.stat().st_size
    with open(src, "rb") as handle:
        header = handle.readline().decode("utf-8-sig").strip()
        handle.seek(0)
        names = [c.strip().strip('"') for c in header.split(",")]
        options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        )
        try:
            reader = pacsv.open_csv(
                handle, read_options=pacsv.ReadOptions(block_size=block), convert_options=options
            )
            for batch in reader:
                yield batch.to_pandas()
                if progress:
                    progress(handle.tell(), total)
        except pa.ArrowInvalid as exc:
            raise DataIntegrityError(f"{src}: not a readable CSV panel: {exc}") from None


def _chunks(src: Path, chunk_rows: int, progress: Progress | None) -> Iterator[pd.DataFrame]:
    if src.suffix.lower() == ".parquet":
        yield from _parquet_chunks(src, chunk_rows, progress)
    else:
        yield from _csv_chunks(src, max(CSV_BLOCK_BYTES * chunk_rows // CHUNK_ROWS, 64), progress)


def _check_chunk(raw: pd.DataFrame, src: Path, offset: int, date_format: str) -> pd.DataFrame:
    frame = clean_columns(raw, src).reset_index(drop=True)
    original = frame["ticker"].astype(str).str.strip()
    frame["ticker"] = normalise_tickers(frame["ticker"])
    frame["_recased"] = original != frame["ticker"]
    frame["date"] = parse_dates(frame["date"], src, offset, date_format)
    frame = parse_numbers(frame, src, offset)
    frame["_row"] = offset + pd.RangeIndex(len(frame))
    return frame


def _spill(frame: pd.DataFrame, parts: Path, chunk: int) -> None:
    """Append a checked chunk's rows to ``parts/<TICKER>/<chunk>.parquet``."""
    for ticker, rows in frame.groupby("ticker", sort=False):
        folder = parts / str(ticker)
        folder.mkdir(exist_ok=True)
        rows.drop(columns=["ticker", "_recased"]).to_parquet(
            folder / f"{chunk:06d}.parquet", index=False
        )


def _finish(ticker: str, parts: Path, out: Path, src: Path) -> tuple[int, pd.Timestamp, ...]:
    frame = pd.concat(
        [pd.read_parquet(p) for p in sorted((parts / ticker).iterdir())], ignore_index=True
    )
    frame = frame.sort_values(["date", "_row"], kind="stable").reset_index(drop=True)
    check_duplicates(frame.assign(ticker=ticker), src, frame["_row"])
    columns = ["date", *[c for c in VALUE_COLUMNS if c in frame.columns]]
    frame[columns].to_parquet(out / f"{ticker}.parquet", index=False)
    return len(frame), frame["date"].iloc[0], frame["date"].iloc[-1]


def _target(to: Path) -> None:
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise DataError(
            f"{to} already exists and is not an empty folder; import into a new folder "
            "(nothing is overwritten)"
        )


def import_panel(
    src: Path,
    to: Path,
    date_format: str = DATE_FORMAT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> ImportReport:
    """Write ``to/<TICKER>.parquet`` for every ticker of the panel ``src``, streaming.

    Parameters
    ----------
    src : pathlib.Path
        A long-form panel, ``.csv`` or ``.parquet``.
    to : pathlib.Path
        New (or empty) folder; it appears only once every ticker is written.
    date_format : str
        ``strftime`` format of a text ``date`` column (default ``%Y-%m-%d``).
    max_bytes : int
        Refuse larger files before reading them.
    chunk_rows : int
        Rows per Parquet batch; CSV blocks scale with it.
    progress : callable, optional
        Called with (done, total) in rows (Parquet) or bytes (CSV) after each chunk.

    Raises
    ------
    DataError
        Too large, target not empty; :class:`DataIntegrityError` for a bad column,
        date or number (file and line or row named) or a repeated ticker and date.

    Examples
    --------
    >>> import tempfile
    >>> from backtest.data.bundled import bundled_file
    >>> out = Path(tempfile.mkdtemp()) / "us100"
    >>> r = import_panel(bundled_file("us100", "prices.parquet"), out, chunk_rows=100_000)
    >>> r.tickers, r.rows, r.chunks, sorted(p.name for p in out.iterdir())[:2]
    (100, 327671, 4, ['AAPL.parquet', 'ABBV.parquet'])
    """
    src, to = Path(src), Path(to)
    _size_check(src, max_bytes)
    _target(to)
    to.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{to.name}.import-", dir=to.parent))
    try:
        parts, out = work / "parts", work / "out"
        parts.mkdir()
        out.mkdir()
        offset, chunks, recased = 0, 0, set()
        for raw in _chunks(src, chunk_rows, progress):
            frame = _check_chunk(raw, src, offset, date_format)
            recased |= set(frame.loc[frame["_recased"], "ticker"])
            _spill(frame, parts, chunks)
            offset, chunks = offset + len(frame), chunks + 1
        if offset == 0:
            raise DataIntegrityError(f"{src}: the panel has no rows")
        done = [_finish(t.name, parts, out, src) for t in sorted(parts.iterdir())]
        if to.exists():
            to.rmdir()
        out.rename(to)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ImportReport(
        folder=to,
        tickers=len(done),
        rows=sum(n for n, _, _ in done),
        chunks=chunks,
        first=min(first for _, first, _ in done),
        last=max(last for _, _, last in done),
        recased=len(recased),
    )
