"""Portfolio caps and sizing (backtest.engine.portfolio): counts, weights, order, no look-ahead.

Every expected value is derived by hand: caps count positions of ``position_pct``
each, and on zero-cost runs an entry's value is ``size * price``, which the
sizing makes ``position_pct`` of the equity the open positions were sized on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.config.model import PortfolioConfig, load_config
from backtest.core.errors import ConfigError
from backtest.core.timeline import build_timeline
from backtest.data.synthetic import geometric_prices
from backtest.engine.portfolio import PORTFOLIO_REASONS, PortfolioCaps, apply_portfolio_caps
from backtest.engine.rules import EngineSettings
from backtest.engine.vectorbt import run_vectorbt
from backtest.run.runner import run, run_loaded
from backtest.run.verify import verify_results
from backtest.sweep.runner import PORTFOLIO_NOTE, run_sweep
from tests.conftest import CAL, REPO, SESSIONS, write_config, write_prices

DAYS = pd.bdate_range("2026-01-05", periods=40)  # pure cap tests need dates only
FLAT = {"fees_bps": 0, "slippage_bps": 0}
RANK = {"open": 0, "close": 1}


def signal(event_id, ticker, entry, entry_at, exit_, exit_at, side=1) -> dict:
    """One signal row; ``entry``/``exit_`` index DAYS (or SESSIONS via ``sessions``)."""
    return {
        "strategy": "s",
        "event_id": event_id,
        "ticker": ticker,
        "side": side,
        "entry_session": DAYS[entry],
        "entry_at": entry_at,
        "exit_session": DAYS[exit_],
        "exit_at": exit_at,
    }


def table(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def verdicts(signals: pd.DataFrame, caps: PortfolioCaps) -> dict[str, str]:
    """event_id -> "kept" or the drop reason; every signal must get exactly one."""
    kept, drops = apply_portfolio_caps(signals, caps)
    out = dict.fromkeys(kept["event_id"], "kept")
    for row in drops.itertuples(index=False):
        assert row.event_id not in out
        out[row.event_id] = row.reason
    assert sorted(out) == sorted(signals["event_id"])  # nothing dropped silently
    return out


# --- the caps, one at a time, on the signal table ---------------------------------


def test_positions_cap_keeps_the_first_in_entry_then_event_id_order():
    rows = [signal(f"e{i}", f"T{i}", 1, "open", 3, "close") for i in (3, 1, 2)]
    rows.append(signal("e0", "T0", 0, "close", 3, "close"))  # entered the session before
    got = verdicts(table(*rows), PortfolioCaps(max_positions=2, position_pct=10))
    assert got == {"e0": "kept", "e1": "kept", "e2": "portfolio_full", "e3": "portfolio_full"}


def test_name_cap_counts_overlapping_windows_in_one_name():
    rows = [
        signal("a1", "A", 0, "open", 5, "close"),
        signal("a2", "A", 1, "open", 5, "close"),  # overlaps a1 (events.overlap: allow)
        signal("a3", "A", 2, "open", 5, "close"),  # 3 x 5% > 10%
        signal("b1", "B", 2, "open", 5, "close"),
        signal("a4", "A", 6, "open", 8, "close"),  # a1..a3 closed at day 5's close
    ]
    caps = PortfolioCaps(max_positions=10, position_pct=5, max_name_pct=10)
    got = verdicts(table(*rows), caps)
    assert got == {
        "a1": "kept",
        "a2": "kept",
        "a3": "portfolio_name_cap",
        "b1": "kept",
        "a4": "kept",
    }


def test_gross_cap_counts_longs_and_shorts():
    rows = [
        signal("e1", "A", 0, "open", 4, "close", side=1),
        signal("e2", "B", 0, "open", 4, "close", side=-1),
        signal("e3", "C", 1, "open", 4, "close", side=1),  # 30 + 30 + 30 > 60
    ]
    caps = PortfolioCaps(max_positions=20, position_pct=30, max_name_pct=30, max_gross_pct=60)
    got = verdicts(table(*rows), caps)
    assert got == {"e1": "kept", "e2": "kept", "e3": "portfolio_gross_cap"}


def test_session_cap_counts_open_and_close_entries_of_one_session():
    rows = [
        signal("e1", "A", 2, "close", 6, "close"),
        signal("e2", "B", 2, "open", 6, "close"),
        signal("e3", "C", 2, "close", 6, "close"),  # third entry on day 2 (after e2 open, e1)
        signal("e4", "D", 3, "open", 6, "close"),  # a new session
    ]
    caps = PortfolioCaps(max_positions=20, max_new_per_session=2, position_pct=5)
    got = verdicts(table(*rows), caps)
    assert got == {"e1": "kept", "e2": "kept", "e3": "portfolio_session_cap", "e4": "kept"}


def test_an_exit_at_the_open_frees_room_for_a_later_entry_only():
    rows = [
        signal("a", "A", 0, "close", 2, "open"),  # held until day 2's open
        signal("b", "B", 2, "open", 4, "close"),  # same tick as a's exit: still full
        signal("c", "C", 2, "close", 4, "close"),  # day 2's close: a is gone
    ]
    got = verdicts(table(*rows), PortfolioCaps(max_positions=1, position_pct=10))
    assert got == {"a": "kept", "b": "portfolio_full", "c": "kept"}


def test_first_failing_cap_names_the_drop_and_detail_gives_the_numbers():
    rows = [signal("a", "A", 0, "open", 3, "close"), signal("b", "A", 0, "open", 3, "close")]
    caps = PortfolioCaps(max_positions=1, position_pct=10, max_name_pct=10)
    _, drops = apply_portfolio_caps(table(*rows), caps)
    assert drops[["event_id", "stage", "reason"]].values.tolist() == [
        ["b", "portfolio", "portfolio_full"]  # the positions cap is checked before the name cap
    ]
    assert drops["detail"].iloc[0] == "1 positions open, max_positions 1"


def test_no_signals_gives_an_empty_table_with_size_pct():
    empty = table(signal("a", "A", 0, "open", 1, "close")).iloc[:0]
    kept, drops = apply_portfolio_caps(empty, PortfolioCaps())
    assert kept.empty and "size_pct" in kept.columns and drops.empty


def test_input_is_not_mutated():
    sig = table(*[signal(f"e{i}", "A", i, "open", i + 1, "close") for i in (2, 0, 1)])
    before = sig.copy()
    apply_portfolio_caps(sig, PortfolioCaps(max_positions=1, position_pct=10))
    pd.testing.assert_frame_equal(sig, before)


# --- properties --------------------------------------------------------------------


@st.composite
def books(draw):
    """Random signals over 4 names and 12 days, and caps consistent with the config rules."""
    n = draw(st.integers(1, 30))
    rows = []
    for i in draw(st.permutations(range(n))):
        entry = draw(st.integers(0, 23))  # tick: 2 * day + (0 open, 1 close)
        exit_ = entry + draw(st.integers(1, 8))
        ticker, side = draw(st.sampled_from("ABCD")), draw(st.sampled_from([1, -1]))
        at = ("open", "close")
        rows.append(signal(f"e{i:02d}", ticker, entry // 2, at[entry % 2], exit_ // 2,
                           at[exit_ % 2], side))  # fmt: skip
    pct = draw(st.sampled_from([5.0, 10.0, 20.0, 25.0, 100 / 3]))
    caps = PortfolioCaps(
        max_positions=draw(st.integers(1, 6)),
        max_new_per_session=draw(st.none() | st.integers(1, 4)),
        position_pct=pct,
        max_name_pct=draw(st.floats(pct, 100.0)),
        max_gross_pct=draw(st.floats(pct, 100.0)),
    )
    return table(*rows), caps


def _tick(session, at) -> tuple:
    return (pd.Timestamp(session), RANK[at])


def _open_at(kept: pd.DataFrame, t: tuple) -> pd.DataFrame:
    starts = [_tick(s, a) for s, a in zip(kept["entry_session"], kept["entry_at"], strict=True)]
    ends = [_tick(s, a) for s, a in zip(kept["exit_session"], kept["exit_at"], strict=True)]
    mask = [a <= t <= b for a, b in zip(starts, ends, strict=True)]
    return kept[mask]


@settings(max_examples=150, deadline=None)
@given(books())
def test_caps_hold_at_every_tick(book):
    signals, caps = book
    kept, drops = apply_portfolio_caps(signals, caps)
    assert len(kept) + len(drops) == len(signals)
    assert set(drops["reason"]) <= set(PORTFOLIO_REASONS)
    assert ((kept["size_pct"] > 0) & (kept["size_pct"] <= 100 + 1e-9)).all()
    for t in {_tick(s, a) for s, a in zip(kept["entry_session"], kept["entry_at"], strict=True)}:
        held = _open_at(kept, t)
        assert len(held) <= caps.max_positions
        assert len(held) * caps.position_pct <= caps.max_gross_pct + 1e-9
        assert held["ticker"].value_counts().max() * caps.position_pct <= caps.max_name_pct + 1e-9
    if caps.max_new_per_session is not None and len(kept):
        assert kept["entry_session"].value_counts().max() <= caps.max_new_per_session


@settings(max_examples=150, deadline=None)
@given(books(), st.integers(0, 23), st.sampled_from("ABCD"))
def test_a_later_event_never_changes_an_earlier_decision(book, tick, ticker):
    """Look-ahead: a cap decision uses only signals entering (so decided) by its entry."""
    signals, caps = book
    at = ("open", "close")[tick % 2]
    late = signal("zz-late", ticker, tick // 2, at, tick // 2 + 2, "close")
    before = verdicts(signals, caps)
    after = verdicts(pd.concat([signals, table(late)], ignore_index=True), caps)
    late_tick = _tick(late["entry_session"], at)
    for row in signals.itertuples(index=False):
        if _tick(row.entry_session, row.entry_at) < late_tick:
            assert after[row.event_id] == before[row.event_id]
    # and decisions never depend on rows after them: a truncated table decides alike
    early = signals[[_tick(s, a) < late_tick for s, a in
                     zip(signals["entry_session"], signals["entry_at"], strict=True)]]  # fmt: skip
    if len(early):
        assert verdicts(early, caps) == {k: before[k] for k in early["event_id"]}


# --- sizing in the engine ----------------------------------------------------------


def _engine_run(rows: list[dict], prices: dict, caps: PortfolioCaps):
    kept, drops = apply_portfolio_caps(table(*rows), caps)
    timeline = build_timeline(CAL, SESSIONS[0], SESSIONS[-1])
    result = run_vectorbt(kept, prices, timeline, EngineSettings(**FLAT))
    trades = result.trades.assign(value=lambda t: t["size"] * t["entry_price"])
    return trades.set_index("event_id"), drops, result


def session_signal(event_id, ticker, entry, entry_at, exit_, exit_at, side=1) -> dict:
    row = signal(event_id, ticker, 0, entry_at, 0, exit_at, side)
    return {**row, "entry_session": SESSIONS[entry], "exit_session": SESSIONS[exit_]}


def test_longs_and_shorts_entering_together_each_get_position_pct_of_equity():
    """Zero costs, one tick: exact. Longs size off cash, shorts off free cash."""
    starts = {"A": 50.0, "B": 80.0, "C": 120.0, "D": 300.0}
    prices = {t: geometric_prices(SESSIONS, start=s) for t, s in starts.items()}
    rows = [
        session_signal("e1", "A", 3, "open", 6, "close", 1),
        session_signal("e2", "B", 3, "open", 6, "close", -1),
        session_signal("e3", "C", 3, "open", 6, "close", 1),
        session_signal("e4", "D", 3, "open", 6, "close", -1),
    ]
    trades, _, _ = _engine_run(rows, prices, PortfolioCaps(position_pct=10, max_name_pct=10))
    assert trades["value"].to_dict() == pytest.approx({e: 10_000.0 for e in trades.index})


def test_an_exit_and_an_entry_at_one_tick_size_after_the_exit():
    """Flat prices: equity stays 100 000, so each entry is exactly 10 000.

    At day 4's close the short B exits before C enters: C's size is 10 / (100 - 10)
    of the cash (A long open), not 10 / (100 - 10 + 10) as it would be with B open.
    """
    flat = geometric_prices(SESSIONS, growth=0.0, gap=0.0)
    prices = {"A": flat, "B": flat * 2, "C": flat * 3}
    rows = [
        session_signal("e1", "A", 1, "close", 8, "close", 1),
        session_signal("e2", "B", 1, "close", 4, "close", -1),
        session_signal("e3", "C", 4, "close", 8, "close", 1),
    ]
    trades, _, _ = _engine_run(rows, prices, PortfolioCaps(max_positions=3, position_pct=10))
    assert trades["value"].to_dict() == pytest.approx({"e1": 1e4, "e2": 1e4, "e3": 1e4})


def test_weights_are_exact_once_open_positions_have_moved():
    """A (10%) grows 1% a session; B enters 5 sessions later with 10% of the equity then.

    Equity is measured at the fill before B's entry (session 5's open): the
    90 000 cash plus A's shares marked at that open, so B's weight is exactly 10 %
    of it although A has moved since it was sized.
    """
    prices = {"A": geometric_prices(SESSIONS, growth=0.01), "B": geometric_prices(SESSIONS)}
    rows = [
        session_signal("e1", "A", 0, "close", 10, "close"),
        session_signal("e2", "B", 5, "close", 10, "close"),
    ]
    trades, _, result = _engine_run(rows, prices, PortfolioCaps(position_pct=10))
    a = prices["A"]
    a_before = 10_000.0 / a["close"].iloc[0] * a["open"].iloc[5]
    assert trades.loc["e2", "value"] == pytest.approx(0.1 * (90_000.0 + a_before), rel=1e-12)
    assert trades.loc["e2", "value"] > 10_000.0  # A gained: B is not sized on the cash


# --- end to end: config -> caps -> vectorbt ----------------------------------------

TICKERS = [f"T{i:02d}" for i in range(40)]


def season_config(prices: Path, **portfolio) -> dict:
    events = [
        {"ticker": t, "event_type": "earnings", "time": "2026-02-19", "timing": "bmo"}
        for t in TICKERS
    ]
    return {
        "name": "season",
        "data": {"source": "files", "path": str(prices), "tickers": TICKERS},
        "events": {"sources": [{"type": "inline", "events": events}], "max_drop_pct": 100},
        "strategies": [{"name": "earnings_hold", "params": {"entry_offset": 1, "side": "long"}}],
        "engine": FLAT,
        "portfolio": portfolio,
        "benchmarks": ["SPY"],
        "output": {"charts": False},
    }


@pytest.fixture(scope="module")
def season_prices(tmp_path_factory) -> Path:
    """40 names with different geometric prices (start 10, 12, ..., 88), SPY flat."""
    frames = {t: geometric_prices(SESSIONS, start=10.0 + 2 * i) for i, t in enumerate(TICKERS)}
    frames["SPY"] = geometric_prices(SESSIONS, growth=0.0, gap=0.0)
    return write_prices(tmp_path_factory.mktemp("season") / "prices", frames)


def test_forty_reports_on_one_day_give_ten_trades_of_ten_percent(tmp_path, season_prices):
    config = season_config(season_prices, max_positions=10, position_pct=10, max_name_pct=10)
    result = run_loaded(load_config(write_config(tmp_path, config)))
    trades, drops = result.trades, result.drops[result.drops["stage"] == "portfolio"]
    assert len(trades) == 10
    assert len(drops) == 30 and set(drops["reason"]) == {"portfolio_full"}
    ids = sorted(result.events["event_id"])
    assert sorted(trades["event_id"]) == ids[:10]  # one tick: taken in event_id order
    # all enter at 2026-02-18's close with nothing open: equity there is the initial cash
    assert set(trades["entry_time"]) == {pd.Timestamp("2026-02-18 21:00", tz="UTC")}
    assert (trades["size"] * trades["entry_price"]).tolist() == pytest.approx([10_000.0] * 10)


def test_a_portfolio_run_publishes_a_config_that_reproduces(tmp_path, season_prices):
    config = season_config(season_prices, max_positions=5, position_pct=20, max_name_pct=20)
    published = run(write_config(tmp_path, config), out_dir=tmp_path / "results")
    assert "sizing" not in (published.folder / "config.yaml").read_text()
    assert verify_results(published.folder).reproduces


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ({"sizing": {"mode": "percent", "value": 10}}, "engine.sizing must not be set"),
        ({"sizing": {"mode": "percent"}}, "engine.sizing must not be set"),  # any explicit key
        ({"engine": "reference"}, "the reference engine was removed"),
        ({"stop_loss_pct": 5}, "stop_loss_pct"),
    ],
)
def test_portfolio_conflicts_are_config_errors(tmp_path, season_prices, engine, message):
    config = season_config(season_prices)
    config["engine"] = {**config["engine"], **engine}
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write_config(tmp_path, config))


@pytest.mark.parametrize(
    ("portfolio", "message"),
    [
        ({"position_pct": 20, "max_name_pct": 10}, "max_name_pct 10 is below position_pct 20"),
        ({"max_gross_pct": 150}, "portfolio.max_gross_pct"),
        ({"max_positionz": 3}, "did you mean 'max_positions'"),
        ({"max_new_per_session": 0}, "portfolio.max_new_per_session"),
    ],
)
def test_bad_portfolio_sections_are_config_errors(tmp_path, season_prices, portfolio, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write_config(tmp_path, season_config(season_prices, **portfolio)))


def bundled_sweep(grid: dict) -> dict:
    return {
        "name": "sw",
        "data": {"source": "bundled", "tickers": ["AMZN", "BABA", "NFLX"], "start": "2018-01-01"},
        "events": {"sources": [{"type": "bundled_earnings"}]},
        "strategies": [{"name": "earnings_hold", "params": {"hold_sessions": 1}}],
        "portfolio": {"max_positions": 1, "position_pct": 10},
        "benchmarks": ["SPY"],
        "output": {"charts": False},
        "sweep": {"grid": grid, "min_trades": 1, "top_n": 0},
    }


def test_sweep_says_caps_are_not_applied(tmp_path):
    config = bundled_sweep({"hold_sessions": [1, 5]})
    loaded = load_config(write_config(tmp_path, config))
    result = run_sweep(loaded)
    assert result.summary["portfolio"] == PORTFOLIO_NOTE
    # with max_positions 1, 5-session holds collide in earnings season; the sweep counts all
    sets = ["sweep=null", "strategies.0.params.hold_sessions=5"]
    capped = run_loaded(load_config(loaded.path, sets))
    n_swept = result.table.set_index("hold_sessions").loc[5, "n_trades"]
    assert len(capped.trades) < n_swept
    capped_drops = (capped.drops["stage"] == "portfolio").sum()
    assert len(capped.trades) + capped_drops == n_swept


def test_sweeping_stops_with_a_portfolio_fails_before_any_work(tmp_path):
    config = bundled_sweep({"stop_loss_pct": [None, 4]})
    with pytest.raises(ConfigError, match="stop_loss_pct"):
        run_sweep(load_config(write_config(tmp_path, config)))


# --- the shipped configs -----------------------------------------------------------


def test_example_yaml_documents_every_portfolio_key():
    text = (REPO / "configs" / "example.yaml").read_text()
    assert "# portfolio:" in text
    assert [k for k in PortfolioConfig.model_fields if f"#   {k}:" not in text] == []


def test_earnings_season_config_runs_and_its_caps_bind():
    loaded = load_config(REPO / "configs" / "earnings_season.yaml")
    caps = loaded.config.portfolio
    result = run_loaded(loaded)
    reasons = set(result.drops.loc[result.drops["stage"] == "portfolio", "reason"])
    assert reasons and reasons <= set(PORTFOLIO_REASONS)
    trades = result.trades
    for t in trades["entry_time"]:
        held = trades[(trades["entry_time"] <= t) & (trades["exit_time"] >= t)]
        assert len(held) <= caps.max_positions
        assert held["ticker"].is_unique  # max_name_pct == position_pct: one per name


def test_the_section_is_in_the_run_id_only_when_given(tmp_path, season_prices):
    config = season_config(season_prices, max_positions=10, position_pct=10, max_name_pct=10)
    path = write_config(tmp_path, config)

    def run_id(*sets: str) -> str:
        return run_loaded(load_config(path, list(sets))).run_id

    capped = run_id()
    assert run_id("portfolio.max_positions=5") != capped
    assert run_id("portfolio=null", "engine.sizing.mode=fixed") != capped
