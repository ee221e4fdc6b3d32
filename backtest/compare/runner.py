"""``backtest compare``: several strategies (or configs) side by side, with inference.

Each config is run as by ``backtest run``; every strategy becomes one column.
The comparison folder ``results/compare-<id>/`` holds::

    metrics.csv       one row per strategy and benchmark (metrics of backtest.stats.metrics)
    comparison.csv    every pair of strategies: difference of mean trade returns
                      (Welch t, 95% CI) and of Sharpe ratios (Ledoit-Wolf HAC test
                      and a circular block bootstrap CI)
    per_event.csv     net return of each event's trade, one column per strategy
    periods.csv       each config's period: configured start and end, first and last
                      session, sessions (the manifest's notes say when they differ)
    drops.csv         every event that did not trade, with its config and reason
    trades.csv        all trades; equity.csv: daily equity of every strategy
    manifest.json     the configs, their run ids, data fingerprints and versions
    report.html       all of it on one self-contained page
    charts/           equity.png (growth of 100, log scale), exposure_scaled.png (the
                      strategies at one average exposure), pairwise.png (forest plot of
                      the pairwise tests), drawdown.png, return_distributions.png

Strategies from one config share its period and cash; strategies of different
configs are compared on the sessions they have in common.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.config.model import load_config
from backtest.core import sample_size
from backtest.core.errors import ConfigError
from backtest.core.sample_size import MIN_TRADES
from backtest.report.html import write_report
from backtest.report.manifest import package_versions
from backtest.report.writer import publish, write_csv, write_json
from backtest.run.runner import RunResult, run_loaded, summary_html
from backtest.stats import compare as compare_stats

__all__ = [
    "COMPARISON_COLUMNS",
    "CompareResult",
    "compare_configs",
    "pairwise",
    "periods",
    "publish_compare",
]

BENCH = "benchmark:"
PERIODS = 252
COMPARISON_COLUMNS = [
    "a",
    "b",
    "n_trades_a",
    "n_trades_b",
    "mean_diff",
    "mean_ci_low",
    "mean_ci_high",
    "mean_p_value",
    "sharpe_a",
    "sharpe_b",
    "sharpe_diff",
    "sharpe_p_value",
    "sharpe_boot_ci_low",
    "sharpe_boot_ci_high",
    "sharpe_boot_p_value",
    "sessions",
]


@dataclass
class CompareResult:
    """Side-by-side tables of several strategies (schemas in the module docstring)."""

    run_id: str
    runs: list[RunResult]
    metrics: pd.DataFrame
    comparison: pd.DataFrame
    per_event: pd.DataFrame
    trades: pd.DataFrame
    equity: pd.DataFrame
    folder: Path | None = None

    def _repr_html_(self) -> str:
        """A compact summary for notebooks: the metrics of every strategy, judged."""
        return summary_html(self.run_id, self.metrics, self.folder, len(self.trades))


def _labelled(result: RunResult, prefix: str | None) -> tuple[pd.DataFrame, ...]:
    """Metrics, trades and strategy equity of one run, labels prefixed when several configs."""

    def name(label: str) -> str:
        return f"{prefix}/{label}" if prefix and not label.startswith(BENCH) else label

    metrics = result.metrics.assign(strategy=result.metrics["strategy"].map(name))
    trades = result.trades.assign(strategy=result.trades["strategy"].map(name))
    return metrics, trades, result.equity.rename(columns=name)


def _unique(frames: list[pd.DataFrame], what: str) -> pd.DataFrame:
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates(subset="strategy", keep="first").reset_index(drop=True)


def _annual(sharpe: float) -> float:
    return float(sharpe * np.sqrt(PERIODS))


def compare_pair(a: str, b: str, trades: pd.DataFrame, returns: pd.DataFrame) -> dict:
    """Mean-difference and Sharpe-difference tests of strategy ``a`` minus ``b``."""
    ta = trades.loc[trades["strategy"] == a, "net_return"].astype(float)
    tb = trades.loc[trades["strategy"] == b, "net_return"].astype(float)
    mean = compare_stats.mean_difference(ta, tb)
    paired = returns[[a, b]].dropna()
    lw = compare_stats.sharpe_diff_ledoit_wolf(paired[a], paired[b])
    boot = compare_stats.sharpe_diff_bootstrap(paired[a], paired[b], n_boot=1000, seed=0)
    return {
        "a": a,
        "b": b,
        "n_trades_a": len(ta),
        "n_trades_b": len(tb),
        "mean_diff": mean.diff,
        "mean_ci_low": mean.ci_low,
        "mean_ci_high": mean.ci_high,
        "mean_p_value": mean.p_value,
        "sharpe_a": _annual(lw.sharpe_a),
        "sharpe_b": _annual(lw.sharpe_b),
        "sharpe_diff": _annual(lw.diff),
        "sharpe_p_value": lw.p_value,
        "sharpe_boot_ci_low": _annual(boot.ci_low),
        "sharpe_boot_ci_high": _annual(boot.ci_high),
        "sharpe_boot_p_value": boot.p_value,
        "sessions": len(paired),
    }


def pairwise(trades: pd.DataFrame, equity: pd.DataFrame, strategies: list[str]) -> pd.DataFrame:
    """Every pair of strategies compared (annualised Sharpe ratios, 252 sessions).

    Daily returns are taken from each strategy's equity; a pair is compared on
    the sessions where both have a return.
    """
    returns = equity[strategies].pct_change(fill_method=None)
    rows = [compare_pair(a, b, trades, returns) for a, b in itertools.combinations(strategies, 2)]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _per_event(trades: pd.DataFrame) -> pd.DataFrame:
    if trades.empty:
        return pd.DataFrame(columns=["event_id"])
    table = trades.pivot_table(
        index="event_id", columns="strategy", values="net_return", aggfunc="sum"
    )
    return table.reset_index().rename_axis(columns=None)


def _run_id(runs: list[RunResult]) -> str:
    joined = "|".join(r.run_id for r in runs)
    return "compare-" + hashlib.sha256(joined.encode()).hexdigest()[:10]


def compare_configs(configs: list[str | Path], overrides: list[str] | None = None) -> CompareResult:
    """Run each config and compare all their strategies.

    Raises
    ------
    ConfigError
        When fewer than two strategies are configured in total.
    """
    runs = [run_loaded(load_config(c, overrides)) for c in configs]
    many = len(runs) > 1
    parts = [_labelled(r, r.config.run_name if many else None) for r in runs]
    metrics = _unique([p[0] for p in parts], "metrics")
    trades = pd.concat([p[1] for p in parts], ignore_index=True)
    equity = pd.concat([p[2].loc[:, ~p[2].columns.duplicated()] for p in parts], axis=1)
    equity = equity.loc[:, ~equity.columns.duplicated()].sort_index()
    strategies = [s for s in metrics["strategy"] if not s.startswith(BENCH)]
    if len(strategies) < 2:
        raise ConfigError(
            f"compare needs at least two strategies; the config(s) define {strategies}: "
            "list several under strategies:, or give several config files"
        )
    return CompareResult(
        _run_id(runs),
        runs,
        metrics,
        pairwise(trades, equity, strategies),
        _per_event(trades),
        trades,
        equity,
    )


def periods(runs: list[RunResult]) -> pd.DataFrame:
    """Each config's configured period and the sessions its run covered."""
    rows = []
    for r in runs:
        data = r.config.config.data
        sessions = r.equity.index
        rows.append(
            {
                "config": r.config.run_name,
                "run_id": r.run_id,
                "start": str(data.start),
                "end": str(data.end),
                "first_session": sessions.min() if len(sessions) else None,
                "last_session": sessions.max() if len(sessions) else None,
                "n_sessions": len(sessions),
            }
        )
    return pd.DataFrame(rows)


