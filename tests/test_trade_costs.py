"""The ``costs:`` section: hand-checked rules, and kernel vs vectorbt parity with every cost on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.core.timeline import build_timeline
from backtest.data.bundled import BundledPrices
from backtest.data.prices import load_prices
from backtest.data.synthetic import geometric_prices
from backtest.engine.kernel import build_panel, kernel_trades, signal_ticks
from backtest.engine.rules.trade_costs import (
    TradeCosts,
    borrow_per_share,
    build_cost_panel,
    dividends_from_adj,
    impact_rate,
)
from backtest.engine.simulate import EngineSettings
from backtest.engine.vectorbt import run_vectorbt
from backtest.events.align import align_events
from backtest.events.loaders import load_bundled_earnings
from backtest.strategy.plan import event_arrays, plan_to_signals
from backtest.strategy.signals import MarketView, get_strategy, window_drops
from tests.conftest import CAL
from tests.test_kernel import grid

ALL_ON = TradeCosts(
    spread_estimator="corwin_schultz",
    spread_window=21,
    commission_per_share=0.005,
    commission_minimum=1.0,
    impact_k=0.5,
    participation_pct=1.0,
    participation_action="cut",
    borrow_bps=50.0,
    borrow_bps_by_ticker=(("BABA", 300.0),),
    do_not_short=("BIDU",),
    dividends=True,
    notional=50_000_000.0,
)


def test_dividend_from_adjusted_close_by_hand():
    # close 40 -> ex-date: adj/close steps from 0.975 to 1.0, so D = 40 * (1 - 0.975) = 1.0.
    close = pd.Series([40.0, 40.0, 39.2, 39.6])
    adj = close * np.array([0.975, 0.975, 1.0, 1.0])
    div = dividends_from_adj(close, adj)
    assert div.tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0], abs=1e-12)


def test_borrow_365_days_at_365_bps_costs_365_pct():
    assert borrow_per_share(100.0, 365, 365.0) / 100.0 == pytest.approx(0.0365, abs=1e-15)


def test_impact_by_hand():
    # k 1, sigma 2 %, 40 000 of 1 000 000 ADV: 0.02 * sqrt(0.04) = 40 bps.
    assert impact_rate(1.0, 0.02, 40_000, 1_000_000) == pytest.approx(0.004, abs=1e-15)


def _geometric_setup():
    sessions = CAL.sessions_in_range(pd.Timestamp("2025-01-02"), pd.Timestamp("2026-06-30"))
    frame = geometric_prices(sessions, growth=0.001)
    frame["adj_close"] = frame["close"]
    prices = {"GEO": frame}
    timeline = build_timeline(CAL, sessions[0], sessions[-1])
    return prices, timeline


def test_short_held_a_year_pays_borrow_and_dividend_by_hand():
    prices, timeline = _geometric_setup()
    frame = prices["GEO"]
    # A 1.0 dividend with ex-date on session 150: prices before it adjusted down.
    ex = 150
    factor = 1.0 - 1.0 / frame["close"].iloc[ex - 1]
    frame.loc[frame.index[:ex], "adj_close"] = frame["close"].iloc[:ex] * factor
    sessions = timeline.sessions
    i_in = 10
    i_out = int(sessions.searchsorted(sessions[i_in] + pd.Timedelta(days=365)))
    days = (sessions[i_out] - sessions[i_in]).days
    costs = TradeCosts(borrow_bps=365.0, dividends=True, notional=10_000.0)
    signals = pd.DataFrame(
        {
            "strategy": "s",
            "ticker": "GEO",
            "event_id": "e1",
            "side": -1,
            "entry_session": sessions[i_in],
            "entry_at": "close",
            "exit_session": sessions[i_out],
            "exit_at": "close",
        },
        index=[0],
    )
    settings = EngineSettings(
        fees_bps=0, slippage_bps=0, sizing="fixed", size=10_000.0, init_cash=1e6, costs=costs
    )
    trade = run_vectorbt(signals, prices, timeline, settings).trades.iloc[0]
    p_in, p_out = frame["close"].iloc[i_in], frame["close"].iloc[i_out]
    expected = (p_in - p_out - 1.0 - p_in * 0.0365 * days / 365) / p_in
    assert trade["net_return"] == pytest.approx(expected, abs=1e-12)
    panel = build_panel(prices, timeline)
    k = kernel_trades(
        panel,
        *signal_ticks(signals, panel),
        costs=costs,
        cost_panel=build_cost_panel(["GEO"], prices, timeline, costs),
    )
    assert k.net_return[0] == pytest.approx(expected, abs=1e-12)


@pytest.fixture(scope="module")
def real():
    tickers = ["BABA", "BIDU"]
    prices, _ = load_prices(BundledPrices(), tickers, "raw", CAL)
    events = load_bundled_earnings(tickers, CAL)
    period = (pd.Timestamp("2019-01-02"), pd.Timestamp("2026-06-30"))
    aligned, _ = align_events(events, prices, CAL, period=period)
    timeline = build_timeline(CAL, pd.Timestamp("2018-12-03"), pd.Timestamp("2026-07-23"))
    return prices, aligned, timeline, build_panel(prices, timeline)


@pytest.mark.parametrize("action", ["cut", "drop"])
def test_kernel_matches_vectorbt_with_every_cost(real, action):
    prices, aligned, timeline, panel = real
    costs = ALL_ON.__class__(**{**ALL_ON.__dict__, "participation_action": action})
    market = MarketView(prices, CAL)
    ev = event_arrays(aligned, CAL)
    combos = [(1, "close", 0, "long"), (0, "open", 5, "short"), (3, "close", 2, "long")]
    plan = get_strategy("earnings_hold").planner(ev, market, grid(combos))
    cpanel = build_cost_panel(list(panel.tickers), prices, timeline, costs)
    settings = EngineSettings(
        fees_bps=10,
        slippage_bps=5,
        sizing="fixed",
        size=costs.notional,
        init_cash=1e13,
        costs=costs,
    )
    compared = dropped = cut = 0
    for row in range(len(combos)):
        signals, _ = plan_to_signals(ev, plan, "earnings_hold", row)
        signals, _ = window_drops(signals, market)
        res = run_vectorbt(signals, prices, timeline, settings)
        k = kernel_trades(
            panel,
            *signal_ticks(signals, panel),
            fees_bps=10,
            slippage_bps=5,
            costs=costs,
            cost_panel=cpanel,
            sizing="fixed",
        )
        kept = ~np.isnan(k.net_return)
        vbt = res.trades.set_index("event_id")
        assert sorted(vbt.index) == sorted(signals["event_id"][kept])  # 0 missing, 0 extra
        got = vbt.loc[signals["event_id"][kept], "net_return"].to_numpy()
        assert np.max(np.abs(k.net_return[kept] - got)) <= 1e-12
        compared += int(kept.sum())
        dropped += int((~kept).sum())
        cut += int((res.drops["reason"] == "participation_cap").sum())
        assert set(res.drops["stage"]) <= {"costs", "sizing"}
    assert compared > (20 if action == "cut" else 0) and dropped > 0  # BIDU shorts at least
    if action == "cut":
        assert cut > 0
