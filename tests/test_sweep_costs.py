"""Sweeps with the ``costs:`` section: the kernel prices what a run books, chunked or on Dask."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.run.runner import run_loaded
from backtest.sweep.runner import run_sweep, sweep_and_publish
from tests.conftest import write_config
from tests.test_sweep import NOW, sweep_config
from tests.test_sweep_dask import (
    SMALL_CHUNKS,
    _no_network,  # noqa: F401  (autouse: loopback only)
    assert_same_sweep,
)

GRID = {"entry_offset": [0, 1], "hold_sessions": [1, 3], "side": ["long", "short"]}
# Every cost on. 1 000 000 per order against 0.1 % of the trailing ADV: some orders are cut.
ALL_ON = {
    "spread": {"estimator": "corwin_schultz", "window": 21},
    "commission": {"per_share": 0.005, "minimum": 1.0},
    "impact": {"k": 0.5, "window": 20},
    "participation": {"max_pct": 0.1, "action": "cut"},
    "borrow": {"annual_bps": 50, "file": "borrow.csv", "do_not_short": ["BABA"]},
    "dividends": True,
}
NOTE = (
    "size-dependent costs are priced at the notional of a fixed 1e+06 (engine.sizing) on "
    "engine.init_cash 1e+10: 1e+06 per order"
)


def costed_config(folder, sizing=None, **sweep) -> dict:
    (folder / "borrow.csv").write_text("ticker,annual_bps\nNFLX,300\n")
    cfg = sweep_config(None, GRID, **sweep)
    cfg["costs"] = ALL_ON
    # Cash never binds: every order gets the notional the kernel prices it at.
    cfg["engine"]["init_cash"] = 1e10
    cfg["engine"]["sizing"] = sizing or {"mode": "fixed", "value": 1_000_000}
    return cfg


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweepcosts")
    path = write_config(folder, costed_config(folder, top_n=1))
    return path, sweep_and_publish(path, out_dir=folder / "results", now=NOW)


def test_top_run_books_the_trades_the_sweep_priced(published):
    _, result = published
    top = result.top_runs.iloc[0]  # the sweep's statistics of its best combination
    trades = pd.read_csv(result.top_folders[0] / "trades.csv")
    drops = pd.read_csv(result.top_folders[0] / "drops.csv")
    assert len(trades) == top["n_trades"] > 0
    assert abs(trades["net_return"].mean() - top["mean_trade_return"]) <= 1e-12
    assert "participation_cap" in set(drops["reason"])  # the cut orders are in both means


def test_every_combination_matches_its_run_with_every_cost(published):
    path, result = published
    dropped_short = False
    for _, row in result.table.iterrows():
        sets = [
            "sweep=null",
            f"strategies.0.params.entry_offset={row.entry_offset}",
            f"strategies.0.params.hold_sessions={row.hold_sessions}",
            f"strategies.0.params.side={row.side}",
        ]
        run = run_loaded(load_config(path, sets), now=NOW)
        assert len(run.trades) == row.n_trades
        assert abs(run.trades["net_return"].mean() - row.mean_trade_return) <= 1e-12
        if row.side == "short":
            reasons = run.drops.loc[run.drops["ticker"] == "BABA", "reason"]
            dropped_short |= bool((reasons == "do_not_short").any())
            assert "BABA" not in set(run.trades["ticker"])
    assert dropped_short


def test_costs_lower_every_mean_and_the_summary_says_at_what_size(published, tmp_path):
    path, result = published
    off = run_sweep(load_config(path, _costs_off()), now=NOW)
    longs = result.table["side"] == "long"
    # Longs keep every trade (no do_not_short), each paying spread, commission and impact.
    assert (result.table.loc[longs, "n_trades"] == off.table.loc[longs, "n_trades"]).all()
    assert (result.table["mean_trade_return"] < off.table["mean_trade_return"]).all()
    assert result.summary["costs"] == NOTE
    assert off.summary["costs"] == "costs: section off"
    assert json.loads((result.folder / "summary.json").read_text())["costs"] == NOTE
    assert NOTE in (result.folder / "report.html").read_text()


def _costs_off() -> list[str]:
    return [
        "sweep.top_n=0",
        "costs.spread.estimator=null",
        "costs.commission.per_share=0",
        "costs.commission.minimum=0",
        "costs.impact.k=0",
        "costs.participation=null",
        "costs.borrow.annual_bps=0",
        "costs.borrow.file=null",
        "costs.borrow.do_not_short=[]",
        "costs.dividends=false",
    ]


def test_dask_workers_and_small_chunks_give_the_in_process_costed_sweep(tmp_path):
    path = write_config(tmp_path, costed_config(tmp_path))
    whole = run_sweep(load_config(path), now=NOW)
    chunked = run_sweep(load_config(path, SMALL_CHUNKS), now=NOW)
    on_cluster = run_sweep(load_config(path, [*SMALL_CHUNKS, "sweep.workers=2"]), now=NOW)
    # Chunk shapes change numpy's summation order only (as without costs): equal to 1e-15.
    pd.testing.assert_frame_equal(chunked.table, whole.table, rtol=1e-15, atol=0)
    assert_same_sweep(on_cluster, chunked)  # where chunks run: bit for bit
    assert whole.summary["costs"] == NOTE


def test_percent_sizing_prices_costs_at_the_initial_equity_only(tmp_path):
    """Where they legitimately differ: a run sizes a percent order on its current equity.

    The sweep prices every order at ``init_cash x percent``; the run's first trade is
    sized on the initial equity, so its return is the sweep's; later ones are sized
    on an equity that has moved, so commission, impact and participation differ.
    """
    sizing = {"mode": "percent", "value": 10}
    cfg = costed_config(tmp_path, sizing=sizing, min_trades=1)
    cfg["engine"]["init_cash"] = 10_000_000
    cfg["sweep"]["grid"] = {"entry_offset": [1], "hold_sessions": [1, 2]}
    path = write_config(tmp_path, cfg)
    result = run_sweep(load_config(path), now=NOW)
    row = result.table.iloc[0]  # hold_sessions 1: the config's own parameters
    assert (
        "10% of equity (engine.sizing) on engine.init_cash 1e+07: 1e+06 per order"
        in (result.summary["costs"])
    )
    run = run_loaded(load_config(path, ["sweep=null"]), now=NOW)
    trades = run.trades.sort_values("entry_time", kind="stable")
    assert len(trades) == row.n_trades
    kernel = _kernel_returns(path)
    first = trades.iloc[0]
    assert abs(first["net_return"] - kernel[first["event_id"]]) <= 1e-12
    later = trades.iloc[1:]
    gaps = np.abs(later["net_return"].to_numpy() - later["event_id"].map(kernel).to_numpy())
    assert gaps.max() > 1e-9  # sized on a moved equity
    assert abs(trades["net_return"].mean() - row.mean_trade_return) < 1e-3


def _kernel_returns(path) -> dict[str, float]:
    """The kernel's net return per event id for the config's own parameters (NaN: no trade)."""
    from tests.test_sweep_hedge import kernel_returns

    return kernel_returns(path, {})
