"""Engine invariants over every registered strategy (issue 6.3; RELIABILITY I10, I11, I7, I14).

Hypothesis draws a random-walk market and events; each registered strategy
turns them into signals and the vectorbt engine simulates them. Properties:

* fees never increase returns (I11), trade by trade and in total;
* the account only moves while a position is open (nothing held before entry
  or after exit, I7);
* the equity curve reconciles with cash plus the P&L of the trades, computed
  here from fill prices, sizes and fees (I10);
* splitting the backtest period in two and stitching gives the same trades.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.config.model import load_config
from backtest.core.timeline import build_timeline
from backtest.engine.simulate import EngineSettings
from backtest.events.align import align_events
from backtest.run.pipeline import run_strategy, simulate_run
from backtest.run.runner import run_loaded
from backtest.strategy.signals import MarketView, registered_strategies
from tests.conftest import CAL, SESSIONS, write_config, write_prices
from tests.test_invariants import PARAMS, SAME_DAY, events_st, make_events, random_walk

FAR = pd.Timestamp("2200-01-01", tz="UTC")
FIXED = {"sizing": "fixed", "size": 1000.0, "init_cash": 100_000.0}


def strategy_runs(
    prices: pd.DataFrame, events: pd.DataFrame, overlap: str = "skip", suspect=None
) -> list:
    aligned, _ = align_events(events, {"A": prices}, CAL, now=FAR, dedupe_days=SAME_DAY)
    market = MarketView({"A": prices}, CAL, suspect)
    runs = []
    for name, spec in sorted(registered_strategies().items()):
        cfg = SimpleNamespace(name=name, label=None, params=spec.params(**PARAMS.get(name, {})))
        runs.append(run_strategy(cfg, aligned, market, overlap))
    return runs


def simulated(prices, events, suspect=None, overlap="skip", **engine) -> dict:
    """Each registered strategy's engine result; ``suspect``: validation's suspect splits."""
    timeline = build_timeline(CAL, SESSIONS[0], SESSIONS[-1])
    settings_ = EngineSettings(**{**FIXED, **engine})
    return {
        r.name: simulate_run(r, {"A": prices}, timeline, settings_).result
        for r in strategy_runs(prices, events, overlap, suspect)
    }


market_st = st.tuples(st.integers(0, 10_000), events_st)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=market_st,
    fees=st.tuples(st.floats(0, 50), st.floats(0, 50)),
    slip=st.tuples(st.floats(0, 50), st.floats(0, 50)),
)
def test_fees_and_slippage_never_increase_returns(drawn, fees, slip):
    prices, events = random_walk(drawn[0]), make_events(*map(list, zip(*drawn[1], strict=True)))
    cheap = simulated(prices, events, fees_bps=min(fees), slippage_bps=min(slip))
    dear = simulated(prices, events, fees_bps=max(fees), slippage_bps=max(slip))
    for name, low in cheap.items():
        high = dear[name]
        assert high.trades["event_id"].tolist() == low.trades["event_id"].tolist(), name
        assert (high.trades["net_return"] <= low.trades["net_return"] + 1e-12).all(), name
        assert high.equity.iloc[-1] <= low.equity.iloc[-1] + 1e-9, name


def open_during(trades: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    return bool(((trades["entry_time"] <= end) & (trades["exit_time"] > start)).any())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=market_st, fees=st.floats(0, 30))
def test_equity_moves_only_while_a_position_is_open_and_reconciles_with_trades(drawn, fees):
    prices, events = random_walk(drawn[0]), make_events(*map(list, zip(*drawn[1], strict=True)))
    closes = CAL.closes.reindex(SESSIONS)
    for name, res in simulated(prices, events, fees_bps=fees, slippage_bps=fees / 2).items():
        trades = res.trades
        pnl = trades["side"] * trades["size"] * (trades["exit_price"] - trades["entry_price"])
        pnl = pnl - trades["fees"]
        for i in range(1, len(SESSIONS)):
            if not open_during(trades, closes.iloc[i - 1], closes.iloc[i]):
                assert res.equity.iloc[i] == np.float64(res.equity.iloc[i - 1]), (name, i)
                done = pnl[trades["exit_time"] <= closes.iloc[i]].sum()
                assert abs(res.equity.iloc[i] - (FIXED["init_cash"] + done)) < 1e-6, (name, i)


def split_config(folder: Path, start: str | None, end: str | None) -> Path:
    events = [
        {
            "ticker": "A",
            "event_type": "news",
            "time": f"{d}T08:00:00",
            "timezone": "America/New_York",
            "move_pct": m,
        }
        for d, m in NEWS_DAYS
    ]
    events += [
        {"ticker": "A", "event_type": "earnings", "time": d, "timing": t} for d, t in EARNINGS_DAYS
    ]
    strategies = [
        {"name": n, "params": PARAMS.get(n, {})}
        for n in sorted(registered_strategies())
        if n in ("earnings_hold", "news_momentum")
    ]
    data = {
        "data": {
            "source": "files",
            "path": str(folder / "prices"),
            "tickers": ["A"],
            "start": start,
            "end": end,
        },
        "events": {
            "sources": [{"type": "inline", "events": events}],
            "max_drop_pct": 100,
            "overlap": "allow",
        },
        "strategies": strategies,
        "engine": {"fees_bps": 5, "slippage_bps": 2, "sizing": {"mode": "fixed", "value": 1000}},
        "benchmarks": ["A"],
        "output": {"charts": False},
    }
    sub = folder / f"{start}-{end}"
    sub.mkdir()
    return write_config(sub, data)


NEWS_DAYS = [("2026-01-07", 4), ("2026-01-21", -3), ("2026-02-04", 6), ("2026-03-04", -5)]
EARNINGS_DAYS = [("2026-01-28", "amc"), ("2026-02-11", "bmo"), ("2026-03-11", "unknown")]


@pytest.mark.parametrize(("seed", "cut"), [(0, 10), (7, 24), (42, 37)])
def test_splitting_the_period_and_stitching_gives_the_same_trades(seed, cut):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_prices(folder / "prices", {"A": random_walk(seed).rename_axis("date")})
        mid, after = str(SESSIONS[cut].date()), str(SESSIONS[cut + 1].date())
        first, last = str(SESSIONS[0].date()), str(SESSIONS[-1].date())
        whole = run_loaded(load_config(split_config(folder, first, last)), FAR).trades
        halves = [
            run_loaded(load_config(split_config(folder, a, b)), FAR).trades
            for a, b in ((first, mid), (after, last))
        ]
    cols = [
        "strategy",
        "event_id",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "net_return",
    ]
    stitched = (
        pd.concat(halves, ignore_index=True)[cols].sort_values(cols[:2]).reset_index(drop=True)
    )
    whole = whole[cols].sort_values(cols[:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(whole, stitched, check_dtype=False)
    assert len(whole) > 0
