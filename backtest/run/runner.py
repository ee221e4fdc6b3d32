"""Run a backtest from a config: the one function behind ``backtest run``.

Stages (each in :mod:`backtest.run.pipeline`): load and validate prices, load
events, align them to sessions, turn them into signals per strategy, simulate,
compute metrics, and publish ``results/<run_id>/`` atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtest.config.model import LoadedConfig, config_hash, load_config
from backtest.core import sample_size
from backtest.core.errors import ConfigError, DataIntegrityError
from backtest.core.progress import report
from backtest.core.schema import empty_drops
from backtest.core.sessions import get_calendar
from backtest.core.timeline import Timeline
from backtest.data.validate import suspect_splits_by_ticker
from backtest.engine.hedging import hedge_equity, hedge_trades
from backtest.engine.portfolio import PortfolioCaps
from backtest.engine.rules.caps import BookCaps
from backtest.engine.rules.costs import MAX_BPS
from backtest.engine.rules.hedge import HedgeSpec
from backtest.engine.rules.sizing import VolTarget
from backtest.engine.rules.trade_costs import TradeCosts
from backtest.engine.simulate import EngineSettings
from backtest.events.align import check_loss_budget
from backtest.report.manifest import data_fingerprint
from backtest.run.pipeline import (
    StrategyRun,
    align,
    hedge_signals,
    load_events_and_drops,
    load_market,
    load_source_events,
    run_strategy,
    run_timeline,
    simulate_run,
    study_events,
    vol_target_signals,
)
from backtest.run.sensitivity import cost_sensitivity
from backtest.stats import metrics
from backtest.strategy.signals import MarketView

if TYPE_CHECKING:
    from backtest.eventstudy import EventStudyResult

__all__ = [
    "RunInputs",
    "RunResult",
    "Simulation",
    "backtest_inputs",
    "engine_settings",
    "hedge_map",
    "hedge_specs",
    "load_inputs",
    "run",
    "run_loaded",
    "summary_html",
    "timing_check",
    "vol_target",
    "with_event_study",
]


@dataclass(frozen=True)
class Simulation:
    """What the engine was given: enough to rebuild the run's vectorbt Portfolio on demand."""

    signals: dict[str, pd.DataFrame]  # per strategy label, as simulated
    prices: dict[str, pd.DataFrame]
    timeline: Timeline
    settings: EngineSettings

    def portfolio(self):
        """:func:`backtest.engine.vectorbt.run_portfolio` of these inputs."""
        from backtest.engine.vectorbt import run_portfolio

        return run_portfolio(self.signals, self.prices, self.timeline, self.settings)


