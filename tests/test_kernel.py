"""The event-level kernel gives the vectorbt engine's trades (RELIABILITY I20), on real data.

Grid: entry offset x entry point x exit offset x side x (no stop | stop-loss | stop-loss and
take-profit), earnings of five bundled tickers, fees and slippage on. Every trade must match:
0 missing, 0 extra, same exit tick and reason, |net return difference| <= 1e-12.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from backtest.core.timeline import build_timeline
from backtest.data.bundled import BundledPrices
from backtest.data.prices import load_prices
from backtest.engine.kernel import EXIT_REASONS, build_panel, kernel_trades, signal_ticks
from backtest.engine.rules.arrays import at
from backtest.engine.rules.costs import gathered_net_return, net_return
from backtest.engine.simulate import EngineSettings
from backtest.engine.vectorbt import run_vectorbt
from backtest.events.align import align_events
from backtest.events.loaders import load_bundled_earnings
from backtest.strategy.plan import event_arrays, plan_to_signals
from backtest.strategy.signals import MarketView, get_strategy, window_drops
from tests.conftest import CAL

TICKERS = ["AMZN", "BABA", "BIDU", "NFLX", "TSLA"]
STOPS = [(None, None), (3.0, None), (5.0, 8.0)]
COMBOS = [
    c
    for c in itertools.product([0, 1, 3], ["open", "close"], [0, 2, 5], ["long", "short"])
    if (-c[0], c[1] == "close") < (c[2], 1)
]


@pytest.fixture(scope="module")
def setting():
    prices, _ = load_prices(BundledPrices(), TICKERS, "raw", CAL)
    events = load_bundled_earnings(TICKERS, CAL)
    period = (pd.Timestamp("2019-01-02"), pd.Timestamp("2026-06-30"))
    aligned, _ = align_events(events, prices, CAL, period=period)
    timeline = build_timeline(CAL, pd.Timestamp("2018-12-03"), pd.Timestamp("2026-07-23"))
    return prices, aligned, timeline, build_panel(prices, timeline)


def grid(combos) -> dict:
    cols = list(zip(*combos, strict=True))
    return {
        "entry_offset": np.array(cols[0])[:, None],
        "entry_at": np.array(cols[1])[:, None],
        "exit_offset": np.array(cols[2])[:, None],
        "exit_at": np.full((len(combos), 1), "close"),
        "side": np.array(cols[3])[:, None],
        "min_abs_surprise_pct": np.zeros((len(combos), 1)),
    }


@pytest.mark.parametrize(("sl", "tp"), STOPS, ids=["time", "sl3", "sl5tp8"])
def test_kernel_matches_vectorbt_trade_for_trade(setting, sl, tp):
    prices, aligned, timeline, panel = setting
    market = MarketView(prices, CAL)
    spec = get_strategy("earnings_hold")
    ev = event_arrays(aligned, CAL)
    plan = spec.planner(ev, market, grid(COMBOS))
    settings = EngineSettings(
        fees_bps=10,
        slippage_bps=5,
        sizing="fixed",
        size=1000,
        init_cash=1e12,
        stop_loss_pct=sl,
        take_profit_pct=tp,
    )
    compared = reasons = 0
    for row in range(len(COMBOS)):
        signals, _ = plan_to_signals(ev, plan, "earnings_hold", row)
        signals, _ = window_drops(signals, market)
        vbt = run_vectorbt(signals, prices, timeline, settings).trades
        k = kernel_trades(
            panel,
            *signal_ticks(signals, panel),
            fees_bps=10,
            slippage_bps=5,
            stop_loss_pct=sl,
            take_profit_pct=tp,
        )
        assert len(vbt) == len(signals) == len(k.net_return)  # 0 missing, 0 extra
        vbt = vbt.set_index("event_id").loc[signals["event_id"]]
        assert np.array_equal(timeline.ticks[k.exit_tick], vbt["exit_time"].to_numpy())
        assert [EXIT_REASONS[r] for r in k.exit_reason] == vbt["exit_reason"].tolist()
        assert np.max(np.abs(k.net_return - vbt["net_return"].to_numpy())) <= 1e-12
        assert np.max(np.abs(k.gross_return - vbt["gross_return"].to_numpy())) <= 1e-12
        compared += len(signals)
        reasons += int((k.exit_reason != 0).sum())
    assert compared > 100
    if sl:
        assert reasons > 0  # the grid really exercised the stops


@pytest.mark.parametrize(("slippage_bps", "fees_bps"), [(0.0, 0.0), (5.0, 10.0), (25.0, 3.0)])
def test_the_compiled_pass_gives_numpys_gathers_and_net_returns_bit_for_bit(
    setting, slippage_bps, fees_bps
):
    """gathered_net_return = net_return(at(entry), at(exit)) on random trades over real bars."""
    panel = setting[3]
    rng = np.random.default_rng(11)
    tickers, ticks = panel.price.shape
    row = rng.integers(0, tickers, 500)
    entry = rng.integers(0, ticks - 20, (7, 500)).astype(np.int32)
    exit_ = entry + rng.integers(1, 20, (7, 500)).astype(np.int32)
    side = rng.choice([-1, 1], (7, 1))
    net, ref_in, ref_out = gathered_net_return(
        panel.price, row, entry, exit_, side, slippage_bps, fees_bps, keep_refs=True
    )
    want_in, want_out = at(panel.price, row, entry), at(panel.price, row, exit_)
    np.testing.assert_array_equal(ref_in, want_in)
    np.testing.assert_array_equal(ref_out, want_out)
    want = net_return(want_in, want_out, np.broadcast_to(side, entry.shape), slippage_bps, fees_bps)
    np.testing.assert_array_equal(net, want)
    assert np.isfinite(net).sum() > 1000  # real prices, not a pass over NaN gaps
    assert gathered_net_return(panel.price, row, entry, exit_, side, 0.0, 0.0)[1] is None


def test_a_tick_outside_the_panel_is_an_index_error_not_a_read_past_it(setting):
    panel = setting[3]
    beyond = np.array([panel.price.shape[1]])
    with pytest.raises(IndexError, match="outside the price panel"):
        gathered_net_return(panel.price, np.array([0]), np.array([0]), beyond, 1, 0.0, 0.0)
