"""Execution rules (:mod:`backtest.engine.rules`) on hand-checkable numbers, and kept in one place.

Each rule is checked on geometric prices (session ``i`` at ``100 * 1.01**i``)
where the expected fill, fee, level or exit can be worked out by hand. The
stop rule is also checked against vectorbt's own stop machinery
(``sl_stop``/``tp_stop`` with ``stop_exit_price="stopmarket"``), which the
engine no longer uses, so the rule is tested against an implementation it does
not share. The last tests keep each rule's arithmetic in its module.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd
import pytest

from backtest.core.errors import ConfigError
from backtest.core.timeline import TickPrices, build_timeline, tick_prices
from backtest.data.synthetic import geometric_prices
from backtest.engine.rules import (
    EXIT_REASONS,
    EngineSettings,
    apply_overlap,
    defaults,
    fee,
    fill_price,
    net_return,
    stop_fill,
    stop_levels,
    trade_exits,
)
from backtest.engine.rules.sizing import check_sizing
from backtest.engine.vectorbt import run_vectorbt
from tests.conftest import CAL, REPO

GROWTH = 1.01


def test_fills_slip_against_the_trader_on_both_sides():
    ref = 100 * GROWTH ** np.arange(3.0)
    # A buy pays 5 bps more, a sell receives 5 bps less; no slippage leaves the price.
    assert fill_price(ref, 1, 5.0).tolist() == pytest.approx((ref * 1.0005).tolist(), rel=1e-15)
    assert fill_price(ref, -1, 5.0).tolist() == pytest.approx((ref * 0.9995).tolist(), rel=1e-15)
    assert fill_price(ref, 1, 0.0) is ref


def test_fees_are_charged_on_each_fills_traded_value():
    assert fee(10_000.0, 10.0) == pytest.approx(10.0, rel=1e-15)
    assert fee(np.array([1_000.0, 2_500.0]), 4.0).tolist() == pytest.approx([0.4, 1.0], rel=1e-15)


@pytest.mark.parametrize("side", [1, -1])
def test_net_return_is_pnl_after_costs_over_the_entry_fill_value(side):
    ref_in, ref_out = 100.0, 100 * GROWTH**5  # held five sessions, close to close
    s, c = 5e-4, 1e-3
    f_in, f_out = ref_in * (1 + side * s), ref_out * (1 - side * s)
    by_hand = (side * (f_out - f_in) - c * (f_in + f_out)) / f_in
    got = net_return(np.array([ref_in]), np.array([ref_out]), np.array([side]), 5.0, 10.0)
    assert got[0] == pytest.approx(by_hand, rel=0, abs=1e-15)
    free = net_return(np.array([ref_in]), np.array([ref_out]), np.array([side]), 0.0, 0.0)
    assert free[0] == pytest.approx(side * (GROWTH**5 - 1), rel=0, abs=1e-15)


def test_stop_levels_are_measured_from_the_entry_fill_by_side():
    fill = np.array([100.05, 99.95])  # long and short entry fills at 100 with 5 bps slippage
    sl, tp = stop_levels(fill, np.array([1, -1]), 4.0, 10.0)
    assert sl.tolist() == pytest.approx([100.05 * 0.96, 99.95 * 1.04], rel=1e-15)
    assert tp.tolist() == pytest.approx([100.05 * 1.10, 99.95 * 0.90], rel=1e-15)


def test_a_gap_through_the_stop_fills_at_the_open_else_at_the_level():
    level = np.array([96.0])
    # Long stop at 96: touched inside [95, 99] -> 96; open 94 gapped through -> 94; missed -> NaN.
    assert stop_fill(level, 98.0, 99.0, 95.0, 1, adverse=True).tolist() == [96.0]
    assert stop_fill(level, 94.0, 95.0, 92.0, 1, adverse=True).tolist() == [94.0]
    assert np.isnan(stop_fill(level, 98.0, 99.0, 97.0, 1, adverse=True)).all()
    # Short stop at 104 (adverse is up): an open at 106 gaps through it.
    assert stop_fill(np.array([104.0]), 106.0, 107.0, 105.0, -1, adverse=True).tolist() == [106.0]
    # A long's take profit at 104 gapped through by an open at 105 fills at 105.
    assert stop_fill(np.array([104.0]), 105.0, 106.0, 104.5, 1, adverse=False).tolist() == [105.0]


def _one_ticker_bars(n_sessions: int = 8):
    """geometric_prices: session i closes at 100 * 1.01**i and opens 0.2 % above the previous close."""
    sessions = CAL.sessions_in_range("2026-01-02", "2026-03-31")[:n_sessions]
    frame = geometric_prices(sessions, growth=GROWTH - 1)
    timeline = build_timeline(CAL, sessions[0], sessions[-1])
    tp = tick_prices(frame, timeline)
    rows = TickPrices(tp.price[None], tp.open[None], tp.high[None], tp.low[None])
    return frame, timeline, rows


def test_time_exit_is_the_planned_tick_at_its_price():
    frame, _, rows = _one_ticker_bars()
    entry, planned = np.array([1]), np.array([9])  # close of session 0 -> close of session 4
    ex = trade_exits(
        rows.price, rows, np.array([0]), entry, planned, np.array([1]), rows.price[0, [1]]
    )
    assert ex.tick.tolist() == [9] and ex.reason.tolist() == [0]
    assert ex.ref[0] == pytest.approx(float(frame["close"].iloc[4]), rel=1e-15)


def test_a_stop_on_the_planned_exit_tick_takes_priority_over_the_time_exit():
    frame, _, rows = _one_ticker_bars()
    side, entry, planned = np.array([-1]), np.array([1]), np.array([3])  # short, one session
    entry_ref = rows.price[0, [1]]
    # Short from close 100. Session 1 opens at 100.2 (below the 0.5 % stop at 100.5: no gap,
    # and the open tick sees only the open), then its high 101 * 1.005 crosses the stop on
    # its close tick 3, the planned exit: the stop fills at its level, not the close.
    ex = trade_exits(rows.price, rows, np.array([0]), entry, planned, side, entry_ref, 0.0, 0.5)
    assert float(frame["open"].iloc[1]) == pytest.approx(100.2, rel=1e-15)
    assert EXIT_REASONS[ex.reason[0]] == "stop_loss" and ex.tick.tolist() == [3]
    assert ex.ref[0] == pytest.approx(100.5, rel=1e-15)
    # A 0.1 % stop (100.1) is gapped through by that 100.2 open: filled at the open, tick 2.
    ex = trade_exits(rows.price, rows, np.array([0]), entry, planned, side, entry_ref, 0.0, 0.1)
    assert ex.tick.tolist() == [2] and ex.ref[0] == pytest.approx(100.2, rel=1e-15)


def test_sizing_default_is_the_configs_in_one_place():
    from backtest.config.model import EngineConfig

    config = EngineConfig()
    settings = EngineSettings()
    assert (settings.sizing, settings.size) == (config.sizing.mode, config.sizing.value)
    assert (settings.sizing, settings.size) == (defaults.DEFAULT_SIZING, defaults.DEFAULT_SIZE)
    assert (settings.fees_bps, settings.slippage_bps, settings.init_cash) == (
        config.fees_bps,
        config.slippage_bps,
        config.init_cash,
    )
    with pytest.raises(ConfigError, match="sizing"):
        check_sizing("kelly")


def test_overlap_policies_on_three_windows():
    # A: ticks 10-15; B enters inside A (14-19); C enters at B's very fill (14-22); D after all.
    entry, exit_ = np.array([[10, 14, 14, 30]]), np.array([[15, 19, 22, 31]])
    args = (entry, exit_, np.ones((1, 4), bool), np.zeros(4, int), np.arange(4))
    assert apply_overlap("skip", *args)[0].tolist() == [[False, True, True, False]]
    assert apply_overlap("allow", *args)[0].tolist() == [[False] * 4]
    dropped, cut = apply_overlap("truncate", *args)
    assert dropped.tolist() == [[False, False, True, False]]
    assert cut.tolist() == [[14, 19, 22, 31]]
    with pytest.raises(ConfigError, match="events.overlap"):
        apply_overlap("merge", *args)


def _native_vectorbt_stops(signals, prices, timeline, settings) -> pd.DataFrame:
    """The trades vectorbt's own stop machinery makes (the engine's former adapter)."""
    import vectorbt as vbt

    tp = tick_prices(prices["A"], timeline)
    n, cols = len(timeline.ticks), len(signals)
    entries, exits = np.zeros((n, cols), bool), np.zeros((n, cols), bool)
    ticks = {t: i for i, t in enumerate(timeline.ticks)}
    for j, row in enumerate(signals.itertuples(index=False)):
        entries[2 * timeline.sessions.get_loc(row.entry_session) + (row.entry_at == "close"), j] = 1
        exits[2 * timeline.sessions.get_loc(row.exit_session) + (row.exit_at == "close"), j] = 1
    wide = {
        k: np.repeat(getattr(tp, k)[:, None], cols, axis=1)
        for k in ("price", "open", "high", "low")
    }
    pf = vbt.Portfolio.from_signals(
        close=pd.DataFrame(wide["price"], index=timeline.ticks),
        entries=entries,
        exits=exits,
        price=wide["price"],
        open=wide["open"],
        high=wide["high"],
        low=wide["low"],
        direction=np.where(signals["side"].to_numpy() > 0, 0, 1)[None, :],
        fees=settings.fees_bps / 10_000,
        slippage=settings.slippage_bps / 10_000,
        sl_stop=(settings.stop_loss_pct or np.inf) / 100,
        tp_stop=(settings.take_profit_pct or np.inf) / 100,
        stop_entry_price="fillprice",
        stop_exit_price="stopmarket",
        size=settings.size,
        size_type="value",
        init_cash=settings.init_cash,
        cash_sharing=True,
        group_by=np.zeros(cols, dtype=int),
        accumulate=False,
        engine="rust",
        freq=None,
    )
    del ticks
    rec = pf.trades.values
    return pd.DataFrame(
        {"col": rec["col"], "exit_idx": rec["exit_idx"], "exit_price": rec["exit_price"],
         "net_return": rec["return"]}
    ).sort_values("col")  # fmt: skip


@pytest.mark.parametrize(("sl", "tp"), [(1.0, None), (None, 1.5), (0.8, 2.0)])
def test_stops_match_vectorbts_own_stop_machinery(sl, tp):
    """The rule vs an implementation it does not share: vectorbt's sl_stop / tp_stop."""
    sessions = CAL.sessions_in_range("2025-06-02", "2025-12-31")
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, len(sessions))))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.006, len(sessions)))
    frame = pd.DataFrame(
        {"open": open_, "close": close,
         "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, len(sessions))),
         "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, len(sessions)))},
        index=sessions,
    )  # fmt: skip
    starts = np.arange(2, len(sessions) - 12, 3)
    signals = pd.DataFrame(
        {
            "strategy": "s",
            "event_id": [f"e{i:03d}" for i in range(len(starts))],
            "ticker": "A",
            "side": np.where(np.arange(len(starts)) % 2, -1, 1),
            "entry_session": sessions[starts],
            "entry_at": np.where(starts % 2, "open", "close"),
            "exit_session": sessions[starts + 8],
            "exit_at": "close",
        }
    )
    prices = {"A": frame}
    timeline = build_timeline(CAL, sessions[0], sessions[-1])
    settings = EngineSettings(
        fees_bps=10, slippage_bps=5, sizing="fixed", size=1000, init_cash=1e12,
        stop_loss_pct=sl, take_profit_pct=tp,
    )  # fmt: skip
    ours = run_vectorbt(signals, prices, timeline, settings).trades
    native = _native_vectorbt_stops(signals, prices, timeline, settings)
    assert len(ours) == len(native) == len(signals)  # 0 missing, 0 extra
    ours = ours.set_index("event_id").loc[signals["event_id"]]
    assert np.array_equal(ours["exit_time"].to_numpy(), timeline.ticks[native["exit_idx"]])
    assert np.max(np.abs(ours["exit_price"].to_numpy() - native["exit_price"].to_numpy())) <= 1e-9
    assert np.max(np.abs(ours["net_return"].to_numpy() - native["net_return"].to_numpy())) <= 1e-12
    assert (ours["exit_reason"] != "time").sum() >= 5  # the stops really fired


# --- each rule written once -----------------------------------------------------------------

PACKAGE = REPO / "backtest"
RULES = PACKAGE / "engine" / "rules"


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.read_text()


def test_bps_arithmetic_lives_only_in_the_costs_rule():
    """Slippage and fee arithmetic (``* BPS``, ``bps / 10_000``, ``1e-4``) is written once."""
    pattern = re.compile(r"\bBPS\b|bps\s*[*/]|[*/]\s*\w*bps\b|\b1e-4\b|\b10_?000\b")
    allowed = {
        RULES / "costs.py",
        RULES / "trade_costs.py",  # the cost models (spread, borrow, impact) on top of costs.py
        RULES / "__init__.py",  # re-exports BPS
        PACKAGE / "data" / "validate.py",  # RANGE_TOLERANCE = 1e-4, a price tolerance
    }
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path, text in _sources()
        if path not in allowed
        for n, line in enumerate(text.splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == [], found


def test_no_engine_hands_vectorbt_its_own_slippage_or_stops():
    """vectorbt keeps the books only: fills, stops and slippage come from the rules."""
    for path, text in _sources():
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in {"slippage", "sl_stop", "tp_stop"}:
                raise AssertionError(f"{path.relative_to(REPO)}:{node.lineno}: {node.arg}=")


def test_each_rule_function_is_defined_once_in_the_rules_package():
    rules = {
        "fill_price", "fee", "net_return", "stop_levels", "stop_fill", "trade_exits",
        "book_sizes", "apply_overlap", "skip_overlaps", "truncate_overlaps",
        "cap_limit", "vol_target_pct", "vol_target_sizes", "cost_terms", "check_fill_prices",
    }  # fmt: skip
    where: dict[str, list[str]] = {}
    for path, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                name = node.name.lstrip("_")
                if name in rules or name in {"overlaps", "same_entry", "first_stop", "hit",
                                             "slipped", "stop_levels"}:  # fmt: skip
                    where.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert set(rules) <= set(where)
    for name, paths in where.items():
        assert len(paths) == 1 and paths[0].startswith("backtest/engine/rules/"), (name, paths)
