"""The ``costs:`` section's bad inputs (one located line each) and its drop reasons."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import ConfigError
from backtest.core.timeline import build_timeline
from backtest.data.synthetic import geometric_prices
from backtest.engine.kernel import build_panel, kernel_trades, signal_ticks
from backtest.engine.rules.trade_costs import TradeCosts, build_cost_panel
from backtest.engine.simulate import EngineSettings
from backtest.engine.vectorbt import run_vectorbt
from backtest.run.runner import trade_costs
from tests.conftest import CAL, REPO

SEED = (REPO / "configs" / "realistic.yaml").read_text()
BORROW = "  borrow: {annual_bps: 50}"


def config(tmp_path, old: str, new: str):
    assert old in SEED
    path = tmp_path / "cfg.yaml"
    path.write_text(SEED.replace(old, new))
    return path


def error_of(path) -> str:
    with pytest.raises(ConfigError) as info:
        trade_costs(load_config(path))
    return str(info.value)


@pytest.mark.parametrize("value", ["-1", ".nan", ".inf", "-.inf", "10001"])
@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (BORROW, "  borrow: {annual_bps: VALUE}", "costs.borrow.annual_bps"),
        (
            "  spread: {estimator: corwin_schultz, window: 21}",
            "  spread: {fixed_bps: VALUE}",
            "costs.spread.fixed_bps",
        ),
    ],
)
def test_out_of_range_bps_names_the_key_in_one_line(tmp_path, value, old, new, key):
    msg = error_of(config(tmp_path, old, new.replace("VALUE", value)))
    assert key in msg and "cfg.yaml:" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (BORROW, "  borrow: {annual_bps: 50, anual_bps: 3}", "costs.borrow.anual_bps"),
        ("  dividends: true", "  dividends: true\n  fx_bps: 3", "costs.fx_bps"),
        ("  impact: {k: 0.5, window: 20}", "  impact: {k: 0.5, windw: 20}", "costs.impact.windw"),
    ],
)
def test_unknown_costs_key_names_it_in_one_line(tmp_path, old, new, key):
    msg = error_of(config(tmp_path, old, new))
    assert key in msg and "\n" not in msg


def test_bad_costs_value_exits_2_with_one_line_at_the_command_line(tmp_path):
    path = config(tmp_path, BORROW, "  borrow: {annual_bps: -5}")
    out = subprocess.run(
        [sys.executable, "-m", "backtest", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "costs.borrow.annual_bps" in lines[0]


@pytest.mark.parametrize(
    ("rows", "line", "expected"),
    [
        ("BABA,300\nMSFT,100\n", 3, "ticker 'MSFT' is not one of data.tickers"),
        ("BABA,lots\n", 2, "annual_bps 'lots' must be a number from 0 to 10000"),
        ("BABA,nan\n", 2, "annual_bps 'nan' must be a number"),
        ("BABA,-1\n", 2, "annual_bps '-1' must be a number"),
        ("BABA,10001\n", 2, "annual_bps '10001' must be a number"),
    ],
)
def test_borrow_file_errors_name_file_and_line(tmp_path, rows, line, expected):
    (tmp_path / "borrow.csv").write_text("ticker,annual_bps\n" + rows)
    path = config(tmp_path, BORROW, "  borrow: {annual_bps: 50, file: borrow.csv}")
    msg = error_of(path)
    assert f"borrow.csv:{line}: " in msg and expected in msg and "\n" not in msg


def test_borrow_file_without_its_header_names_line_1(tmp_path):
    (tmp_path / "borrow.csv").write_text("symbol,bps\nBABA,300\n")
    path = config(tmp_path, BORROW, "  borrow: {annual_bps: 50, file: borrow.csv}")
    assert "borrow.csv:1: header must be 'ticker,annual_bps'" in error_of(path)


def test_borrow_file_overrides_the_global_fee_per_ticker(tmp_path):
    (tmp_path / "borrow.csv").write_text("ticker,annual_bps\nBABA,300\n")
    path = config(tmp_path, BORROW, "  borrow: {annual_bps: 50, file: borrow.csv}")
    costs = trade_costs(load_config(path))
    assert (costs.borrow_of("BABA"), costs.borrow_of("BIDU")) == (300.0, 50.0)


def _one_trade(side: int, volume: float):
    sessions = CAL.sessions_in_range(pd.Timestamp("2025-01-02"), pd.Timestamp("2025-06-30"))
    frame = geometric_prices(sessions, growth=0.001)
    frame["volume"] = volume
    prices, timeline = {"GEO": frame}, build_timeline(CAL, sessions[0], sessions[-1])
    signals = pd.DataFrame(
        {
            "strategy": "s",
            "ticker": "GEO",
            "event_id": "e1",
            "side": side,
            "entry_session": sessions[60],
            "entry_at": "close",
            "exit_session": sessions[62],
            "exit_at": "close",
        },
        index=[0],
    )
    return prices, timeline, signals


def _both_engines(costs: TradeCosts, side: int, volume: float):
    prices, timeline, signals = _one_trade(side, volume)
    settings = EngineSettings(
        fees_bps=0, slippage_bps=0, sizing="fixed", size=10_000.0, init_cash=1e6, costs=costs
    )
    run = run_vectorbt(signals, prices, timeline, settings)
    panel = build_panel(prices, timeline)
    k = kernel_trades(
        panel,
        *signal_ticks(signals, panel),
        costs=costs,
        cost_panel=build_cost_panel(["GEO"], prices, timeline, costs),
    )
    return run, k


@pytest.mark.parametrize("cost", [{"impact_k": 0.5}, {"participation_pct": 1.0}])
def test_zero_adv_drops_the_trade_with_its_reason_in_both_engines(cost):
    costs = TradeCosts(**cost, notional=10_000.0)
    run, k = _both_engines(costs, side=1, volume=0.0)
    assert run.trades.empty and np.isnan(k.net_return).all()
    assert run.drops[["event_id", "stage", "reason"]].values.tolist() == [
        ["e1", "costs", "zero_adv"]
    ]
    traded, k = _both_engines(costs, side=1, volume=1e6)  # the same trade with volume: kept
    assert len(traded.trades) == 1 and np.isfinite(k.net_return).all()


def test_do_not_short_drops_shorts_with_their_reason_and_keeps_longs():
    costs = TradeCosts(do_not_short=("GEO",), notional=10_000.0)
    run, k = _both_engines(costs, side=-1, volume=1e6)
    assert run.trades.empty and np.isnan(k.net_return).all()
    assert run.drops[["event_id", "stage", "reason"]].values.tolist() == [
        ["e1", "costs", "do_not_short"]
    ]
    run, k = _both_engines(costs, side=1, volume=1e6)
    assert len(run.trades) == 1 and run.drops.empty
    assert run.trades["net_return"].iloc[0] == pytest.approx(k.net_return[0], abs=1e-12)
