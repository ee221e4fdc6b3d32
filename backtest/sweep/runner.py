"""``backtest sweep``: run a config's grid on the kernel, rank, walk forward, publish.

Outputs in ``results/<run-id>/``: ``sweep.parquet`` (one row per combination:
its per-trade statistics, :func:`backtest.sweep.evaluate.combo_metrics`),
``walkforward.csv`` (per fold: best on train, its test statistics), ``summary.json``
(counts, sizing, best combination, deflated Sharpe), ``charts/heatmap_<a>_<b>.png``
for pairs of swept parameters (one panel per side when ``side`` is swept but not
an axis), ``top/<run-id>/`` ordinary run outputs of the ``top_n`` best
combinations re-run through the configured engine, and ``top_runs.csv``: for
each of them the kernel's trade statistics beside the re-run's account metrics
(``total_return``, ``cagr``, ``sharpe``, ``max_drawdown`` from its
``metrics.json``, named as ``backtest run`` names them; ``run_n_trades`` is its
``n_trades``). ``sweep.scheduler`` or ``sweep.workers`` send the chunks to a Dask
cluster (:mod:`backtest.sweep.cluster`). ``report.html`` shows it all on one
page (``backtest.report.html``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.config.model import LoadedConfig, config_hash, key_location, load_config
from backtest.core.errors import ConfigError
from backtest.core.progress import report
from backtest.core.sessions import get_calendar
from backtest.data.validate import suspect_splits_by_ticker
from backtest.report.manifest import data_fingerprint, package_versions
from backtest.report.writer import publish, write_csv, write_json
from backtest.run.pipeline import align, load_all_events, load_market
from backtest.run.runner import hedge_instruments, hedge_specs, trade_costs, vol_target
from backtest.stats.walkforward import deflated_sharpe, expected_max_sharpe, folds_by_date
from backtest.strategy.signals import MarketView, get_strategy
from backtest.sweep.cluster import open_runner
from backtest.sweep.evaluate import (
    COST_KEYS,
    HEDGE_KEY,
    HEDGE_OFF,
    SweepData,
    chunk_returns,
    expand_grid,
    hedge_values,
    hedged_base,
    prepare,
    sweep_tables,
)
from backtest.sweep.resume import checkpoint_dir, checkpointed, clear_checkpoints

__all__ = [
    "CAPS_NOTE",
    "PORTFOLIO_NOTE",
    "RUN_METRICS",
    "SweepResult",
    "costs_note",
    "run_sweep",
    "sizing_of",
    "sweep_and_publish",
    "top_runs_table",
]

# The re-run's account metrics shown beside the kernel's trade statistics (metrics.json names).
RUN_METRICS = ("total_return", "cagr", "sharpe", "max_drawdown")
# The kernel's trade statistics shown beside them (sweep.parquet names).
KERNEL_STATISTICS = ("n_trades", "mean_trade_return", "trade_hit_rate", "trade_sharpe")

# Caps depend on which other signals are open, so they belong to a simulated
# book, not to the kernel's independent per-trade returns.
PORTFOLIO_NOTE = (
    "portfolio caps and sizing are not applied to the per-trade sweep returns "
    "(every signal counts); the top_n re-runs in top/ apply them"
)
# engine.caps likewise: they depend on the positions open together in one book.
CAPS_NOTE = (
    "engine.caps (positions, gross, net, per-name weight) are not applied to the per-trade "
    "sweep returns (every signal counts); the top_n re-runs in top/ apply them"
)


@dataclass
class SweepResult:
    """A sweep's tables and summary."""

    run_id: str
    table: pd.DataFrame
    walkforward: pd.DataFrame
    summary: dict
    swept: list[str]
    loaded: LoadedConfig
    folder: Path | None = None
    top_folders: list[Path] = field(default_factory=list)
    top_runs: pd.DataFrame | None = None


def _strategy_config(loaded: LoadedConfig):
    wanted = loaded.config.sweep.strategy
    for s in loaded.config.strategies:
        if wanted is None or wanted in (s.name, s.label):
            return s
    names = [s.label or s.name for s in loaded.config.strategies]
    raise ConfigError(f"sweep.strategy {wanted!r} is not one of the configured strategies {names}")


