"""The compiled per-trade pricing runs the same rules as the numpy ones, float for float.

:func:`~backtest.engine.rules.trade_costs.price_orders` (the sweep's main legs,
and every hedge leg) and :func:`~backtest.engine.rules.hedge.price_hedged` (a
sweep's hedged trades) call the per-trade rules compiled, in one pass. Here the
same trades are priced step by step with the numpy functions the rules are
also written for (:func:`cost_terms`, :func:`fill_price`, :func:`budget_order`,
:func:`net_from_fills`), and the results must be identical, with every cost
model on and off, on real bundled bars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.core.errors import ConfigError
from backtest.core.timeline import build_timeline, tick_prices
from backtest.data.bundled import BundledPrices
from backtest.data.prices import load_prices
from backtest.engine.rules import compiled
from backtest.engine.rules.costs import fee_rate, fill_price
from backtest.engine.rules.hedge import (
    hedge_contribution,
    hedge_notional,
    hedge_side,
    price_hedge_leg,
    price_hedged,
)
from backtest.engine.rules.trade_costs import (
    FIXED,
    HEDGE_LEG,
    PERCENT,
    TradeCosts,
    budget_order,
    build_cost_panel,
    cost_terms,
    net_from_fills,
    price_orders,
)
from tests.conftest import CAL

TICKERS = ["BABA", "BIDU", "JD"]
COSTS = {
    "spread only": TradeCosts(spread_estimator="corwin_schultz", notional=20_000.0),
    "fixed spread and commission": TradeCosts(
        spread_bps=12.0, commission_per_share=0.01, commission_minimum=2.0, notional=5_000.0
    ),
    "everything, cut": TradeCosts(
        spread_estimator="abdi_ranaldo",
        commission_per_share=0.005,
        commission_minimum=1.0,
        impact_k=0.7,
        participation_pct=0.5,
        borrow_bps=80.0,
        borrow_bps_by_ticker=(("BIDU", 400.0),),
        do_not_short=("JD",),
        dividends=True,
        notional=40_000_000.0,
    ),
    "everything, drop": TradeCosts(
        spread_estimator="corwin_schultz",
        impact_k=1.5,
        participation_pct=0.2,
        participation_action="drop",
        dividends=True,
        borrow_bps=120.0,
        notional=2_000_000.0,
    ),
}


@pytest.fixture(scope="module")
def market():
    prices, _ = load_prices(BundledPrices(), [*TICKERS, "SPY"], "raw", CAL)
    timeline = build_timeline(CAL, pd.Timestamp("2019-01-02"), pd.Timestamp("2025-12-31"))
    ticks = np.vstack([tick_prices(prices[t], timeline).price for t in TICKERS])
    spy = tick_prices(prices["SPY"], timeline).price[None, :]
    return prices, timeline, ticks, spy


def _trades(ticks: np.ndarray, seed: int, combos: int = 3, trades: int = 400):
    """Random trades shaped as a sweep's: rows (trades,), ticks and sides (combos, trades)."""
    rng = np.random.default_rng(seed)
    n = ticks.shape[1]
    row = rng.integers(0, ticks.shape[0], trades)
    entry = rng.integers(60, n - 60, (combos, trades))
    exit_ = entry + rng.integers(1, 40, (combos, trades))
    side = rng.choice([-1, 1], (combos, 1))
    ref_in, ref_out = ticks[row, entry], ticks[row, exit_]
    keep = np.isfinite(ref_in) & np.isfinite(ref_out)
    return row, np.where(keep, entry, 60), np.where(keep, exit_, 61), side, ticks


def _stepwise(panel, row, entry, exit_, side, ref_in, ref_out, budget, mode, slip, fees, costs):
    """The numpy rules one after another: the order of the compiled pass, written out."""
    terms = cost_terms(panel, row, entry, exit_, side, costs)
    f_in = fill_price(ref_in, side, slip, terms.extra_in)
    c = fee_rate(fees)
    cps, cmin = costs.commission_per_share, costs.commission_minimum
    q = np.asarray(budget_order(budget, mode, ref_in, f_in, c, cps, cmin), dtype=float)
    if mode != HEDGE_LEG:
        q = np.where(terms.limit > 0, q, 0.0)
    if costs.needs_adv:
        terms = cost_terms(panel, row, entry, exit_, side, costs, shares=q)
        f_in = fill_price(ref_in, side, slip, terms.extra_in)
        if mode == HEDGE_LEG:
            q = budget / f_in
    if mode != HEDGE_LEG:
        q = np.minimum(q, terms.limit)
    f_out = fill_price(ref_out, -side, slip, terms.extra_out)
    borrow = panel.borrow_bps[row] if panel.borrow_bps.any() else 0.0
    net = net_from_fills(f_in, f_out, side, q, fees, terms, costs, borrow)
    traded = budget > 0 if mode == HEDGE_LEG else q > 0
    net = np.where(traded, net, 0.0 if mode == HEDGE_LEG else np.nan)
    return f_in, f_out, q, net


