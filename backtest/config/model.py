"""YAML -> frozen, typed run configuration; every error names file, line and key.

The models reject unknown keys (``extra="forbid"``) and are immutable
(``frozen=True``). Strategies form a union tagged by ``name`` and built from
the strategy registry, so each strategy's parameters are validated by its own
model and an unknown name lists the available ones. The run id is a hash of
the canonical configuration (:func:`config_hash`).

Relative paths in a config are resolved against the config file's folder,
never the working directory. ``configs/example.yaml`` documents every key.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import importlib
import json
import math
import re
import sys
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from backtest.config.yaml_source import (
    YamlDocument,
    allowed_keys_for,
    dotted,
    format_validation_error,
    load_yaml,
    location,
)
from backtest.core.errors import ConfigError
from backtest.core.sessions import CALENDAR_START
from backtest.engine.rules.costs import MAX_BPS
from backtest.engine.rules.defaults import (
    DEFAULT_FEES_BPS,
    DEFAULT_INIT_CASH,
    DEFAULT_OVERLAP,
    DEFAULT_SIZE,
    DEFAULT_SIZING,
    DEFAULT_SLIPPAGE_BPS,
    DEFAULT_VOL_MAX_PCT,
    DEFAULT_VOL_WINDOW,
)
from backtest.eventstudy.settings import EventStudyConfig
from backtest.strategy.signals import StrategyParams, registered_strategies

__all__ = [
    "EventStudySection",
    "INVOCATION_KEYS",
    "HedgeConfig",
    "LoadedConfig",
    "RunConfig",
    "StrategyConfig",
    "apply_overrides",
    "config_hash",
    "import_plugins",
    "key_location",
    "load_config",
    "resolved_dump",
    "run_model",
]

Ticker = Annotated[StrictStr, Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9.\-=^]+$")]
# A run name becomes a folder under output.dir: letters, digits, ._- and spaces, no leading dot
# or space, at most 80 characters, so it never names a path, a hidden file or a device.
RunName = Annotated[
    StrictStr,
    Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_\-][A-Za-z0-9_.\- ]*$"),
]
# Money, sizes and costs: finite (Frozen forbids inf and NaN) and within what a float sum of a
# few thousand trades keeps exact to the cent.
MAX_CASH = 1e12
FIRST_DATE = dt.date.fromisoformat(CALENDAR_START)
LAST_DATE = dt.date(2100, 12, 31)


def _zone(value: str | None) -> str | None:
    """Check ``value`` names an IANA time zone (``zoneinfo``); the error lists examples."""
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as America/New_York, "
            "Europe/Berlin or UTC"
        ) from None
    return value


def _encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(
            f"unknown text encoding {value!r}; use one Python knows, e.g. utf-8, cp1252, latin-1"
        ) from None
    return value


Zone = Annotated[StrictStr, AfterValidator(_zone)]


def _in_calendar(day: dt.date) -> dt.date:
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(
            f"{day} is outside the calendar's range {FIRST_DATE} to {LAST_DATE}; give a date in it"
        )
    return day


CalendarDate = Annotated[dt.date, AfterValidator(_in_calendar)]


class Frozen(BaseModel):
    """Base of every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _us100_default_tickers(data: Any) -> Any:
    """``source: us100`` without ``tickers:`` means every name of the bundled panel."""
    if isinstance(data, dict) and data.get("source") == "us100" and data.get("tickers") is None:
        from backtest.data.universe import us100_tickers

        return {**data, "tickers": us100_tickers()}
    return data


class DataConfig(Frozen):
    """Where prices come from and which sessions the backtest covers.

    ``source: us100`` is the bundled panel of 100 liquid US names
    (``sample_data/DATA.md``); ``tickers`` may then be left out (all 100).

    Examples
    --------
    >>> len(DataConfig(source="us100").tickers)
    100
    """

    source: Literal["bundled", "files", "yfinance", "us100"] = "bundled"
    path: Path | None = None
    tickers: list[Ticker] = Field(min_length=1)
    start: CalendarDate | None = None
    end: CalendarDate | None = None
    price_basis: Literal["raw", "adjusted"] = "raw"
    calendar: StrictStr = "XNYS"
    # source: yfinance only. Cache root (env EARNINGS_BACKTEST_CACHE wins); offline: cache only;
    # refresh: refetch what is cached (`--refresh`; not part of the run id, see INVOCATION_KEYS).
    cache_dir: Path | None = None
    offline: bool = False
    refresh: bool = False
    # A data.tickers entry with no prices (delisted, renamed): stop the run, or skip it and
    # record the survivorship bias in the manifest (benchmarks are always required).
    on_missing_ticker: Literal["error", "skip"] = "error"

    @model_validator(mode="before")
    @classmethod
    def _default_tickers(cls, data: Any) -> Any:
        return _us100_default_tickers(data)

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.source == "files" and self.path is None:
            raise ValueError(
                "source: files needs path: (a folder of <TICKER>.csv/.parquet, or one "
                "long-form panel .csv/.parquet with a ticker column)"
            )
        if self.source == "us100":
            self._check_us100()
        if self.offline and self.refresh:
            raise ValueError(
                "refresh (--refresh) and offline (--offline) cannot both be true: refresh "
                "refetches from Yahoo, offline never touches the network; drop one"
            )
        return self

    def _check_us100(self) -> None:
        from backtest.data.universe import us100_tickers

        known = set(us100_tickers())
        unknown = [t for t in self.tickers if t not in known]
        if unknown:
            raise ValueError(
                f"source: us100 has no {', '.join(unknown[:5])}"
                f"{' ...' if len(unknown) > 5 else ''} (tickers are upper-case; the 100 names "
                "are listed in backtest/sample_data/DATA.md); remove them, or drop tickers: "
                "for all 100"
            )
        if self.path is not None:
            raise ValueError("source: us100 is the bundled panel and takes no path:; remove it")


