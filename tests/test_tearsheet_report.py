"""The tear sheet in a run's folder and report.html: monthly_returns.csv, drawdowns.csv, the
monthly and rolling charts, and the report-timing section (issue 19)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from backtest.core.sessions import get_calendar
from backtest.data.synthetic import geometric_prices
from backtest.report.html import render_report
from backtest.run.runner import run
from tests.conftest import base_config, write_config, write_prices
from tests.test_pipeline import EARNINGS, HOLD, MOMENTUM, NEWS

LONG = get_calendar("XNYS").sessions_in_range("2024-06-03", "2026-03-31")  # > 252 sessions


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """Two strategies over ~460 sessions: both rolling windows fit."""
    tmp = tmp_path_factory.mktemp("long")
    prices = write_prices(
        tmp / "prices",
        {
            "A": geometric_prices(LONG, growth=0.001, gap=0.002),
            "SPY": geometric_prices(LONG, growth=0.0005, gap=0.0),
        },
    )
    data = base_config(prices, [EARNINGS, NEWS], [HOLD, MOMENTUM], fees_bps=10)
    data["data"] |= {"start": "2024-06-03", "end": "2026-03-31"}  # else: the events' span
    data["output"] = {"charts": True, "max_event_charts": 0}
    return run(write_config(tmp, data), out_dir=tmp / "results")


def _titles(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


def test_every_strategy_gets_its_monthly_and_rolling_chart(long_run):
    folder = long_run.folder / "charts"
    charts = sorted(p.name for p in [*folder.glob("monthly_*.png"), *folder.glob("rolling_*.png")])
    assert charts == [
        "monthly_earnings_hold.png",
        "monthly_news_momentum.png",
        "rolling_earnings_hold.png",
        "rolling_news_momentum.png",
    ]
    notes = json.loads((long_run.folder / "manifest.json").read_text())["notes"]
    assert not [n for n in notes if "rolling" in n]


def test_the_tables_agree_with_the_metrics_computed_another_way(long_run):
    metrics = pd.read_csv(long_run.folder / "metrics.csv").set_index("strategy")
    monthly = pd.read_csv(long_run.folder / "monthly_returns.csv")
    drawdowns = pd.read_csv(long_run.folder / "drawdowns.csv")
    for strategy in ("earnings_hold", "news_momentum"):
        years = monthly[monthly["strategy"] == strategy]
        compounded = np.prod(1 + years["year_return"]) - 1
        assert compounded == pytest.approx(metrics.loc[strategy, "total_return"], rel=1e-9)
        assert years["n_sessions"].sum() == metrics.loc[strategy, "n_sessions"]
        worst = drawdowns[drawdowns["strategy"] == strategy].iloc[0]
        assert worst["depth"] == pytest.approx(metrics.loc[strategy, "max_drawdown"], rel=1e-9)
    assert set(drawdowns["strategy"]) <= {"earnings_hold", "news_momentum"}  # no benchmarks


def test_report_shows_the_tables_with_percent_cells(long_run):
    page = (long_run.folder / "report.html").read_text()
    titles = _titles(page)
    assert titles.index("Monthly and yearly returns") < titles.index("Trades")
    assert titles.index("Five worst drawdowns") < titles.index("Trades")
    assert "Report timing: date-only earnings reports" not in titles  # reports are timed
    row = pd.read_csv(long_run.folder / "drawdowns.csv").iloc[0]
    assert f"{row['depth']:.2%}" in page


def test_a_run_shorter_than_a_window_says_so_instead_of_drawing(tmp_path, market):
    data = base_config(market, [EARNINGS, NEWS], [HOLD, MOMENTUM])
    data["output"] = {"charts": True, "max_event_charts": 0}
    result = run(write_config(tmp_path, data), out_dir=tmp_path / "results")
    assert not list((result.folder / "charts").glob("rolling_*.png"))
    page = (result.folder / "report.html").read_text()
    n = len(result.equity) - 1
    assert (
        f"earnings_hold: rolling Sharpe, volatility and beta need 126 sessions per window, "
        f"the run has {n}: not drawn" in page
    )


TIMING_HEADER = (
    "ticker,source,n,n_skipped,mean_abs_report_day,mean_abs_next_day,larger_on_report_day,"
    "p_value,suggests,verdict\n"
)


def test_report_timing_lines_are_shown_only_when_there_are_date_only_reports(tmp_path):
    verdict = "X bundled: 12 date-only reports ...: set events.unknown_timing: before_open"
    (tmp_path / "timing_check.csv").write_text(
        TIMING_HEADER + f"X,bundled,12,0,0.05,0.01,12,0.0005,before_open,{verdict}\n"
    )
    page = render_report(tmp_path)
    assert "Report timing: date-only earnings reports" in _titles(page)
    assert f"<li>{verdict}</li>" in page and "5.00%" in page  # mean |r| as percent
    (tmp_path / "timing_check.csv").write_text(TIMING_HEADER)
    assert "Report timing" not in render_report(tmp_path)


def test_a_run_with_date_only_reports_shows_their_timing(tmp_path, market):
    date_only = [
        {"ticker": "A", "event_type": "earnings", "time": day}
        for day in ("2026-02-10", "2026-03-10")
    ]
    data = base_config(market, date_only, [HOLD])
    result = run(write_config(tmp_path, data), out_dir=tmp_path / "results")
    page = (result.folder / "report.html").read_text()
    assert "Report timing: date-only earnings reports" in _titles(page)
    assert "A inline: 2 date-only reports" in page
    assert "too few for a verdict (needs 10)" in page and "events.unknown_timing" in page


def test_months_without_a_session_are_blank_not_n_a_and_the_table_is_compact(tmp_path):
    (tmp_path / "monthly_returns.csv").write_text(
        "strategy,year,Jan,Feb,year_return,n_sessions\na,2025,,0.02,0.02,19\na,2026,0.01,,0.01,20\n"
    )
    page = render_report(tmp_path)
    table = page[page.index("<h2>Monthly and yearly returns</h2>") :]
    table = table[: table.index("</table>")]
    assert '<div class="scroll compact">' in table
    assert "n/a" not in table
    assert '<td class="num"></td><td class="num">2.00%</td>' in table  # Jan 2025 is blank
