"""Hedge legs in sweeps: the kernel prices each trade's hedge leg as a run books it.

The grid key ``hedge`` (off, beta or a fixed ratio) sweeps the ratio of a strategy's
``hedge:`` section. Every combination's hedged trade returns equal the run's
``hedged_net_return`` trade by trade (vectorbt engine), with fees, slippage, stops and
the costs that do not depend on the order's size; a trade without enough history for
its beta is not taken by either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import ConfigError
from backtest.core.sessions import get_calendar
from backtest.data.synthetic import geometric_prices
from backtest.engine.rules.hedge import HedgeSpec, hedge_ratios, ratio_table
from backtest.events.align import align_events
from backtest.run.runner import run_loaded, trade_costs
from backtest.strategy.signals import get_strategy
from backtest.sweep import runner as sweep_runner
from backtest.sweep.evaluate import chunk_returns, hedge_value, prepare, sweep_grid
from backtest.sweep.runner import run_sweep
from tests.conftest import write_config
from tests.test_sweep import NOW, sweep_config

HEDGE = {"instrument": "QQQ", "ratio": "beta", "window": 60, "min_obs": 40, "shrink": 0.2}
GRID = {
    "hedge": ["off", "beta", 1.0, -0.5],
    "hold_sessions": [1, 3],
    "side": ["long", "short"],
    "stop_loss_pct": [None, 4],
}
# Costs that do not depend on an order's size: the kernel prices them exactly as a run.
UNSIZED_COSTS = {
    "spread": {"estimator": "corwin_schultz", "window": 21},
    "borrow": {"annual_bps": 80},
    "dividends": True,
}


def hedged_config(grid: dict, costs: dict | None = None) -> dict:
    cfg = sweep_config(None, grid)
    cfg["strategies"][0]["hedge"] = dict(HEDGE)
    cfg["benchmarks"] = ["QQQ"]
    if costs:
        cfg["costs"] = costs
    return cfg


def kernel_returns(path, combo_sets: dict) -> dict[str, float]:
    """The kernel's (hedged) net return per event id of one combination (NaN: no trade).

    ``combo_sets``: the parameters that differ from the config's (none: its own).
    """
    loaded = load_config(path)
    prices, aligned, market = sweep_runner._data(loaded, NOW)
    strategy = sweep_runner._strategy_config(loaded)
    hedge = sweep_runner._hedge_spec(loaded, strategy)
    combo = {**sweep_runner._base_params(loaded, strategy), **combo_sets}
    if "hedge" in combo_sets:
        combo["hedge"] = hedge_value(combo_sets["hedge"], "hedge")
    data = prepare(
        get_strategy("earnings_hold"),
        aligned,
        prices,
        market,
        loaded.config.events.overlap,
        costs=trade_costs(loaded),
        sizing=loaded.config.engine.sizing.mode,
        hedge=hedge,
        hedge_values={combo["hedge"]} if "hedge" in combo else None,
    )
    returns = chunk_returns(data, [combo])[0]
    return dict(zip(data.ev.events["event_id"], returns, strict=True))


def run_returns(path, combo_sets: dict) -> pd.Series:
    """The run's hedged (or, unhedged, plain) net return per event id for one combination."""
    sets = ["sweep=null"]
    for key, value in combo_sets.items():
        if key == "hedge":
            off = hedge_value(value, "hedge") == "off"
            sets.append("strategies.0.hedge=null" if off else f"strategies.0.hedge.ratio={value}")
        elif key == "stop_loss_pct":
            sets.append(f"engine.stop_loss_pct={'null' if value is None else value}")
        else:
            sets.append(f"strategies.0.params.{key}={value}")
    trades = run_loaded(load_config(path, sets), now=NOW).trades
    column = "hedged_net_return" if "hedged_net_return" in trades else "net_return"
    return trades.set_index("event_id")[column]


def assert_same_trades(kernel: dict[str, float], run: pd.Series) -> None:
    traded = {e for e, r in kernel.items() if not np.isnan(r)}
    assert traded == set(run.index)
    gaps = [abs(kernel[e] - r) for e, r in run.items()]
    assert max(gaps) <= 1e-12


