"""ISIN validation (python-stdnum) and the bundled, user-extendable ISIN -> ticker table."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
from stdnum import isin as stdnum_isin

from backtest.core.errors import EventError
from backtest.data.bundled import bundled_file
from backtest.data.csvfile import read_user_csv

__all__ = ["isin_table", "read_isin_table", "ticker_for_isin"]


@lru_cache(maxsize=1)
def isin_table() -> dict[str, str]:
    """Return the bundled ISIN -> ticker map.

    Examples
    --------
    >>> isin_table()["US01609W1027"]
    'BABA'
    """
    frame = pd.read_csv(bundled_file("isin_tickers.csv"), dtype=str)
    return dict(zip(frame["isin"], frame["ticker"], strict=True))


def ticker_for_isin(
    isin: str, required: bool = True, extra: dict[str, str] | None = None
) -> str | None:
    """Validate ``isin`` (check digit included) and return its ticker.

    Examples
    --------
    >>> ticker_for_isin("US01609W1027")
    'BABA'
    >>> ticker_for_isin("US01609W1028")
    Traceback (most recent call last):
    ...
    backtest.core.errors.EventError: US01609W1028 is not a valid ISIN (The number's checksum or check digit is invalid.)
    """
    try:
        code = stdnum_isin.validate(isin)
    except Exception as exc:  # stdnum raises ValidationError subclasses
        raise EventError(f"{isin} is not a valid ISIN ({exc})") from exc
    table = {**isin_table(), **(extra or {})}
    if code not in table and required:
        raise EventError(
            f"ISIN {code} is not in the ISIN->ticker table; add `ticker:` to the "
            "event or extend the table"
        )
    return table.get(code)


def read_isin_table(path: Path) -> dict[str, str]:
    r"""Read a user ISIN -> ticker CSV (columns ``isin,ticker``; others ignored).

    It extends the bundled table (:func:`isin_table`); its rows win on conflict.
    Every ISIN is validated, check digit included, so a typo fails here with
    its line number instead of silently never matching.

    Raises
    ------
    EventError
        Naming the file and line of a missing column or an invalid ISIN.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "isins.csv"
    >>> _ = f.write_text("isin,ticker\nUS0378331005,AAPL\n")
    >>> read_isin_table(f)
    {'US0378331005': 'AAPL'}
    """
    frame = read_user_csv(path, "ISIN table", EventError)
    missing = {"isin", "ticker"} - set(frame.columns)
    if missing:
        raise EventError(
            f"{path}: missing column(s) {sorted(missing)}; the header must be isin,ticker"
        )
    table = {}
    for line, (isin, ticker) in enumerate(zip(frame["isin"], frame["ticker"], strict=True), 2):
        if not stdnum_isin.is_valid(isin.strip()) or not ticker.strip():
            raise EventError(f"{path}:{line}: {isin!r},{ticker!r} needs a valid ISIN and a ticker")
        table[stdnum_isin.compact(isin)] = ticker.strip()
    return table
