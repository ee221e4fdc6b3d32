"""Command line: ``backtest run``, ``events``, ``sweep``, ``check``, ``strategies``, ``data``.

No logic lives here: commands parse arguments, call the package, print.
Exit codes: 0 success, 2 bad input (one line, no traceback unless --debug),
1 unexpected failure.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.exceptions import TyperException

from backtest.core import sample_size
from backtest.core.errors import BacktestError, ConfigError

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Backtest strategies around earnings, news and analyst events.",
)
# Piped output (CI logs, `| less`) gets a wide page instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
STATE = {"debug": False, "offline": False}

ConfigArg = Annotated[Path, typer.Argument(help="YAML config, e.g. configs/baba_2026.yaml")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a key: engine.fees_bps=0")
]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Never touch the network: use the yfinance cache only.")
]
RefreshOpt = Annotated[
    bool,
    typer.Option(
        "--refresh",
        help="Refetch cached yfinance prices and events even when fresh; the cache entry is "
        "replaced only after Yahoo answered (kept if it fails). Not with --offline.",
    ),
]


def _fetch_modes(offline: bool, refresh: bool) -> tuple[bool, bool]:
    """(offline, refresh) with the global --offline folded in; both at once is an error.

    Raises
    ------
    ConfigError
        --refresh together with --offline (here or before the command).
    """
    offline = offline or STATE["offline"]
    if offline and refresh:
        from backtest.data.yahoo import REFRESH_WITH_OFFLINE

        raise ConfigError(REFRESH_WITH_OFFLINE)
    return offline, refresh


def _overrides(set_: list[str] | None, offline: bool, refresh: bool = False) -> list[str]:
    """--set overrides plus data.offline=true / data.refresh=true for --offline / --refresh."""
    offline, refresh = _fetch_modes(offline, refresh)
    extra = ["data.offline=true"] if offline else []
    extra += ["data.refresh=true"] if refresh else []
    return [*(set_ or []), *extra]


METRIC_FORMATS = {
    "total_return": "{:+.2%}",
    "cagr": "{:+.2%}",
    "sharpe": "{:.2f}",
    "sortino": "{:.2f}",
    "max_drawdown": "{:.2%}",
    "hit_rate": "{:.0%}",
    "avg_trade_return": "{:+.2%}",
    "n_trades": "{:d}",
    "n_sessions": "{:d}",
    "exposure": "{:.0%}",
    "benchmark_return": "{:+.2%}",
}
TOO_FEW_NOTE = (
    f"n = k: too few = below {sample_size.MIN_TRADES} trades (ratios, per-trade statistics), "
    f"{sample_size.MIN_SESSIONS} sessions (a benchmark's ratios) or "
    f"{sample_size.MIN_YEAR} sessions (CAGR, Calmar); the numbers are in metrics.csv"
)
SWEEP_FORMATS = {
    **METRIC_FORMATS,
    "run_n_trades": "{:d}",
    "mean_trade_return": "{:+.3%}",
    "median_trade_return": "{:+.3%}",
    "trade_hit_rate": "{:.0%}",
    "trade_sharpe": "{:.2f}",
    "sequential_return_at_size": "{:+.2%}",
    "sequential_max_drawdown_at_size": "{:.2%}",
}


@contextmanager
def _progress(command: str) -> Iterator[None]:
    """A rich progress bar on stderr for the stages a long command reports; quiet when piped."""
    if not err_console.is_terminal:
        yield
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from backtest.core.progress import listening

    columns = (
        SpinnerColumn(),
        TextColumn(f"{command}: {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def update(stage: str, done: int | None, total: int | None) -> None:
            bar.update(task, description=stage, completed=done or 0, total=total)

        with listening(update):
            yield


@app.callback()
def _global(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    offline: OfflineOpt = False,
) -> None:
    STATE["debug"] = debug
    STATE["offline"] = offline


def _fmt(key: str, value: object, formats: dict[str, str] = METRIC_FORMATS) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    try:
        whole = key.endswith(("n_trades", "n_sessions"))
        return formats.get(key, "{}").format(int(value) if whole else value)
    except (ValueError, TypeError):
        return str(value)


WIDE_KEYS = (
    "total_return",
    "cagr",
    "sharpe",
    "max_drawdown",
    "hit_rate",
    "avg_trade_return",
    "n_trades",
    "exposure",
)


def _metric_cell(key: str, row) -> str | Text:
    """A metric's text, or its n greyed ("n = 1: too few") below the sample-size threshold."""
    sample = sample_size.metric_sample(key, row)
    if sample is not None and sample.too_few and row.get(key) == row.get(key):
        return Text(sample.label, style="dim italic")
    return _fmt(key, row.get(key))