@dataclass
class RunResult:
    """Everything a run produced, as plain tables (schemas in :mod:`backtest.core.schema`).

    ``portfolio`` is the run as a vectorbt ``Portfolio`` (built on first use).
    """

    run_id: str
    config: LoadedConfig
    events: pd.DataFrame
    trades: pd.DataFrame
    drops: pd.DataFrame
    equity: pd.DataFrame
    metrics: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    validation: list = field(default_factory=list)
    # Per benchmark: the series its buy-and-hold equity was built from, and why.
    benchmark_basis: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None
    # The market-model event study of ``events`` (None when disabled or skipped; the
    # note says why). Only published runs compute it: see :func:`with_event_study`.
    event_study: EventStudyResult | None = None
    event_study_note: str = "not computed"
    # Break-even cost and headline trade figures at 0-50 bps per side (:mod:`backtest.run.sensitivity`).
    cost_sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Date-only earnings reports: |return| on the report date vs the next session per
    # ticker and source (:mod:`backtest.events.timing_check`); published runs only.
    timing_check: pd.DataFrame | None = None
    # Per strategy and signal the book sized: what its entry was decided from
    # (backtest.engine.rules.settings.ENTRY_COLUMNS, plus strategy and hedge_ratio).
    # Compared by the look-ahead audit; not written to the results folder.
    entries: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The engine's inputs, kept to rebuild the Portfolio when asked (None: not kept).
    simulation: Simulation | None = field(default=None, repr=False, compare=False)

    @cached_property
    def portfolio(self):
        """The run's strategies as one vectorbt ``Portfolio``, built on first use.

        One group per strategy with its own cash, one column per traded signal
        (``(strategy, event_id)``), filled with the orders the run filled: its
        trades are ``trades.csv``'s and its value at each session's close is
        ``equity.csv``'s. ``pf["earnings_hold"].stats()``,
        ``pf.trades.records_readable`` and ``pf.plot()`` work as usual. The index is
        the run's ticks (each session's open and close, UTC) at a ``freq`` of 12
        hours, so durations count a session as a day; for ratios annualised per
        252 sessions, as ``metrics.csv``'s (which are close to close), pass
        ``pf.stats(settings=dict(year_freq="252 days"))``. A hedge's legs are
        priced outside vectorbt and are not in it; a strategy without a signal
        has no column; None when no strategy has one.
        """
        if self.simulation is None:
            raise AttributeError(
                "this RunResult kept no engine inputs; get one from backtest.run.runner.run "
                "or run_loaded to reach its portfolio"
            )
        return self.simulation.portfolio()

    def _repr_html_(self) -> str:
        """A compact summary for notebooks: the run id, counts and the judged metrics."""
        return summary_html(self.run_id, self.metrics, self.folder, len(self.trades))


def summary_html(title: str, metrics: pd.DataFrame, folder: Path | None, trades: int) -> str:
    """Run id, trades, folder and the metrics table (small samples greyed), as HTML."""
    from backtest.core.sample_size import row_samples
    from backtest.report.html_cells import transposed_html
    from backtest.report.templates import render

    shown = metrics.drop(columns=["judged_by", "too_few"], errors="ignore")
    full = {str(r["strategy"]): r for r in metrics.to_dict("records")}
    table = transposed_html(shown, "metric", lambda r: row_samples(full[str(r["strategy"])]))
    where = str(folder) if folder is not None else "not written"
    return str(render("summary.html.j2", title=title, trades=trades, folder=where, table=table))


def engine_settings(loaded: LoadedConfig) -> EngineSettings:
    """Translate the engine section of a config into engine settings."""
    e = loaded.config.engine
    return EngineSettings(
        init_cash=e.init_cash,
        fees_bps=e.fees_bps,
        slippage_bps=e.slippage_bps,
        sizing=e.sizing.mode,
        size=e.sizing.value,
        stop_loss_pct=e.stop_loss_pct,
        take_profit_pct=e.take_profit_pct,
        costs=trade_costs(loaded),
        caps=BookCaps(**e.caps.model_dump()),
    )


def vol_target(loaded: LoadedConfig) -> VolTarget | None:
    """``engine.sizing`` as :class:`VolTarget` when its mode is ``vol_target``, else None."""
    s = loaded.config.engine.sizing
    if s.mode != "vol_target":
        return None
    return VolTarget(float(s.target_daily_vol_pct), s.window, s.max_pct)


def borrow_overrides(path, tickers: list[str]) -> tuple[tuple[str, float], ...]:
    """Per-ticker annual borrow fees (bps) from a CSV ``ticker,annual_bps``.

    A file that cannot be read (missing, not text), a missing header, a ticker
    the run does not trade or given twice, or a value that is not a number in
    [0, 10 000] is a :class:`ConfigError` naming the file, line and fix.
    """
    import csv
    import math

    out: dict[str, float] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows, fields = list(reader), reader.fieldnames or []
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the borrow file ({exc.strerror}); fix costs.borrow.file"
        ) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(
            f"{path}: the borrow file is not a UTF-8 CSV ({exc}); write it as ticker,annual_bps"
        ) from exc
    if not {"ticker", "annual_bps"} <= set(fields):
        raise ConfigError(f"{path}:1: header must be 'ticker,annual_bps'")
    for line, rec in enumerate(rows, start=2):
        t = (rec["ticker"] or "").strip()
        if t not in tickers:
            raise ConfigError(
                f"{path}:{line}: ticker {t!r} is not one of data.tickers {tickers}; "
                "remove the line or add the ticker"
            )
        if t in out:
            raise ConfigError(f"{path}:{line}: ticker {t!r} is given twice; keep one line")
        try:
            bps = float(rec["annual_bps"])
        except (TypeError, ValueError):
            bps = float("nan")
        if not (math.isfinite(bps) and 0 <= bps <= MAX_BPS):
            raise ConfigError(
                f"{path}:{line}: annual_bps {rec['annual_bps']!r} must be a number "
                f"from 0 to {MAX_BPS}"
            )
        out[t] = bps
    return tuple(out.items())