@pytest.mark.parametrize("case", sorted(COSTS))
@pytest.mark.parametrize("mode", [FIXED, PERCENT])
def test_the_compiled_pass_equals_the_numpy_rules_step_by_step(market, case, mode):
    prices, timeline, ticks, _ = market
    costs = COSTS[case]
    panel = build_cost_panel(TICKERS, prices, timeline, costs)
    row, entry, exit_, side, ticks = _trades(ticks, seed=mode)
    ref_in, ref_out = ticks[row, entry], ticks[row, exit_]
    args = (panel, row, entry, exit_, side, ref_in, ref_out, costs.notional, mode, 5.0, 10.0, costs)
    got = price_orders(*args, keep_fills=True)
    f_in, f_out, q, net = _stepwise(*args)
    for name, a, b in (
        ("entry", got.entry_price, f_in),
        ("exit", got.exit_price, f_out),
        ("shares", got.shares, q),
        ("net", got.net_return, net),
    ):
        assert np.array_equal(a, np.broadcast_to(b, a.shape), equal_nan=True), name
    assert np.array_equal(got.entry_value, got.shares * got.entry_price)
    # Some trades are cut, dropped or shorted where they may not be, in the cases that can.
    if case.startswith("everything"):
        assert np.isnan(got.net_return).any() and np.isfinite(got.net_return).any()


@pytest.mark.parametrize("case", sorted(COSTS))
def test_a_hedged_pass_equals_its_two_legs_priced_apart(market, case):
    prices, timeline, ticks, spy = market
    costs = COSTS[case]
    panel = build_cost_panel(TICKERS, prices, timeline, costs)
    spy_panel = build_cost_panel(["SPY"], prices, timeline, costs)
    row, entry, exit_, side, ticks = _trades(ticks, seed=7)
    ref_in, ref_out = ticks[row, entry], ticks[row, exit_]
    rng = np.random.default_rng(3)
    ratio = rng.uniform(-0.5, 2.0, entry.shape)
    ratio[0, :5] = np.nan  # no beta yet: no trade
    main = price_orders(
        panel, row, entry, exit_, side, ref_in, ref_out, costs.notional, FIXED, 5.0, 10.0, costs
    )
    zero = np.zeros_like(row)
    leg = price_hedge_leg(
        spy_panel,
        np.broadcast_to(zero, entry.shape),
        entry,
        exit_,
        spy[0, entry],
        spy[0, exit_],
        hedge_side(side, ratio),
        hedge_notional(ratio, main.entry_value),
        5.0,
        10.0,
        costs,
        keep_fills=False,
    )
    expected = main.net_return + hedge_contribution(ratio, leg.leg_return)
    got = price_hedged(
        panel, spy_panel, row, zero, entry, exit_, side, ref_in, ref_out, spy, ratio,
        costs.notional, FIXED, 5.0, 10.0, costs,
    )  # fmt: skip
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[0, :5]).all()


def test_a_refused_fill_names_the_first_trade_as_the_numpy_check_does(market):
    prices, timeline, ticks, _ = market
    costs = TradeCosts(spread_bps=100.0, notional=10_000.0)
    panel = build_cost_panel(TICKERS, prices, timeline, costs)
    row, entry, exit_, side, ticks = _trades(ticks, seed=1, combos=2, trades=50)
    side = np.full(entry.shape, 1)
    ref_in, ref_out = ticks[row, entry], ticks[row, exit_]
    # 99.9 % slippage on top of a 50 bps half spread: every sale fills below zero.
    with pytest.raises(ConfigError, match=r"costs: the exit of trade 0 fills at -"):
        price_orders(
            panel, row, entry, exit_, side, ref_in, ref_out, 1e4, FIXED, 9990.0, 0.0, costs
        )
    names = lambda what: lambda i: f"the {what} of order #{i}"  # noqa: E731
    with pytest.raises(ConfigError, match=r"the entry of order #0 fills at -"):
        price_orders(
            panel, row, entry, exit_, -side, ref_in, ref_out, 1e4, FIXED, 9990.0, 0.0, costs,
            name=names,
        )  # fmt: skip


def test_cached_loops_are_cleared_when_a_file_they_compile_from_changes(tmp_path):
    (tmp_path / "rules.py").write_text("X = 1\n")
    (tmp_path / "loops.py").write_text("Y = 2\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    stale = cache / "loops._loop-3.py311.nbi"

    def build() -> None:
        stale.write_text("machine code")
        compiled._clear_stale_cache(tmp_path / "loops.py", ("rules.py",))

    build()  # the first time: no stamp, so nothing cached is trusted
    assert not stale.exists()
    build()  # nothing changed: the cache stays
    assert stale.exists()
    (tmp_path / "rules.py").write_text("X = 3\n")  # a rule edited elsewhere
    compiled._clear_stale_cache(tmp_path / "loops.py", ("rules.py",))
    assert not stale.exists()
