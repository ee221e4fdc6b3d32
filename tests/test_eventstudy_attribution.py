"""Per-trade overnight / intraday attribution: hand values on geometric prices, and the
reconciliation with the engine's gross returns on a real run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.sessions import get_calendar, session_instant
from backtest.data.synthetic import geometric_prices
from backtest.eventstudy import attribute_trades, extreme_events, run_event_study
from backtest.run.runner import run_loaded
from tests.conftest import REPO, SESSIONS

CAL = get_calendar("XNYS")
GROWTH, GAP = 0.01, 0.002


def _trade(side, entry, entry_at, exit_, exit_at, gross, event_id="e", reason="time"):
    return {
        "strategy": "s",
        "event_id": event_id,
        "ticker": "A",
        "side": side,
        "entry_time": session_instant(CAL, SESSIONS[entry], entry_at),
        "exit_time": session_instant(CAL, SESSIONS[exit_], exit_at),
        "gross_return": gross,
        "net_return": gross - 0.001,
        "exit_reason": reason,
    }


def test_geometric_prices_by_hand():
    # close_i = 100 * 1.01^i, open_i = close_{i-1} * 1.002, so every gap is +0.2% and every
    # session's open -> close is 1.01 / 1.002.
    prices = {"A": geometric_prices(SESSIONS, growth=GROWTH, gap=GAP)}
    long_gross = 1.01**3 / 1.002 - 1  # open of 5 -> close of 7: close_7 / open_5
    short_gross = -(1.01**2 * 1.002 - 1)  # close of 5 -> open of 8: open_8 / close_5
    trades = pd.DataFrame(
        [
            _trade(1, 5, "open", 7, "close", long_gross),
            _trade(-1, 5, "close", 8, "open", short_gross),
        ]
    )
    out = attribute_trades(trades, prices)
    # Long: gaps into sessions 6 and 7; intraday moves of sessions 5, 6, 7
    assert out.loc[0, ["n_overnight", "n_intraday"]].tolist() == [2, 3]
    assert out.loc[0, "overnight_return"] == pytest.approx(1.002**2 - 1, rel=1e-12)
    assert out.loc[0, "intraday_return"] == pytest.approx((1.01 / 1.002) ** 3 - 1, rel=1e-12)
    # Short: gaps into 6, 7, 8; intraday moves of 6 and 7
    assert out.loc[1, ["n_overnight", "n_intraday"]].tolist() == [3, 2]
    assert out.loc[1, "overnight_return"] == pytest.approx(1.002**3 - 1, rel=1e-12)
    assert out.loc[1, "intraday_return"] == pytest.approx((1.01 / 1.002) ** 2 - 1, rel=1e-12)
    recon = out["side"] * ((1 + out["overnight_return"]) * (1 + out["intraday_return"]) - 1)
    np.testing.assert_allclose(recon, out["gross_return"], rtol=1e-12)
    np.testing.assert_allclose(out["cost_return"], -0.001, rtol=1e-9)


def test_stop_exit_ends_at_the_stop_level():
    prices = {"A": geometric_prices(SESSIONS, growth=GROWTH, gap=GAP)}
    # A stop filled at open_5 * 1.003 inside session 5: one intraday move of +0.3%.
    out = attribute_trades(
        pd.DataFrame([_trade(1, 5, "open", 5, "close", 0.003, reason="take_profit")]), prices
    )
    assert out.loc[0, "intraday_return"] == pytest.approx(0.003, rel=1e-12)
    assert out.loc[0, "overnight_return"] == 0.0


def test_unknown_ticker_or_time_is_kept_with_a_note():
    prices = {"A": geometric_prices(SESSIONS, growth=GROWTH, gap=GAP)}
    odd = _trade(1, 5, "open", 7, "close", 0.0, event_id="odd")
    odd["entry_time"] += pd.Timedelta(minutes=5)
    other = dict(_trade(1, 5, "open", 7, "close", 0.0, event_id="b"), ticker="B")
    out = attribute_trades(pd.DataFrame([odd, other]), prices)
    assert len(out) == 2 and out["overnight_return"].isna().all()
    assert (
        "not a session open or close" in out.loc[0, "note"]
        and out.loc[1, "note"] == "no prices for ticker B"
    )


@pytest.fixture(scope="module")
def real_run():
    loaded = load_config(
        REPO / "configs" / "baba_2026.yaml", ["strategies.1.params.hold_sessions=5"]
    )
    return run_loaded(loaded, now=pd.Timestamp("2026-07-24", tz="UTC"))


def test_reconciles_with_engine_gross_returns(real_run):
    trades = real_run.trades
    out = attribute_trades(trades, real_run.prices)
    assert len(out) == len(trades) >= 3 and (out["note"] == "").all()
    assert (out["n_overnight"] >= 1).any()
    recon = out["side"] * ((1 + out["overnight_return"]) * (1 + out["intraday_return"]) - 1)
    np.testing.assert_allclose(recon, trades["gross_return"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        out["cost_return"], trades["net_return"] - trades["gross_return"], rtol=1e-12
    )


def test_study_carries_attribution_and_extremes(real_run):
    prices = {"BABA": real_run.prices["BABA"]}
    result = run_event_study(
        real_run.events, prices, real_run.prices["SPY"], trades=real_run.trades
    )
    assert len(result.attribution) == len(real_run.trades)
    ext = extreme_events(result.attribution, 1)
    for strategy, group in result.attribution.groupby("strategy"):
        mine = ext[ext["strategy"] == strategy]
        assert (
            mine.loc[mine["rank"] == "worst 1", "net_return"].iloc[0] == group["net_return"].min()
        )
        assert mine.loc[mine["rank"] == "best 1", "net_return"].iloc[0] == group["net_return"].max()
