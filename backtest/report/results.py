"""Write a run's results folder: tables, metrics, manifest, resolved config, charts.

Folder layout (``results/<run_id>/``)::

    config.yaml     the validated config, every default filled in
    manifest.json   run id, config hash, data fingerprints, versions, git sha
    events.csv      aligned events: session, fill point, price, rule
    trades.csv      one row per trade (schema in backtest.core.schema)
    drops.csv       every event that did not trade, with stage and reason
    equity.csv      daily equity per strategy and benchmark
    metrics.json    metrics per strategy and benchmark (null = not defined)
    metrics.csv     the same as a table
    cost_sensitivity.csv  per strategy: break-even cost (bps per side) and trade figures
                    at 0, 5, 10, 25 and 50 bps per side, with n
    timing_check.csv  date-only earnings reports per ticker and source: mean |return| on
                    the report date vs the next session, and a verdict line (the
                    manifest's ``timing_check`` lists the lines)
    monthly_returns.csv  per strategy and year: the return of each month, the year's
                    compounded return and its sessions (backtest.stats.tearsheet)
    drawdowns.csv   per strategy: the five worst drawdowns, with start (the peak),
                    trough, recovery (or "not recovered"), depth and length in sessions
    charts/         equity.png, drawdown.png, trade_returns.png, events/<id>.png;
                    per strategy monthly_<strategy>.png (heatmap of monthly_returns.csv)
                    and rolling_<strategy>.png (rolling 126- and 252-session Sharpe,
                    volatility and beta on the first benchmark; not drawn when the run
                    has fewer sessions than the shorter window: the manifest's notes
                    say so)
    event_study/    the market-model event study of the aligned events: tests.csv,
                    caar.csv, car.csv, ar.csv, attribution.csv, best_worst_events.csv,
                    drops.csv and charts/ (absent when disabled or skipped: the
                    manifest's ``event_study.note`` says why)
    report.html     all of the above on one self-contained page (charts embedded)
"""

from __future__ import annotations

import datetime as dt
import re
from functools import partial
from pathlib import Path

import pandas as pd
import yaml

from backtest.config.model import config_hash, resolved_dump
from backtest.core.sample_size import MIN_SESSIONS, MIN_TRADES, with_n
from backtest.data.universe import survivorship_note
from backtest.report.drawing import Chart, draw_charts
from backtest.report.html import write_report
from backtest.report.manifest import git_sha, package_versions
from backtest.report.writer import publish, write_csv, write_json
from backtest.stats.metrics import returns_from_equity
from backtest.stats.tearsheet import (
    ROLLING_WINDOWS,
    drawdowns_table,
    monthly_returns_table,
    monthly_table,
    rolling_sample,
    rolling_stats,
)

__all__ = ["legend_labels", "write_results", "write_tables"]

EVENT_WINDOW = (10, 10)  # sessions before / after the event session in event charts
EVENT_STUDY_DIR = "event_study"
BENCH_PREFIX = "benchmark:"  # equity columns of buy-and-hold benchmarks (run.runner)
NOT_RECOVERED = "not recovered"  # drawdowns.csv: a drawdown still open on the last session
ROLLING_TITLES = {"sharpe": "Sharpe ratio", "volatility": "Volatility (%)", "beta": "Beta"}


def strategy_equity(result) -> pd.DataFrame:
    """The equity columns of the strategies (and hedged variants), not the benchmarks."""
    return result.equity[[c for c in result.equity.columns if not c.startswith(BENCH_PREFIX)]]


def first_benchmark(result) -> str | None:
    """The equity column the strategies' alpha and beta are measured against, if any."""
    return next((c for c in result.equity.columns if c.startswith(BENCH_PREFIX)), None)


