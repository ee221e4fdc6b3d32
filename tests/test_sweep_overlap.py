"""Sweeps apply ``events.overlap`` as ``backtest run`` does, per combination.

With ``skip`` (the default of both), an event entering at or before the planned
exit of the previous kept trade of its ticker does not trade; with ``allow``
every window trades; with ``truncate`` an event entering at the very fill of an
earlier one does not trade and every other trade closes no later than the next
entry of its ticker. Each combination of a sweep must keep exactly the events
the run's signal stage (:func:`backtest.run.pipeline.run_strategy`, i.e.
:func:`backtest.engine.rules.overlap.overlap_signals` and
:func:`backtest.engine.rules.overlap.truncate_signals`) keeps for those parameters, with the
vectorbt engine's net returns to 1e-12. Both call one rule,
:func:`backtest.engine.rules.overlap.apply_overlap`, which is checked here against the
row-by-row loops of tests/oracle_engine.py on random tables.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtest.core.errors import ConfigError
from backtest.core.timeline import build_timeline
from backtest.data.synthetic import geometric_prices
from backtest.engine.rules.overlap import (
    overlap_signals,
    skip_overlaps,
    truncate_overlaps,
    truncate_signals,
)
from backtest.engine.simulate import EngineSettings
from backtest.engine.vectorbt import run_vectorbt
from backtest.events.align import align_events
from backtest.run.pipeline import run_strategy
from backtest.strategy.signals import AT_RANK, MarketView, get_strategy
from backtest.sweep.evaluate import COST_KEYS, sweep_grid
from tests.conftest import CAL
from tests.oracle_engine import greedy_skip, same_entry, truncate_rows

NOW = pd.Timestamp("2026-11-25", tz="UTC")
SESSIONS = CAL.sessions_in_range("2025-06-02", "2026-03-31")
FEES = {"fees_bps": 10, "slippage_bps": 5}


def _events(rows: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    """Earnings events (event_id, ticker, session index, bmo|amc), known 30 days ahead."""
    times = [
        pd.Timestamp(SESSIONS[i]).tz_localize("America/New_York")
        + pd.Timedelta(hours=8 if timing == "bmo" else 16, minutes=30 if timing == "amc" else 0)
        for _, _, i, timing in rows
    ]
    utc = pd.to_datetime([t.tz_convert("UTC") for t in times])
    return pd.DataFrame(
        {
            "event_id": [r[0] for r in rows],
            "ticker": [r[1] for r in rows],
            "event_type": "earnings",
            "event_time": utc,
            "timing": [r[3] for r in rows],
            "known_at": utc - pd.Timedelta(days=30),
            "source": "test",
        }
    )


def _setup(rows) -> tuple[dict, pd.DataFrame]:
    prices = {
        "A": geometric_prices(SESSIONS, growth=0.01),
        "B": geometric_prices(SESSIONS, growth=-0.004, gap=-0.001),
    }
    aligned, drops = align_events(_events(rows), prices, CAL, now=NOW)
    assert drops.empty
    return prices, aligned


def _ten_apart() -> list[tuple[str, str, int, str]]:
    """Per ticker an event every ~10 sessions, ids out of time order, bmo and amc mixed."""
    rows = []
    for n in range(16):
        rows.append((f"A-{(7 * n) % 16:02d}", "A", 20 + 10 * n, "bmo" if n % 2 else "amc"))
        rows.append((f"B-{(5 * n) % 16:02d}", "B", 23 + 10 * n + n % 3, "amc" if n % 3 else "bmo"))
    return rows


def _run_trades(
    prices, aligned, combo: dict, overlap: str, strategy: str = "earnings_hold", suspect=None
) -> pd.DataFrame:
    """The trades ``backtest run`` makes for one combination: its signal stage, then vectorbt."""
    spec = get_strategy(strategy)
    params = spec.params(**{k: v for k, v in combo.items() if k not in COST_KEYS})
    cfg = SimpleNamespace(name=spec.name, label=None, params=params)
    signals = run_strategy(cfg, aligned, MarketView(prices, CAL, suspect), overlap).signals
    timeline = build_timeline(CAL, SESSIONS[0], SESSIONS[-1])
    costs = {k: combo[k] for k in COST_KEYS if k in combo and not pd.isna(combo[k])}
    settings = EngineSettings(sizing="fixed", size=1000, init_cash=1e12, **costs)
    return run_vectorbt(signals, prices, timeline, settings).trades.set_index("event_id")


GRID = {"entry_offset": [-1, 0, 2], "hold_sessions": [1, 5, 30], "side": ["long", "short"]}


@pytest.mark.parametrize("overlap", ["skip", "allow"])
def test_every_combination_keeps_the_events_and_returns_of_a_run(overlap):
    prices, aligned = _setup(_ten_apart())
    out = sweep_grid(prices, aligned, GRID, base=FEES, keep_returns=True, overlap=overlap)
    ids = out.events["event_id"].to_numpy()
    skipped_somewhere = False
    for i, combo in enumerate(out.table[list(GRID)].to_dict("records")):
        trades = _run_trades(prices, aligned, {**combo, **FEES}, overlap)
        traded = ~np.isnan(out.returns[i])
        assert sorted(ids[traded]) == sorted(trades.index)  # the same events kept
        got = out.returns[i][traded]
        want = trades.loc[ids[traded], "net_return"].to_numpy()
        assert np.max(np.abs(got - want)) <= 1e-12
        assert out.table.loc[i, "n_trades"] == len(trades)
        # Every event with a complete window trades unless skip drops it.
        complete = _run_trades(prices, aligned, {**combo, **FEES}, "allow")
        skipped_somewhere |= len(complete) > len(trades)
        if overlap == "allow":
            assert len(complete) == len(trades)
    # The grid produces overlaps (hold 30 on events 10 sessions apart), so skip bites.
    assert skipped_somewhere == (overlap == "skip")


def test_windows_across_a_suspect_split_are_left_out_as_a_run_drops_them():
    """RELIABILITY P9: a sweep prices no window a run drops as ``suspect_split``."""
    from backtest.data.splits import SuspectSplit

    prices, aligned = _setup(_ten_apart())
    jump = SESSIONS[75]  # inside some windows of every hold length, the guard of others
    suspect = {"A": [SuspectSplit("A", jump, 2.0, jump, "close", 0.5, 0.5, "missing_adjustment")]}
    out = sweep_grid(prices, aligned, GRID, base=FEES, keep_returns=True, suspect_splits=suspect)
    ids = out.events["event_id"].to_numpy()
    fewer = False
    for i, combo in enumerate(out.table[list(GRID)].to_dict("records")):
        trades = _run_trades(prices, aligned, {**combo, **FEES}, "skip", suspect=suspect)
        traded = ~np.isnan(out.returns[i])
        assert sorted(ids[traded]) == sorted(trades.index)
        fewer |= len(trades) < len(_run_trades(prices, aligned, {**combo, **FEES}, "skip"))
    assert fewer


def test_a_chain_of_overlaps_keeps_the_first_and_the_third():
    # A enters at the close of session 40 and holds 5 sessions (exit close 45); B enters
    # at 44 (inside A), exits at 49; C enters at 48: inside B, but B was skipped, so
    # C only has to clear A's exit and trades.
    rows = [("A-a", "A", 40, "bmo"), ("A-b", "A", 44, "bmo"), ("A-c", "A", 48, "bmo")]
    prices, aligned = _setup(rows)
    grid = {"entry_offset": [0], "hold_sessions": [5, 3]}
    skip = sweep_grid(prices, aligned, grid, keep_returns=True)  # skip is the default
    allow = sweep_grid(prices, aligned, grid, keep_returns=True, overlap="allow")
    assert skip.events["event_id"].tolist() == ["A-a", "A-b", "A-c"]
    assert (~np.isnan(skip.returns)).tolist() == [[True, False, True], [True, True, True]]
    assert (~np.isnan(allow.returns)).all()
    np.testing.assert_array_equal(skip.returns[1], allow.returns[1])
    for i, hold in enumerate(grid["hold_sessions"]):
        trades = _run_trades(prices, aligned, {"entry_offset": 0, "hold_sessions": hold}, "skip")
        assert sorted(trades.index) == sorted(skip.events["event_id"][~np.isnan(skip.returns[i])])
    # Hold 4: A exits at the very close B enters at (at or before its exit: skipped).
    touch = sweep_grid(
        prices, aligned, {"entry_offset": [0], "hold_sessions": [4]}, keep_returns=True
    )
    assert (~np.isnan(touch.returns)).tolist() == [[True, False, True]]


def test_an_unknown_overlap_is_refused_by_sweep_grid():
    prices, aligned = _setup([("A-a", "A", 40, "bmo")])
    with pytest.raises(ConfigError, match="events.overlap must be one of skip, allow, truncate"):
        sweep_grid(prices, aligned, {"hold_sessions": [1]}, overlap="cut")


# Stops on the geometric series: A rises 1% a session, so a long reaches +3% within a
# truncated hold of ~10 sessions but +15% only after ~14 (past the cut); B falls, so a
# long there and a short on A hit the 4% stop loss.
STOP_GRID = {
    "entry_offset": [-1, 2],
    "hold_sessions": [1, 5, 30],
    "side": ["long", "short"],
    "stop_loss_pct": [None, 4],
    "take_profit_pct": [None, 3, 15],
}


def test_truncate_every_combination_keeps_the_events_and_returns_of_a_run():
    """Per combination, with stops and targets: the run's kept events, net returns, exits."""
    prices, aligned = _setup(_ten_apart())
    out = sweep_grid(prices, aligned, STOP_GRID, base=FEES, keep_returns=True, overlap="truncate")
    allow = sweep_grid(prices, aligned, STOP_GRID, base=FEES, keep_returns=True, overlap="allow")
    ids = out.events["event_id"].to_numpy()
    reasons = set()
    for i, combo in enumerate(out.table[list(STOP_GRID)].to_dict("records")):
        trades = _run_trades(prices, aligned, {**combo, **FEES}, "truncate")
        traded = ~np.isnan(out.returns[i])
        assert sorted(ids[traded]) == sorted(trades.index)  # the same events kept
        got = out.returns[i][traded]
        want = trades.loc[ids[traded], "net_return"].to_numpy()
        assert np.max(np.abs(got - want)) <= 1e-12
        assert out.table.loc[i, "n_trades"] == len(trades)
        cut = trades["exit_reason"] == "truncated"
        reasons |= set(trades["exit_reason"])
        # Truncation shortens trades (never drops one here: no two entries share a fill).
        assert traded.tolist() == (~np.isnan(allow.returns[i])).tolist()
        differs = np.abs(out.returns[i][traded] - allow.returns[i][traded]) > 1e-12
        assert set(ids[traded][differs]) <= set(trades.index[cut])  # stops before a cut agree
        stops = combo["stop_loss_pct"] or combo["take_profit_pct"]
        if combo["hold_sessions"] < 30:  # windows shorter than the gaps: nothing to cut
            assert not cut.any() and not differs.any()
        elif not stops or (combo["side"] == "long" and combo["take_profit_pct"] == 15):
            # Cut at the next entry; a +15% target would only come after the cut.
            assert cut.any() and differs.any()
    assert {"truncated", "stop_loss", "take_profit", "time"} <= reasons