def _grid_location(loaded: LoadedConfig, message: str) -> str:
    """``file:line:col`` of the grid key a message names (``sweep.grid.<key>``), else the file."""
    import re

    found = re.match(r"sweep\.grid\.(\w+)", message)
    if found is None:
        return str(loaded.path)
    return key_location(loaded, ("sweep", "grid", found.group(1)))


def _hedge_spec(loaded: LoadedConfig, strategy_cfg):
    """The swept strategy's hedge legs as the rules read them (None: unhedged)."""
    if strategy_cfg.hedge is None:
        return None
    index = loaded.config.strategies.index(strategy_cfg)
    return hedge_specs(loaded)[index][0]


def _base_params(loaded: LoadedConfig, strategy_cfg) -> dict:
    engine = loaded.config.engine
    costs = {k: getattr(engine, k) for k in COST_KEYS}
    return {**strategy_cfg.params.model_dump(), **costs}


def sizing_of(loaded: LoadedConfig) -> tuple[float, bool, str]:
    """Stake of each trade in the sweep's sequential figures, from ``engine.sizing``.

    Returns the fraction, whether it compounds (percent of current equity) or
    not (a fixed amount, as a fraction of ``engine.init_cash``), and a sentence
    saying so for ``summary.json``.
    """
    engine = loaded.config.engine
    if engine.sizing.mode == "vol_target":
        vol = vol_target(loaded)
        text = (
            f"each trade's vol_target weight of current equity (engine.sizing: "
            f"{vol.target_daily_vol_pct:g}% over its ticker's trailing daily vol of "
            f"{vol.window} returns, at most {vol.max_pct:g}%), compounded"
        )
        return 1.0, True, _sequential(text)  # the stake comes per trade (SweepData.vol)
    if engine.sizing.mode == "percent":
        fraction = engine.sizing.value / 100
        text = f"{engine.sizing.value:g}% of current equity per trade (engine.sizing), compounded"
        return fraction, True, _sequential(text)
    fraction = engine.sizing.value / engine.init_cash
    text = (
        f"a fixed {engine.sizing.value:g} per trade (engine.sizing) = {fraction:.4%} of "
        f"engine.init_cash {engine.init_cash:g}, not compounded"
    )
    return fraction, False, _sequential(text)


def costs_note(loaded: LoadedConfig, notional: float) -> str:
    """One sentence for ``summary.json`` and the report: the order size the kernel prices costs at.

    The sweep's trades are independent, so an order's size cannot follow the
    equity: costs that depend on it (commission per share and minimum, impact,
    participation) are priced at the notional ``engine.sizing`` gives at
    ``engine.init_cash``. Its top-N re-runs size orders as ``backtest run`` does.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> engine = N(sizing=N(mode="percent", value=2.0), init_cash=100_000.0)
    >>> costs_note(N(config=N(engine=engine)), 2000.0)
    'size-dependent costs are priced at the notional of 2% of equity (engine.sizing) on \
engine.init_cash 100000: 2000 per order'
    """
    engine = loaded.config.engine
    if engine.sizing.mode == "vol_target":
        return (
            "size-dependent costs are priced at each trade's vol_target weight (engine.sizing) "
            f"of engine.init_cash {engine.init_cash:g}"
        )
    if engine.sizing.mode == "percent":
        sizing = f"{engine.sizing.value:g}% of equity (engine.sizing)"
    else:
        sizing = f"a fixed {engine.sizing.value:g} (engine.sizing)"
    return (
        f"size-dependent costs are priced at the notional of {sizing} on engine.init_cash "
        f"{engine.init_cash:g}: {notional:g} per order"
    )


def _sequential(text: str) -> str:
    return (
        f"sequential_return_at_size and sequential_max_drawdown_at_size: {text}; trades taken "
        "one after another in entry order (overlapping trades are not held together, so "
        "these are not the account metrics of a run: see top_runs.csv)"
    )


def _data_end(data: SweepData) -> pd.Timestamp:
    """Close of the last session any swept ticker has prices for: where walk-forward must end."""
    tradable = data.panel.tradable.any(axis=0)
    last = int(np.flatnonzero(tradable)[-1]) if tradable.any() else 0
    return data.panel.timeline.ticks[2 * last + 1]