def _notes(result: CompareResult) -> list[str]:
    """Warnings for the top of the page: different periods, too few trades."""
    table = periods(result.runs)
    notes = []
    if len(table) > 1 and table[["first_session", "last_session"]].nunique().max() > 1:
        spans = ", ".join(f"{r.config}: {r.start} to {r.end}" for r in table.itertuples())
        notes.append(
            f"the configs cover different periods ({spans}); pairs are compared on the "
            "sessions they share"
        )
    for row in result.metrics.to_dict("records"):
        if row.get("judged_by") == "trades" and row["n_trades"] < sample_size.MIN_TRADES:
            notes.append(
                f"{row['strategy']}: {int(row['n_trades'])} trades, too few for its ratios "
                "and for the pairwise tests: greyed below"
            )
    return notes


def _drops(runs: list[RunResult]) -> pd.DataFrame:
    frames = [r.drops.assign(config=r.config.run_name) for r in runs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _manifest(result: CompareResult) -> dict:
    table = periods(result.runs)
    return {
        "run_id": result.run_id,
        "period": "; ".join(f"{r.start} to {r.end}" for r in table.itertuples()),
        "timezone": _timezone(result.runs),
        "notes": _notes(result),
        "configs": [str(r.config.path) for r in result.runs],
        "run_ids": [r.run_id for r in result.runs],
        "data_fingerprints": {r.run_id: r.fingerprints for r in result.runs},
        "versions": package_versions(),
    }


def _timezone(runs: list[RunResult]) -> str:
    from backtest.core.sessions import get_calendar

    return str(get_calendar(runs[0].config.config.data.calendar).tz)


def _charts(result: CompareResult, folder: Path) -> None:
    from backtest.report.charts import plot_drawdown, plot_equity, plot_return_distributions
    from backtest.report.compare_charts import plot_exposure_scaled, plot_pairwise_forest
    from backtest.report.results import legend_labels

    labels = legend_labels(result.metrics)
    growth = 100.0 * result.equity / result.equity.apply(lambda s: s.dropna().iloc[0])
    plot_equity(
        growth,
        folder / "equity.png",
        "Growth of 100, strategies and benchmarks",
        ylabel="Value (start = 100)",
        labels=labels,
    )
    strategies = [c for c in result.equity.columns if not c.startswith(BENCH)]
    by_name = result.metrics.set_index("strategy")
    kept, left_out = scalable(by_name["n_trades"].loc[strategies].to_dict())
    exposure = by_name["exposure"].loc[kept].to_dict()
    returns = result.equity[kept].pct_change(fill_method=None)
    plot_exposure_scaled(returns, exposure, folder / "exposure_scaled.png", labels, left_out)
    plot_pairwise_forest(result.comparison, folder / "pairwise.png")
    plot_drawdown(
        result.equity, folder / "drawdown.png", "Drawdown from the running peak", labels=labels
    )
    plot_return_distributions(
        result.trades,
        folder / "return_distributions.png",
        "Net return per trade (box: quartiles, line: median, triangle: mean)",
    )


def scalable(n_trades: dict[str, int]) -> tuple[list[str], list[str]]:
    """Strategies the exposure-scaled chart draws, and the others named with their n.

    A strategy with too few trades (:data:`~backtest.core.sample_size.MIN_TRADES`) would
    be scaled up by its tiny exposure (x100 and more): one trade drawn as a cliff. Its
    line is left out and the chart's title names it; if every strategy has too few,
    all are drawn (their legends say too few).

    Examples
    --------
    >>> scalable({"a": 73, "b": 3})
    (['a'], ['b (n = 3)'])
    >>> scalable({"b": 3})
    (['b'], [])
    """
    few = [s for s, n in n_trades.items() if int(n) < MIN_TRADES]
    kept = [s for s in n_trades if s not in few] or list(n_trades)
    return kept, [f"{s} (n = {int(n_trades[s])})" for s in few if s not in kept]


def publish_compare(result: CompareResult, root: Path, charts: bool = True) -> Path:
    """Write the comparison folder atomically and return it."""

    def write(folder: Path) -> None:
        write_csv(result.metrics, folder / "metrics.csv")
        write_csv(result.comparison, folder / "comparison.csv")
        write_csv(result.per_event, folder / "per_event.csv")
        write_csv(periods(result.runs), folder / "periods.csv")
        write_csv(_drops(result.runs), folder / "drops.csv")
        write_csv(result.trades, folder / "trades.csv")
        write_csv(result.equity.rename_axis("session").reset_index(), folder / "equity.csv")
        write_json(_manifest(result), folder / "manifest.json")
        if charts:
            (folder / "charts").mkdir()
            _charts(result, folder / "charts")
        write_report(folder, title=f"Comparison {result.run_id}")  # last: it embeds the above

    result.folder = publish(Path(root), result.run_id, "replace", write)
    return result.folder