@pytest.mark.parametrize(
    "combo",
    [
        {"hedge": h, "hold_sessions": n, "side": s, "stop_loss_pct": sl}
        for h in GRID["hedge"]
        for n, s, sl in [(1, "long", None), (3, "short", 4)]
    ],
)
def test_each_hedged_trade_equals_the_runs_hedged_net_return(tmp_path, combo):
    path = write_config(tmp_path, hedged_config(GRID))
    assert_same_trades(kernel_returns(path, combo), run_returns(path, combo))


@pytest.mark.parametrize("hedge", ["beta", -0.5])
def test_with_spread_borrow_and_dividends_both_legs_pay_as_in_a_run(tmp_path, hedge):
    path = write_config(tmp_path, hedged_config(GRID, UNSIZED_COSTS))
    combo = {"hedge": hedge, "hold_sessions": 3, "side": "short", "stop_loss_pct": None}
    kernel, run = kernel_returns(path, combo), run_returns(path, combo)
    assert_same_trades(kernel, run)
    unhedged = kernel_returns(path, {**combo, "hedge": "off"})
    assert any(abs(kernel[e] - unhedged[e]) > 1e-6 for e in run.index)  # the leg is priced


def test_the_sweep_table_ranks_hedged_and_unhedged_combinations(tmp_path):
    grid = {"hedge": [False, "beta", 1], "hold_sessions": [1, 3]}  # YAML reads off as false
    result = run_sweep(load_config(write_config(tmp_path, hedged_config(grid))), now=NOW)
    table = result.table
    assert sorted(set(table["hedge"])) == ["1", "beta", "off"]
    for _, row in table.iterrows():
        combo = {"hedge": row.hedge, "hold_sessions": row.hold_sessions}
        run = run_returns(write_config(tmp_path, hedged_config(grid)), combo)
        assert row.n_trades == len(run)
        assert abs(row.mean_trade_return - run.mean()) <= 1e-12
    beta = table[table["hedge"] == "beta"]
    off = table[table["hedge"] == "off"]
    # The beta needs 40 returns before the decision: early trades are not taken.
    assert (beta["n_trades"].to_numpy() <= off["n_trades"].to_numpy()).all()


def one_report(prices: dict, cal) -> pd.DataFrame:
    """S reporting before the open of 2026-02-02, aligned (entered at the close before)."""
    when = pd.Timestamp("2026-02-02 08:00", tz="America/New_York").tz_convert("UTC")
    events = pd.DataFrame(
        {
            "event_id": ["S-1"],
            "ticker": ["S"],
            "event_type": ["earnings"],
            "event_time": [when],
            "timing": ["bmo"],
            "known_at": [when - pd.Timedelta(days=30)],
            "source": ["demo"],
        }
    )
    return align_events(events, prices, cal, now=when)[0]


def test_a_hand_checked_hedged_trade_on_geometric_prices():
    cal = get_calendar("XNYS")
    days = cal.sessions_in_range("2026-01-02", "2026-03-31")
    prices = {
        "S": geometric_prices(days, growth=0.01),  # +1 % a session
        "IDX": geometric_prices(days, start=50.0, growth=0.005),  # +0.5 % a session
    }
    aligned = one_report(prices, cal)
    fee = 10.0
    out = sweep_grid(
        prices,
        aligned,
        {"hedge": ["off", 2.0]},
        base={"fees_bps": fee, "hold_sessions": 1},
        keep_returns=True,
        hedge=HedgeSpec("IDX", ratio=2.0),
    )
    c = fee / 10_000
    # Close to close over one session: the stock 100 -> 101 (scaled), the index 1 -> 1.005.
    main = (1.01 - 1 - c * (1 + 1.01)) / 1
    short_leg = (-(1.005 - 1) - c * (1 + 1.005)) / 1
    np.testing.assert_allclose(out.returns[:, 0], [main, main + 2 * short_leg], rtol=0, atol=1e-14)


