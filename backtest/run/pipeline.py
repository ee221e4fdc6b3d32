"""The stages of a run, each a small function over plain pandas objects.

config -> prices and events -> aligned events -> signals -> trades and equity.
:mod:`backtest.run.runner` strings them together and hands the tables to metrics and
the report.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from backtest.config.model import LoadedConfig
from backtest.core.errors import BacktestError, ConfigError, DataUnavailable, StrategyError
from backtest.core.schema import SIGNAL_COLUMNS, empty_drops
from backtest.core.timeline import Timeline, build_timeline
from backtest.data.bundled import BundledPrices
from backtest.data.files import FilePrices
from backtest.data.prices import PriceSource, load_prices
from backtest.data.universe import BundledUniverse
from backtest.data.validate import ValidationReport
from backtest.engine.portfolio import PortfolioCaps, apply_portfolio_caps
from backtest.engine.rules.hedge import HedgeSpec, hedge_ratios, instrument_priced
from backtest.engine.rules.overlap import overlap_signals, truncate_signals
from backtest.engine.rules.sizing import VolTarget, vol_target_sizes
from backtest.engine.simulate import EngineResult, EngineSettings, simulate
from backtest.events.align import UNKNOWN_TIMING_COLUMN, align_events, drop_rows
from backtest.events.loaders import (
    load_bundled_earnings,
    load_event_csv,
    load_inline_events,
    load_us100_earnings,
)
from backtest.events.news import load_news_folder
from backtest.strategy.signals import (
    MarketView,
    StrategySpec,
    check_signals,
    get_strategy,
    window_drops,
)

if TYPE_CHECKING:
    from backtest.eventstudy import EventStudyResult

__all__ = [
    "StrategyRun",
    "align",
    "event_study_benchmark",
    "load_all_events",
    "load_events_and_drops",
    "load_events_by_source",
    "load_source_events",
    "load_market",
    "make_source",
    "run_strategy",
    "run_timeline",
    "hedge_signals",
    "vol_target_signals",
    "study_events",
]


def make_source(loaded: LoadedConfig) -> PriceSource:
    """Return the configured price source."""
    data = loaded.config.data
    if data.source == "bundled":
        return BundledPrices()
    if data.source == "files":
        return FilePrices(loaded.resolve(data.path))
    if data.source == "us100":
        return BundledUniverse()
    if data.source == "yfinance":
        from backtest.core.sessions import get_calendar
        from backtest.data.yahoo import YFinancePrices

        start = pd.Timestamp(data.start) if data.start else None
        end = pd.Timestamp(data.end) if data.end else None
        cal = get_calendar(data.calendar)
        return YFinancePrices(cache_of(loaded), cal, start, end, data.offline, data.refresh)
    raise ConfigError(f"data.source: {data.source!r} is not one of bundled, files, yfinance, us100")


def cache_of(loaded: LoadedConfig):
    """The on-disk cache for Yahoo data (env var, then ``data.cache_dir``, then the default)."""
    from backtest.data.cache import ParquetCache, cache_root

    folder = loaded.config.data.cache_dir
    return ParquetCache(cache_root(loaded.resolve(folder) if folder else None))


def load_market(
    loaded: LoadedConfig,
    cal: xcals.ExchangeCalendar,
    hedges: dict[str, str] | None = None,
) -> tuple[dict[str, pd.DataFrame], list[ValidationReport]]:
    """Load and validate prices of the universe, the benchmarks and the hedge instruments.

    ``hedges`` maps each hedge instrument to the config key that named it; one
    the source has no prices for is a :class:`ConfigError` naming that key.
    """
    cfg = loaded.config
    hedges = hedges or {}
    tickers = list(dict.fromkeys([*cfg.data.tickers, *cfg.benchmarks, *hedges]))
    skip = frozenset(cfg.data.tickers) - frozenset(cfg.benchmarks) - frozenset(hedges)
    if cfg.data.on_missing_ticker == "error":
        skip = frozenset()
    source = make_source(loaded)
    for inst, key in hedges.items():
        if inst in cfg.data.tickers or inst in cfg.benchmarks:
            continue
        try:
            source.load(inst)
        except DataUnavailable as exc:
            raise ConfigError(
                f"{key}: no prices for hedge instrument {inst!r} ({exc}); name an instrument "
                "the data source has, or add its prices"
            ) from exc
    return load_prices(source, tickers, cfg.data.price_basis, cal, skip_missing=skip)


def _load_source(src, loaded: LoadedConfig, cal: xcals.ExchangeCalendar) -> pd.DataFrame:
    notice = loaded.config.events.assumed_notice_sessions
    if src.type == "bundled_earnings":
        return load_bundled_earnings(src.tickers or loaded.config.data.tickers, cal, notice)
    if src.type == "us100_earnings":
        return load_us100_earnings(src.tickers or loaded.config.data.tickers, cal, notice)
    if src.type == "csv":
        return load_event_csv(
            loaded.resolve(src.path), cal, src.timezone, src.event_type, notice, src.date_format
        )
    if src.type in ("yfinance_earnings", "yfinance_analyst"):
        return _load_yahoo_events(src, loaded, cal)
    items = [e.model_dump(exclude_none=True) for e in src.events]
    return load_inline_events(items, cal, notice, src.date_format)


def _load_yahoo_events(src, loaded: LoadedConfig, cal: xcals.ExchangeCalendar) -> pd.DataFrame:
    tickers = src.tickers or loaded.config.data.tickers
    modes = {"offline": loaded.config.data.offline, "refresh": loaded.config.data.refresh}
    if src.type == "yfinance_analyst":
        from backtest.events.yahoo_analyst import YFinanceAnalyst

        return YFinanceAnalyst(cache_of(loaded), cal, **modes).load(tickers)
    from backtest.events.yahoo_earnings import YFinanceEarnings

    as_of = pd.Timestamp(src.as_of).tz_convert("UTC") if src.as_of else None
    source = YFinanceEarnings(cache_of(loaded), cal, **modes, limit=src.limit)
    return source.load(tickers, loaded.config.events.assumed_notice_sessions, as_of)


def _load_news_folder(src, loaded: LoadedConfig, cal: xcals.ExchangeCalendar):
    table = loaded.resolve(src.isin_table) if src.isin_table else None
    lm = loaded.resolve(src.lm_dictionary) if src.lm_dictionary else None
    return load_news_folder(loaded.resolve(src.path), cal, table, src.timezone, src.encoding, lm)


def _load_with_drops(
    src, loaded: LoadedConfig, cal: xcals.ExchangeCalendar
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A source's events and the drops its loader recorded (only article folders have any).

    A source with its own ``unknown_timing`` tags its events with it
    (:data:`backtest.events.align.UNKNOWN_TIMING_COLUMN`), which alignment reads
    before ``events.unknown_timing``.
    """
    if src.type == "news_folder":
        news = _load_news_folder(src, loaded, cal)
        events, drops = news.events, news.drops
    else:
        events, drops = _load_source(src, loaded, cal), empty_drops()
    if src.unknown_timing is not None and not events.empty:  # this source's own rule
        events = events.assign(**{UNKNOWN_TIMING_COLUMN: src.unknown_timing})
    return events, drops


