"""Load, validate and put prices on the configured basis."""

from __future__ import annotations

from typing import Protocol

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import DataUnavailable
from backtest.core.schema import DIVIDEND_COLUMN
from backtest.data.validate import ValidationReport, validate_prices

__all__ = ["PRICE_BASES", "PriceSource", "apply_basis", "load_prices"]

PRICE_BASES = ("raw", "adjusted")


class PriceSource(Protocol):
    """Anything that returns one ticker's raw daily prices."""

    name: str

    def load(self, ticker: str) -> pd.DataFrame:
        """Return raw prices (date index, open/high/low/close/volume columns)."""
        ...


def apply_basis(frame: pd.DataFrame, basis: str, ticker: str) -> pd.DataFrame:
    """Return prices on the ``raw`` or dividend-``adjusted`` basis.

    Adjusted prices scale Open, High, Low and Close by ``adj_close / close`` so
    that every bar keeps its shape, and drop a ``dividend`` list (they include the
    dividends). Raw prices are the ones a broker filled.

    Examples
    --------
    >>> f = pd.DataFrame({"open": [10.0], "high": [11.0], "low": [9.0], "close": [10.0],
    ...                   "adj_close": [5.0], "volume": [1.0]})
    >>> apply_basis(f, "adjusted", "X")["high"].tolist()
    [5.5]
    """
    if basis == "raw":
        return frame
    if "adj_close" not in frame.columns or frame["adj_close"].isna().any():
        raise DataUnavailable(
            ticker,
            "adjusted prices requested but adj_close is missing for "
            "some sessions; use data.price_basis: raw",
        )
    factor = frame["adj_close"] / frame["close"]
    # Adjusted prices carry the dividends already: a dividend list would pay them twice.
    out = frame.drop(columns=[DIVIDEND_COLUMN], errors="ignore")
    for col in ("open", "high", "low", "close"):
        out[col] = frame[col] * factor
    return out


def _skipped(ticker: str, exc: DataUnavailable) -> ValidationReport:
    """The report of a ticker skipped for lack of data (``data.on_missing_ticker: skip``).

    Examples
    --------
    >>> _skipped("OLD", DataUnavailable("OLD", "delisted")).notes[0][:45]
    'skipped: no data for OLD: delisted; results h'
    """
    note = (
        f"skipped: {exc}; results have survivorship bias (a delisted or renamed "
        "ticker's events are missing, see drops ticker_missing)"
    )
    return ValidationReport(ticker, rows_in=0, notes=[note])


def load_prices(
    source: PriceSource,
    tickers: list[str],
    basis: str,
    cal: xcals.ExchangeCalendar,
    now: pd.Timestamp | None = None,
    skip_missing: frozenset[str] = frozenset(),
) -> tuple[dict[str, pd.DataFrame], list[ValidationReport]]:
    """Load and validate every ticker; return prices by ticker and the reports.

    ``now`` is the wall clock (default: the current time), not a run's
    simulated clock: a bar whose session closes after it is still forming and
    is dropped as ``unfinished_bar`` (RELIABILITY P4), whatever the source.
    A ticker in ``skip_missing`` that the source has no data for is left out
    of the prices and reported with a survivorship-bias note (P13).

    Raises
    ------
    DataUnavailable
        For the first ticker, not in ``skip_missing``, the source has no data for.
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    prices, reports = {}, []
    for ticker in tickers:
        try:
            raw = source.load(ticker)
        except DataUnavailable as exc:
            if ticker not in skip_missing:
                raise
            reports.append(_skipped(ticker, exc))
            continue
        clean, report = validate_prices(raw, ticker, cal, now)
        prices[ticker] = apply_basis(clean, basis, ticker)
        reports.append(report)
    return prices, reports