def trade_costs(loaded: LoadedConfig, notional: float | None = None) -> TradeCosts:
    """The ``costs:`` section as the engines read it (:class:`TradeCosts`)."""
    c, e = loaded.config.costs, loaded.config.engine
    overrides: tuple[tuple[str, float], ...] = ()
    if c.borrow.file:
        overrides = borrow_overrides(
            loaded.resolve(Path(c.borrow.file)), list(loaded.config.data.tickers)
        )
    if notional is None:
        fixed = e.sizing.mode == "fixed"
        notional = e.sizing.value if fixed else e.init_cash * e.sizing.value / 100.0
    return TradeCosts(
        spread_bps=c.spread.fixed_bps,
        spread_estimator=c.spread.estimator,
        spread_window=c.spread.window,
        commission_per_share=c.commission.per_share,
        commission_minimum=c.commission.minimum,
        impact_k=c.impact.k,
        vol_window=c.impact.window,
        adv_window=c.impact.window,
        participation_pct=c.participation.max_pct if c.participation else None,
        participation_action=c.participation.action if c.participation else "cut",
        borrow_bps=c.borrow.annual_bps,
        borrow_bps_by_ticker=overrides,
        do_not_short=tuple(c.borrow.do_not_short),
        dividends=c.dividends,
        notional=float(notional),
    )


def hedge_map(path, tickers: list[str]) -> tuple[tuple[str, str], ...]:
    """Per-ticker hedge instruments from a CSV ``ticker,hedge``.

    A missing header, a ticker the run does not trade, a repeated ticker or a
    hedge that is not a ticker symbol is a :class:`ConfigError` naming the file,
    line and fix.
    """
    import csv
    import re

    out: dict[str, str] = {}
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the hedge map ({exc.strerror}); fix hedge.map"
        ) from exc
    with fh:
        reader = csv.DictReader(fh)
        if not {"ticker", "hedge"} <= set(reader.fieldnames or []):
            raise ConfigError(f"{path}:1: header must be 'ticker,hedge'")
        for line, rec in enumerate(reader, start=2):
            t, h = (rec["ticker"] or "").strip(), (rec["hedge"] or "").strip()
            if t not in tickers:
                raise ConfigError(
                    f"{path}:{line}: ticker {t!r} is not one of data.tickers {tickers}; "
                    "remove the line or add the ticker"
                )
            if t in out:
                raise ConfigError(f"{path}:{line}: ticker {t!r} is mapped twice; keep one line")
            if not re.fullmatch(r"[A-Za-z0-9.\-=^]{1,24}", h):
                raise ConfigError(
                    f"{path}:{line}: hedge {h!r} is not a ticker symbol; write one, e.g. KWEB"
                )
            out[t] = h
    return tuple(out.items())