# When a date-only event is tradable: after the close (conservative) or before the open.
UnknownTiming = Literal["after_close", "before_open"]


class BundledEarnings(Frozen):
    """The earnings table bundled with the package."""

    type: Literal["bundled_earnings"]
    # Date-only events of this source: overrides events.unknown_timing (None: that one).
    unknown_timing: UnknownTiming | None = None
    tickers: list[Ticker] | None = None


class Us100Earnings(Frozen):
    """The bundled ``us100`` earnings reports (``sample_data/us100/earnings.csv``).

    ``tickers: null`` takes the reports of ``data.tickers``.
    """

    type: Literal["us100_earnings"]
    # Date-only events of this source: overrides events.unknown_timing (None: that one).
    unknown_timing: UnknownTiming | None = None
    tickers: list[Ticker] | None = None


#: A strptime format for a source's times (``%d/%m/%Y``): it must hold a day, month and year.
DATE_FORMAT_PATTERN = r"%d.*%m.*%Y|%m.*%d.*%Y|%Y.*%m.*%d|%d.*%b.*%Y|%b.*%d.*%Y"
DateFormat = Annotated[StrictStr, Field(min_length=2, max_length=64, pattern=DATE_FORMAT_PATTERN)]


class CsvEvents(Frozen):
    """A user CSV of events."""

    type: Literal["csv"]
    # Date-only events of this source: overrides events.unknown_timing (None: that one).
    unknown_timing: UnknownTiming | None = None
    path: Path
    timezone: Zone | None = None
    event_type: Literal["earnings", "news", "analyst"] = "earnings"
    # Where the file's dates are neither ISO nor DD.MM.YYYY, e.g. '%m/%d/%Y %H:%M'.
    date_format: DateFormat | None = None


class InlineEvent(Frozen):
    """One event written in the YAML file."""

    ticker: Ticker | None = None
    isin: StrictStr | None = None
    event_type: Literal["earnings", "news", "analyst"] = "news"
    # Strict: YAML 1.1 reads an unquoted 9:30 as the integer 570, which must not become a date.
    time: StrictStr | Annotated[dt.datetime, Strict()] | Annotated[dt.date, Strict()]
    timezone: Zone | None = None
    timing: Literal["bmo", "amc", "intraday", "unknown"] | None = None
    known_at: StrictStr | dt.datetime | None = None
    source: StrictStr | None = None
    headline: StrictStr | None = None
    move_pct: float | None = None
    eps_estimate: float | None = None
    eps_actual: float | None = None
    surprise_pct: float | None = None
    firm: StrictStr | None = None
    rating: StrictStr | None = None
    target_old: float | None = None
    target_new: float | None = None

    @model_validator(mode="after")
    def _named(self) -> InlineEvent:
        if self.ticker is None and self.isin is None:
            raise ValueError("give ticker: or isin:")
        return self


class InlineEvents(Frozen):
    """Events listed in the config itself."""

    type: Literal["inline"]
    # Date-only events of this source: overrides events.unknown_timing (None: that one).
    unknown_timing: UnknownTiming | None = None
    events: list[InlineEvent] = Field(min_length=1)
    # Where the times are neither ISO nor DD.MM.YYYY, e.g. '%d/%m/%Y %H:%M'.
    date_format: DateFormat | None = None


class NewsFolder(Frozen):
    """A folder of plain-text news articles, one ``.txt`` per article (seed format).

    ``isin_table`` is a CSV ``isin,ticker`` extending the bundled ISIN -> ticker
    table; ``timezone`` is the zone of the articles' stamps; ``lm_dictionary``
    the full Loughran-McDonald master dictionary CSV (default: bundled subset).
    """

    type: Literal["news_folder"]
    # Date-only events of this source: overrides events.unknown_timing (None: that one).
    unknown_timing: UnknownTiming | None = None
    path: Path
    isin_table: Path | None = None
    timezone: Zone = "Europe/Berlin"
    encoding: Annotated[StrictStr, AfterValidator(_encoding)] = "utf-8"
    lm_dictionary: Path | None = None


class YFinanceEarningsEvents(Frozen):
    """Earnings dates from Yahoo (cached with vintages; data.offline honoured)."""

    type: Literal["yfinance_earnings"]
    # Date-only events of this source: overrides events.unknown_timing (None: that one).
    unknown_timing: UnknownTiming | None = None
    tickers: list[Ticker] | None = None
    limit: int = Field(100, ge=1, le=100)
    # Use only the vintages fetched at or before this instant (point in time); null: latest.
    as_of: Annotated[dt.datetime, Strict()] | None = None

    @model_validator(mode="after")
    def _aware(self) -> YFinanceEarningsEvents:
        if self.as_of is not None and self.as_of.tzinfo is None:
            raise ValueError("as_of needs a UTC offset, e.g. 2026-02-01T00:00:00+00:00")
        return self


