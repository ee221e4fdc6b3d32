"""ISIN validation (python-stdnum) and the bundled, user-extendable ISIN -> ticker table."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from stdnum import isin as stdnum_isin

from backtest.data.bundled import bundled_file
from backtest.errors import EventError

__all__ = ["isin_table", "ticker_for_isin"]


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
    backtest.errors.EventError: US01609W1028 is not a valid ISIN (The number's checksum or check digit is invalid.)
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
