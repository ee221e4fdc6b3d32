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


# --- more bad inputs (issue 17, "Done means") ------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  commission: {per_share: 0.005, minimum: 1.0}",
         "  commission: {per_share: -0.005, minimum: 1.0}", "costs.commission.per_share"),
        ("  commission: {per_share: 0.005, minimum: 1.0}",
         "  commission: {per_share: 0.005, minimum: -1}", "costs.commission.minimum"),
        ("  commission: {per_share: 0.005, minimum: 1.0}",
         "  commission: {per_share: 50, minimum: 1.0}", "costs.commission.per_share"),
        ("  impact: {k: 0.5, window: 20}", "  impact: {k: -0.5, window: 20}", "costs.impact.k"),
        ("  impact: {k: 0.5, window: 20}", "  impact: {k: 1000, window: 20}", "costs.impact.k"),
        ("  impact: {k: 0.5, window: 20}", "  impact: {k: 0.5, window: 1}", "costs.impact.window"),
        ("  participation: {max_pct: 1.0, action: cut}", "  participation: {max_pct: 0}",
         "costs.participation.max_pct"),
        ("  participation: {max_pct: 1.0, action: cut}", "  participation: {max_pct: 150}",
         "costs.participation.max_pct"),
        ("  participation: {max_pct: 1.0, action: cut}",
         "  participation: {max_pct: 1.0, action: skip}", "costs.participation.action"),
        ("  spread: {estimator: corwin_schultz, window: 21}",
         "  spread: {estimator: roll, window: 21}", "costs.spread.estimator"),
    ],
)  # fmt: skip
def test_negative_or_absurd_costs_are_one_located_line(tmp_path, old, new, key):
    msg = error_of(config(tmp_path, old, new))
    assert key in msg and "cfg.yaml:" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "nosuch.csv: cannot read the borrow file (No such file or directory); fix costs.borrow.file"),
        (b"ticker,annual_bps\nBABA,300\nBABA,200\n", "borrow.csv:3: ticker 'BABA' is given twice"),
        (b"\xff\xfe\x00\x01binary", "borrow.csv: the borrow file is not a UTF-8 CSV"),
    ],
)  # fmt: skip
def test_an_unreadable_or_repeating_borrow_file_is_one_line(tmp_path, content, expected):
    name = "nosuch.csv" if content is None else "borrow.csv"
    if content is not None:
        (tmp_path / name).write_bytes(content)
    path = config(tmp_path, BORROW, f"  borrow: {{annual_bps: 50, file: {name}}}")
    msg = error_of(path)
    assert expected in msg and "\n" not in msg


def test_a_missing_borrow_file_exits_2_not_1(tmp_path):
    """It used to escape as a FileNotFoundError (exit 1, "internal error")."""
    path = config(tmp_path, BORROW, "  borrow: {annual_bps: 50, file: nosuch.csv}")
    out = subprocess.run(
        [sys.executable, "-m", "backtest", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == [
        f"error: ConfigError: {tmp_path / 'nosuch.csv'}: cannot read the borrow file "
        "(No such file or directory); fix costs.borrow.file"
    ]


def test_costs_that_leave_no_positive_fill_price_are_a_config_error():
    """A sell whose impact alone exceeds the price: k 100, 2 % vol, 100x the ADV."""
    costs = TradeCosts(impact_k=100.0, vol_window=2, adv_window=2, notional=1e8)
    prices, timeline, signals = _one_trade(side=-1, volume=1e4)
    prices = {"GEO": _zigzag(prices["GEO"])}
    settings = EngineSettings(
        fees_bps=0, slippage_bps=0, sizing="fixed", size=1e7, init_cash=1e9, costs=costs
    )
    with pytest.raises(ConfigError, match=r"costs: the entry of e1 \(s, GEO\) fills at -"):
        run_vectorbt(signals, prices, timeline, settings)


def _zigzag(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with closes alternating +1 % / -1 % (opens at the last close)."""
    close = 100 * np.cumprod(np.r_[1.0, np.resize([1.01, 0.99], len(frame) - 1)])
    open_ = np.r_[close[0], close[:-1]]
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    return frame.assign(open=open_, high=high, low=low, close=close)


def test_a_zero_adv_at_the_exit_keeps_the_trade_and_prices_the_last_positive_adv():
    """The entry was decided on the entry's ADV; a dry-up after it cannot undo the trade.

    Volume 1e6 a day, then 0 from the entry session (60) on; ADV over 2 sessions: 1e6 at
    the entry, 0.5e6 at session 61 (volumes of 59 and 60), 0 at the exit session 62, whose
    impact is then priced at the last positive ADV, 0.5e6. Sigma at the exit: returns of
    60 and 61, +1 % and -1 % in some order: 0.01 * sqrt(2).
    """
    costs = TradeCosts(impact_k=0.5, vol_window=2, adv_window=2, notional=10_000.0)
    prices, timeline, signals = _one_trade(side=1, volume=1e6)
    frame = _zigzag(prices["GEO"])
    frame.iloc[60:, frame.columns.get_loc("volume")] = 0.0
    prices = {"GEO": frame}
    settings = EngineSettings(
        fees_bps=0, slippage_bps=0, sizing="fixed", size=10_000.0, init_cash=1e6, costs=costs
    )
    run = run_vectorbt(signals, prices, timeline, settings)
    assert run.drops.empty and len(run.trades) == 1
    t = run.trades.iloc[0]
    impact_out = 0.5 * 0.01 * np.sqrt(2) * np.sqrt(t["size"] / 0.5e6)
    assert t["exit_price"] == pytest.approx(frame["close"].iloc[62] * (1 - impact_out), rel=1e-9)
    panel = build_panel(prices, timeline)
    k = kernel_trades(
        panel,
        *signal_ticks(signals, panel),
        costs=costs,
        cost_panel=build_cost_panel(["GEO"], prices, timeline, costs),
    )
    assert k.net_return[0] == pytest.approx(t["net_return"], abs=1e-12)


def test_the_largest_impact_with_all_equity_per_trade_runs_to_the_end(tmp_path):
    """Impact k = 100 (the most the config allows) spending 100 % of equity per entry.

    The account falls from 100 000 to a few units; the book's cash and vectorbt's,
    each summed fill by fill, then differ in the last digits (1.7e-5), and an entry
    spending all of it was cut by that much: an internal error before. Now within
    rounding of the initial cash, and the run completes.
    """
    from backtest.run.runner import run_loaded

    loaded = load_config(
        REPO / "configs" / "hedged_sweep.yaml",
        [
            "costs.impact.k=100",
            "engine.sizing.value=100",
            f"output.dir={tmp_path}",
            "output.charts=false",
        ],
    )
    result = run_loaded(loaded)
    final = result.equity.iloc[-1]["earnings_hold"]
    assert 0 < final < 1_000  # the costs ate nearly everything, and nothing crashed