class YFinanceAnalystEvents(Frozen):
    """Analyst upgrades, downgrades and price targets from Yahoo."""

    type: Literal["yfinance_analyst"]
    # Date-only events of this source: overrides events.unknown_timing (None: that one).
    unknown_timing: UnknownTiming | None = None
    tickers: list[Ticker] | None = None


EventSource = Annotated[
    BundledEarnings
    | Us100Earnings
    | CsvEvents
    | InlineEvents
    | NewsFolder
    | YFinanceEarningsEvents
    | YFinanceAnalystEvents,
    Field(discriminator="type"),
]


class CheckConfig(Frozen):
    """Tolerances of ``backtest events --check`` (rules in :mod:`backtest.events.crosscheck`)."""

    # Calendar days after a report's earliest date within which another source's date is the
    # same report (reports come ~90 days apart; 45 would start to merge neighbours).
    match_window_days: int = Field(5, ge=0, le=44)
    date_tolerance_sessions: int = Field(0, ge=0, le=20)
    # Relative to the larger |value| (math.isclose), in percent.
    eps_tolerance_pct: float = Field(1.0, ge=0, le=100)


class EventsConfig(Frozen):
    """Event sources and the alignment and drop policies."""

    sources: list[EventSource] = Field(min_length=1)
    intraday_fill: Literal["next_open", "same_close"] = "next_open"
    # Date-only events: after the close (conservative) or before the open (optimistic).
    # Left out of the run id at its default (:data:`LATE_KEYS`), so ids stay.
    unknown_timing: UnknownTiming = "after_close"
    # Earnings events of one ticker dated within dedupe_days calendar days are one report
    # (:mod:`backtest.events.dedupe`); copies at different tradable points raise (error) or
    # the earliest is kept (earliest). Both are LATE_KEYS: at their defaults ids stay.
    dedupe: Literal["error", "earliest"] = "error"
    dedupe_days: int = Field(5, ge=0, le=44)
    assumed_notice_sessions: int = Field(10, ge=0, le=120)
    max_drop_pct: float = Field(50.0, ge=0, le=100)
    overlap: Literal["skip", "allow", "truncate"] = DEFAULT_OVERLAP  # backtest.engine.rules.overlap
    # Read by `backtest events --check` only: left out of the run id and config.yaml (exclude),
    # since it changes no backtest result.
    check: CheckConfig = Field(CheckConfig(), exclude=True)


class SizingConfig(Frozen):
    """How much each trade buys or sells (rules in backtest/engine/rules/sizing.py).

    ``percent`` and ``fixed`` read ``value``; ``vol_target`` reads
    ``target_daily_vol_pct`` (required), ``window`` and ``max_pct`` instead, and
    only it may set them.
    """

    mode: Literal["percent", "fixed", "vol_target"] = DEFAULT_SIZING
    value: float = Field(DEFAULT_SIZE, gt=0, le=MAX_CASH)
    # vol_target: a position's trailing daily vol x its weight = this % of equity.
    target_daily_vol_pct: float | None = Field(None, gt=0, le=10)
    window: int = Field(DEFAULT_VOL_WINDOW, ge=2, le=1000)  # daily returns before the decision
    max_pct: float = Field(DEFAULT_VOL_MAX_PCT, gt=0, le=100)  # the largest weight, % of equity

    @model_validator(mode="after")
    def _range(self) -> SizingConfig:
        if self.mode == "percent" and self.value > 100:
            raise ValueError(f"percent sizing takes 0 < value <= 100, got {self.value}")
        if self.mode == "vol_target":
            if self.target_daily_vol_pct is None:
                raise ValueError(
                    "vol_target needs target_daily_vol_pct (a position's daily vol x its "
                    "weight, % of equity), e.g. {mode: vol_target, target_daily_vol_pct: 0.5}"
                )
            if self.value != DEFAULT_SIZE:
                raise ValueError(
                    "vol_target sizes from target_daily_vol_pct and does not read value; "
                    "remove value (or use mode: percent)"
                )
            return self
        extra = [
            k
            for k, default in (
                ("target_daily_vol_pct", None),
                ("window", DEFAULT_VOL_WINDOW),
                ("max_pct", DEFAULT_VOL_MAX_PCT),
            )
            if getattr(self, k) != default
        ]
        if extra:
            raise ValueError(
                f"only mode: vol_target reads {', '.join(extra)} (mode is {self.mode}); "
                "remove it or set mode: vol_target"
            )
        return self


class CapsConfig(Frozen):
    """Caps on each strategy's book in a run (rules in backtest/engine/rules/caps.py); % of equity.

    Every cap is off (null) by default. Weights are measured at the fill before
    each entry, like the equity the entry is sized from; an entry that breaks a
    cap is cut to the room left or dropped (drops.csv stage caps).
    """

    max_positions: int | None = Field(None, ge=1, le=100_000)
    max_name_pct: float | None = Field(None, gt=0, le=100)
    # At most 100: the book buys with cash and sets short proceeds aside, so it is never levered.
    max_gross_pct: float | None = Field(None, gt=0, le=100)
    max_net_pct: float | None = Field(None, gt=0, le=100)


