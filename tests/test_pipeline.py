"""End-to-end runs on hand-checkable geometric prices (RELIABILITY I3, I7, I9-I12, E1, E2, P12)."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import BacktestError, ConfigError, DataUnavailable, LookAheadError
from backtest.run import pipeline
from backtest.run.runner import run_loaded
from tests.conftest import base_config, write_config, write_prices
from tests.oracle_engine import oracle_run

G, GAP = 0.01, 0.002
EARNINGS = {"ticker": "A", "event_type": "earnings", "time": "2026-02-19", "timing": "bmo"}
NEWS = {
    "ticker": "A",
    "event_type": "news",
    "time": "13.01.2026 14:42:04",
    "timezone": "Europe/Berlin",
    "move_pct": 10,
}
HOLD = {
    "name": "earnings_hold",
    "params": {"entry_offset": 1, "entry_at": "close", "exit_offset": 0, "exit_at": "close"},
}
MOMENTUM = {"name": "news_momentum", "params": {"hold_sessions": 3}}


def run_config(tmp_path, data: dict):
    return run_loaded(load_config(write_config(tmp_path, data)))


def only_trade(result, strategy: str) -> pd.Series:
    trades = result.trades[result.trades["strategy"] == strategy]
    assert len(trades) == 1, trades
    return trades.iloc[0]


def test_earnings_hold_enters_the_close_before_a_bmo_report_and_exits_its_close(tmp_path, market):
    result = run_config(tmp_path, base_config(market, [EARNINGS], [HOLD]))
    trade = only_trade(result, "earnings_hold")
    assert trade["entry_time"] == pd.Timestamp("2026-02-18 21:00", tz="UTC")
    assert trade["exit_time"] == pd.Timestamp("2026-02-19 21:00", tz="UTC")
    assert trade["gross_return"] == pytest.approx(G, rel=1e-12)
    assert trade["net_return"] == pytest.approx(G, rel=1e-12)  # I9: zero costs


def test_news_momentum_enters_the_open_after_a_premarket_article(tmp_path, market):
    result = run_config(tmp_path, base_config(market, [NEWS], [MOMENTUM]))
    trade = only_trade(result, "news_momentum")
    assert trade["entry_time"] == pd.Timestamp("2026-01-13 14:30", tz="UTC")
    assert trade["exit_time"] == pd.Timestamp("2026-01-15 21:00", tz="UTC")
    assert trade["side"] == 1
    assert trade["gross_return"] == pytest.approx((1 + G) ** 3 / (1 + GAP) - 1, rel=1e-12)


def test_short_side_zero_cost_identity(tmp_path, market):
    hold = {**HOLD, "params": {**HOLD["params"], "side": "short"}}
    trade = only_trade(
        run_config(tmp_path, base_config(market, [EARNINGS], [hold])), "earnings_hold"
    )
    assert trade["net_return"] == pytest.approx(1 - (1 + G), rel=1e-9)


def test_fees_and_slippage_never_raise_returns(tmp_path, market):
    free = run_config(tmp_path, base_config(market, [EARNINGS, NEWS], [HOLD, MOMENTUM]))
    costly = run_config(
        tmp_path,
        base_config(market, [EARNINGS, NEWS], [HOLD, MOMENTUM], fees_bps=10, slippage_bps=5),
    )
    merged = free.trades.merge(costly.trades, on=["strategy", "event_id"], suffixes=("_0", "_1"))
    assert len(merged) == 2
    assert (merged["net_return_1"] < merged["net_return_0"]).all()
    # I10: fees are charged on both fills: 10 bps of entry and exit value
    fees = merged["size_1"] * (merged["entry_price_1"] + merged["exit_price_1"]) * 10e-4
    assert merged["fees_1"].to_numpy() == pytest.approx(fees.to_numpy(), rel=1e-12)


def test_every_event_is_traded_or_dropped_with_a_reason(tmp_path, market):
    events = [
        EARNINGS,
        NEWS,
        {**EARNINGS, "time": "2026-02-19", "source": "copy"},  # duplicate
        {**EARNINGS, "time": "2025-06-02"},  # before prices
        {**EARNINGS, "time": "2026-03-31", "timing": "amc"},  # window past data
        {**NEWS, "time": "2026-01-17 10:00", "timezone": "America/New_York"},
    ]  # Saturday
    result = run_config(tmp_path, base_config(market, events, [HOLD, MOMENTUM]))
    align_drops = result.drops[result.drops["stage"] == "align"]
    assert len(result.events) + len(align_drops) == len(events)  # I12 at the align stage
    reasons = result.drops.groupby("reason")["event_id"].apply(sorted).to_dict()
    assert reasons["duplicate"] == ["A-earnings-2026-02-19"]
    assert reasons["outside_price_range"] == ["A-earnings-2025-06-02", "A-earnings-2026-03-31"]
    saturday = result.events.set_index("event_id").loc["A-news-2026-01-17T150000Z"]
    assert (saturday["session"], saturday["align_rule"]) == (
        pd.Timestamp("2026-01-20"),
        "closed day -> next open",
    )
    for label in ("earnings_hold", "news_momentum"):
        mine = result.events["event_type"].eq("earnings" if label == "earnings_hold" else "news")
        traded = (result.trades["strategy"] == label).sum()
        dropped = ((result.drops["strategy"] == label) & (result.drops["stage"] != "align")).sum()
        assert traded + dropped == mine.sum()  # I12 at the strategy stage


def test_nan_price_inside_the_window_drops_the_event(tmp_path, market):
    frame = pd.read_csv(market / "A.csv", index_col="date", parse_dates=True)
    frame.loc["2026-02-18", "close"] = float("nan")  # a partial row: kept, but not tradable
    write_prices(market, {"A": frame})
    result = run_config(tmp_path, base_config(market, [EARNINGS], [HOLD]))
    assert result.trades.empty
    assert (
        result.drops.set_index("event_id").loc["A-earnings-2026-02-19", "reason"]
        == "price_nan_in_window"
    )


def test_no_trades_is_a_valid_result(tmp_path, market):
    far = {**NEWS, "time": "2026-03-31 08:00", "timezone": "America/New_York"}  # exit beyond data
    result = run_config(tmp_path, base_config(market, [far], [MOMENTUM]))
    assert result.trades.empty
    row = result.metrics.set_index("strategy").loc["news_momentum"]
    assert row["n_trades"] == 0 and pd.isna(row["hit_rate"])


def test_missing_ticker_names_it(tmp_path, market):
    data = base_config(market, [EARNINGS], [HOLD])
    data["data"]["tickers"] = ["ZZZZ"]
    with pytest.raises(DataUnavailable, match="ZZZZ"):
        run_config(tmp_path, data)


def test_empty_event_list_is_a_config_error(tmp_path, market):
    with pytest.raises(ConfigError, match="events"):
        run_config(tmp_path, base_config(market, [], [HOLD]))


def test_surprise_side_before_the_report_is_rejected_as_look_ahead(tmp_path, market):
    hold = {**HOLD, "params": {**HOLD["params"], "side": "surprise"}}
    with pytest.raises(ConfigError, match="look-ahead"):
        run_config(tmp_path, base_config(market, [EARNINGS], [hold]))


def test_event_too_early_for_its_known_date_is_dropped(tmp_path, market):
    known = {**EARNINGS, "known_at": "2026-02-18T22:00:00+00:00"}  # date public after the entry
    result = run_config(tmp_path, base_config(market, [known], [HOLD]))
    assert result.trades.empty
    assert result.drops["reason"].tolist() == ["entry_before_known_at"]


def test_engines_agree_trade_for_trade(tmp_path, market, monkeypatch):
    """RELIABILITY I20: the vectorbt engine vs the hand-checkable loop of tests/oracle_engine.py."""
    events = [EARNINGS, NEWS, {**EARNINGS, "time": "2026-01-29", "timing": "amc"}]
    config = base_config(market, events, [HOLD, MOMENTUM], fees_bps=10, slippage_bps=5)
    runs = {"vectorbt": run_config(tmp_path, config)}
    monkeypatch.setattr(pipeline, "simulate", oracle_run)
    runs["oracle"] = run_config(tmp_path, config)
    cols = ["strategy", "event_id", "entry_time", "exit_time", "side"]
    a, b = (runs[e].trades.sort_values(cols).reset_index(drop=True) for e in runs)
    assert len(a) == 3
    pd.testing.assert_frame_equal(a[cols], b[cols])
    for col in ("entry_price", "exit_price", "size", "fees", "gross_return", "net_return"):
        assert a[col].to_numpy() == pytest.approx(b[col].to_numpy(), rel=1e-12), col


def test_a_peeking_strategy_is_caught(tmp_path, market, monkeypatch):
    """A user strategy that takes its direction from the entry session's own close."""
    from backtest.strategy import signals
    from backtest.strategy.signals import StrategyParams, register

    monkeypatch.setattr(signals, "_REGISTRY", dict(signals.registered_strategies()))

    class PeekParams(StrategyParams):
        pass

    def peeker(events, market, params):
        rows = []
        for _, ev in events.iterrows():
            session = ev["session"]
            close = market._prices[ev["ticker"]].loc[session, "close"]  # the future, at the open
            rows.append(
                {
                    "strategy": "peeker",
                    "event_id": ev["event_id"],
                    "ticker": ev["ticker"],
                    "side": 1 if close > ev["session_price"] else -1,
                    "decision_time": ev["actionable_at"],
                    "info_time": market.instant(session, "close"),
                    "entry_session": session,
                    "entry_at": "open",
                    "exit_session": market.shift(session, 1),
                    "exit_at": "close",
                }
            )
        return pd.DataFrame(rows), pd.DataFrame(
            columns=["event_id", "ticker", "stage", "reason", "detail"]
        )

    register("peeker", PeekParams, ("news",))(peeker)
    with pytest.raises(LookAheadError, match="uses information from"):
        run_config(tmp_path, base_config(market, [NEWS], [{"name": "peeker"}]))


