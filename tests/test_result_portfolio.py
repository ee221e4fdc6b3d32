"""``RunResult.portfolio``: the run as one vectorbt Portfolio, the same trades and values (issue 19)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.synthetic import geometric_prices
from backtest.run.runner import run
from tests.conftest import SESSIONS, base_config, write_config, write_prices
from tests.test_pipeline import EARNINGS, HOLD, MOMENTUM, NEWS

LATER = {**EARNINGS, "time": "2026-03-12"}  # a second report: two trades for earnings_hold


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pf")
    prices = write_prices(
        tmp / "prices",
        {
            "A": geometric_prices(SESSIONS, growth=0.01, gap=0.002),
            "SPY": geometric_prices(SESSIONS, growth=0.0, gap=0.0),
        },
    )
    data = base_config(prices, [EARNINGS, LATER, NEWS], [HOLD, MOMENTUM], fees_bps=10)
    data["engine"]["slippage_bps"] = 5
    return run(write_config(tmp, data), out_dir=tmp / "results")


def test_the_portfolio_is_built_on_first_use_only(result):
    assert "portfolio" not in vars(result)
    pf = result.portfolio
    assert result.portfolio is pf  # built once


def test_its_trades_are_the_entries_and_exits_of_trades_csv(result):
    written = pd.read_csv(result.folder / "trades.csv")
    readable = result.portfolio.trades.records_readable
    theirs = pd.DataFrame(
        {
            "strategy": [c[0] for c in readable["Column"]],
            "event_id": [c[1] for c in readable["Column"]],
            "entry_time": pd.to_datetime(readable["Entry Timestamp"], utc=True),
            "entry_price": readable["Avg Entry Price"],
            "exit_time": pd.to_datetime(readable["Exit Timestamp"], utc=True),
            "exit_price": readable["Avg Exit Price"],
            "size": readable["Size"],
        }
    )
    ours = written[theirs.columns].assign(
        entry_time=lambda t: pd.to_datetime(t["entry_time"], utc=True),
        exit_time=lambda t: pd.to_datetime(t["exit_time"], utc=True),
    )
    key = ["strategy", "event_id"]
    theirs = theirs.sort_values(key).reset_index(drop=True)
    ours = ours.sort_values(key).reset_index(drop=True)
    assert len(ours) == 3
    pd.testing.assert_frame_equal(theirs, ours, check_dtype=False, rtol=1e-12)


def test_its_value_at_each_close_is_the_runs_equity(result):
    pf = result.portfolio
    value = pf.value()
    closes = value.index.isin(value.index[1::2])  # ticks: open, close of each session
    for label in ("earnings_hold", "news_momentum"):
        at_close = value[label].to_numpy()[closes]
        assert np.allclose(at_close, result.equity[label].to_numpy(), rtol=1e-12)


def test_vectorbt_stats_work_per_strategy(result):
    stats = result.portfolio["earnings_hold"].stats(settings=dict(year_freq="252 days"))
    assert stats["Total Trades"] == 2
    assert stats["End Value"] == pytest.approx(result.equity["earnings_hold"].iloc[-1], rel=1e-12)