class EngineConfig(Frozen):
    """Simulation settings."""

    # One engine: vectorbt keeps the books, backtest.engine.rules prices every fill.
    engine: Literal["vectorbt"] = "vectorbt"
    init_cash: float = Field(DEFAULT_INIT_CASH, gt=0, le=MAX_CASH)
    fees_bps: float = Field(DEFAULT_FEES_BPS, ge=0, le=1000)
    slippage_bps: float = Field(DEFAULT_SLIPPAGE_BPS, ge=0, le=1000)
    sizing: SizingConfig = SizingConfig()
    caps: CapsConfig = CapsConfig()
    stop_loss_pct: float | None = Field(None, gt=0, lt=100)
    take_profit_pct: float | None = Field(None, gt=0, le=1e4)

    @field_validator("engine", mode="before")
    @classmethod
    def _no_reference_engine(cls, value: Any) -> Any:
        if value == "reference":
            raise ValueError(
                "the reference engine was removed (it is now a test oracle); "
                "use engine: vectorbt or leave the key out"
            )
        return value


Bps = Annotated[float, Field(ge=0, le=MAX_BPS, allow_inf_nan=False)]


class SpreadCostConfig(Frozen):
    """Half the spread is paid per fill: a fixed spread, or a trailing estimate."""

    fixed_bps: Bps = 0.0
    estimator: Literal["corwin_schultz", "abdi_ranaldo"] | None = None
    window: int = Field(21, ge=2, le=1000)

    @model_validator(mode="after")
    def _one(self) -> SpreadCostConfig:
        if self.fixed_bps and self.estimator:
            raise ValueError("costs.spread: give fixed_bps or estimator, not both")
        return self


class CommissionConfig(Frozen):
    """Per order: ``max(per_share * shares, minimum)`` (on top of engine.fees_bps)."""

    per_share: float = Field(0.0, ge=0, le=10, allow_inf_nan=False)
    minimum: float = Field(0.0, ge=0, le=1_000, allow_inf_nan=False)  # currency per order


class ImpactConfig(Frozen):
    """``k * sigma * sqrt(shares / ADV)`` per fill, sigma and ADV over ``window`` sessions before."""

    k: float = Field(0.0, ge=0, le=100, allow_inf_nan=False)
    window: int = Field(20, ge=2, le=1000)


class ParticipationConfig(Frozen):
    """An order above ``max_pct`` % of the trailing ADV is cut to it, or dropped."""

    max_pct: float = Field(gt=0, le=100, allow_inf_nan=False)
    action: Literal["cut", "drop"] = "cut"


class BorrowConfig(Frozen):
    """Borrow fee of shorts, per calendar day held; ``file``: CSV ``ticker,annual_bps``."""

    annual_bps: Bps = 0.0
    file: StrictStr | None = None
    do_not_short: list[Ticker] = []


class CostsConfig(Frozen):
    """The ``costs:`` section: every cost off unless set (rules in engine/rules/trade_costs.py)."""

    spread: SpreadCostConfig = SpreadCostConfig()
    commission: CommissionConfig = CommissionConfig()
    impact: ImpactConfig = ImpactConfig()
    participation: ParticipationConfig | None = None
    borrow: BorrowConfig = BorrowConfig()
    dividends: bool = False


class PortfolioConfig(Frozen):
    """Caps and sizing of each strategy's book (:mod:`backtest.engine.portfolio`); weights in %."""

    max_positions: int = Field(20, ge=1)
    max_new_per_session: int | None = Field(None, ge=1)
    position_pct: float = Field(5.0, gt=0, le=100)
    max_name_pct: float = Field(10.0, gt=0, le=100)
    # At most 100: vectorbt buys with cash, so the book cannot be levered.
    max_gross_pct: float = Field(100.0, gt=0, le=100)

    @model_validator(mode="after")
    def _room(self) -> PortfolioConfig:
        for key in ("max_name_pct", "max_gross_pct"):
            if getattr(self, key) < self.position_pct:
                raise ValueError(
                    f"{key} {getattr(self, key):g} is below position_pct {self.position_pct:g}, "
                    "so no position would ever fit; raise it or lower position_pct"
                )
        return self


def _portfolio_engine(config: Any) -> Any:
    """``portfolio:`` sizes every position, on the vectorbt engine, with planned exits only."""
    engine, portfolio = config.engine, config.portfolio
    if portfolio is None:
        return config
    if "sizing" in engine.model_fields_set:
        raise ValueError(
            "portfolio: sizes every position (position_pct of equity), so engine.sizing "
            "must not be set as well; remove engine.sizing or the portfolio: section"
        )
    if engine.caps != CapsConfig():
        raise ValueError(
            "portfolio: caps its book itself (max_positions, max_name_pct, max_gross_pct on "
            "target weights); remove engine.caps or the portfolio: section"
        )
    if engine.stop_loss_pct or engine.take_profit_pct:
        raise ValueError(
            "portfolio: sizes entries assuming positions close at their planned exits; "
            "remove engine.stop_loss_pct / take_profit_pct or the portfolio: section"
        )
    return config


# How one invocation obtains its data, not what the run computes: left out of the config
# hash (so of the run id) and of the written config.yaml; manifest.json records it.
INVOCATION_KEYS: dict[str, Any] = {"data": {"refresh"}}


def resolved_dump(config: BaseModel) -> dict:
    """The config with every default filled in, as JSON types (written as config.yaml).

    ``engine.sizing`` is left out when ``portfolio:`` sizes the positions, so the
    dump loads again (the two may not both be given). :data:`INVOCATION_KEYS`
    are left out, so re-running the folder (``--verify``) reads the cache.
    """
    exclude = dict(INVOCATION_KEYS)
    if getattr(config, "portfolio", None) is not None:
        exclude["engine"] = {"sizing"}
    return config.model_dump(mode="json", exclude=exclude)