def drawdowns_csv(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`~backtest.stats.tearsheet.drawdowns_table` as written: dates as session days,
    an open drawdown's recovery as ``not recovered``.

    Examples
    --------
    >>> days = pd.to_datetime(["2026-01-05", "2026-01-06"])
    >>> table = pd.DataFrame({"start": days[:1], "trough": days[1:], "recovery": [pd.NaT]})
    >>> drawdowns_csv(table).values.tolist()
    [['2026-01-05', '2026-01-06', 'not recovered']]
    """
    out = table.copy()
    for column in ("start", "trough", "recovery"):
        out[column] = out[column].dt.strftime("%Y-%m-%d").astype(object)
    out["recovery"] = out["recovery"].where(out["recovery"].notna(), NOT_RECOVERED)
    return out


def _file_stem(label: str) -> str:
    """A strategy label as part of a file name (``a/b`` -> ``a_b``).

    Examples
    --------
    >>> _file_stem("earnings_hold+hedge"), _file_stem("my run/2")
    ('earnings_hold+hedge', 'my_run_2')
    """
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", label)


def _study_manifest(result) -> dict:
    """What the event study covered, or why there is none."""
    study = result.event_study
    if study is None:
        return {"note": result.event_study_note}
    return {
        "folder": EVENT_STUDY_DIR,
        "benchmark": study.settings.benchmark,
        "studied": int(len(study.car)),
        "dropped": study.drops["reason"].value_counts().sort_index().to_dict(),
    }


def _universe(result) -> dict:
    """For ``data.source: us100``: the number of names traded and the survivorship-bias note."""
    data = result.config.config.data
    if data.source != "us100":
        return {}
    names = sorted(set(data.tickers) & set(result.prices))
    return {
        "universe": {"name": "us100", "names": len(names), "note": survivorship_note(len(names))}
    }


def _manifest(result) -> dict:
    loaded = result.config
    return {
        "run_id": result.run_id,
        "config_file": str(loaded.path),
        "config_hash": config_hash(loaded.config),
        # How prices were obtained (RELIABILITY P2, P10, K3): source, basis, cache-only or
        # not, cache refetched (--refresh) or not.
        "data": {
            "source": loaded.config.data.source,
            "price_basis": loaded.config.data.price_basis,
            "offline": bool(getattr(loaded.config.data, "offline", False)),
            "refresh": bool(getattr(loaded.config.data, "refresh", False)),
            **_universe(result),
        },
        # Per benchmark: total return (adj_close) or price only, and why (a fallback says so).
        "benchmarks": {
            "basis": loaded.config.benchmark_basis,
            "series": getattr(result, "benchmark_basis", {}),
        },
        "data_fingerprints": result.fingerprints,
        # The exchange's zone: report.html shows every instant there.
        "timezone": _timezone(loaded),
        "period": f"{loaded.config.data.start} to {loaded.config.data.end}",
        "notes": [*_small_sample_notes(result.metrics), *_rolling_notes(result)],
        "versions": package_versions(),
        "git_sha": git_sha(Path(__file__).parent),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "counts": {
            "events": int(len(result.events)),
            "trades": int(len(result.trades)),
            "drops": result.drops["reason"].value_counts().sort_index().to_dict(),
        },
        "price_validation": {
            r.ticker: {
                "rows_in": r.rows_in,
                "dropped": r.dropped,
                "notes": r.notes,
                "splits": r.splits,
                "suspect_splits": [s.as_dict() for s in r.suspect_splits],
            }
            for r in result.validation
        },
        "event_study": _study_manifest(result),
        # Date-only earnings reports: does the price move on the report date or the next
        # session? (timing_check.csv; the trading rule is events.unknown_timing, unchanged)
        "timing_check": _timing_lines(result),
    }


def _timezone(loaded) -> str:
    from backtest.core.sessions import get_calendar

    return str(get_calendar(loaded.config.data.calendar).tz)


def _small_sample_notes(metrics) -> list[str]:
    """One warning per row with statistics below their sample-size threshold."""
    notes = []
    for row in metrics.to_dict("records"):
        names = [n for n in str(row.get("too_few") or "").split(";") if n]
        if names:
            notes.append(
                f"{row['strategy']}: {len(names)} statistic(s) rest on too few observations "
                f"({int(row['n_trades'])} trades, {int(row['n_sessions'])} sessions): greyed below"
            )
    return notes


def _rolling_notes(result) -> list[str]:
    """One note per strategy with fewer sessions than a rolling window (no line drawn)."""
    notes = []
    for column in strategy_equity(result).columns:
        returns = returns_from_equity(result.equity[column])
        short = [w for w in ROLLING_WINDOWS if rolling_sample(returns, w).too_few]
        if short:
            sample = rolling_sample(returns, short[0])
            notes.append(
                f"{column}: rolling Sharpe, volatility and beta need {short[0]} sessions per "
                f"window, the run has {sample.n}: "
                + ("not drawn" if len(short) == len(ROLLING_WINDOWS) else "shorter window only")
            )
    return notes


def _timing_lines(result) -> list[str]:
    table = getattr(result, "timing_check", None)
    return [] if table is None else [str(v) for v in table["verdict"]]


def write_tables(result, folder: Path) -> None:
    """Write the tables, metrics, resolved config and manifest of ``result`` into ``folder``."""
    write_csv(result.events, folder / "events.csv")
    write_csv(result.trades, folder / "trades.csv")
    write_csv(result.drops, folder / "drops.csv")
    write_csv(result.equity.reset_index(), folder / "equity.csv")
    write_csv(result.metrics, folder / "metrics.csv")
    if getattr(result, "cost_sensitivity", None) is not None and len(result.cost_sensitivity):
        write_csv(result.cost_sensitivity, folder / "cost_sensitivity.csv")
    if getattr(result, "timing_check", None) is not None:
        write_csv(result.timing_check, folder / "timing_check.csv")
    strategies = strategy_equity(result)
    write_csv(monthly_returns_table(strategies), folder / "monthly_returns.csv")
    write_csv(drawdowns_csv(drawdowns_table(strategies)), folder / "drawdowns.csv")
    write_json(
        {
            r["strategy"]: {k: v for k, v in r.items() if k != "strategy"}
            for r in result.metrics.to_dict("records")
        },
        folder / "metrics.json",
    )
    dumped = resolved_dump(result.config.config)
    (folder / "config.yaml").write_text(yaml.safe_dump(dumped, sort_keys=False))
    write_json(_manifest(result), folder / "manifest.json")


def _event_charts(result, folder: Path) -> list[Chart]:
    from backtest.report.charts import plot_event_window

    limit = result.config.config.output.max_event_charts
    traded = result.events[result.events["event_id"].isin(result.trades["event_id"])]
    charts = []
    for _, event in traded.head(limit).iterrows():
        prices = result.prices[event["ticker"]]
        pos = prices.index.get_indexer([event["session"]])[0]
        window = prices.iloc[max(pos - EVENT_WINDOW[0], 0) : pos + EVENT_WINDOW[1] + 1]
        trades = result.trades[result.trades["event_id"] == event["event_id"]]
        path = folder / f"{event['event_id']}.png"
        charts.append(Chart(path, partial(plot_event_window, window, trades, event, path)))
    return charts


def legend_labels(metrics) -> dict[str, str]:
    """Legend entry of each metrics row: its name and n (trades, or sessions for a benchmark).

    Examples
    --------
    >>> import pandas as pd
    >>> legend_labels(pd.DataFrame({"strategy": ["hold", "benchmark:SPY"], "n_trades": [2, 0],
    ...     "n_sessions": [124, 124], "judged_by": ["trades", "sessions"]}))
    {'hold': 'hold (n = 2 trades: too few)', 'benchmark:SPY': 'SPY buy & hold (n = 124 sessions)'}
    """
    out = {}
    for row in metrics.to_dict("records"):
        name = str(row["strategy"])
        if row.get("judged_by") == "sessions":
            label = f"{name.removeprefix('benchmark:')} buy & hold"
            out[name] = with_n(label, int(row["n_sessions"]), "sessions", MIN_SESSIONS)
        else:
            out[name] = with_n(name, int(row["n_trades"]), "trades", MIN_TRADES)
    return out


def _charts(result, folder: Path) -> list[Chart]:
    from backtest.report.charts import plot_drawdown, plot_equity, plot_trade_returns

    name = result.config.run_name
    labels = legend_labels(result.metrics)
    equity, drawdown, returns = (
        folder / f for f in ("equity.png", "drawdown.png", "trade_returns.png")
    )
    (folder / "events").mkdir()
    return [
        Chart(
            equity,
            partial(
                plot_equity, result.equity, equity, f"{name}: equity vs benchmarks", labels=labels
            ),
        ),
        Chart(
            drawdown,
            partial(plot_drawdown, result.equity, drawdown, f"{name}: drawdown", labels=labels),
        ),
        Chart(
            returns,
            partial(plot_trade_returns, result.trades, returns, f"{name}: net return per trade"),
        ),
        *_event_charts(result, folder / "events"),
    ]


def _tearsheet_charts(result, folder: Path) -> list[Chart]:
    """Per strategy: the monthly-returns heatmap and, with enough sessions, the rolling chart."""
    from backtest.report.charts import plot_monthly_returns, plot_rolling

    bench = first_benchmark(result)
    charts = []
    for column in strategy_equity(result).columns:
        equity, stem = result.equity[column], _file_stem(column)
        path = folder / f"monthly_{stem}.png"
        title = f"{column}: monthly and yearly returns"
        monthly = partial(plot_monthly_returns, monthly_table(equity), path, title)
        charts.append(Chart(path, monthly))
        returns = returns_from_equity(equity)
        if rolling_sample(returns, min(ROLLING_WINDOWS)).too_few:
            continue  # the manifest's notes say why (_rolling_notes)
        stats = rolling_stats(equity, result.equity[bench] if bench else None)
        panels = {ROLLING_TITLES[k]: v for k, v in stats.items()}
        if bench:
            panels[f"Beta vs {bench.removeprefix(BENCH_PREFIX)}"] = panels.pop("Beta")
        path = folder / f"rolling_{stem}.png"
        draw = partial(plot_rolling, panels, returns, ROLLING_WINDOWS, path, f"{column}: rolling")
        charts.append(Chart(path, draw))
    return charts


def _all_charts(result, folder: Path) -> list[Chart]:
    """The run's charts and, when it has one, its event study's CAR charts."""
    (folder / "charts").mkdir()
    charts = _charts(result, folder / "charts") + _tearsheet_charts(result, folder / "charts")
    if result.event_study is not None:
        from backtest.report.eventstudy_charts import car_charts

        study_charts = folder / EVENT_STUDY_DIR / "charts"
        study_charts.mkdir()
        charts += car_charts(result.event_study, study_charts)
    return charts


def write_results(result, root: Path) -> Path:
    """Publish ``result`` to ``root/<run_id>`` (atomic) and return the folder."""
    output = result.config.config.output

    def write(folder: Path) -> None:
        write_tables(result, folder)
        if result.event_study is not None:
            from backtest.report.eventstudy_writer import write_event_study

            write_event_study(result.event_study, folder / EVENT_STUDY_DIR, charts=False)
        if output.charts:
            draw_charts(_all_charts(result, folder))
        write_report(folder)  # last: it embeds the files written above

    return publish(Path(root), result.run_id, output.if_exists, write)
