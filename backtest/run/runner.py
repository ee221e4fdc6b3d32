"""Run a backtest from a config: the one function behind ``backtest run``.

Stages (each in :mod:`backtest.run.pipeline`): load and validate prices, load
events, align them to sessions, turn them into signals per strategy, simulate,
compute metrics, and publish ``results/<run_id>/`` atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtest.config.model import LoadedConfig, config_hash, load_config
from backtest.core.errors import DataIntegrityError
from backtest.core.schema import empty_drops
from backtest.core.sessions import get_calendar
from backtest.core.timeline import Timeline
from backtest.data.validate import suspect_splits_by_ticker
from backtest.engine.portfolio import PortfolioCaps
from backtest.engine.simulate import EngineSettings
from backtest.events.align import check_loss_budget
from backtest.report.manifest import data_fingerprint
from backtest.run.pipeline import (
    StrategyRun,
    align,
    load_events_and_drops,
    load_market,
    run_strategy,
    run_timeline,
    simulate_run,
    study_events,
)
from backtest.stats import metrics
from backtest.strategy.signals import MarketView

if TYPE_CHECKING:
    from backtest.eventstudy import EventStudyResult

__all__ = [
    "RunInputs",
    "RunResult",
    "backtest_inputs",
    "engine_settings",
    "load_inputs",
    "run",
    "run_loaded",
    "with_event_study",
]


@dataclass
class RunResult:
    """Everything a run produced, as plain tables (schemas in :mod:`backtest.core.schema`)."""

    run_id: str
    config: LoadedConfig
    events: pd.DataFrame
    trades: pd.DataFrame
    drops: pd.DataFrame
    equity: pd.DataFrame
    metrics: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    validation: list = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None
    # The market-model event study of ``events`` (None when disabled or skipped; the
    # note says why). Only published runs compute it: see :func:`with_event_study`.
    event_study: EventStudyResult | None = None
    event_study_note: str = "not computed"


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
        engine=e.engine,
    )


def _benchmark_equity(
    prices: dict[str, pd.DataFrame], tickers: list[str], timeline: Timeline, init_cash: float
) -> pd.DataFrame:
    """Buy-and-hold equity of each benchmark, close to close over the timeline."""
    out = {}
    for ticker in tickers:
        close = prices[ticker]["close"].reindex(timeline.sessions)
        first = close.first_valid_index()
        out[f"benchmark:{ticker}"] = (
            init_cash * close / close.loc[first] if first is not None else close * float("nan")
        )
    return pd.DataFrame(out, index=timeline.sessions)


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
    runs: list[StrategyRun], bench: pd.DataFrame, primary: str | None
) -> pd.DataFrame:
    rows = {}
    bench_eq = bench[primary] if primary else None
    for r in runs:
        res = r.result
        rows[r.label] = metrics.summarize(
            res.equity, res.trades["net_return"].astype(float), res.in_market, bench_eq
        )
    for col in bench.columns:
        always = pd.Series(True, index=bench.index)
        rows[col] = metrics.summarize(bench[col].dropna(), pd.Series(dtype=float), always, bench_eq)
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


def load_inputs(loaded: LoadedConfig) -> RunInputs:
    """Load and validate the configured prices and events."""
    cal = get_calendar(loaded.config.data.calendar)
    prices, reports = load_market(loaded, cal)
    events, load_drops = load_events_and_drops(loaded, cal)
    return RunInputs(cal, prices, reports, events, load_drops)


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
    market = MarketView(prices, cal, suspect_splits_by_ticker(inputs.reports))
    book = PortfolioCaps(**cfg.portfolio.model_dump()) if cfg.portfolio else None
    runs = [run_strategy(s, aligned, market, cfg.events.overlap, book) for s in cfg.strategies]
    for r in runs:
        check_loss_budget(len(events), pd.concat([drops, r.drops]), cfg.events.max_drop_pct)
    timeline = run_timeline(loaded, cal, aligned, runs)
    runs = [simulate_run(r, prices, timeline, engine_settings(loaded)) for r in runs]
    bench = _benchmark_equity(prices, cfg.benchmarks, timeline, cfg.engine.init_cash)
    equity = pd.concat([pd.DataFrame({r.label: r.result.equity for r in runs}), bench], axis=1)
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
        metrics=_metrics_table(runs, bench, bench.columns[0] if len(bench.columns) else None),
        prices=prices,
        validation=inputs.reports,
        fingerprints=fingerprints,
    )


def run_loaded(loaded: LoadedConfig, now: pd.Timestamp | None = None) -> RunResult:
    """Run every stage except publishing; return the tables."""
    return backtest_inputs(loaded, load_inputs(loaded), now)


def with_event_study(result: RunResult) -> RunResult:
    """``result`` with the configured event study of its aligned events and trades attached.

    A separate stage, so the look-ahead audit, ``compare`` and ``--verify``, which
    re-run the backtest without publishing a study, do not pay for it.
    """
    study, note = study_events(result.config, result.events, result.prices, result.trades)
    return replace(result, event_study=study, event_study_note=note)


def run(
    config: str | Path | LoadedConfig,
    out_dir: Path | None = None,
    overrides: list[str] | None = None,
    now: pd.Timestamp | None = None,
) -> RunResult:
    """Run a backtest and publish its results folder.

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

    Returns
    -------
    RunResult
        With ``folder`` set to the published ``results/<run_id>``.
    """
    from backtest.report.results import write_results

    loaded = config if isinstance(config, LoadedConfig) else load_config(config, overrides)
    result = with_event_study(run_loaded(loaded, now))
    # Output goes where the user runs from (like --out), unlike inputs, which are
    # resolved against the config file.
    root = Path(out_dir if out_dir is not None else loaded.config.output.dir)
    result.folder = write_results(result, root)
    return result
