"""Each sample-size threshold pinned at its boundary, on hand-made rows (sample_size.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.core import sample_size as ss
from backtest.report.html_cells import table_html
from backtest.stats.metrics import summarize


def _row(n_trades: int, n_sessions: int, benchmark: bool = False) -> dict:
    return {
        "cagr": 0.1, "sharpe": 1.0, "total_return": 0.05, "max_drawdown": -0.1,
        "n_trades": n_trades, "n_sessions": n_sessions,
        "judged_by": ss.judged_by(n_trades, benchmark),
    }  # fmt: skip


@pytest.mark.parametrize(("n_trades", "expected"), [(9, True), (10, False), (1, True), (0, True)])
def test_strategy_ratios_need_ten_trades(n_trades, expected):
    assert ss.metric_sample("sharpe", _row(n_trades, 500)).too_few is expected
    assert ss.metric_sample("profit_factor", _row(n_trades, 500)).too_few is expected


@pytest.mark.parametrize(("sessions", "expected"), [(62, True), (63, False)])
def test_benchmark_ratios_are_judged_by_sessions(sessions, expected):
    row = _row(0, sessions, benchmark=True)
    assert ss.metric_sample("sharpe", row).too_few is expected
    assert ss.metric_sample("sharpe", row).unit == "sessions"


@pytest.mark.parametrize(("sessions", "expected"), [(251, True), (252, False)])
def test_cagr_needs_a_year_of_sessions(sessions, expected):
    assert ss.metric_sample("cagr", _row(50, sessions)).too_few is expected
    assert ss.metric_sample("calmar", _row(50, sessions)).too_few is expected


def test_descriptive_metrics_are_never_judged():
    row = _row(1, 10)
    assert ss.metric_sample("total_return", row) is None
    assert ss.metric_sample("max_drawdown", row) is None
    assert ss.too_few_metrics(row) == ["cagr", "sharpe"]


@pytest.mark.parametrize(("n", "expected"), [(4, True), (5, False)])
def test_tests_and_bands_need_five_events(n, expected):
    assert ss.event_sample(n).too_few is expected
    assert ss.band_sample(n).too_few is expected


@pytest.mark.parametrize(
    ("n_a", "n_b", "mean", "sharpe"),
    [(73, 4, True, True), (73, 5, False, True), (9, 73, False, True), (10, 10, False, False)],
)
def test_pairs_are_judged_by_their_smaller_side(n_a, n_b, mean, sharpe):
    samples = ss.pair_samples(n_a, n_b)
    assert (samples["mean"].too_few, samples["sharpe"].too_few) == (mean, sharpe)


def test_label_names_the_n():
    assert ss.Sample(3, 5, "events").label == "n = 3: too few"
    assert ss.Sample(124, 252, "sessions").label == "n = 124 sessions: too few"


def test_summarize_counts_sessions():
    equity = pd.Series([100.0, 101.0, 102.0, 101.0])
    m = summarize(equity, pd.Series([0.01]), pd.Series([True] * 4))
    assert m["n_sessions"] == 3


def test_html_greys_a_small_test_and_keeps_its_value_in_the_tooltip():
    frame = pd.DataFrame({"n": [4, 5], "p_value": [0.027, 0.031]})
    page = table_html(frame, ss.event_column_samples)
    assert 'class="num few" title="0.027: 4 events' in page
    assert "n = 4: too few" in page
    assert '<td class="num">0.031</td>' in page


def test_html_greys_pairs_with_too_few_trades():
    frame = pd.DataFrame(
        {"a": ["x"], "b": ["y"], "n_trades_a": [3], "n_trades_b": [1], "sharpe_p_value": [0.027]}
    )
    page = table_html(frame, ss.pair_column_samples)
    assert "0.027" not in page.split("title=")[0]
    assert "n = 1: too few" in page