def test_naive_clock_time_without_timezone_is_rejected(tmp_path, market):
    naive = {k: v for k, v in NEWS.items() if k != "timezone"}
    with pytest.raises(BacktestError, match="no time zone"):
        run_config(tmp_path, base_config(market, [naive], [MOMENTUM]))


def test_loss_budget_stops_a_run_that_lost_too_many_events(tmp_path, market):
    data = base_config(
        market,
        [{**NEWS, "time": "2026-03-31 08:00", "timezone": "America/New_York"}, NEWS],
        [MOMENTUM],
    )
    data["events"]["max_drop_pct"] = 25
    with pytest.raises(BacktestError, match=r"dropped 1 of 2 events \(50.0%\).*window_incomplete"):
        run_config(tmp_path, data)


def test_stop_loss_fills_at_the_stop_inside_the_bar(tmp_path):
    from backtest.data.synthetic import geometric_prices
    from tests.conftest import SESSIONS

    # Falling 2% a session: a long from the 2026-01-13 open hits a 3% stop on 2026-01-14.
    falling = geometric_prices(SESSIONS, growth=-0.02, gap=0.002)
    prices = write_prices(tmp_path / "falling", {"A": falling, "SPY": falling})
    data = base_config(
        prices,
        [NEWS],
        [{"name": "news_momentum", "params": {"hold_sessions": 5}}],
        stop_loss_pct=3,
        slippage_bps=5,
    )
    trade = only_trade(run_config(tmp_path, data), "news_momentum")
    assert trade["exit_reason"] == "stop_loss"
    assert trade["exit_time"] == pd.Timestamp(
        "2026-01-14 21:00", tz="UTC"
    )  # the bar it happened in
    entry_ref = falling.loc["2026-01-13", "open"]
    assert trade["exit_ref_price"] == pytest.approx(trade["entry_price"] * 0.97, rel=1e-9)
    assert trade["entry_ref_price"] == pytest.approx(entry_ref, rel=1e-12)
    bar = falling.loc["2026-01-14"]
    assert bar["low"] <= trade["exit_ref_price"] <= bar["high"]  # I6: inside the bar
