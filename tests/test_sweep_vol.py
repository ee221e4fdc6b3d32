"""``vol_target`` sizing in sweeps: each trade stakes the weight its run gives it.

A run sizes a ``vol_target`` signal from its ticker's trailing daily vol read at
the decision's session and drops it without enough history (``vol_history``);
the sweep reads the same vol at each trade's entry session (a planned trade
decides at its entry) from one table, stakes that weight in its sequential
figures and leaves out the same trades. Checked combination by combination
against ``backtest run`` on five bundled tickers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.run.runner import run_loaded
from backtest.stats.trade_stats import sequential_at_size
from backtest.sweep.runner import run_sweep
from tests.conftest import write_config

NOW = pd.Timestamp("2026-11-25", tz="UTC")
VOL = {"mode": "vol_target", "target_daily_vol_pct": 0.5, "window": 250, "max_pct": 25}
GRID = {"hold_sessions": [1, 10], "side": ["long", "short"]}


def vol_sweep_config(**engine) -> dict:
    return {
        "name": "volsweep",
        "data": {
            "source": "bundled",
            "tickers": ["AMZN", "BABA", "BIDU", "NFLX", "TSLA"],
            "start": "2015-01-01",  # reports of 2015 lack 250 returns before them: dropped
            "end": "2026-06-30",
        },
        "events": {"sources": [{"type": "bundled_earnings"}], "overlap": "skip"},
        "strategies": [{"name": "earnings_hold", "params": {"entry_offset": 1}}],
        "engine": {
            "init_cash": 100_000,
            "fees_bps": 10,
            "slippage_bps": 5,
            "sizing": VOL,
            **engine,
        },
        "benchmarks": ["SPY"],
        "output": {"charts": False},
        "sweep": {"grid": GRID, "min_trades": 1, "top_n": 0},
    }


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep, its per-trade stakes, and one run per combination."""
    from backtest.run.runner import vol_target
    from backtest.strategy.signals import get_strategy
    from backtest.sweep.evaluate import chunk_trades, expand_grid, prepare
    from backtest.sweep.runner import _base_params, _data, _strategy_config

    path = write_config(tmp_path_factory.mktemp("volsweep"), vol_sweep_config())
    loaded = load_config(path)
    result = run_sweep(loaded, now=NOW)
    spec = get_strategy("earnings_hold")
    combos, _ = expand_grid(spec, _base_params(loaded, _strategy_config(loaded)), GRID, 100)
    prices, aligned, market = _data(loaded, NOW)
    data = prepare(spec, aligned, prices, market, "skip", vol=vol_target(loaded))
    trades = chunk_trades(data, combos)
    runs = []
    for combo in combos:
        sets = ["sweep=null"] + [f"strategies.0.params.{k}={combo[k]}" for k in GRID]
        runs.append(run_loaded(load_config(path, sets), now=NOW))
    return result, combos, data, trades, runs


def test_each_swept_trade_is_a_run_trade_staking_the_runs_weight(swept):
    result, combos, data, trades, runs = swept
    ids = data.ev.events["event_id"].to_numpy()
    for i, run in enumerate(runs):
        traded = ~np.isnan(trades.returns[i])
        by_id = run.trades.set_index("event_id")
        assert sorted(ids[traded]) == sorted(by_id.index), combos[i]
        want = by_id.loc[ids[traded]]
        np.testing.assert_allclose(
            trades.returns[i][traded], want["net_return"], rtol=0, atol=1e-12
        )
        # The run's weight (size_pct, % of equity) is the sweep's stake, to the float.
        np.testing.assert_allclose(trades.stake[i][traded], want["size_pct"] / 100, rtol=1e-15)
        row = result.table.iloc[i]
        assert row["n_trades"] == len(run.trades)
        assert abs(row["mean_trade_return"] - run.trades["net_return"].mean()) <= 1e-12


def test_trades_without_enough_history_are_left_out_as_the_run_drops_them(swept):
    _, _, data, trades, runs = swept
    for i, run in enumerate(runs):
        dropped = run.drops[run.drops["reason"] == "vol_history"]
        assert len(dropped) > 0
        ids = data.ev.events["event_id"].to_numpy()
        assert not set(dropped["event_id"]) & set(ids[~np.isnan(trades.returns[i])])


def test_the_sequential_figures_compound_each_trades_own_stake(swept):
    result, _, data, trades, _ = swept
    order = np.argsort(data.ev.actionable_tick, kind="stable")
    for i in range(len(trades.returns)):
        r, w = trades.returns[i, order], trades.stake[i, order]
        taken = ~np.isnan(r)
        path = np.cumprod(1 + w[taken] * r[taken])  # by hand, in entry order
        row = result.table.iloc[i]
        assert row["sequential_return_at_size"] == pytest.approx(path[-1] - 1, rel=1e-12)
        worst = min(0.0, (path / np.maximum.accumulate(np.r_[1.0, path])[1:]).min() - 1)
        assert row["sequential_max_drawdown_at_size"] == pytest.approx(worst, rel=1e-12)
    assert "vol_target weight" in result.summary["sizing"]


def test_per_trade_stakes_weigh_each_trade_by_its_own_size():
    r = np.array([[0.1, np.nan, -0.2]])  # 1 x (1 + 0.5 x 0.1) x (1 - 0.25 x 0.2) = 0.9975
    total, drawdown = sequential_at_size(r, np.array([[0.5, np.nan, 0.25]]))
    assert total[0] == pytest.approx(-0.0025, abs=1e-15)
    assert drawdown[0] == pytest.approx(0.9975 / 1.05 - 1, abs=1e-15)


def test_size_dependent_costs_are_priced_at_each_weight_of_the_initial_equity(tmp_path):
    """A minimum commission of 10 per order, no other cost: each trade pays 20 of its weight
    of the initial equity, by hand."""
    from backtest.run.runner import vol_target
    from backtest.strategy.signals import get_strategy
    from backtest.sweep.evaluate import chunk_trades, expand_grid, prepare
    from backtest.sweep.runner import _base_params, _data, _strategy_config, trade_costs

    cfg = vol_sweep_config(fees_bps=0, slippage_bps=0)
    cfg["costs"] = {"commission": {"per_share": 0.0, "minimum": 10.0}}
    path = write_config(tmp_path, cfg)
    loaded = load_config(path)
    spec = get_strategy("earnings_hold")
    combos, _ = expand_grid(spec, _base_params(loaded, _strategy_config(loaded)), GRID, 100)
    prices, aligned, market = _data(loaded, NOW)
    costs = trade_costs(loaded, loaded.config.engine.init_cash)
    args = (spec, aligned, prices, market, "skip")
    costed = chunk_trades(prepare(*args, costs=costs, vol=vol_target(loaded)), combos)
    free = chunk_trades(prepare(*args, vol=vol_target(loaded)), combos)
    traded = ~np.isnan(costed.returns)
    np.testing.assert_array_equal(traded, ~np.isnan(free.returns))
    # Percent sizing spends the budget w x init_cash, commission included: q shares at
    # fill f with q f = budget - 10; both commissions, 20, cost 20 / (q f) of the entry value.
    budget = 100_000 * costed.stake[traded]
    np.testing.assert_allclose(
        (costed.returns - free.returns)[traded], -20 / (budget - 10), rtol=1e-9
    )
    assert costed.stake[traded].min() < costed.stake[traded].max()  # weights differ per trade
    assert "vol_target weight" in run_sweep(loaded, now=NOW).summary["costs"]