class OutputConfig(Frozen):
    """Where and how results are written."""

    dir: Path = Path("results")
    # replace: a rerun of the same run id swaps its folder in whole (atomic); suffix: keep
    # the old folder and publish <run_id>-2, -3...; error: refuse (backtest.report.writer).
    if_exists: Literal["replace", "suffix", "error"] = "replace"
    charts: bool = True
    max_event_charts: int = Field(12, ge=0)


class GridRange(Frozen):
    """An inclusive integer or float range for a sweep grid: start, stop, step."""

    start: float
    stop: float
    step: float = Field(1, gt=0)

    def size(self) -> int:
        """How many values the range holds, computed without building them.

        Examples
        --------
        >>> GridRange(start=0, stop=1000, step=1e-6).size()
        1000000001
        >>> GridRange(start=3, stop=1).size()
        0
        """
        return max(int(round((self.stop - self.start) / self.step)) + 1, 0)

    def values(self) -> list[float | int]:
        """The range as a list (ints when every bound is whole)."""
        n = self.size()
        vals = [self.start + i * self.step for i in range(max(n, 0))]
        whole = all(float(v).is_integer() for v in (self.start, self.stop, self.step))
        return [int(v) for v in vals] if whole else vals


class WalkForwardConfig(Frozen):
    """Train/test windows by event date."""

    mode: Literal["rolling", "expanding"] = "rolling"
    train_years: float = Field(3.0, gt=0)
    test_years: float = Field(1.0, gt=0)


RENAMED_SWEEP_METRICS = {
    "sharpe": "trade_sharpe",
    "mean_return": "mean_trade_return",
    "median_return": "median_trade_return",
    "hit_rate": "trade_hit_rate",
    "total_return": "sequential_return_at_size",
}


class SweepConfig(Frozen):
    """A parameter sweep of one configured strategy on the event-level kernel."""

    strategy: StrictStr | None = None
    grid: dict[StrictStr, list[Any] | GridRange] = Field(min_length=1)
    metric: Literal[
        "trade_sharpe",
        "mean_trade_return",
        "median_trade_return",
        "trade_hit_rate",
        "sequential_return_at_size",
    ] = "trade_sharpe"
    min_trades: int = Field(5, ge=1)
    top_n: int = Field(3, ge=0, le=20)
    max_combinations: int = Field(100_000, ge=1)
    chunk_cells: int = Field(4_000_000, ge=1_000)
    walk_forward: WalkForwardConfig | None = None
    scheduler: StrictStr | None = None
    workers: int | None = Field(None, ge=1, le=64)

    @field_validator("metric", mode="before")
    @classmethod
    def _renamed_metric(cls, value: object) -> object:
        # The sweep's per-trade statistics once carried the run's account-metric names.
        if isinstance(value, str) and value in RENAMED_SWEEP_METRICS:
            raise ValueError(
                f"{value!r} was renamed {RENAMED_SWEEP_METRICS[value]!r}: the sweep ranks by "
                "per-trade statistics, not by a run's account metrics"
            )
        return value

    @model_validator(mode="after")
    def _bounded(self) -> SweepConfig:
        """Count the combinations from list lengths and range arithmetic, before building any."""
        size = math.prod(
            v.size() if isinstance(v, GridRange) else len(v) for v in self.grid.values()
        )
        if size > self.max_combinations:
            raise ValueError(
                f"sweep.grid has {size:,} combinations, more than sweep.max_combinations = "
                f"{self.max_combinations:,}; narrow the grid (a larger range step) or raise the limit"
            )
        return self

    @model_validator(mode="after")
    def _one_cluster(self) -> SweepConfig:
        if self.scheduler is not None and self.workers is not None:
            raise ValueError(
                "scheduler (a running Dask cluster) and workers (a local cluster started for "
                "this run) are alternatives; keep one of them"
            )
        return self

    def grid_values(self) -> dict[str, list[Any]]:
        """Every grid entry as a list of values."""
        return {
            k: v.values() if isinstance(v, GridRange) else list(v) for k, v in self.grid.items()
        }


class EventStudySection(EventStudyConfig):
    """The ``event_study:`` section: :class:`~backtest.eventstudy.EventStudyConfig` plus when to run.

    ``enabled: false`` turns the study off. With fewer than ``min_events`` aligned
    events the study is skipped (and the manifest says so). ``benchmark: null``
    means the first of ``benchmarks:`` that is not one of ``data.tickers``, else
    SPY; a benchmark without prices skips the study with a note, the run goes on.

    Examples
    --------
    >>> EventStudySection().enabled, EventStudySection().benchmark
    (True, None)
    >>> EventStudySection(event_window=(-5, 5), car_windows=[(0, 1)]).settings("SPY").event_window
    (-5, 5)
    """

    enabled: bool = True
    benchmark: StrictStr | None = None
    min_events: int = Field(3, ge=2)

    def settings(self, benchmark: str) -> EventStudyConfig:
        """The package's settings for this section, with the benchmark resolved."""
        own = {"enabled", "benchmark", "min_events"}
        return EventStudyConfig(**self.model_dump(exclude=own), benchmark=benchmark)


