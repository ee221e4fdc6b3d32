"""Golden test on the bundled real data: the seed config's trades, computed by hand.

Expected values were read off backtest/sample_data/prices/BABA.csv by hand,
not produced by this code (RELIABILITY I21):

    2025-11-24 close 160.73   2025-11-25 close 157.01   (BABA reported 2025-11-25 08:30 ET, bmo)
    2026-01-13 open 165.50    2026-01-15 close 170.93   (article 13.01.2026 14:42:04 CET = 08:42 ET)
    2026-02-18 close 155.77   2026-02-19 close 154.27   (BABA reported 2026-02-19 08:30 ET, bmo)
    2025-10-01 close 182.78   2026-03-31 close 125.46   (buy-and-hold period)
"""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.config import load_config
from backtest.run import run_loaded
from tests.conftest import REPO

EXPECTED = [  # strategy, event id, entry UTC, entry price, exit UTC, exit price
    (
        "earnings_hold",
        "BABA-earnings-2025-11-25T133000Z",
        "2025-11-24 21:00",
        160.73,
        "2025-11-25 21:00",
        157.01,
    ),
    (
        "earnings_hold",
        "BABA-earnings-2026-02-19T133000Z",
        "2026-02-18 21:00",
        155.77,
        "2026-02-19 21:00",
        154.27,
    ),
    (
        "news_momentum",
        "BABA-news-2026-01-13T134204Z",
        "2026-01-13 14:30",
        165.50,
        "2026-01-15 21:00",
        170.93,
    ),
]


@pytest.fixture(scope="module")
def seed_run():
    loaded = load_config(
        REPO / "configs" / "baba_2026.yaml", ["engine.fees_bps=0", "engine.slippage_bps=0"]
    )
    return run_loaded(loaded, now=pd.Timestamp("2026-11-25", tz="UTC"))


def test_seed_trades_are_at_the_hand_computed_sessions_and_prices(seed_run):
    trades = seed_run.trades.sort_values(["strategy", "entry_time"]).reset_index(drop=True)
    assert len(trades) == len(EXPECTED)
    for row, (strategy, event_id, t_in, p_in, t_out, p_out) in zip(
        trades.itertuples(), EXPECTED, strict=True
    ):
        assert (row.strategy, row.event_id) == (strategy, event_id)
        assert row.entry_time == pd.Timestamp(t_in, tz="UTC")
        assert row.exit_time == pd.Timestamp(t_out, tz="UTC")
        assert row.entry_price == pytest.approx(p_in, abs=1e-6)
        assert row.exit_price == pytest.approx(p_out, abs=1e-6)
        assert row.net_return == pytest.approx(p_out / p_in - 1, rel=1e-9)


def test_seed_news_event_is_aligned_from_central_european_time(seed_run):
    news = seed_run.events.set_index("event_id").loc["BABA-news-2026-01-13T134204Z"]
    assert news["event_time"] == pd.Timestamp("2026-01-13 13:42:04", tz="UTC")
    assert (news["timing"], news["session"], news["fill_at"]) == (
        "bmo",
        pd.Timestamp("2026-01-13"),
        "open",
    )
    assert news["session_price"] == pytest.approx(165.5)


def test_seed_benchmark_is_buy_and_hold_baba(seed_run):
    row = seed_run.metrics.set_index("strategy").loc["benchmark:BABA"]
    assert row["total_return"] == pytest.approx(125.46 / 182.78 - 1, rel=1e-9)


def test_events_outside_the_period_are_recorded_not_lost(seed_run):
    drops = seed_run.drops[seed_run.drops["stage"] == "align"]
    assert set(drops["reason"]) == {"outside_period"}
    assert len(drops) + len(seed_run.events) == 39 + 1  # 39 BABA reports + 1 article