def _data(loaded: LoadedConfig, now: pd.Timestamp | None) -> tuple:
    cal = get_calendar(loaded.config.data.calendar)
    prices, reports = load_market(loaded, cal, hedge_instruments(loaded))
    aligned, _ = align(loaded, load_all_events(loaded, cal), prices, cal, now)
    return prices, aligned, MarketView(prices, cal, suspect_splits_by_ticker(reports), aligned)


def _subsets(data: SweepData, loaded: LoadedConfig) -> tuple[dict[str, np.ndarray], list]:
    subsets = {"all": np.ones(len(data.ev.events), dtype=bool)}
    wf = loaded.config.sweep.walk_forward
    if wf is None:
        return subsets, []
    folds = folds_by_date(
        data.ev.events["event_time"], wf.train_years, wf.test_years, wf.mode, _data_end(data)
    )
    for fold in folds:
        subsets[f"{fold.name}:train"], subsets[f"{fold.name}:test"] = fold.train, fold.test
    return subsets, folds


def _rank(table: pd.DataFrame, metric: str, min_trades: int) -> pd.DataFrame:
    eligible = table[table["n_trades"] >= min_trades]
    return eligible.sort_values([metric, "n_trades"], ascending=[False, False], kind="stable")


def _walkforward(
    tables: dict[str, pd.DataFrame], folds: list, metric: str, min_trades: int, swept: list[str]
) -> pd.DataFrame:
    rows = []
    for fold in folds:
        ranked = _rank(tables[f"{fold.name}:train"], metric, min_trades)
        if ranked.empty:
            rows.append({"fold": fold.name, "test_start": fold.test_start, "best": None})
            continue
        best = ranked.index[0]
        test = tables[f"{fold.name}:test"].loc[best]
        rows.append(
            {
                "fold": fold.name,
                "train_start": fold.train_start.date(),
                "test_start": fold.test_start.date(),
                "test_end": fold.test_end.date(),
                **{k: ranked.loc[best, k] for k in swept},
                f"train_{metric}": ranked.loc[best, metric],
                f"test_{metric}": test[metric],
                "test_n_trades": test["n_trades"],
                "test_mean_trade_return": test["mean_trade_return"],
            }
        )
    return pd.DataFrame(rows)


def _deflated(data: SweepData, table: pd.DataFrame, best: dict) -> dict:
    # trade_sharpe is annualised by sqrt(events per year); the deflated Sharpe wants it per trade.
    per_trade = table["trade_sharpe"] / np.sqrt(data.trades_per_year)
    returns = chunk_returns(data, [best])[0]
    sr0 = expected_max_sharpe(float(np.nanvar(per_trade, ddof=1)), int(per_trade.notna().sum()))
    return {
        "trials": int(len(table)),
        "expected_max_sharpe_per_trade": sr0,
        "deflated_sharpe": deflated_sharpe(returns, sr0),
    }


def _results_hash(loaded: LoadedConfig) -> str:
    """Hash of what decides the results: not the output folder, nor where the chunks ran."""
    sweep = loaded.config.sweep.model_copy(update={"scheduler": None, "workers": None})
    exclude = {"output"} | ({"portfolio"} if loaded.config.portfolio is None else set())
    return config_hash(loaded.config.model_copy(update={"sweep": sweep}), exclude=exclude)


def _run_id(loaded: LoadedConfig, aligned: pd.DataFrame, prices: dict) -> str:
    fingerprint = data_fingerprint(aligned.astype(str)) + "".join(
        data_fingerprint(p) for _, p in sorted(prices.items())
    )
    return f"{loaded.run_name}-sweep-{_results_hash(loaded)[:6]}{fingerprint[:4]}"


def _check_portfolio_stops(loaded: LoadedConfig, combos: list[dict]) -> None:
    """Fail before the sweep when its top-N re-runs would combine portfolio: with stops."""
    if loaded.config.portfolio is None:
        return
    stops = sorted({k for c in combos for k in ("stop_loss_pct", "take_profit_pct") if c.get(k)})
    if stops:
        raise ConfigError(
            f"{loaded.path}: sweep.grid sets {', '.join(stops)}, which portfolio: does not "
            "support (its sizing assumes planned exits); drop them from the grid or remove "
            "the portfolio: section"
        )


