"""The one boundary every user CSV (events, prices, ISIN tables) is read through.

:func:`read_user_csv` checks the file before pandas sees it (it exists, is no
larger than :data:`MAX_CSV_BYTES`, is not empty, is text rather than binary) and
turns every pandas or decoding failure into the project's error tree with the
file, the line where there is one, and what to do. Cells come back as strings
(nothing guessed: ``NA`` stays ``"NA"``), so each reader converts its columns
and can name the line of a bad value (:func:`csv_line`).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = path.write_text("ticker,date\\nBABA,2026-01-13\\n")
>>> read_user_csv(path, "event").to_dict("records")
[{'ticker': 'BABA', 'date': '2026-01-13'}]
>>> _ = path.write_text("ticker;date\\nBABA;2026-01-13\\n")
>>> read_user_csv(path, "event")
Traceback (most recent call last):
...
backtest.core.errors.DataError: ...t.csv:1: event file uses ';' as its separator; save it comma-separated (,)
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from backtest.core.errors import DataError

__all__ = ["MAX_CSV_BYTES", "csv_line", "read_user_csv"]

# Larger files are refused before reading: a year of minute bars of one ticker is ~10 MB.
MAX_CSV_BYTES = 512 * 2**20
_SNIFF = 64 * 1024
_LINE = re.compile(r"line (\d+)")


def csv_line(row_position: int) -> int:
    """The 1-based file line of the data row at ``row_position`` (0-based, after the header).

    Examples
    --------
    >>> csv_line(0)
    2
    """
    return row_position + 2


def _check_file(path: Path, what: str, error: type[Exception]) -> bytes:
    """The first bytes of the file, after the checks that need no parsing."""
    if not path.exists():
        raise error(f"{what} file not found: {path.resolve()}")
    if not path.is_file():
        raise error(f"{path.resolve()}: is not a file; give the {what} CSV itself")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_SNIFF)
    except OSError as exc:
        raise error(f"cannot read {what} file {path.resolve()}: {exc.strerror or exc}") from None
    if size > MAX_CSV_BYTES:
        raise error(
            f"{path}: {size / 2**20:.0f} MB is larger than a {what} CSV may be "
            f"({MAX_CSV_BYTES / 2**20:.0f} MB); split it or use Parquet"
        )
    if not head.strip():
        raise error(f"{path}: the {what} file is empty; it needs a header line and rows")
    if b"\x00" in head:
        raise error(
            f"{path}: not a text file (it holds NUL bytes); give a comma-separated {what} CSV"
        )
    return head


def _header(head: bytes, path: Path, what: str, error: type[Exception], encoding: str) -> str:
    try:
        text = head.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut by the sniff window
            raise error(
                f"{path}: not a text file in {encoding} (byte {exc.start}); save the {what} "
                "CSV as UTF-8 text"
            ) from None
        text = head[: exc.start].decode(encoding)
    return text.splitlines()[0] if text.splitlines() else ""


def _check_separator(header: str, path: Path, what: str, error: type[Exception]) -> None:
    if "," in header:
        return
    for sep, name in ((";", "';'"), ("\t", "a tab"), ("|", "'|'")):
        if sep in header:
            raise error(
                f"{path}:1: {what} file uses {name} as its separator; save it comma-separated (,)"
            )


def read_user_csv(
    path: Path,
    what: str,
    error: type[Exception] = DataError,
    encoding: str = "utf-8",
    as_text: bool = True,
) -> pd.DataFrame:
    """Read a user CSV as strings, or raise ``error`` naming the file, line and fix.

    Parameters
    ----------
    path : Path
        The file.
    what : str
        What the file holds (``"event"``, ``"price"``, ``"ISIN table"``), for messages.
    error : type
        The :class:`~backtest.core.errors.BacktestError` subclass to raise.
    encoding : str
        The text encoding (UTF-8 unless the source says otherwise).
    as_text : bool
        False: let pandas type the columns (numbers parsed exactly as
        :func:`pandas.read_csv` parses them); the caller checks the types.

    Returns
    -------
    pandas.DataFrame
        Header names stripped; every cell a string (empty cells ``""``).

    Raises
    ------
    error
        Missing, a folder, too large, empty, binary or undecodable, another
        separator than ``,``, a row with more fields than the header (its line),
        an unclosed quote, duplicate or empty column names.
    """
    path = Path(path)
    head = _check_file(path, what, error)
    header = _header(head.lstrip(b"\xef\xbb\xbf"), path, what, error, encoding)
    _check_separator(header, path, what, error)
    _check_repeats(header, path, what, error)
    try:
        options = {"dtype": str, "keep_default_na": False} if as_text else {}
        frame = pd.read_csv(path, encoding=encoding, encoding_errors="strict", **options)
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not a text file in {encoding} (byte {exc.start}); save the {what} CSV "
            "as UTF-8 text"
        ) from None
    except pd.errors.EmptyDataError:
        raise error(f"{path}: the {what} file is empty; it needs a header line and rows") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise error(_parser_message(path, what, exc)) from None
    except OSError as exc:
        raise error(f"cannot read {what} file {path.resolve()}: {exc.strerror or exc}") from None
    return _clean_columns(frame, path, what, error)


def _parser_message(path: Path, what: str, exc: Exception) -> str:
    text = " ".join(str(exc).split())
    found = _LINE.search(text)
    where = f"{path}:{found.group(1)}" if found else str(path)
    return (
        f"{where}: cannot read the {what} CSV ({text}); every row needs as many "
        "comma-separated fields as the header, and quotes must be closed"
    )


def _clean_columns(
    frame: pd.DataFrame, path: Path, what: str, error: type[Exception]
) -> pd.DataFrame:
    columns = [str(c).strip() for c in frame.columns]
    unnamed = [i + 1 for i, c in enumerate(columns) if not c or c.startswith("Unnamed:")]
    if unnamed:
        raise error(f"{path}:1: {what} file has a column without a name (column {unnamed[0]})")
    frame.columns = columns
    return frame


def _check_repeats(header: str, path: Path, what: str, error: type[Exception]) -> None:
    names = [n.strip() for n in next(csv.reader(io.StringIO(header)), [])]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise error(f"{path}:1: {what} file repeats column {repeated[0]!r}; name each once")