def _metrics_table(frame) -> Table:
    """Metrics as rows and strategies as columns (fits 80 columns); strategies as rows if many."""
    if len(frame) > 5:
        return _metrics_rows(frame)
    table = Table(title="Metrics", show_lines=False)
    table.add_column("metric", style="bold")
    for name in frame["strategy"]:
        table.add_column(str(name).replace("benchmark:", "B&H "), justify="right")
    rows = frame.to_dict("records")
    for key in METRIC_FORMATS:
        table.add_row(key, *[_metric_cell(key, row) for row in rows])
    table.caption = TOO_FEW_NOTE
    return table


def _metrics_rows(frame) -> Table:
    table = Table(title="Metrics")
    table.add_column("strategy", style="bold")
    for key in WIDE_KEYS:
        table.add_column(key.replace("_", " "), justify="right", no_wrap=True)
    for row in frame.to_dict("records"):
        name = str(row["strategy"]).replace("benchmark:", "B&H ")
        table.add_row(name, *[_metric_cell(key, row) for key in WIDE_KEYS])
    table.caption = TOO_FEW_NOTE
    return table


@app.command()
def run(
    config: Annotated[
        Path | None, typer.Argument(help="YAML config, e.g. configs/baba_2026.yaml")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Results root folder.")] = None,
    set_: SetOpt = None,
    verify: Annotated[
        Path | None,
        typer.Option("--verify", help="Re-run a results folder and say if it reproduces."),
    ] = None,
    offline: OfflineOpt = False,
    refresh: RefreshOpt = False,
) -> None:
    """Run a backtest and write results/<run-id>/ (or --verify an existing one).

    With data.source: yfinance, --offline uses only the cache and --refresh
    refetches it; manifest.json records which.

    Example: backtest run configs/baba_2026.yaml --set engine.fees_bps=0
    """
    if verify is not None:
        _verify(verify)
        return
    if config is None:
        raise typer.BadParameter("give a config file, or --verify results/<run-id>")
    from backtest.run.runner import run as run_backtest

    with _progress("run"):
        result = run_backtest(config, out_dir=out, overrides=_overrides(set_, offline, refresh))
    console.print(_metrics_table(result.metrics))
    console.print(_cost_table(result.cost_sensitivity), markup=False)
    reasons = result.drops["reason"].value_counts().to_dict()
    console.print(
        f"events: {len(result.events)} aligned, trades: {len(result.trades)}, "
        f"drops: {reasons or 'none'}"
    )
    console.print(_study_line(result))
    console.print(f"results: {result.folder}")


def _cost_table(table) -> str:
    """Break-even cost and mean trade return (n) at 0-50 bps per side, one line per strategy."""
    if table is None or table.empty:
        return "cost sensitivity: no trades"
    levels = sorted(table["cost_bps_per_side"].unique())
    head = "mean trade return at " + " / ".join(f"{c:g}" for c in levels) + " bps per side"
    lines = [f"{'strategy':24} {'n':>5} {'break-even bps':>15}  {head}"]
    for name, t in table.groupby("strategy", sort=False):
        means = " / ".join(f"{v:+.4f}" for v in t["mean_trade_return"])
        lines.append(
            f"{name:24} {int(t['n'].iloc[0]):>5} {t['break_even_bps'].iloc[0]:>15.1f}  {means}"
        )
    return "\n".join(lines)


def _study_line(result) -> str:
    if result.event_study is None:
        return f"event study: {result.event_study_note}"
    from backtest.eventstudy import headline

    return headline(result.event_study)


def _verify(folder: Path) -> None:
    from backtest.run.verify import verify_results

    report = verify_results(folder)
    for name, same in report.files.items():
        console.print(f"{name:14} {'identical' if same else 'DIFFERS'}")
    if report.data_changes:
        console.print(f"input data changed since the run: {', '.join(report.data_changes)}")
    for pkg, (then, now) in report.version_changes.items():
        console.print(f"{pkg}: {then} then, {now} now")
    if not report.reproduces:
        console.print(f"{folder}: does NOT reproduce", style="bold red")
        raise typer.Exit(1)
    console.print(f"{folder}: reproduces (byte-identical)")


DATE_FORMATS = ["%Y-%m-%d"]


@app.command()
def events(
    config: ConfigArg,
    set_: SetOpt = None,
    ticker: Annotated[str | None, typer.Option(help="Only this ticker.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="earnings|news|analyst")] = None,
    offline: OfflineOpt = False,
    start: Annotated[
        datetime | None,
        typer.Option(formats=DATE_FORMATS, help="Only sessions (--check: reports) from this date."),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(formats=DATE_FORMATS, help="Only sessions (--check: reports) to this date."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare the sources' earnings reports (date, timing, EPS) before any "
            "deduplication and list every disagreement with counts. Writes nothing; exit code "
            "0 even when sources conflict (conflicts are information, not errors).",
        ),
    ] = False,
    date_tolerance: Annotated[
        int | None,
        typer.Option(help="--check: sessions two dates may differ (events.check).", min=0),
    ] = None,
    eps_tolerance: Annotated[
        float | None,
        typer.Option(help="--check: relative EPS difference allowed, % (events.check).", min=0),
    ] = None,
) -> None:
    """Print every configured event aligned to its first tradable session, with its source.

    Example: backtest events configs/baba_2026.yaml --type news;
    backtest events configs/events_check.yaml --check
    """
    import pandas as pd

    from backtest.config.model import load_config
    from backtest.core.sessions import get_calendar
    from backtest.run.pipeline import align, load_events_and_drops, load_market

    tolerances = _check_overrides(date_tolerance, eps_tolerance)
    loaded = load_config(config, [*_overrides(set_, offline), *tolerances])
    cal = get_calendar(loaded.config.data.calendar)
    if check:
        _events_check(loaded, cal, ticker, event_type, (start, end))
        return
    prices, _ = load_market(loaded, cal)
    events, load_drops = load_events_and_drops(loaded, cal)
    aligned, drops = align(loaded, events, prices, cal, None)
    drops = pd.concat([load_drops, drops], ignore_index=True)
    if ticker:
        aligned, drops = aligned[aligned["ticker"] == ticker], drops[drops["ticker"] == ticker]
    if event_type:
        aligned = aligned[aligned["event_type"] == event_type]
    if start:
        aligned = aligned[aligned["session"] >= pd.Timestamp(start.date())]
    if end:
        aligned = aligned[aligned["session"] <= pd.Timestamp(end.date())]
    console.print(_events_table(aligned))
    if len(drops):
        console.print(f"dropped: {drops['reason'].value_counts().to_dict()}")


def _events_table(aligned) -> Table:
    table = Table(title="Aligned events")
    for col in (
        "event_id",
        "timing",
        "published (UTC)",
        "date known (UTC)",
        "tradable at",
        "price",
        "rule",
        "source",
    ):
        # The id is what users grep for: never cut; the long source text folds instead.
        table.add_column(col, no_wrap=col not in ("rule", "source"), overflow="fold")
    for row in aligned.itertuples(index=False):
        table.add_row(
            row.event_id,
            row.timing,
            f"{row.event_time:%Y-%m-%d %H:%M}",
            f"{row.known_at:%Y-%m-%d %H:%M}",
            f"{row.session:%Y-%m-%d} {row.fill_at}",
            f"{row.session_price:.2f}",
            row.align_rule,
            str(row.source),
        )
    return table


def _check_overrides(date_tolerance: int | None, eps_tolerance: float | None) -> list[str]:
    """--date-tolerance / --eps-tolerance as --set overrides, validated like the YAML."""
    out = []
    if date_tolerance is not None:
        out.append(f"events.check.date_tolerance_sessions={date_tolerance}")
    if eps_tolerance is not None:
        out.append(f"events.check.eps_tolerance_pct={eps_tolerance}")
    return out


def _events_check(loaded, cal, ticker, event_type, period) -> None:
    """``backtest events --check``: every source's earnings reports compared, nothing written."""
    from backtest.events.crosscheck import CheckSettings, cross_check
    from backtest.run.pipeline import load_events_by_source

    if event_type not in (None, "earnings"):
        raise typer.BadParameter("--check compares earnings reports; drop --type or use earnings")
    data, tol = loaded.config.data, loaded.config.events.check
    start = period[0].date() if period[0] else data.start
    end = period[1].date() if period[1] else data.end
    by_source = load_events_by_source(loaded, cal)
    if ticker:
        by_source = {k: v[v["ticker"] == ticker] for k, v in by_source.items()}
    result = cross_check(by_source, cal, CheckSettings(**tol.model_dump()), start, end)
    _print_check(result, tol, (start, end))
    _print_timing_check(loaded, cal, by_source, (start, end))


def _print_timing_check(loaded, cal, by_source, period) -> None:
    """Date-only reports: |return| on the report date vs the next session, per ticker and source."""
    from backtest.events.timing_check import MIN_REPORTS, in_period, timing_diagnostics
    from backtest.run.pipeline import load_market

    tz = str(cal.tz)
    prices, _ = load_market(loaded, cal)
    chosen = {k: in_period(v, tz, *period) for k, v in by_source.items()}
    table = timing_diagnostics(chosen, prices, tz)
    console.print(
        f"timing of date-only earnings reports (hour unknown; traded as "
        f"events.unknown_timing: {loaded.config.events.unknown_timing}); verdicts need "
        f"{MIN_REPORTS} reports, Wilcoxon signed-rank test of |r| report day vs next day:",
        markup=False,
    )
    if table.empty:
        console.print("  no date-only earnings reports", markup=False)
    for line in table["verdict"]:
        console.print(f"  {line}", markup=False)


def _print_check(result, tol, period) -> None:
    per_source = ", ".join(f"{k} {v}" for k, v in result.reports.items())
    span = f"{period[0] or '...'} to {period[1] or '...'}"
    console.print(f"earnings reports {span}: {result.n_reports} ({per_source})", markup=False)
    console.print(
        f"same report: dates within {tol.match_window_days} calendar days; tolerances: date "
        f"{tol.date_tolerance_sessions} session(s), EPS {tol.eps_tolerance_pct}% (events.check)",
        markup=False,
    )
    summary = Table(title="Cross-check: counts")
    for col in ("field", "kind", "count"):
        summary.add_column(col, justify="right" if col == "count" else "left")
    for row in result.summary.itertuples(index=False):
        summary.add_row(row.field, row.kind, str(row.count))
    console.print(summary)
    if len(result.conflicts):
        console.print(_conflicts_table(result.conflicts, list(result.reports)))
    others = len(result.conflicts) - result.n_conflicts
    console.print(
        f"{result.n_conflicts} conflict(s), {others} other difference(s) listed; "
        "conflicts are information: exit code 0"
    )


def _check_cell(values: dict, source: str) -> str:
    if source not in values:
        return "-"
    value = values[source]
    return "n/a" if value is None else str(value)


def _conflicts_table(conflicts, sources: list[str]) -> Table:
    table = Table(title="Cross-check: differences per report (- = not in that source)")
    for col in ("ticker", "report", "field", "kind", *sources):
        table.add_column(col, no_wrap=col in ("report", "field"))
    for row in conflicts.itertuples(index=False):
        cells = [_check_cell(row.values, s) for s in sources]
        kind = f"[bold red]{row.kind}[/]" if row.kind == "conflict" else row.kind
        table.add_row(row.ticker, row.report, row.field, kind, *cells)
    return table


@app.command()
def sweep(
    config: ConfigArg,
    out: Annotated[Path | None, typer.Option("--out", help="Results root folder.")] = None,
    set_: SetOpt = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Send chunks to this running Dask scheduler, e.g. tcp://10.0.0.5:8786."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Start a local Dask cluster of N processes for this run."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Reuse the finished chunks of an interrupted sweep.")
    ] = False,
) -> None:
    """Sweep a strategy's parameter grid (sweep: section) on the event-level kernel.

    Example: backtest sweep configs/earnings_sweep.yaml --set sweep.top_n=1 --workers 2
    """
    from backtest.sweep.cluster import cluster_overrides
    from backtest.sweep.runner import sweep_and_publish

    set_ = [*(set_ or []), *cluster_overrides(scheduler, workers)]
    # One bar for the whole sweep: loading, the combinations, the top-N re-runs, the report.
    with _progress("sweep"):
        result = sweep_and_publish(config, out, set_ or [], resume=resume)
    if result.summary.get("chunks_resumed"):
        console.print(f"resumed: {result.summary['chunks_resumed']} chunk(s) from the checkpoint")
    _print_sweep(result)


SWEEP_COLUMNS = (
    "n_trades",
    "mean_trade_return",
    "trade_hit_rate",
    "trade_sharpe",
    "sequential_return_at_size",
    "sequential_max_drawdown_at_size",
)
# Header of each column: the sequential figures say at which size in the table's caption.
SWEEP_HEADERS = {
    "sequential_return_at_size": "seq. return\nat size",
    "sequential_max_drawdown_at_size": "seq. max DD\nat size",
}


def _print_sweep(result) -> None:
    summary = result.summary
    metric = summary["metric"]
    table = Table(
        title=f"Top combinations by {metric} ({summary['combinations']} tried, "
        f"{summary['events']} events, {summary['seconds']:.2f} s): per-trade statistics",
        caption=f"trade_sharpe: {summary['trade_sharpe']}. {summary['sizing']}.",
    )
    cols = [*result.swept, *SWEEP_COLUMNS]
    for col in cols:
        table.add_column(SWEEP_HEADERS.get(col, col), justify="right")
    ranked = result.table[result.table["n_trades"] >= result.loaded.config.sweep.min_trades]
    for _, row in ranked.sort_values(metric, ascending=False).head(10).iterrows():
        table.add_row(*[_fmt(c, row[c], SWEEP_FORMATS) for c in cols])
    console.print(table)
    if result.top_runs is not None and len(result.top_runs):
        console.print(_top_runs_table(result))
    if summary.get("deflated_sharpe") is not None:
        console.print(
            f"deflated Sharpe ratio of the best combination: {summary['deflated_sharpe']:.3f} "
            f"(probability that its true per-trade Sharpe beats the best that {summary['trials']} "
            "skill-free trials would show by luck; below 0.95, treat it as noise)",
            markup=False,
        )
    for key in ("portfolio", "caps"):
        if summary.get(key):
            console.print(f"note: {summary[key]}", markup=False)
    invalid = summary.get("invalid_combinations") or []
    if invalid:
        console.print(
            f"note: {len(invalid)} combination(s) the strategy rejects were left out "
            f"(listed in summary.json), e.g. {invalid[0]}",
            markup=False,
        )
    if len(result.walkforward):
        console.print(result.walkforward.to_string(index=False))
    console.print(f"results: {result.folder}")


def _top_runs_table(result) -> Table:
    """The top-N re-runs: the kernel's trade statistics beside each re-run's account metrics."""
    from backtest.sweep.runner import KERNEL_STATISTICS, RUN_METRICS

    table = Table(
        title="Top combinations re-run (top/): kernel trade statistics | the run's metrics",
        caption="left: every trade weighs the same (sweep.parquet); right: the account at "
        "engine.sizing, from top/<run>/metrics.json (names as in backtest run)",
    )
    cols = ["rank", *result.swept, *KERNEL_STATISTICS, "run_n_trades", *RUN_METRICS]
    for col in cols:
        # Two header lines, not ellipses, when an 80-column terminal squeezes the table.
        table.add_column(col.replace("_", "_\n", 1) if len(col) > 10 else col, justify="right")
    for _, row in result.top_runs.iterrows():
        table.add_row(*[_fmt(c, row[c], SWEEP_FORMATS) for c in cols])
    return table


@app.command()
def compare(
    configs: Annotated[
        list[Path], typer.Argument(help="One config with several strategies, or several configs.")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Results root folder.")] = None,
    set_: SetOpt = None,
) -> None:
    """Compare strategies side by side: metrics, equity, and tests of their differences.

    Example: backtest compare configs/compare_six.yaml
    """
    from backtest.compare.runner import compare_configs, publish_compare
    from backtest.config.model import load_config

    with _progress("compare"):
        result = compare_configs(configs, set_ or [])
        root = out if out is not None else load_config(configs[0], set_ or []).config.output.dir
        folder = publish_compare(result, Path(root))
    console.print(_metrics_table(result.metrics))
    _print_comparison(result.comparison)
    console.print(f"results: {folder}")


def _interval(low: float, high: float, fmt: str) -> str:
    if low != low or high != high:  # NaN: too few trades for an interval
        return "n/a"
    return f"[{fmt.format(low)}, {fmt.format(high)}]"


def _print_comparison(table) -> None:
    out = Table(title="Pairwise: a minus b (95% intervals; Sharpe annualised)")
    cols = ("a", "b", "n (a, b)", "mean diff", "CI", "p", "Sharpe diff", "p (LW)", "bootstrap CI")
    for col in cols:
        out.add_column(col, justify="right")
    for r in table.to_dict("records"):
        tests = sample_size.pair_samples(r["n_trades_a"], r["n_trades_b"])
        mean = [
            _fmt("d", r["mean_diff"], {"d": "{:+.2%}"}),
            _interval(r["mean_ci_low"], r["mean_ci_high"], "{:+.2%}"),
            _fmt("p", r["mean_p_value"], {"p": "{:.3f}"}),
        ]
        sharpe = [
            _fmt("s", r["sharpe_diff"], {"s": "{:+.2f}"}),
            _fmt("p", r["sharpe_p_value"], {"p": "{:.3f}"}),
            _interval(r["sharpe_boot_ci_low"], r["sharpe_boot_ci_high"], "{:+.2f}"),
        ]
        out.add_row(
            r["a"],
            r["b"],
            f"{int(r['n_trades_a'])}, {int(r['n_trades_b'])}",
            *_unless_too_few(mean, tests["mean"]),
            *_unless_too_few(sharpe, tests["sharpe"]),
        )
    out.caption = (
        f"n = k: too few = the smaller side has fewer than {sample_size.MIN_PAIR_TRADES['mean']} "
        f"trades (mean test) or {sample_size.MIN_PAIR_TRADES['sharpe']} (Sharpe tests); "
        "the numbers are in comparison.csv"
    )
    console.print(out)


def _unless_too_few(cells: list[str], sample) -> list:
    """The cells of one test, or its greyed n in place of each when the test has too few."""
    if not sample.too_few:
        return cells
    return [Text(sample.label, style="dim italic"), Text("-", style="dim"), Text("-", style="dim")]


@app.command()
def fetch(
    tickers: Annotated[list[str], typer.Argument(help="Yahoo tickers, e.g. BABA JD")],
    start: Annotated[str | None, typer.Option(help="First session, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last session, YYYY-MM-DD.")] = None,
    events: Annotated[
        bool, typer.Option("--events/--no-events", help="Also earnings dates and analyst actions.")
    ] = True,
    cache_dir: Annotated[Path | None, typer.Option(help="Cache folder.")] = None,
    calendar: Annotated[str, typer.Option(help="Exchange calendar (ISO MIC).")] = "XNYS",
    offline: OfflineOpt = False,
    refresh: RefreshOpt = False,
) -> None:
    """Fetch daily prices (and events) from Yahoo into the cache; only missing sessions are asked for.

    --refresh asks again for everything, cached or not (after Yahoo revised its
    data); a failed refetch keeps the old cache entry.

    Example: backtest fetch BABA JD --start 2020-01-01
    """
    from rich.progress import BarColumn, Progress, TextColumn

    from backtest.run.fetch import fetch_tickers

    offline, refresh = _fetch_modes(offline, refresh)
    columns = (
        TextColumn("fetch {task.fields[ticker]:<8}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("fetch", total=len(tickers), ticker="")
        report = fetch_tickers(
            tickers,
            start=start,
            end=end,
            events=events,
            cache_dir=cache_dir,
            calendar=calendar,
            offline=offline,
            refresh=refresh,
            progress=lambda done, ticker: bar.update(task, completed=done, ticker=ticker),
        )
    table = Table(title=f"Cache: {report.root}")
    for col in ("ticker", "sessions", "first", "last", "earnings", "analyst", "status"):
        table.add_column(col)
    for row in report.rows:
        table.add_row(
            *[
                str(row[c])
                for c in ("ticker", "sessions", "first", "last", "earnings", "analyst", "status")
            ]
        )
    console.print(table)
    if report.failed:
        raise BacktestError(
            f"{len(report.failed)} of {len(tickers)} ticker(s) failed: {', '.join(report.failed)}"
        )


@app.command()
def check(
    config: ConfigArg,
    set_: SetOpt = None,
    cuts: Annotated[int, typer.Option(help="Decision instants to change the future after.")] = 25,
    seed: Annotated[int, typer.Option(help="Seed of the price perturbation.")] = 0,
) -> None:
    """Audit every strategy of a config for look-ahead; exit 1 if any decision peeks.

    Example: backtest check configs/baba_2026.yaml
    """
    from backtest.audit import run_audit
    from backtest.config.model import load_config

    with _progress("check"):
        report = run_audit(load_config(config, set_ or []), cuts=cuts, seed=seed)
    _print_audit(report)
    if not report.clean:
        raise typer.Exit(1)


def _print_audit(report) -> None:
    table = Table(
        title=f"Look-ahead audit ({len(report.cuts)} decision cuts, "
        f"{len(report.size_cuts)} entry cuts for estimates, costs and sizes)"
    )
    for col in report.summary.columns:
        table.add_column(col.replace("_", " "), justify="right")
    for row in report.summary.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    console.print(table)
    decay = Table(title="Information decay: every event one session late")
    for col in ("strategy", "trades", "total return", "late", "avg trade", "late "):
        decay.add_column(col, justify="right")
    for r in report.decay.itertuples(index=False):
        decay.add_row(
            r.strategy,
            f"{r.n_trades} / {r.delayed_n_trades}",
            _fmt("total_return", r.total_return),
            _fmt("total_return", r.delayed_total_return),
            _fmt("avg_trade_return", r.avg_trade_return),
            _fmt("avg_trade_return", r.delayed_avg_trade_return),
        )
    console.print(decay)
    if len(report.hour_flags):
        console.print(
            f"{len(report.hour_flags)} whole-hour timestamp(s) within an hour of the open or "
            "close (the real minute may fall on the other side):"
        )
        console.print(report.hour_flags.to_string(index=False), markup=False)
    if report.clean:
        console.print(
            "no decision, hedge ratio, cost or size changed when only future data changed: "
            "no look-ahead found"
        )
        return
    console.print(
        f"LOOK-AHEAD: {len(report.findings)} decision(s) or entries changed:", style="bold red"
    )
    console.print(report.findings.head(20).to_string(index=False), markup=False)


data_app = typer.Typer(no_args_is_help=True, help="Bring your own price data into the project.")
app.add_typer(data_app, name="data")


@data_app.command(name="import")
def data_import(
    src: Annotated[Path, typer.Argument(help="A long-form panel .csv or .parquet.")],
    to: Annotated[Path, typer.Option("--to", help="New folder for <TICKER>.parquet files.")],
    date_format: Annotated[
        str, typer.Option(help="strftime format of a text date column, e.g. %d/%m/%Y.")
    ] = "%Y-%m-%d",
    max_mb: Annotated[
        float, typer.Option(help="Refuse larger files (MiB); the file is streamed, not loaded.")
    ] = 51200.0,
) -> None:
    """Convert a price panel (ticker, date, open, high, low, close[, adj_close], volume) into
    one file per ticker, for data.source: files; streamed in chunks, nothing half-written.

    Example: backtest data import liquid500.parquet --to data/liquid500
    """
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    from backtest.data.importer import import_panel

    columns = (TextColumn(f"import {src.name}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("import", total=None)
        report = import_panel(
            src,
            to,
            date_format=date_format,
            max_bytes=int(max_mb * 2**20),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"wrote {report.tickers} tickers, {report.rows:,} rows "
        f"({report.first:%Y-%m-%d}..{report.last:%Y-%m-%d}, {report.chunks} chunk(s)) to "
        f"{report.folder}; use it with data.source: files, path: {report.folder}"
        + (f"; {report.recased} ticker(s) upper-cased" if report.recased else ""),
        markup=False,
        highlight=False,
    )


AS_OF_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
SIGNAL_FORMATS = ("table", "csv", "json")


@app.command()
def signals(
    config: ConfigArg,
    as_of: Annotated[
        datetime,
        typer.Option(
            "--as-of",
            formats=AS_OF_FORMATS,
            help="What is known by then: a date (its end) or 'YYYY-MM-DD HH:MM' (exchange time).",
        ),
    ],
    sessions: Annotated[int, typer.Option(min=1, max=250, help="Sessions to look ahead.")] = 5,
    equity: Annotated[
        float | None, typer.Option(min=0, help="Equity to size on (default engine.init_cash).")
    ] = None,
    format_: Annotated[
        str, typer.Option("--format", help="table | csv | json (csv and json on stdout).")
    ] = "table",
    set_: SetOpt = None,
    offline: OfflineOpt = False,
) -> None:
    """List the orders the config's strategies would place in the next sessions after --as-of.

    Same code as `backtest run`, on the events whose date was public and the prices
    closed by --as-of. With yfinance sources the calendar is refreshed first unless --offline.

    Example: backtest signals configs/baba_2026.yaml --as-of 2026-02-13
    """
    import pandas as pd

    from backtest.config.model import load_config
    from backtest.run.ahead import upcoming_orders

    if format_ not in SIGNAL_FORMATS:
        raise ConfigError(f"--format {format_!r}: use one of {', '.join(SIGNAL_FORMATS)}")
    loaded = load_config(config, _overrides(set_, offline))
    if _uses_yahoo(loaded) and not (offline or STATE["offline"]):
        loaded = load_config(config, _overrides(set_, offline, refresh=True))
    with _progress("signals"):
        ahead = upcoming_orders(loaded, pd.Timestamp(as_of), sessions, equity)
    _print_orders(ahead, format_)


def _uses_yahoo(loaded) -> bool:
    return any(s.type.startswith("yfinance") for s in loaded.config.events.sources)


def _print_orders(ahead, format_: str) -> None:
    orders = ahead.orders
    if format_ == "csv":
        sys.stdout.write(orders.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ"))
        return
    if format_ == "json":
        sys.stdout.write(orders.to_json(orient="records", date_format="iso", indent=1) + "\n")
        return
    span = (
        f"{ahead.sessions[0]:%Y-%m-%d} to {ahead.sessions[-1]:%Y-%m-%d}" if ahead.sessions else ""
    )
    table = Table(
        title=f"Orders in the {len(ahead.sessions)} sessions after "
        f"{ahead.as_of:%Y-%m-%d %H:%M} UTC ({span}), sized on {ahead.equity:,.0f}"
    )
    for col in ("strategy", "ticker", "order", "session", "at", "notional", "~shares", "why"):
        table.add_column(col, overflow="fold", no_wrap=col in ("session", "order"))
    for r in orders.itertuples(index=False):
        table.add_row(
            r.strategy,
            r.ticker,
            r.action,
            f"{r.session:%Y-%m-%d}",
            r.at,
            f"{r.notional:,.0f}",
            f"{r.shares:,.1f} @ {r.ref_price:.2f}",
            f"{r.event_id}: {r.why}",
        )
    if len(orders):
        console.print(table)
    else:
        console.print(f"no orders in the next {len(ahead.sessions)} sessions ({span})")
    for note in ahead.notes:
        console.print(note, markup=False)


@app.command(name="strategies")
def list_strategies() -> None:
    """List the registered strategies and their parameters.

    Example: backtest strategies
    """
    from backtest.strategy.signals import registered_strategies

    for name, spec in sorted(registered_strategies().items()):
        console.print(f"[bold]{name}[/bold] ({', '.join(spec.event_types)}): {spec.summary}")
        for field, info in spec.params.model_fields.items():
            console.print(f"    {field} = {info.default!r}  {info.description or ''}")


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM (kill, CI timeouts, schedulers) unwinds like Ctrl-C, so temp folders are removed.
    raise SystemExit(128 + signum)


def _print_error(exc: BacktestError) -> None:
    """One line per problem: never wrapped at the terminal width, brackets printed as written."""
    from rich.markup import escape

    message = f"[red]error:[/red] {type(exc).__name__}: {escape(str(exc))}"
    err_console.print(message, highlight=False, soft_wrap=True, emoji=False)


def main() -> None:
    """Console entry point: one-line errors with exit code 2 unless --debug."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    try:
        _dispatch()
    finally:
        _skip_exit_collection()


def _skip_exit_collection() -> None:
    """Spare the exiting interpreter a garbage collection of everything the command built.

    At exit CPython collects every container object left (pandas, vectorbt and
    matplotlib leave hundreds of thousands): 0.6-0.9 s of a 4 s ``backtest run``,
    measured. Frozen objects are exempt from that pass; refcounted objects are still
    freed, atexit handlers and stream flushing still run. Only the console entry
    point does this: a notebook or test calling the app keeps its collector.
    """
    import gc

    gc.freeze()


def _dispatch() -> None:
    try:
        # Without standalone mode click returns (not raises) the code of typer.Exit.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except BacktestError as exc:
        if STATE["debug"]:
            raise
        _print_error(exc)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing was published")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # usage errors: unknown option, missing argument
        exc.show()
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted; nothing was published")
        sys.exit(130)
    except Exception as exc:  # last resort: a bug, said in one line; --debug shows where
        if STATE["debug"]:
            raise
        from rich.markup import escape

        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        err_console.print(
            f"[red]internal error:[/red] {escape(text)}; this is a bug in earnings-backtest, "
            "please report it with the output of the same command run with --debug "
            "(nothing was published)",
            highlight=False,
            soft_wrap=True,
            emoji=False,
        )
        sys.exit(1)