def run_sweep(
    loaded: LoadedConfig,
    now: pd.Timestamp | None = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoints: Path | None = None,
    resume: bool = False,
) -> SweepResult:
    """Run the sweep of ``loaded`` (which must have a ``sweep:`` section).

    With ``checkpoints`` (a results root), finished chunks are saved under it
    (:mod:`backtest.sweep.resume`); ``resume`` reuses those of an interrupted run.
    """
    sweep = loaded.config.sweep
    if sweep is None:
        raise ConfigError(f"{loaded.path}: no sweep: section; see configs/example_sweep.yaml")
    strategy_cfg = _strategy_config(loaded)
    spec = get_strategy(strategy_cfg.name)
    if spec.planner is None:
        raise ConfigError(f"strategy {spec.name} has no vectorized planner, so it cannot be swept")
    hedge = _hedge_spec(loaded, strategy_cfg)
    try:
        base = hedged_base(_base_params(loaded, strategy_cfg), hedge, sweep.grid_values())
        combos, invalid = expand_grid(spec, base, sweep.grid_values(), sweep.max_combinations)
    except ConfigError as exc:
        raise ConfigError(f"{_grid_location(loaded, str(exc))}: {exc}") from None
    _check_portfolio_stops(loaded, combos)
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        report("combinations", done[0], len(combos))
        if progress:
            progress(done[0], len(combos))

    # Connect (or start the local cluster) first: a bad address fails before data loads.
    with open_runner(sweep.scheduler, sweep.workers) as run_chunks:
        report("loading prices and events")
        prices, aligned, market = _data(loaded, now)
        fraction, compound, sizing = sizing_of(loaded)
        vol = vol_target(loaded)
        # vol_target: each order's notional is its weight of the initial equity.
        costs = trade_costs(loaded, loaded.config.engine.init_cash if vol else None)
        data = prepare(
            spec,
            aligned,
            prices,
            market,
            loaded.config.events.overlap,
            fraction,
            compound,
            costs,
            loaded.config.engine.sizing.mode,
            hedge,
            hedge_values(combos),
            vol,
        )
        subsets, folds = _subsets(data, loaded)
        run_id, reused = _run_id(loaded, aligned, prices), [0]
        if checkpoints is not None:
            folder = checkpoint_dir(checkpoints, run_id)
            run_chunks = checkpointed(
                run_chunks, folder, resume, lambda n: reused.__setitem__(0, n)
            )
        started = time.perf_counter()
        tables = sweep_tables(data, combos, sweep.chunk_cells, subsets, step, run_chunks)
    swept = list(sweep.grid_values())
    table = tables["all"]
    ranked = _rank(table, sweep.metric, sweep.min_trades)
    best = combos[int(ranked.index[0])] if len(ranked) else None
    summary = {
        "strategy": spec.name,
        "combinations": len(combos),
        "invalid_combinations": invalid,
        "events": int(len(data.ev.events)),
        "metric": sweep.metric,
        "trade_sharpe": "mean / std (ddof 1) of the net trade returns x sqrt("
        f"{data.trades_per_year:.4g} events per year)",
        "sizing": sizing,
        "costs": costs_note(loaded, costs.notional) if costs.active else "costs: section off",
        "seconds": time.perf_counter() - started,
        "chunks_resumed": reused[0],
        "best": {k: best[k] for k in swept} if best else None,
        "best_metrics": ranked.iloc[0].drop(labels=list(combos[0])).to_dict() if best else None,
    }
    if best:
        summary.update(_deflated(data, table, best))
    if loaded.config.portfolio is not None:
        summary["portfolio"] = PORTFOLIO_NOTE
    if loaded.config.engine.caps.model_dump(exclude_none=True):
        summary["caps"] = CAPS_NOTE
    return SweepResult(
        run_id,
        table,
        _walkforward(tables, folds, sweep.metric, sweep.min_trades, swept),
        summary,
        swept,
        loaded,
    )


def _top_rows(result: SweepResult) -> pd.DataFrame:
    sweep = result.loaded.config.sweep
    return _rank(result.table, sweep.metric, sweep.min_trades).head(sweep.top_n)