class HedgeConfig(Frozen):
    """A strategy's hedge leg (rules in engine/rules/hedge.py): one instrument, or a CSV map.

    ``instrument`` hedges every ticker; ``map`` is a CSV ``ticker,hedge`` (its
    tickers use their own instrument, the others ``instrument``, and without
    ``instrument`` every traded ticker must be in it). ``ratio``: ``beta`` (OLS
    over ``window`` sessions before the decision session, at least ``min_obs``
    returns, shrunk toward 1 by ``shrink``) or a fixed number.
    """

    instrument: Ticker | None = None
    map: StrictStr | None = None
    ratio: Literal["beta"] | Annotated[float, Field(gt=-10, le=10, allow_inf_nan=False)] = "beta"
    window: int = Field(60, ge=2, le=2000)
    min_obs: int = Field(40, ge=2, le=2000)
    shrink: float = Field(0.0, ge=0, le=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _some(self) -> HedgeConfig:
        if self.instrument is None and self.map is None:
            raise ValueError("hedge: give instrument (e.g. SPY) or map (a CSV ticker,hedge)")
        if self.min_obs > self.window:
            raise ValueError(f"hedge: min_obs {self.min_obs} exceeds window {self.window}")
        if self.ratio == 0:
            raise ValueError("hedge: ratio 0 hedges nothing; remove the hedge: section")
        return self


class StrategyConfig(Frozen):
    """One entry of ``strategies:``: a registered strategy, an optional label, its parameters.

    The loader validates each entry against the registered strategy's own model
    (:func:`run_model`), so ``params`` is an instance of that strategy's
    :class:`~backtest.strategy.signals.StrategyParams` subclass.
    """

    name: StrictStr
    label: StrictStr | None = None
    params: StrategyParams
    hedge: HedgeConfig | None = None


class RunConfig(Frozen):
    """A whole run: data, events, strategies, engine, and what to write.

    The plain, statically typed shape of every validated config (what a type checker
    and a reader see). :func:`load_config` validates through :func:`run_model`, a
    subclass whose ``strategies`` entries are checked against the registry.
    """

    name: RunName | None = None
    plugins: list[StrictStr] = []
    data: DataConfig
    events: EventsConfig
    strategies: list[StrategyConfig] = Field(min_length=1)
    engine: EngineConfig = EngineConfig()
    sweep: SweepConfig | None = None
    benchmarks: list[Ticker] = ["SPY"]
    # Buy-and-hold benchmarks with dividends reinvested (adj_close; a benchmark without it
    # falls back to its close, and the manifest says so) or price only (close).
    benchmark_basis: Literal["total_return", "price"] = "total_return"
    output: OutputConfig = OutputConfig()
    event_study: EventStudySection = EventStudySection()
    portfolio: PortfolioConfig | None = None
    costs: CostsConfig = CostsConfig()

    @model_validator(mode="after")
    def _portfolio_engine(self) -> RunConfig:
        return _portfolio_engine(self)


def _strategy_model(name: str, params: type[StrategyParams]) -> type[StrategyConfig]:
    return create_model(
        f"Strategy_{name}",
        __base__=StrategyConfig,
        name=(Literal[name], ...),  # type: ignore[valid-type]
        params=(params, params()),
    )


def _run_model() -> type[RunConfig]:
    specs = [_strategy_model(n, s.params) for n, s in sorted(registered_strategies().items())]
    # A union built at run time from the registry, so Union[...] (not X | Y) is needed here.
    strategy = Annotated[Union[tuple(specs)], Field(discriminator="name")]  # type: ignore[valid-type]  # noqa: UP007
    return create_model(
        "RunConfig", __base__=RunConfig, strategies=(list[strategy], Field(min_length=1))
    )


_MODELS: dict[tuple[str, ...], type[RunConfig]] = {}


def run_model() -> type[RunConfig]:
    """The :class:`RunConfig` subclass that validates the strategies registered now.

    User strategies (plugins) register at load time, so the model is rebuilt, and
    cached, per set of registered names.
    """
    key = tuple(sorted(registered_strategies()))
    if key not in _MODELS:
        _MODELS[key] = _run_model()
    return _MODELS[key]


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus where it came from (for paths and messages)."""

    config: RunConfig
    path: Path
    raw: dict

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the config are relative to."""
        return self.path.parent

    def resolve(self, path: Path) -> Path:
        """Return ``path`` resolved against the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def run_name(self) -> str:
        """The run's name: ``name:`` or the config file's stem, made safe for a folder name."""
        return self.config.name or safe_name(self.path.stem)


def key_location(loaded: LoadedConfig, path: tuple) -> str:
    """``file:line:col`` of a key of a loaded config (its deepest prefix in the file).

    For errors found after loading (e.g. a command that does not support a
    setting); a key given by ``--set`` only points at its section, or the file.

    Examples
    --------
    >>> cfg = load_config(Path(__file__).parents[2] / "configs" / "baba_2026.yaml")
    >>> key_location(cfg, ("engine", "sizing", "mode")).split(":")[-2:]
    ['44', '12']
    """
    try:
        doc = load_yaml(loaded.path)
    except ConfigError:
        return str(loaded.path)
    return location(doc, path)


def safe_name(text: str, limit: int = 80) -> str:
    """``text`` as a folder name: only letters, digits, ``._-``; no leading dot; bounded.

    Examples
    --------
    >>> safe_name("my run/../x")
    'my_run_.._x'
    >>> safe_name("..")
    'run'
    """
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("._")[:limit]
    return slug or "run"


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key.path=value`` overrides (values parsed as YAML) to a config mapping.

    A number in the path indexes a list (``strategies.0.params.hold_sessions=5``);
    it must name an existing item (or the one just after the last, to append).

    Raises
    ------
    ConfigError
        One line naming the override and what to write instead: no ``=``, an
        index that is not a whole number or out of range, a path through a
        value that is not a mapping or list, or a value that is not YAML.

    Examples
    --------
    >>> apply_overrides({"engine": {"fees_bps": 10}}, ["engine.fees_bps=0"])
    {'engine': {'fees_bps': 0}}
    >>> apply_overrides({"s": [{"a": 1}]}, ["s.3.a=2"])
    Traceback (most recent call last):
    ...
    backtest.core.errors.ConfigError: --set 's.3.a=2': s has 1 item(s), so index 3 is out of range; use 0 to 1
    """
    out = json.loads(json.dumps(data, default=str))
    for item in overrides:
        _apply_one(out, item)
    return out


def _apply_one(out: dict, item: str) -> None:
    key, sep, text = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not key.strip() or any(not p.strip() for p in parts):
        raise ConfigError(f"--set {item!r}: expected key.path=value, e.g. engine.fees_bps=0")
    value = _override_value(item, key, text)
    node: Any = out
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "(top level)"
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(item, where, part, len(node))
            if last:
                node[index : index + 1] = [value]
            else:
                if index == len(node):
                    node.append({})
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise ConfigError(
                f"--set {item!r}: {where} is a single value ({node!r}), not a mapping or list, "
                f"so it has no key {part!r}; set {where}=... instead"
            )


def _override_value(item: str, key: str, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(
            f"--set {item!r}: the value of {key} is not valid YAML ({problem}); quote it "
            f"(--set '{key}=\"...\"') or write a number, word, [list] or {{mapping}}"
        ) from None


def _list_index(item: str, where: str, part: str, size: int) -> int:
    if not part.isdigit() or not part.isascii():
        raise ConfigError(
            f"--set {item!r}: {where} is a list, so the next part must be an index "
            f"0 to {max(size - 1, 0)}, not {part!r}"
        )
    index = int(part)
    if index > size:
        raise ConfigError(
            f"--set {item!r}: {where} has {size} item(s), so index {index} is out of range; "
            f"use 0 to {size}"
        )
    return index


def _reject_silent_coercions(doc: YamlDocument) -> None:
    """Numbers YAML 1.1 reads differently from what was written (010 -> 8, 9:30 -> 570).

    Booleans from words like NO are caught by the typed models; these would pass.
    """
    for path, text in doc.coerced.items():
        value = _get(doc.data, path)
        if isinstance(value, int) and not isinstance(value, bool):
            raise ConfigError(
                f"{location(doc, path)}: {dotted(path)}: {text} is read by YAML 1.1 as {value} "
                f"(octal or base-60); write it without a leading zero or colon, or quote it"
            )


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def import_plugins(doc: YamlDocument, plugins: Any, search_folder: bool = True) -> None:
    """Import the modules under ``plugins:`` so the strategies they register validate.

    A plugin is Python code: importing it runs it, with the user's rights. A
    module is looked up on ``sys.path`` (installed packages) and, when
    ``search_folder`` is true and the config's folder is not a results folder
    (it has no ``manifest.json``), in the config file's folder
    (``plugins: [my_strategies]`` finds ``my_strategies.py`` next to it).
    """
    if plugins is None:
        return
    if not isinstance(plugins, list):
        raise ConfigError(
            f"{location(doc, ('plugins',))}: plugins: expected a list of module names, "
            "e.g. plugins: [my_strategies]"
        )
    folder = doc.path.parent
    search = search_folder and not (folder / "manifest.json").exists()
    for i, name in enumerate(plugins):
        try:
            _import_module(name, folder if search else None)
        except Exception as exc:  # whatever the user's module raises on import
            where = (
                "install the module or put it next to this config file"
                if search
                else "install the module (plugins are not imported from a results folder)"
            )
            raise ConfigError(
                f"{location(doc, ('plugins', i))}: plugins[{i}]: cannot import {name!r} "
                f"({type(exc).__name__}: {exc}); {where}, then check that "
                "`python -c 'import <module>'` works"
            ) from exc


def _import_module(name: Any, folder: Path | None) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name):
        raise TypeError(f"a module name must be a dotted Python name, got {name!r}")
    added = folder is not None and str(folder) not in sys.path
    if added:  # appended, so a user file never shadows an installed module
        sys.path.append(str(folder))
    try:
        importlib.import_module(name)
    finally:
        if added:
            sys.path.remove(str(folder))


def _only_unknown_strategies(exc: ValidationError) -> bool:
    """Whether every error is an unknown strategy name (which a plugin may register)."""
    return all(
        e["type"] == "union_tag_invalid" and e["loc"][:1] == ("strategies",) for e in exc.errors()
    )


def load_config(
    path: str | Path, overrides: list[str] | None = None, plugin_folder: bool = True
) -> LoadedConfig:
    """Read, validate and freeze a run configuration.

    ``plugins:`` are imported (their code runs) only when the rest of the
    config is valid: either it validates as it is, or its only problem is a
    strategy name no built-in strategy has. With ``plugin_folder=False`` they are
    looked up among installed modules only, never next to the config.

    Raises
    ------
    ConfigError
        With one line per problem: ``file:line:col: key.path: what and how to fix``.

    Examples
    --------
    >>> from pathlib import Path
    >>> cfg = load_config(Path(__file__).parents[2] / "configs" / "baba_2026.yaml")
    >>> cfg.config.data.tickers[0]
    'BABA'
    """
    doc = load_yaml(Path(path))
    _reject_silent_coercions(doc)
    data = apply_overrides(doc.data, overrides) if overrides else doc.data
    try:
        config = _validate(doc, data)
    except ValidationError as exc:
        if not (data.get("plugins") and _only_unknown_strategies(exc)):
            raise _config_error(doc, exc) from None
        import_plugins(doc, data.get("plugins"), plugin_folder)
        try:
            config = _validate(doc, data)
        except ValidationError as again:
            raise _config_error(doc, again) from None
    else:
        import_plugins(doc, data.get("plugins"), plugin_folder)
    return LoadedConfig(config=config, path=doc.path, raw=data)


def _validate(doc: YamlDocument, data: dict) -> Any:
    return run_model().model_validate(data)


def _config_error(doc: YamlDocument, exc: ValidationError) -> ConfigError:
    return ConfigError(format_validation_error(doc, exc, allowed_keys_for(run_model())))


# Keys added after run ids were published, with the default that reproduces the old
# behaviour: left out of every hash while at that default, so a config that does not
# set them keeps its run id, and one that changes them gets a new one.
LATE_KEYS: dict[str, dict[str, object]] = {
    "events": {"unknown_timing": "after_close", "dedupe": "error", "dedupe_days": 5},
    "event_study": {
        "group_by": ("timing", "event_type", "surprise"),
        "surprise_quantiles": 5,
        "quantile_min_history": 20,
        "cluster": "same_ticker_day0",
    },
}
# Keys of an events.sources entry added later, left out of the hash where unset (None).
SOURCE_LATE_KEYS = ("date_format", "unknown_timing")
# Top-level keys added later, left out of the hash at their default (as LATE_KEYS).
LATE_TOP_KEYS: dict[str, object] = {
    "benchmark_basis": "total_return",
    "costs": CostsConfig(),  # every cost model off
}


# engine keys added later (vol_target sizing, caps), left out of the hash at their default.
LATE_SIZING_KEYS: dict[str, object] = {
    "target_daily_vol_pct": None,
    "window": DEFAULT_VOL_WINDOW,
    "max_pct": DEFAULT_VOL_MAX_PCT,
}


def _late_engine_keys(engine: Any) -> dict:
    """The later ``engine`` keys at their default, as a pydantic exclude mapping."""
    if not isinstance(engine, EngineConfig):
        return {}
    out: dict = {}
    if engine.caps == CapsConfig():
        out["caps"] = True
    same = {k: True for k, d in LATE_SIZING_KEYS.items() if getattr(engine.sizing, k) == d}
    if same:
        out["sizing"] = same
    return out


def _late_defaults(config: BaseModel, excluded: set[str]) -> dict[str, set[str]]:
    """The :data:`LATE_KEYS` of ``config`` that are at their default, by section."""
    out = {}
    for section, keys in LATE_KEYS.items():
        part = getattr(config, section, None)
        same = {k for k, default in keys.items() if getattr(part, k, None) == default}
        if part is not None and same and section not in excluded:
            out[section] = same
    return out


def _hash_exclusions(config: BaseModel, excluded: set[str]) -> dict:
    """Whole sections in ``excluded``, plus invocation keys and late keys at their default."""
    skip: dict = {}
    for part in (INVOCATION_KEYS, _late_defaults(config, excluded)):
        for section, keys in part.items():
            skip[section] = set(skip.get(section, set())) | set(keys)
    late_top = {k for k, default in LATE_TOP_KEYS.items() if getattr(config, k, None) == default}
    # A strategy's hedge: (added later) is left out where it is not set, so ids stay.
    unhedged = [
        i for i, s in enumerate(getattr(config, "strategies", None) or []) if s.hedge is None
    ]
    if unhedged and "strategies" not in excluded:
        skip["strategies"] = {i: {"hedge"} for i in unhedged}
    # A source's date_format: (added later) likewise, where it is not set.
    sources = getattr(getattr(config, "events", None), "sources", None) or []
    # A source's date_format: and unknown_timing: (added later) likewise, where not set.
    unformatted = {
        i: unset
        for i, src in enumerate(sources)
        if (unset := {k for k in SOURCE_LATE_KEYS if getattr(src, k, 1) is None})
    }
    if unformatted and "events" not in excluded:
        events_skip = skip.get("events", set())
        skip["events"] = {**dict.fromkeys(events_skip, True), "sources": unformatted}
    engine_late = _late_engine_keys(getattr(config, "engine", None))
    if engine_late and "engine" not in excluded:
        skip["engine"] = {**dict.fromkeys(skip.get("engine", set()), True), **engine_late}
    return skip | dict.fromkeys(late_top, True) | dict.fromkeys(excluded, True)


def config_hash(config: BaseModel, exclude: set[str] | None = None) -> str:
    """Return a short, stable hash of the canonical config (keys sorted, JSON).

    ``exclude`` leaves out top-level sections that do not change results
    (the run id excludes ``output``). :data:`INVOCATION_KEYS`, and keys of
    :data:`LATE_KEYS` at their default, are always left out.

    Examples
    --------
    >>> len(config_hash(DataConfig(tickers=["BABA"])))
    12
    """
    excluded = set(exclude or ())
    dumped = config.model_dump(mode="json", exclude=_hash_exclusions(config, excluded))
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
