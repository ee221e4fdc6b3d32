"""Hedge legs (engine/rules/hedge.py): both legs by hand, beta without look-ahead, errors, drops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import ConfigError
from backtest.data.synthetic import geometric_prices
from backtest.engine.rules.hedge import HedgeSpec, hedge_ratios
from backtest.run.runner import run_loaded
from tests.conftest import SESSIONS, base_config, write_config, write_prices

G = 0.01
EARNINGS = {"ticker": "A", "event_type": "earnings", "time": "2026-02-19", "timing": "bmo"}
HOLD = {
    "name": "earnings_hold",
    "params": {"entry_offset": 1, "entry_at": "close", "exit_offset": 0, "exit_at": "close"},
}
IN, OUT = SESSIONS.get_loc(pd.Timestamp("2026-02-18")), SESSIONS.get_loc(pd.Timestamp("2026-02-19"))


def bars(close: np.ndarray) -> pd.DataFrame:
    """Bars with these closes, each open at the previous close, high/low 0.5 % around."""
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.005,
            "low": np.minimum(open_, close) * 0.995,
            "close": close,
            "volume": 1e6,
        },
        index=SESSIONS.rename("date"),
    )


def known_beta_market(tmp_path, beta: float):
    """H moves by a repeating pattern of daily returns; A moves ``beta`` times as much."""
    r = np.resize([0.01, -0.006, 0.013, -0.009, 0.004], len(SESSIONS))
    r[0] = 0.0
    frames = {
        "A": bars(100 * np.cumprod(1 + beta * r)),
        "H": bars(50 * np.cumprod(1 + r)),
        "SPY": geometric_prices(SESSIONS, growth=0.0, gap=0.0),
    }
    return write_prices(tmp_path / "prices", frames), frames


def run(tmp_path, prices, hedge: dict, **engine):
    data = base_config(prices, [EARNINGS], [{**HOLD, "hedge": hedge}], **engine)
    return run_loaded(load_config(write_config(tmp_path, data)))


def test_fixed_ratio_hedged_trade_both_legs_by_hand(tmp_path):
    a = geometric_prices(SESSIONS, growth=G, gap=0.002)
    h = geometric_prices(SESSIONS, start=50.0, growth=0.004, gap=0.0)
    prices = write_prices(tmp_path / "prices", {"A": a, "H": h, "SPY": h})
    result = run(
        tmp_path,
        prices,
        {"instrument": "H", "ratio": 0.5},
        fees_bps=10,
        slippage_bps=5,
    )
    t = result.trades.iloc[0]
    s, c = 5e-4, 10e-4
    # Main leg: long A, close of 02-18 to close of 02-19.
    a0, a1 = a["close"].iloc[IN], a["close"].iloc[OUT]
    f0, f1 = a0 * (1 + s), a1 * (1 - s)
    main = ((f1 - f0) - c * (f0 + f1)) / f0
    assert t["net_return"] == pytest.approx(main, rel=1e-9)
    # Hedge leg: short H at the same two closes, entry value half the main leg's.
    h0, h1 = h["close"].iloc[IN], h["close"].iloc[OUT]
    assert h1 / h0 == pytest.approx(1.004, rel=1e-12)
    g0, g1 = h0 * (1 - s), h1 * (1 + s)
    leg = (-(g1 - g0) - c * (g0 + g1)) / g0
    assert t["hedge_instrument"] == "H" and t["hedge_ratio"] == 0.5 and t["hedge_side"] == -1
    assert t["hedge_entry_ref_price"] == pytest.approx(h0, rel=1e-12)
    assert t["hedge_entry_price"] == pytest.approx(g0, rel=1e-12)
    assert t["hedge_exit_price"] == pytest.approx(g1, rel=1e-12)
    notional = t["size"] * t["entry_price"]
    assert t["hedge_size"] * g0 == pytest.approx(0.5 * notional, rel=1e-12)
    assert t["hedge_return"] == pytest.approx(0.5 * leg, rel=1e-12)
    assert t["hedge_pnl"] == pytest.approx(0.5 * leg * notional, rel=1e-12)
    assert t["hedged_net_return"] == pytest.approx(main + 0.5 * leg, rel=1e-9)
    # Side by side: the strategy's row and its +hedge row.
    rows = result.metrics.set_index("strategy")
    assert rows.loc["earnings_hold", "avg_trade_return"] == pytest.approx(main, rel=1e-9)
    assert rows.loc["earnings_hold+hedge", "avg_trade_return"] == pytest.approx(
        main + 0.5 * leg, rel=1e-9
    )
    # The hedged equity ends at the strategy's plus the hedge P&L.
    eq = result.equity
    assert eq["earnings_hold+hedge"].iloc[-1] - eq["earnings_hold"].iloc[-1] == pytest.approx(
        0.5 * leg * notional, rel=1e-9
    )
    sens = result.cost_sensitivity.set_index(["strategy", "cost_bps_per_side"])
    gross = (a1 / a0 - 1) - 0.5 * (h1 / h0 - 1)
    assert sens.loc[("earnings_hold+hedge", 0.0), "mean_trade_return"] == pytest.approx(gross)


@pytest.mark.parametrize(("shrink", "expected"), [(0.0, 1.5), (0.5, 1.25)])
def test_beta_ratio_on_a_series_with_known_beta(tmp_path, shrink, expected):
    prices, frames = known_beta_market(tmp_path, beta=1.5)
    hedge = {"instrument": "H", "ratio": "beta", "window": 20, "min_obs": 15, "shrink": shrink}
    t = run(tmp_path, prices, hedge).trades.iloc[0]
    assert t["hedge_ratio"] == pytest.approx(expected, rel=1e-9)
    h = frames["H"]["close"]
    leg = -(h.iloc[OUT] / h.iloc[IN] - 1)  # zero costs: the short's move
    assert t["hedge_return"] == pytest.approx(expected * leg, rel=1e-9)
    assert t["hedged_net_return"] == pytest.approx(t["net_return"] + expected * leg, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beta_uses_only_bars_before_the_decision_session(seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(0, 0.01, len(SESSIONS))
    frames = {
        "A": bars(100 * np.cumprod(1 + 1.2 * m + rng.normal(0, 0.01, len(SESSIONS)))),
        "H": bars(50 * np.cumprod(1 + m)),
    }
    when = pd.to_datetime(["2026-02-18 14:00", "2026-03-02 20:00"]).tz_localize("UTC")
    signals = pd.DataFrame({"ticker": ["A", "A"], "decision_time": when})
    spec = HedgeSpec(default="H", window=20, min_obs=15)
    _, ratios = hedge_ratios(signals, frames, spec, "America/New_York")
    assert np.isfinite(ratios).all()
    for i, day in enumerate(["2026-02-18", "2026-03-02"]):
        later = SESSIONS >= pd.Timestamp(day)
        changed = {k: f.copy() for k, f in frames.items()}
        for k in changed:
            changed[k].loc[later, ["open", "high", "low", "close"]] *= rng.uniform(0.5, 2.0)
        _, again = hedge_ratios(signals.iloc[[i]], changed, spec, "America/New_York")
        assert again[0] == ratios[i]
        # Not vacuous: the session before the decision session does count.
        earlier = {k: f.copy() for k, f in frames.items()}
        earlier["A"].loc[SESSIONS[~later][-1], "close"] *= 1.05
        _, moved = hedge_ratios(signals.iloc[[i]], earlier, spec, "America/New_York")
        assert moved[0] != ratios[i]


def test_too_little_history_drops_the_trade_as_hedge_history(tmp_path):
    prices, _ = known_beta_market(tmp_path, beta=1.5)
    result = run(tmp_path, prices, {"instrument": "H", "window": 60, "min_obs": 40})
    assert result.trades.empty
    drops = result.drops[result.drops["reason"] == "hedge_history"]
    assert drops[["event_id", "stage", "strategy"]].values.tolist() == [
        [result.events["event_id"].iloc[0], "hedge", "earnings_hold"]
    ]


def test_unknown_instrument_is_a_config_error_naming_the_key(tmp_path):
    prices, _ = known_beta_market(tmp_path, beta=1.5)
    with pytest.raises(ConfigError, match=r"strategies\[0\]\.hedge\.instrument: no prices.*ZZZ"):
        run(tmp_path, prices, {"instrument": "ZZZ", "ratio": 1.0})


def test_unknown_hedge_key_is_rejected(tmp_path):
    prices, _ = known_beta_market(tmp_path, beta=1.5)
    with pytest.raises(ConfigError, match="ratios"):
        run(tmp_path, prices, {"instrument": "H", "ratios": 1.0})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ticker,hedge\nA,H\nB,H\n", r"map\.csv:3: ticker 'B' is not one of data\.tickers"),
        ("ticker,etf\nA,H\n", r"map\.csv:1: header must be 'ticker,hedge'"),
        ("ticker,hedge\nA,H\nA,H\n", r"map\.csv:3: ticker 'A' is mapped twice"),
        ("ticker,hedge\nA,not a ticker\n", r"map\.csv:2: hedge 'not a ticker' is not a ticker"),
    ],
)
def test_bad_map_csv_names_file_and_line(tmp_path, text, message):
    prices, _ = known_beta_market(tmp_path, beta=1.5)
    (tmp_path / "map.csv").write_text(text)
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, prices, {"map": "map.csv", "ratio": 1.0})


def test_map_csv_hedges_each_ticker_with_its_instrument(tmp_path):
    prices, _ = known_beta_market(tmp_path, beta=1.5)
    (tmp_path / "map.csv").write_text("ticker,hedge\nA,H\n")
    t = run(tmp_path, prices, {"map": "map.csv", "ratio": 0.8}).trades.iloc[0]
    assert t["hedge_instrument"] == "H" and t["hedge_ratio"] == 0.8


def test_a_sweep_of_a_hedged_strategy_prices_every_combination_hedged(tmp_path):
    """Without a hedge grid key every combination is hedged at the section's ratio, never
    silently unhedged (tests/test_sweep_hedge.py checks the returns against runs)."""
    from backtest.sweep.runner import run_sweep
    from tests.test_sweep import NOW, sweep_config

    data = sweep_config(tmp_path, {"hold_sessions": [1, 2]})
    data["strategies"][0]["hedge"] = {"instrument": "SPY", "ratio": 1.0}
    hedged = run_sweep(load_config(write_config(tmp_path, data)), now=NOW).table
    del data["strategies"][0]["hedge"]
    plain = run_sweep(load_config(write_config(tmp_path, data)), now=NOW).table
    assert set(hedged["hedge"]) == {"1"} and "hedge" not in plain
    assert (hedged["n_trades"] == plain["n_trades"]).all()
    assert (hedged["mean_trade_return"] != plain["mean_trade_return"]).all()