def load_events_and_drops(
    loaded: LoadedConfig,
    cal: xcals.ExchangeCalendar,
    loads: list[tuple[pd.DataFrame, pd.DataFrame]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load every configured event source into one table, plus the loaders' drops.

    ``loads`` (each source's events and drops, in config order) skips the loading.
    """
    if loads is None:
        loads = [_load_with_drops(src, loaded, cal) for src in loaded.config.events.sources]
    frames = [events for events, _ in loads if not events.empty]
    drops = pd.concat([empty_drops(), *(d for _, d in loads if not d.empty)], ignore_index=True)
    if not frames:
        detail = f"; dropped: {drops['reason'].value_counts().to_dict()}" if len(drops) else ""
        raise BacktestError(f"the configured event sources returned no events at all{detail}")
    return pd.concat(frames, ignore_index=True), drops


def load_source_events(
    loaded: LoadedConfig, cal: xcals.ExchangeCalendar
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each configured source's events and loader drops, by :func:`source_label`."""
    out: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for src in loaded.config.events.sources:
        out[source_label(src, set(out))] = _load_with_drops(src, loaded, cal)
    return out


def load_all_events(loaded: LoadedConfig, cal: xcals.ExchangeCalendar) -> pd.DataFrame:
    """Load every configured event source into one table."""
    return load_events_and_drops(loaded, cal)[0]


def _period(loaded: LoadedConfig, cal: xcals.ExchangeCalendar) -> tuple:
    data = loaded.config.data
    start = cal.date_to_session(pd.Timestamp(data.start), "next") if data.start else None
    end = cal.date_to_session(pd.Timestamp(data.end), "previous") if data.end else None
    return start, end


def align(
    loaded: LoadedConfig,
    events: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    cal: xcals.ExchangeCalendar,
    now: pd.Timestamp | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Align events to sessions within the configured period."""
    cfg = loaded.config.events
    return align_events(
        events,
        prices,
        cal,
        cfg.intraday_fill,
        _period(loaded, cal),
        now,
        cfg.unknown_timing,
        cfg.dedupe,
        cfg.dedupe_days,
    )


@dataclass(frozen=True)
class StrategyRun:
    """One strategy's signals, drops and simulated result."""

    name: str
    label: str
    events: pd.DataFrame
    signals: pd.DataFrame
    drops: pd.DataFrame
    result: EngineResult | None = None
    # A hedged strategy's ratio per signal: event_id, instrument, ratio (None: no hedge:).
    hedge: pd.DataFrame | None = None


def _raises(spec: StrategySpec, events: pd.DataFrame, market: MarketView, params) -> bool:
    try:
        spec.fn(events, market, params)
    except Exception:
        return True
    return False


def first_failing_event(
    spec: StrategySpec, events: pd.DataFrame, market: MarketView, params
) -> pd.Series | None:
    """The event whose arrival makes the strategy raise: the last row of the shortest failing prefix.

    A strategy decides all its events in one call, so the exception alone does
    not say which event broke it; a binary search over prefixes of the table
    (about log2(n) calls, only on this failure path) does. None when no prefix
    short of the whole table fails and the whole table does not fail on a retry.

    Examples
    --------
    >>> def fussy(events, market, params):
    ...     if (events["event_id"] == "b").any():
    ...         raise ValueError("no b")
    >>> spec = StrategySpec("fussy", None, fussy, ("news",), "")
    >>> first_failing_event(spec, pd.DataFrame({"event_id": ["a", "b", "c"]}), None, None)["event_id"]
    'b'
    """
    low, high = 0, len(events)  # prefix of `low` rows passes; `high` rows fail
    if high == 0 or not _raises(spec, events, market, params):
        return None
    while high - low > 1:
        mid = (low + high) // 2
        if _raises(spec, events.iloc[:mid], market, params):
            high = mid
        else:
            low = mid
    return events.iloc[high - 1]


def _call(spec: StrategySpec, events: pd.DataFrame, market: MarketView, params) -> tuple:
    try:
        return spec.fn(events, market, params)
    except BacktestError:
        raise
    except Exception as exc:
        culprit = first_failing_event(spec, events, market, params)
        where = (
            ""
            if culprit is None
            else (
                f" (first failing event {culprit.get('event_id')}, ticker {culprit.get('ticker')})"
            )
        )
        raise StrategyError(
            f"strategy {spec.name!r} raised {type(exc).__name__}: {exc}{where}"
        ) from exc


def run_strategy(
    strategy_cfg,
    aligned: pd.DataFrame,
    market: MarketView,
    overlap: str,
    portfolio: PortfolioCaps | None = None,
) -> StrategyRun:
    """Turn aligned events into checked signals for one configured strategy.

    With ``portfolio`` (the config's ``portfolio:`` section), the signals that
    fit the book are kept and sized (:func:`backtest.engine.portfolio.apply_portfolio_caps`);
    the others are dropped at stage ``portfolio``.
    """
    spec = get_strategy(strategy_cfg.name)
    events = aligned[aligned["event_type"].isin(spec.event_types)].reset_index(drop=True)
    if events.empty:
        empty = check_signals(
            pd.DataFrame(columns=list(SIGNAL_COLUMNS)),
            spec.name,
            market.cal,
        )
        return StrategyRun(spec.name, strategy_cfg.label or spec.name, events, empty, empty_drops())
    signals, drops = _call(spec, events, market, strategy_cfg.params)
    signals = check_signals(signals, spec.name, market.cal)
    signals, window = window_drops(signals, market)
    signals, overlapping = overlap_signals(signals, overlap)
    capped = empty_drops()
    if portfolio is not None:
        signals, capped = apply_portfolio_caps(signals, portfolio)
    if overlap == "truncate":
        signals = truncate_signals(signals)
    label = strategy_cfg.label or spec.name
    all_drops = pd.concat([drops, window, overlapping, capped], ignore_index=True)
    all_drops = all_drops.assign(strategy=label)
    return StrategyRun(spec.name, label, events, signals.assign(strategy=label), all_drops)


def hedge_signals(run: StrategyRun, spec: HedgeSpec, prices: dict, tz: str) -> StrategyRun:
    """``run`` with each signal's hedge ratio; signals without one are dropped (``hedge_history``),
    and so are those whose instrument has no bar on the entry or exit session
    (``hedge_no_price``, :func:`backtest.engine.rules.hedge.instrument_priced`).

    The ratio is read at the decision's session (:func:`backtest.engine.rules.hedge.hedge_ratios`).
    """
    sig = run.signals
    if sig.empty:
        table = pd.DataFrame({"event_id": [], "instrument": [], "ratio": []})
        return StrategyRun(run.name, run.label, run.events, sig, run.drops, run.result, table)
    inst, ratio = hedge_ratios(sig, prices, spec, tz)
    bad = pd.isna(ratio)
    detail = [
        f"fewer than {spec.min_obs} daily returns of {t} and {i} in the {spec.window} sessions "
        "before the decision session"
        for t, i in zip(sig["ticker"][bad], inst[bad], strict=True)
    ]
    dropped = drop_rows(sig[bad], "hedge", "hedge_history", pd.Series(detail, dtype=object))
    unpriced = np.zeros(len(sig), dtype=bool)
    for name in sorted(set(inst)):
        rows = np.flatnonzero((inst == name) & ~bad)
        for column in ("entry_session", "exit_session"):
            ok = instrument_priced(prices[name], pd.DatetimeIndex(sig[column].iloc[rows]))
            unpriced[rows[~ok]] = True
    detail = [
        f"{i} has no price on the entry ({a:%Y-%m-%d}) or exit ({b:%Y-%m-%d}) session"
        for i, a, b in zip(
            inst[unpriced],
            sig["entry_session"][unpriced],
            sig["exit_session"][unpriced],
            strict=True,
        )
    ]
    no_price = drop_rows(sig[unpriced], "hedge", "hedge_no_price", pd.Series(detail, dtype=object))
    bad = bad | unpriced
    table = pd.DataFrame({"event_id": sig["event_id"], "instrument": inst, "ratio": ratio})[~bad]
    drops = pd.concat(
        [run.drops, dropped.assign(strategy=run.label), no_price.assign(strategy=run.label)],
        ignore_index=True,
    )
    kept = sig[~bad].reset_index(drop=True)
    return StrategyRun(
        run.name, run.label, run.events, kept, drops, run.result, table.reset_index(drop=True)
    )


def vol_target_signals(run: StrategyRun, vol: VolTarget, prices: dict, tz: str) -> StrategyRun:
    """``run`` with each signal's ``size_pct`` from ``vol_target`` sizing, and the vol it came from.

    Signals whose ticker has fewer than ``vol.window`` daily returns before the
    decision session are dropped (stage ``sizing``, reason ``vol_history``); the
    rule is :func:`backtest.engine.rules.sizing.vol_target_sizes`.
    """
    sig = run.signals
    if sig.empty:
        empty = pd.Series(dtype=float)
        return replace(run, signals=sig.assign(size_pct=empty, sizing_vol=empty))
    size_pct, sigma = vol_target_sizes(sig, prices, vol, tz)
    bad = np.isnan(size_pct)
    detail = pd.Series(
        [
            f"fewer than {vol.window} daily returns of {t} before the decision session "
            f"{pd.Timestamp(d):%Y-%m-%d %H:%M %Z}"
            for t, d in zip(sig["ticker"][bad], sig["decision_time"][bad], strict=True)
        ],
        dtype=object,
    )
    dropped = drop_rows(sig[bad], "sizing", "vol_history", detail).assign(strategy=run.label)
    kept = sig.assign(size_pct=size_pct, sizing_vol=sigma)[~bad].reset_index(drop=True)
    drops = pd.concat([run.drops, dropped], ignore_index=True)
    return replace(run, signals=kept, drops=drops)


def run_timeline(
    loaded: LoadedConfig,
    cal: xcals.ExchangeCalendar,
    aligned: pd.DataFrame,
    runs: list[StrategyRun],
) -> Timeline:
    """Sessions from the period start (or first entry) to its end (or last exit)."""
    start, end = _period(loaded, cal)
    firsts = [r.signals["entry_session"].min() for r in runs if not r.signals.empty]
    lasts = [r.signals["exit_session"].max() for r in runs if not r.signals.empty]
    candidates_start = [
        t
        for t in [start, *firsts, aligned["session"].min() if len(aligned) else None]
        if t is not None and not pd.isna(t)
    ]
    candidates_end = [
        t
        for t in [end, *lasts, aligned["session"].max() if len(aligned) else None]
        if t is not None and not pd.isna(t)
    ]
    if not candidates_start:
        raise BacktestError("no events and no data.start/data.end: nothing defines the period")
    return build_timeline(cal, min(candidates_start), max(candidates_end))


def simulate_run(
    run: StrategyRun, prices: dict[str, pd.DataFrame], timeline: Timeline, settings: EngineSettings
) -> StrategyRun:
    """Return ``run`` with its engine result attached."""
    result = simulate(run.signals, prices, timeline, settings)
    trades = result.trades.assign(strategy=run.label)
    drops = pd.concat([run.drops, result.drops.assign(strategy=run.label)], ignore_index=True)
    entries = result.entries.assign(strategy=run.label)
    result = EngineResult(trades, result.equity, result.in_market, result.drops, entries)
    return StrategyRun(run.name, run.label, run.events, run.signals, drops, result, run.hedge)


def event_study_benchmark(config) -> str:
    """The study's market index: ``event_study.benchmark``, else a non-traded benchmark, else SPY.

    The first of ``benchmarks:`` that is not one of ``data.tickers`` is taken, since
    a stock regressed on itself has no abnormal return.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> cfg = NS(event_study=NS(benchmark=None), benchmarks=["BABA", "QQQ"],
    ...          data=NS(tickers=["BABA"]))
    >>> event_study_benchmark(cfg)
    'QQQ'
    >>> event_study_benchmark(NS(event_study=NS(benchmark=None), benchmarks=[], data=cfg.data))
    'SPY'
    """
    chosen = config.event_study.benchmark
    others = [b for b in config.benchmarks if b not in config.data.tickers]
    return chosen or (others[0] if others else "SPY")


def study_events(
    loaded: LoadedConfig,
    aligned: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    trades: pd.DataFrame,
) -> tuple[EventStudyResult | None, str]:
    """The configured event study of ``aligned`` (None when off or skipped) and a note why.

    The benchmark must be among the loaded prices (``data.tickers`` or
    ``benchmarks:``); without them the study is skipped, never the run.
    """
    section = loaded.config.event_study
    if not section.enabled:
        return None, "disabled (event_study.enabled: false)"
    if len(aligned) < section.min_events:
        return None, (
            f"skipped: {len(aligned)} aligned events, fewer than event_study.min_events "
            f"({section.min_events})"
        )
    benchmark = event_study_benchmark(loaded.config)
    if benchmark not in prices:
        return None, (
            f"skipped: no prices for the benchmark {benchmark}; add it to benchmarks: "
            "or name another one in event_study.benchmark"
        )
    from backtest.eventstudy import run_event_study  # scipy.stats: only runs that study pay

    settings = section.settings(benchmark)
    return run_event_study(aligned, prices, prices[benchmark], settings, trades), ""


def source_label(src, taken: set[str]) -> str:
    """A short, unique name of a configured event source for ``backtest events --check``.

    Examples
    --------
    >>> from backtest.config.model import CsvEvents
    >>> source_label(CsvEvents(type="csv", path="a/mine.csv"), {"csv:mine.csv"})
    'csv:mine.csv#2'
    """
    short = {
        "bundled_earnings": "bundled",
        "yfinance_earnings": "yfinance",
        "us100_earnings": "us100",
    }
    base = short.get(src.type, src.type)
    if src.type in ("csv", "news_folder"):
        base = f"{src.type}:{src.path.name}"
    label, n = base, 1
    while label in taken:
        n += 1
        label = f"{base}#{n}"
    return label


def load_events_by_source(
    loaded: LoadedConfig, cal: xcals.ExchangeCalendar
) -> dict[str, pd.DataFrame]:
    """Every configured source's events as loaded, by :func:`source_label`; nothing deduplicated.

    Loader drops (articles without a usable stamp) are not returned: the check
    compares events, and ``backtest events`` lists those drops.
    """
    return {k: events for k, (events, _) in load_source_events(loaded, cal).items()}