def _top_configs(result: SweepResult) -> list[list[str]]:
    ranked = _top_rows(result)
    index = [s.label or s.name for s in result.loaded.config.strategies].index(
        _strategy_config(result.loaded).label or _strategy_config(result.loaded).name
    )
    overrides = []
    for _, row in ranked.iterrows():
        sets = ["sweep=null"]
        for key in result.swept:
            value = row[key].item() if hasattr(row[key], "item") else row[key]
            if key == HEDGE_KEY:  # the rerun hedges as the combination did
                off = value == HEDGE_OFF
                sets.append(f"strategies.{index}.hedge{'=null' if off else f'.ratio={value}'}")
                continue
            target = f"engine.{key}" if key in COST_KEYS else f"strategies.{index}.params.{key}"
            sets.append(f"{target}={'null' if value is None or value != value else value}")
        overrides.append(sets)
    return overrides


def top_runs_table(result: SweepResult, folders: list[Path]) -> pd.DataFrame:
    """The top-N combinations: the kernel's trade statistics beside their re-run's metrics.

    One row per re-run, best first: ``rank``, the swept parameters, the sweep's
    :data:`KERNEL_STATISTICS` (from ``sweep.parquet``), then ``run`` (the folder
    under ``top/``), ``run_n_trades`` and :data:`RUN_METRICS` of the swept
    strategy, read from that folder's ``metrics.json`` (account metrics at the
    config's sizing, as ``backtest run`` reports them).
    """
    import json

    label = _strategy_config(result.loaded).label or _strategy_config(result.loaded).name
    rows = []
    for rank, ((_, row), folder) in enumerate(
        zip(_top_rows(result).iterrows(), folders, strict=True), start=1
    ):
        metrics = json.loads((folder / "metrics.json").read_text())[label]
        rows.append(
            {
                "rank": rank,
                **{k: row[k] for k in result.swept},
                **{k: row[k] for k in KERNEL_STATISTICS},
                "run": folder.name,
                "run_n_trades": metrics["n_trades"],
                **{k: math.nan if metrics[k] is None else metrics[k] for k in RUN_METRICS},
            }
        )
    return pd.DataFrame(rows)


def sweep_and_publish(
    config: str | Path,
    out_dir: Path | None = None,
    overrides: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    now: pd.Timestamp | None = None,
    resume: bool = False,
) -> SweepResult:
    """Run a sweep and publish its folder (atomically), with top-N re-runs inside it.

    Finished chunks are checkpointed under the results root until the folder is
    published; ``resume`` reuses the chunks of an interrupted run of the same sweep.
    """
    from backtest.report.html import write_report
    from backtest.report.sweep_charts import plot_heatmaps
    from backtest.run.runner import run

    loaded = load_config(config, overrides)
    root = Path(out_dir if out_dir is not None else loaded.config.output.dir)
    result = run_sweep(loaded, now, progress, checkpoints=root, resume=resume)

    def write(folder: Path) -> None:
        result.table.to_parquet(folder / "sweep.parquet", index=False)
        write_csv(result.walkforward, folder / "walkforward.csv")
        write_json({**result.summary, "versions": package_versions()}, folder / "summary.json")
        (folder / "charts").mkdir()
        plot_heatmaps(result.table, result.swept, result.summary["metric"], folder / "charts")
        tops = _top_configs(result)
        for i, sets in enumerate(tops):
            report(f"re-running the top {len(tops)}", i, len(tops))
            top = run(
                load_config(loaded.path, [*(overrides or []), *sets]),
                out_dir=folder / "top",
                now=now,
            )
            result.top_folders.append(top.folder)
        if result.top_folders:
            result.top_runs = top_runs_table(result, result.top_folders)
            write_csv(result.top_runs, folder / "top_runs.csv")
        report("writing the report")
        write_report(folder, title=result.run_id)  # last: it links the top-N runs' reports

    result.folder = publish(root, result.run_id, loaded.config.output.if_exists, write)
    clear_checkpoints(checkpoint_dir(root, result.run_id))
    result.top_folders = [result.folder / "top" / p.name for p in result.top_folders]
    return result