def hedge_specs(loaded: LoadedConfig) -> dict[int, tuple[HedgeSpec, str]]:
    """Each hedged strategy's :class:`HedgeSpec` and its config key, by strategy index.

    Every traded ticker must have an instrument (``instrument`` or a ``map`` line).
    """
    cfg, out = loaded.config, {}
    tickers = list(cfg.data.tickers)
    for i, s in enumerate(cfg.strategies):
        h = s.hedge
        if h is None:
            continue
        key = f"strategies[{i}].hedge"
        by = hedge_map(loaded.resolve(Path(h.map)), tickers) if h.map else ()
        spec = HedgeSpec(h.instrument, by, h.ratio, h.window, h.min_obs, h.shrink)
        missing = [t for t in tickers if spec.instrument_of(t) is None]
        if missing:
            raise ConfigError(
                f"{key}.map: no hedge for {missing}; add them to the map or set {key}.instrument"
            )
        out[i] = (spec, key)
    return out


def hedge_instruments(loaded: LoadedConfig) -> dict[str, str]:
    """Every hedge instrument of the config and the key that names it."""
    out: dict[str, str] = {}
    for spec, key in hedge_specs(loaded).values():
        if spec.default is not None:
            out.setdefault(spec.default, f"{key}.instrument")
        for _, inst in spec.by_ticker:
            out.setdefault(inst, f"{key}.map")
    return out


BENCHMARK_BASES = ("total_return", "price")


def _benchmark_series(frame: pd.DataFrame, sessions: pd.Index, basis: str) -> tuple[pd.Series, str]:
    """The price series a benchmark is held on over ``sessions``, and a note on its basis.

    ``total_return`` uses ``adj_close`` (dividends reinvested) when it is given on every
    session that has a close; otherwise the close, and the note says why.

    Examples
    --------
    >>> days = pd.to_datetime(["2026-01-05", "2026-01-06"])
    >>> bars = pd.DataFrame({"close": [10.0, 10.0], "adj_close": [9.0, 9.9]}, index=days)
    >>> series, note = _benchmark_series(bars, days, "total_return")
    >>> series.tolist(), note
    ([9.0, 9.9], 'total return (adj_close)')
    >>> _benchmark_series(bars.drop(columns="adj_close"), days, "total_return")[1]
    'price only (close): no adj_close, total return unavailable'
    """
    close = frame["close"].reindex(sessions)
    if basis == "price":
        return close, "price only (close), as benchmark_basis: price asks"
    if "adj_close" not in frame.columns:
        return close, "price only (close): no adj_close, total return unavailable"
    adj = frame["adj_close"].reindex(sessions)
    gaps = int((close.notna() & adj.isna()).sum())
    if gaps:
        return close, f"price only (close): adj_close missing on {gaps} session(s) with a close"
    return adj, "total return (adj_close)"