def test_a_trade_entering_at_the_fill_of_an_earlier_one_does_not_trade():
    """Two pre-market articles fill at one open: the first by event_id trades, cut by the third."""
    rows = [("N-b", "2025-09-03 07:00"), ("N-a", "2025-09-03 08:42"), ("N-c", "2025-09-05 10:00")]
    times = pd.to_datetime(
        [pd.Timestamp(t, tz="America/New_York").tz_convert("UTC") for _, t in rows]
    )
    events = pd.DataFrame(
        {
            "event_id": [r[0] for r in rows],
            "ticker": "A",
            "event_type": "news",
            "event_time": times,
            "timing": "intraday",
            "known_at": times,
            "source": "test",
            "move_pct": 3.0,
        }
    )
    prices = {"A": geometric_prices(SESSIONS, growth=0.01)}
    aligned, drops = align_events(events, prices, CAL, now=NOW)
    assert drops.empty
    grid = {"hold_sessions": [1, 5]}
    out = sweep_grid(
        prices, aligned, grid, "news_momentum", base=FEES, keep_returns=True, overlap="truncate"
    )
    assert out.events["event_id"].tolist() == ["N-b", "N-a", "N-c"]
    assert (~np.isnan(out.returns)).tolist() == [[False, True, True], [False, True, True]]
    for i, hold in enumerate(grid["hold_sessions"]):
        combo = {"hold_sessions": hold, **FEES}
        trades = _run_trades(prices, aligned, combo, "truncate", "news_momentum")
        assert sorted(trades.index) == ["N-a", "N-c"]
        assert trades.loc["N-a", "exit_reason"] == ("truncated" if hold == 5 else "time")
        want = trades.loc[["N-a", "N-c"], "net_return"].to_numpy()
        assert np.max(np.abs(out.returns[i, 1:] - want)) <= 1e-12
    # With allow both fills trade, with skip the later one overlaps.
    allow = sweep_grid(prices, aligned, grid, "news_momentum", keep_returns=True, overlap="allow")
    assert (~np.isnan(allow.returns)).all()