def test_the_ratio_table_reads_what_a_run_reads_with_holes_and_stray_bars():
    cal = get_calendar("XNYS")
    days = cal.sessions_in_range("2025-01-02", "2025-12-31")
    rng = np.random.default_rng(7)
    index = geometric_prices(days, growth=0.0004)
    index["close"] *= np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))

    def stock(beta: float) -> pd.DataFrame:
        frame = index.copy()
        frame["close"] = (
            20 * (index["close"] / 100) ** beta * np.exp(np.cumsum(rng.normal(0, 0.005, len(days))))
        )
        return frame

    prices = {"IDX": index, "A": stock(1.3), "B": stock(0.7), "C": stock(2.0), "D": stock(1.0)}
    prices["B"] = prices["B"].drop(days[100:103])  # a hole: the run's own path
    prices["C"] = prices["C"].iloc[30:]  # listed late: one unbroken run
    stray = prices["D"].iloc[[10]].set_axis([pd.Timestamp("2025-01-18")])  # a Saturday bar
    prices["D"] = pd.concat([prices["D"], stray]).sort_index()
    spec = HedgeSpec("IDX", window=40, min_obs=30, shrink=0.1)
    tickers = ["A", "B", "C", "D"]
    sessions = days[20:]
    table = ratio_table(prices, tickers, spec, sessions, days)
    tz = "America/New_York"
    for row, ticker in enumerate(tickers):
        decisions = pd.DataFrame(
            {"ticker": ticker, "decision_time": sessions.tz_localize(tz) + pd.Timedelta(hours=9)}
        )
        expected = hedge_ratios(decisions, prices, spec, tz)[1]
        np.testing.assert_array_equal(table[row], expected)
    assert np.isfinite(table).sum() > 0.8 * table.size


def test_hedge_grid_errors_name_the_key_and_the_fix(tmp_path):
    unhedged = sweep_config(None, {"hedge": ["off", "beta"]})
    with pytest.raises(ConfigError, match="no hedge: section"):
        run_sweep(load_config(write_config(tmp_path, unhedged)), now=NOW)
    with pytest.raises(ConfigError, match=r"config.yaml:\d+:\d+: sweep.grid.hedge: 'maybe' is not"):
        run_sweep(load_config(write_config(tmp_path, hedged_config({"hedge": ["maybe"]}))), now=NOW)
    with pytest.raises(ConfigError, match=r"on \(YAML true\) is not a hedge ratio"):
        run_sweep(load_config(write_config(tmp_path, hedged_config({"hedge": [True]}))), now=NOW)
    with pytest.raises(ConfigError, match="other than 0"):
        hedge_value(0, "sweep.grid.hedge")


def test_a_fixed_ratio_hedge_needs_the_instruments_bars_in_runs_and_sweeps(tmp_path):
    """KWEB's bundled bars start 2023-07-03: earlier trades cannot be hedged with it (a
    price carried back before its listing would come from the future), in both engines."""
    cfg = hedged_config(GRID)
    cfg["strategies"][0]["hedge"] = {"instrument": "KWEB", "ratio": 1.0}
    path = write_config(tmp_path, cfg)
    combo = {"hedge": 1.0, "hold_sessions": 3, "side": "long", "stop_loss_pct": None}
    kernel, run = kernel_returns(path, combo), run_returns(path, combo)
    assert_same_trades(kernel, run)
    drops = run_loaded(load_config(path, ["sweep=null"]), now=NOW).drops
    no_price = drops[drops["reason"] == "hedge_no_price"]
    assert len(no_price) > 0 and no_price["detail"].str.startswith("KWEB has no price").all()
    first = pd.Timestamp(load_config(path).config.data.start)
    assert first < pd.Timestamp("2023-07-03")
    entries = run_loaded(load_config(path, ["sweep=null"]), now=NOW).trades["entry_time"]
    assert (entries >= pd.Timestamp("2023-07-03", tz="UTC")).all()


def test_costs_that_leave_no_positive_fill_price_stop_a_sweep_naming_the_trade():
    """As a run refuses them (tests/test_costs_config.py): a 250 % spread sells below zero."""
    from backtest.engine.rules.trade_costs import TradeCosts

    cal = get_calendar("XNYS")
    days = cal.sessions_in_range("2026-01-02", "2026-03-31")
    prices = {"S": geometric_prices(days, growth=0.01), "IDX": geometric_prices(days, start=50.0)}
    aligned = one_report(prices, cal)
    for hedge in (None, HedgeSpec("IDX", ratio=1.0)):
        with pytest.raises(ConfigError) as err:
            sweep_grid(
                prices,
                aligned,
                {"hold_sessions": [1, 2]},
                costs=TradeCosts(spread_bps=25_000.0, notional=10_000.0),
                hedge=hedge,
            )
        message = str(err.value)
        assert message.startswith("costs: the exit of a S trade entering 2026-01-30 21:00 UTC")
        assert "fills at -" in message and "lower costs.impact.k or the spread" in message