def _benchmark_equity(
    prices: dict[str, pd.DataFrame],
    tickers: list[str],
    timeline: Timeline,
    init_cash: float,
    basis: str = "total_return",
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Buy-and-hold equity of each benchmark over the timeline, and the basis of each.

    Close to close on ``adj_close`` (``basis="total_return"``, dividends reinvested)
    or ``close`` (``"price"``); see :func:`_benchmark_series` for the fallback.
    """
    out, notes = {}, {}
    for ticker in tickers:
        series, notes[ticker] = _benchmark_series(prices[ticker], timeline.sessions, basis)
        first = series.first_valid_index()
        out[f"benchmark:{ticker}"] = (
            init_cash * series / series.loc[first] if first is not None else series * float("nan")
        )
    return pd.DataFrame(out, index=timeline.sessions), notes


# Beyond this an equity curve has left every market there is: a bad price, not a result.
MAX_EQUITY = 1e15


def check_finite_equity(equity: pd.DataFrame) -> None:
    """Raise DataIntegrityError if any equity value is infinite or absurd (> ``MAX_EQUITY``).

    Blank metrics with exit 0 would hide it; the message names the column and session.

    Examples
    --------
    >>> check_finite_equity(pd.DataFrame({"a": [1.0, float("nan")]}))
    >>> check_finite_equity(pd.DataFrame({"a": [1.0, float("inf")]}, index=["d1", "d2"]))
    Traceback (most recent call last):
    ...
    backtest.core.errors.DataIntegrityError: equity of a is inf on d2 ...
    """
    values = equity.to_numpy(dtype="float64")
    bad = np.isinf(values) | (np.abs(np.nan_to_num(values)) > MAX_EQUITY)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataIntegrityError(
            f"equity of {equity.columns[col]} is {values[row, col]:.4g} on {equity.index[row]} "
            f"(more than {MAX_EQUITY:.0e}): a price or engine.init_cash is out of any sensible "
            "range; check the price file around that session and the cash and sizing"
        )


def _metrics_table(
    runs: list[StrategyRun],
    bench: pd.DataFrame,
    primary: str | None,
    hedged: dict[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Metrics per strategy (against the ``primary`` benchmark) and per benchmark.

    Each row says what its ratios are judged by (``judged_by``: trades, or sessions for a
    benchmark) and which of its metrics are below their sample-size threshold (``too_few``,
    :mod:`backtest.core.sample_size`).

    A benchmark's own row is measured against itself, so its ``benchmark_return`` is its
    own return (alpha 0, beta 1, no information ratio): ``benchmark_return`` of a row is
    always the return of the benchmark that row's alpha and beta are measured against.
    A hedged strategy also has a ``<strategy>+hedge`` row: its equity plus the hedge
    legs' marked P&L (``hedged``), and its trades' ``hedged_net_return``.
    """
    rows, hedged = {}, hedged or {}
    bench_eq = bench[primary] if primary else None
    for r in runs:
        res = r.result
        rows[r.label] = metrics.summarize(
            res.equity, res.trades["net_return"].astype(float), res.in_market, bench_eq
        )
        rows[r.label]["judged_by"] = sample_size.judged_by(len(res.trades), benchmark=False)
        if r.hedge is not None:
            rows[f"{r.label}+hedge"] = metrics.summarize(
                hedged[r.label],
                res.trades["hedged_net_return"].astype(float),
                res.in_market,
                bench_eq,
            )
            rows[f"{r.label}+hedge"]["judged_by"] = sample_size.judged_by(
                len(res.trades), benchmark=False
            )
    for col in bench.columns:
        always = pd.Series(True, index=bench.index)
        own = bench[col].dropna()
        rows[col] = metrics.summarize(own, pd.Series(dtype=float), always, own)
        rows[col]["judged_by"] = sample_size.judged_by(0, benchmark=True)
    for row in rows.values():
        row["too_few"] = ";".join(sample_size.too_few_metrics(row))
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("strategy").reset_index()


def _run_id(loaded: LoadedConfig, fingerprints: dict[str, str]) -> str:
    exclude = {"output"}  # where results go is not a result
    if loaded.config.event_study == type(loaded.config.event_study)():
        exclude.add("event_study")  # default study: run ids of configs without the section stay
    if loaded.config.portfolio is None:
        exclude.add("portfolio")  # likewise for configs without a portfolio: section
    digest = config_hash(loaded.config, exclude=exclude)
    data = "".join(f"{k}={v}" for k, v in sorted(fingerprints.items()))
    import hashlib

    combined = hashlib.sha256(f"{digest}|{data}".encode()).hexdigest()[:10]
    return f"{loaded.run_name}-{combined}"


@dataclass(frozen=True)
class RunInputs:
    """What a run reads before any decision: calendar, validated prices, raw events."""

    cal: object
    prices: dict[str, pd.DataFrame]
    reports: list
    events: pd.DataFrame
    load_drops: pd.DataFrame = field(default_factory=empty_drops)
    # Each configured source's events as loaded (by source label), for the timing check.
    by_source: dict[str, pd.DataFrame] = field(default_factory=dict)


def load_inputs(loaded: LoadedConfig) -> RunInputs:
    """Load and validate the configured prices and events."""
    cal = get_calendar(loaded.config.data.calendar)
    report(f"{loaded.run_name}: loading prices")
    prices, reports = load_market(loaded, cal, hedge_instruments(loaded))
    report(f"{loaded.run_name}: loading events")
    loads = load_source_events(loaded, cal)
    events, load_drops = load_events_and_drops(loaded, cal, list(loads.values()))
    by_source = {k: v for k, (v, _) in loads.items()}
    return RunInputs(cal, prices, reports, events, load_drops, by_source)


def timing_check(loaded: LoadedConfig, inputs: RunInputs) -> pd.DataFrame:
    """Timing diagnostics of the date-only earnings reports dated inside ``data.start..end``.

    See :mod:`backtest.events.timing_check`; the rule that trades them is not changed.
    """
    from backtest.events.timing_check import in_period, timing_diagnostics

    tz, data = str(inputs.cal.tz), loaded.config.data
    chosen = {k: in_period(v, tz, data.start, data.end) for k, v in inputs.by_source.items()}
    return timing_diagnostics(chosen, inputs.prices, tz)


def backtest_inputs(
    loaded: LoadedConfig, inputs: RunInputs, now: pd.Timestamp | None = None
) -> RunResult:
    """Align, decide, simulate and measure on given inputs (no publishing).

    The look-ahead audit calls this with perturbed prices or shifted events.
    """
    cfg, cal, prices, events = loaded.config, inputs.cal, inputs.prices, inputs.events
    load_drops = inputs.load_drops
    aligned, drops = align(loaded, events, prices, cal, now)
    drops = pd.concat([load_drops, drops], ignore_index=True)
    market = MarketView(prices, cal, suspect_splits_by_ticker(inputs.reports), aligned)
    book = PortfolioCaps(**cfg.portfolio.model_dump()) if cfg.portfolio else None
    report(f"{loaded.run_name}: deciding", 0, len(cfg.strategies))
    runs = []
    hedges = hedge_specs(loaded)
    vol = vol_target(loaded)
    for i, s in enumerate(cfg.strategies):
        r = run_strategy(s, aligned, market, cfg.events.overlap, book)
        if i in hedges:
            r = hedge_signals(r, hedges[i][0], prices, str(cal.tz))
        if vol is not None:
            r = vol_target_signals(r, vol, prices, str(cal.tz))
        runs.append(r)
        report(f"{loaded.run_name}: deciding", i + 1, len(cfg.strategies))
    for r in runs:
        check_loss_budget(len(events), pd.concat([drops, r.drops]), cfg.events.max_drop_pct)
    timeline = run_timeline(loaded, cal, aligned, runs)
    simulated, hedged = [], {}
    settings = engine_settings(loaded)
    for i, r in enumerate(runs):
        report(f"{loaded.run_name}: simulating {r.label}", i, len(runs))
        r = simulate_run(r, prices, timeline, settings)
        if r.hedge is not None:
            trades = hedge_trades(r.result.trades, r.hedge, prices, timeline, settings)
            r = replace(r, result=replace(r.result, trades=trades))
            legs = hedge_equity(
                trades,
                prices,
                timeline,
                settings.fees_bps,
                settings.costs.commission_per_share,
                settings.costs.commission_minimum,
            )
            hedged[r.label] = (r.result.equity + legs).rename(f"{r.label}+hedge")
        simulated.append(r)
    runs = simulated
    bench, bench_basis = _benchmark_equity(
        prices, cfg.benchmarks, timeline, cfg.engine.init_cash, cfg.benchmark_basis
    )
    strategies = {}
    for r in runs:
        strategies[r.label] = r.result.equity
        if r.label in hedged:
            strategies[f"{r.label}+hedge"] = hedged[r.label]
    equity = pd.concat([pd.DataFrame(strategies), bench], axis=1)
    check_finite_equity(equity)
    fingerprints = {t: data_fingerprint(p) for t, p in sorted(prices.items())}
    fingerprints["events"] = data_fingerprint(events.astype(str))
    return RunResult(
        run_id=_run_id(loaded, fingerprints),
        config=loaded,
        events=aligned,
        trades=pd.concat([r.result.trades for r in runs], ignore_index=True),
        drops=pd.concat([drops, *[r.drops for r in runs]], ignore_index=True),
        equity=equity.rename_axis("session"),
        metrics=_metrics_table(
            runs, bench, bench.columns[0] if len(bench.columns) else None, hedged
        ),
        prices=prices,
        validation=inputs.reports,
        fingerprints=fingerprints,
        cost_sensitivity=cost_sensitivity(
            pd.concat([r.result.trades for r in runs], ignore_index=True)
        ),
        benchmark_basis=bench_basis,
        simulation=Simulation({r.label: r.signals for r in runs}, prices, timeline, settings),
        entries=_all_entries(runs),
    )


def _all_entries(runs: list[StrategyRun]) -> pd.DataFrame:
    """Every strategy's entries in one table (strategies without signals add no rows)."""
    frames = [_entries_of(r) for r in runs]
    full = [f for f in frames if len(f)]
    return pd.concat(full, ignore_index=True) if full else frames[0] if frames else pd.DataFrame()


def _entries_of(run: StrategyRun) -> pd.DataFrame:
    """A strategy's entries table (the engine's) with its label and each entry's hedge ratio."""
    entries = run.result.entries.assign(strategy=run.label)
    if run.hedge is None:
        return entries.assign(hedge_ratio=np.nan, hedge_size=np.nan, hedge_entry_price=np.nan)
    ratio = run.hedge.set_index("event_id")["ratio"]
    legs = run.result.trades.set_index("event_id")
    return entries.assign(
        hedge_ratio=entries["event_id"].map(ratio).astype(float),
        hedge_size=entries["event_id"].map(legs["hedge_size"]).astype(float),
        hedge_entry_price=entries["event_id"].map(legs["hedge_entry_price"]).astype(float),
    )


def run_loaded(loaded: LoadedConfig, now: pd.Timestamp | None = None) -> RunResult:
    """Run every stage except publishing; return the tables."""
    return backtest_inputs(loaded, load_inputs(loaded), now)


def with_event_study(result: RunResult) -> RunResult:
    """``result`` with the configured event study of its aligned events and trades attached.

    A separate stage, so the look-ahead audit, ``compare`` and ``--verify``, which
    re-run the backtest without publishing a study, do not pay for it.
    """
    report(f"{result.config.run_name}: event study")
    study, note = study_events(result.config, result.events, result.prices, result.trades)
    return replace(result, event_study=study, event_study_note=note)


def run(
    config: str | Path | LoadedConfig,
    out_dir: Path | None = None,
    overrides: list[str] | None = None,
    now: pd.Timestamp | None = None,
    write: bool = True,
) -> RunResult:
    """Run a backtest and publish its results folder (unless ``write=False``).

    Parameters
    ----------
    config : str, Path or LoadedConfig
        Path of a YAML config, or an already loaded one.
    out_dir : Path, optional
        Results root; defaults to ``output.dir`` of the config.
    overrides : list of str, optional
        ``key.path=value`` overrides applied before validation.
    now : pandas.Timestamp, optional
        The run's clock (events published later are dropped as future).
    write : bool, default True
        Publish ``results/<run_id>``; with False the result is returned with
        ``folder`` None and nothing is written.

    Returns
    -------
    RunResult
        With ``folder`` set to the published ``results/<run_id>`` (None if not written).
    """
    from backtest.report.results import write_results

    loaded = config if isinstance(config, LoadedConfig) else load_config(config, overrides)
    inputs = load_inputs(loaded)
    result = with_event_study(backtest_inputs(loaded, inputs, now))
    result = replace(result, timing_check=timing_check(loaded, inputs))
    if not write:
        return result
    # Output goes where the user runs from (like --out), unlike inputs, which are
    # resolved against the config file.
    root = Path(out_dir if out_dir is not None else loaded.config.output.dir)
    report(f"{loaded.run_name}: writing results, charts and report")
    result.folder = write_results(result, root)
    return result