def _signals(rng, n: int, entry=None, longest: int = 12) -> pd.DataFrame:
    """Random windows of three tickers, same-session entries included."""
    entry = rng.integers(0, 60, n) if entry is None else entry
    exit_ = entry + rng.integers(1, longest, n)
    days = pd.date_range("2026-01-01", periods=200, freq="D")
    return pd.DataFrame(
        {
            "event_id": [f"e{v:03d}" for v in rng.permutation(n)],
            "ticker": rng.choice(["X", "Y", "Z"], n),
            "entry_session": days[entry // 2],
            "entry_at": np.where(entry % 2, "close", "open"),
            "exit_session": days[exit_ // 2],
            "exit_at": np.where(exit_ % 2, "close", "open"),
        }
    )


@pytest.mark.parametrize("shifted", [False, True])
def test_skip_overlaps_is_the_runs_greedy_rule_on_random_windows(shifted):
    """Array rule vs the row loop (:func:`tests.oracle_engine.greedy_skip`), 200 random tables.

    Rows stacked as combinations, with some cells not usable (no trade): the rule
    must ignore those, and tie entries in one session by event_id as the run does.
    ``shifted``: every row's entries are the first row's moved by a constant (a
    grid over entry offsets), windows sometimes all shorter than the gaps between
    entries (the shortcut that skips the walk).
    """
    rng = np.random.default_rng(7)
    for case in range(50):
        if shifted:
            base = np.cumsum(rng.integers(1 + 4 * (case % 2), 8, 25))
            longest = 3 if case % 2 else 12
            tables = [_signals(rng, 25, base + 2 * s + s % 2, longest) for s in range(4)]
        else:
            tables = [_signals(rng, 25) for _ in range(4)]
        ids = tables[0]["event_id"].to_numpy()
        tables = [t.assign(event_id=ids, ticker=tables[0]["ticker"]) for t in tables]
        usable = rng.random((4, 25)) < 0.85

        def ticks(t, side):
            day = (t[f"{side}_session"] - pd.Timestamp("2026-01-01")).dt.days.to_numpy()
            return 2 * day + t[f"{side}_at"].map(AT_RANK).to_numpy()

        entry = np.stack([ticks(t, "entry") for t in tables])
        exit_ = np.stack([ticks(t, "exit") for t in tables])
        ticker = pd.factorize(tables[0]["ticker"], sort=True)[0]
        rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
        got = skip_overlaps(entry, exit_, usable, ticker, rank)
        for row, table in enumerate(tables):
            want = np.zeros(25, bool)
            kept = table[usable[row]]
            want[usable[row]] = greedy_skip(kept).to_numpy()
            assert got[row].tolist() == want.tolist()
            # The run's table form of the same rule keeps the same rows.
            assert overlap_signals(kept, "skip")[0]["event_id"].tolist() == (
                kept[~want[usable[row]]]["event_id"].tolist()
            )


@pytest.mark.parametrize("shifted", [False, True])
def test_truncate_overlaps_is_the_runs_rule_on_random_windows(shifted):
    """Array rule vs the row loops' same-fill drop and truncation, 200 random tables.

    As for skip: unusable cells are ignored, entries in one session tie by tick
    (open first) and then event_id; same-fill entries occur often here.
    """
    rng = np.random.default_rng(11)
    for case in range(50):
        if shifted:
            base = np.cumsum(rng.integers(4 * (case % 2), 8, 25))
            longest = 3 if case % 2 else 12
            tables = [_signals(rng, 25, base + 2 * s + s % 2, longest) for s in range(4)]
        else:
            tables = [_signals(rng, 25) for _ in range(4)]
        ids = tables[0]["event_id"].to_numpy()
        tables = [t.assign(event_id=ids, ticker=tables[0]["ticker"]) for t in tables]
        usable = rng.random((4, 25)) < 0.85
        entry = np.stack([_ticks(t, "entry") for t in tables])
        exit_ = np.stack([_ticks(t, "exit") for t in tables])
        ticker = pd.factorize(tables[0]["ticker"], sort=True)[0]
        rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
        dropped, cut = truncate_overlaps(entry, exit_, usable, ticker, rank)
        for row, table in enumerate(tables):
            kept = table[usable[row]]
            same = same_entry(kept)
            want_drop = np.zeros(25, bool)
            want_drop[usable[row]] = same.to_numpy()
            assert dropped[row].tolist() == want_drop.tolist()
            run = truncate_rows(kept[~same])
            trades = ~want_drop & usable[row]
            assert cut[row][trades].tolist() == _ticks(run, "exit").tolist()
            # The run's table forms: the same drops, exits and truncating events.
            table_kept, _ = overlap_signals(kept, "truncate")
            assert table_kept["event_id"].tolist() == kept[~same]["event_id"].tolist()
            table_cut = truncate_signals(table_kept)
            assert _ticks(table_cut, "exit").tolist() == _ticks(run, "exit").tolist()
            assert table_cut["truncated_by"].tolist() == run["truncated_by"].tolist()
            assert (cut[row] <= exit_[row]).all()


def _ticks(t: pd.DataFrame, side: str) -> np.ndarray:
    day = (t[f"{side}_session"] - pd.Timestamp("2026-01-01")).dt.days.to_numpy()
    return 2 * day + t[f"{side}_at"].map(AT_RANK).to_numpy()
