"""The one exception tree of earnings-backtest.

Every error the package raises on purpose derives from :class:`BacktestError`,
so a caller (or the CLI) can catch exactly the level it cares about::

    BacktestError                 base; the CLI prints it in one line, exit code 2
    ├── ConfigError               YAML syntax, unknown key, wrong type, bad value
    ├── DataError                 prices or events cannot be used
    │   ├── DataUnavailable       a source returned nothing (missing ticker, outage)
    │   ├── DataIntegrityError    the data is there but wrong (High < Low, NaN, dup)
    │   └── CacheCorrupt          an on-disk cache file failed its checksum
    ├── EventError                events cannot be aligned or too many were dropped
    ├── LookAheadError            a decision used information not yet published
    ├── StrategyError             a strategy raised or returned a malformed table
    ├── ResultsExistError         the results folder for this run id already exists
    └── RunLockError              another process holds the lock for this output

Messages are written for the person who has to fix the input: they name the
file, field or ticker, and say what would be accepted.
"""

from __future__ import annotations

__all__ = [
    "BacktestError",
    "CacheCorrupt",
    "ConfigError",
    "DataError",
    "DataIntegrityError",
    "DataUnavailable",
    "EventError",
    "LookAheadError",
    "ResultsExistError",
    "RunLockError",
    "StrategyError",
]


class BacktestError(Exception):
    """Base class of every deliberate error in earnings-backtest."""


class ConfigError(BacktestError):
    """The configuration cannot be used as written."""


class DataError(BacktestError):
    """Prices or events cannot be used."""


class DataUnavailable(DataError):
    """A data source returned nothing for a ticker or file.

    Parameters
    ----------
    what : str
        The ticker, file or source that returned nothing.
    cause : str
        Why, as far as we know, and what the user can do about it.
    """

    def __init__(self, what: str, cause: str) -> None:
        super().__init__(f"no data for {what}: {cause}")
        self.what = what
        self.cause = cause


class DataIntegrityError(DataError):
    """Data is present but violates an invariant (High < Low, NaN, duplicates...)."""


class CacheCorrupt(DataError):
    """An on-disk cache file is truncated or does not match its checksum."""


class EventError(BacktestError):
    """Events cannot be aligned, or more were dropped than the loss budget allows."""


class LookAheadError(BacktestError):
    """A decision depends on information that was not public at decision time."""


class StrategyError(BacktestError):
    """A strategy raised, or returned a table that breaks the signal schema."""


class ResultsExistError(BacktestError):
    """The results folder for this run already exists and must not be overwritten."""


class RunLockError(BacktestError):
    """Another process is writing the same output; try again when it finishes."""
