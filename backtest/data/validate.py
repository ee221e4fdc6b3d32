"""Check a raw price table against the prices schema and the exchange calendar.

Fail loudly on data that is wrong (non-positive prices, High < Low, conflicting
duplicates); drop and count what is merely redundant or unusable (identical
duplicates, all-NaN rows, rows on non-session days, a bar whose session has
not closed yet). Nothing is dropped without a line in the report.

Known splits (the optional ``split_ratio`` column, :mod:`backtest.data.splits`)
are taken off the table before any row is dropped, and the close-to-close
ratios next to each are checked (RELIABILITY P9). A missing or double split
adjustment is wrong data that no row drop can repair, but it only falsifies
returns across that one gap: like a NaN inside a window (P3), it is reported
here (:attr:`ValidationReport.suspect_splits`, one note each) and every event
whose holding window spans it is dropped as ``suspect_split`` later
(:func:`backtest.strategy.signals.window_drops`); trades elsewhere are unaffected.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import DataIntegrityError
from backtest.core.schema import PRICE_COLUMNS
from backtest.data.splits import SuspectSplit, find_spikes, find_suspect_splits, pop_splits

__all__ = ["ValidationReport", "suspect_splits_by_ticker", "validate_prices"]

# Prices in the bundled data are stored at float32 precision; allow that much slack
# when checking Open/Close inside [Low, High].
RANGE_TOLERANCE = 1e-4


@dataclass
class ValidationReport:
    """What validation changed in one ticker's prices.

    Examples
    --------
    >>> r = ValidationReport("BABA", rows_in=3)
    >>> r.drop("all_nan_row", 1); r.rows_out
    2
    """

    ticker: str
    rows_in: int
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    splits: dict[str, float] = field(default_factory=dict)
    suspect_splits: list[SuspectSplit] = field(default_factory=list)

    def drop(self, reason: str, count: int) -> None:
        """Record ``count`` rows dropped for ``reason``."""
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(count)

    @property
    def rows_out(self) -> int:
        """Rows left after validation."""
        return self.rows_in - sum(self.dropped.values())

    def flag_splits(self, splits: pd.Series, suspects: list[SuspectSplit]) -> None:
        """Record the known splits and the suspect ratios next to them, one note each."""
        self.splits = {str(day.date()): float(r) for day, r in splits.items()}
        self.suspect_splits = list(suspects)
        self.notes.extend(f"suspect_split: {s.describe()}" for s in suspects)


def suspect_splits_by_ticker(reports: list[ValidationReport]) -> dict[str, list[SuspectSplit]]:
    """The suspect splits of every report that has any, by ticker.

    Examples
    --------
    >>> suspect_splits_by_ticker([ValidationReport("A", rows_in=1)])
    {}
    """
    return {r.ticker: r.suspect_splits for r in reports if r.suspect_splits}


def _normalise_index(frame: pd.DataFrame, ticker: str, cal: xcals.ExchangeCalendar) -> pd.DataFrame:
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataIntegrityError(
            f"{ticker}: the price table's index must be session dates, got "
            f"{type(frame.index).__name__}; read files with a date column (YYYY-MM-DD)"
        )
    index = frame.index
    if index.tz is not None:
        index = index.tz_convert(cal.tz).tz_localize(None)
    out = frame.copy()
    out.index = pd.DatetimeIndex(index.normalize(), name="session")
    return out


def _sort(frame: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    if frame.index.is_monotonic_increasing:
        return frame
    warnings.warn(f"{report.ticker}: price index was not sorted; sorted it", stacklevel=3)
    report.notes.append("index sorted")
    return frame.sort_index(kind="stable")


def _dedupe(frame: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    dup_index = frame.index.duplicated(keep=False)
    if not dup_index.any():
        return frame
    identical = frame.reset_index().duplicated(keep="first").to_numpy()
    conflicting = frame.index[dup_index & ~frame.reset_index().duplicated(keep=False).to_numpy()]
    if len(conflicting):
        day = conflicting[0].date()
        raise DataIntegrityError(
            f"{report.ticker}: {day} appears twice with different prices; "
            "fix the source file (which row is right cannot be guessed)"
        )
    report.drop("duplicate_row", identical.sum())
    return frame[~identical]


def _drop_rows(
    frame: pd.DataFrame, mask: pd.Series, reason: str, report: ValidationReport
) -> pd.DataFrame:
    report.drop(reason, int(mask.sum()))
    return frame[~mask.to_numpy()]


def _check_values(frame: pd.DataFrame, ticker: str) -> None:
    ohlc = frame[["open", "high", "low", "close"]]
    checks = {
        "non-positive price": (ohlc <= 0).any(axis=1),
        "high below low": frame["high"] < frame["low"],
        "open outside [low, high]": _outside(frame["open"], frame),
        "close outside [low, high]": _outside(frame["close"], frame),
    }
    for what, bad in checks.items():
        if bad.any():
            day = bad[bad].index[0].date()
            row = frame.loc[bad[bad].index[0], ["open", "high", "low", "close"]].to_dict()
            raise DataIntegrityError(f"{ticker}: {what} on {day} ({row}); fix or remove that row")


def _outside(price: pd.Series, frame: pd.DataFrame) -> pd.Series:
    slack = RANGE_TOLERANCE * frame["high"].abs()
    return (price < frame["low"] - slack) | (price > frame["high"] + slack)


def validate_prices(
    frame: pd.DataFrame,
    ticker: str,
    cal: xcals.ExchangeCalendar,
    now: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Validate and clean one ticker's raw prices.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw prices: date index, columns ``open, high, low, close, volume``;
        optional ``adj_close`` and ``split_ratio`` (taken off the returned table,
        see :mod:`backtest.data.splits`).
    ticker : str
        Used in messages.
    cal : exchange_calendars.ExchangeCalendar
        The listing's calendar; rows on non-session days are dropped.
    now : pandas.Timestamp, optional
        Bars whose session closes after ``now`` are unfinished and dropped.

    Returns
    -------
    (pandas.DataFrame, ValidationReport)

    Raises
    ------
    DataIntegrityError
        Missing columns, conflicting duplicates, non-positive prices,
        High < Low, Open or Close outside [Low, High], a negative split ratio.
    """
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataIntegrityError(f"{ticker}: price table lacks column(s) {missing}")
    report = ValidationReport(ticker, rows_in=len(frame))
    out = _sort(_normalise_index(frame, ticker, cal), report)
    out = _dedupe(out, report)
    out, splits = pop_splits(out, ticker, cal)
    out = _drop_rows(
        out, out[["open", "high", "low", "close"]].isna().all(axis=1), "all_nan_row", report
    )
    out = _drop_rows(
        out, ~pd.Series(out.index.isin(cal.sessions), index=out.index), "non_session_row", report
    )
    if now is not None and len(out):
        unfinished = pd.Series(cal.session_close(out.index[-1]) > now, index=out.index[-1:])
        out = _drop_rows(
            out, unfinished.reindex(out.index, fill_value=False), "unfinished_bar", report
        )
    if out.empty:
        raise DataIntegrityError(
            f"{ticker}: no usable price rows left after validation {report.dropped}"
        )
    _check_values(out.dropna(subset=["open", "high", "low", "close"]), ticker)
    suspects = find_suspect_splits(out, splits, ticker) + find_spikes(out, ticker)
    report.flag_splits(splits, suspects)
    return out, report
