"""Sweeps: the kernel's per-combination results equal single vectorbt runs; bad grids fail early."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.config.model import load_config
from backtest.core.errors import ConfigError
from backtest.run.runner import run_loaded
from backtest.stats.walkforward import deflated_sharpe, folds_by_date
from backtest.sweep.runner import run_sweep, sweep_and_publish
from tests.conftest import REPO, write_config

NOW = pd.Timestamp("2026-11-25", tz="UTC")


def sweep_config(tmp_path, grid: dict, **sweep) -> dict:
    return {
        "name": "sw",
        "data": {
            "source": "bundled",
            "tickers": ["AMZN", "BABA", "NFLX"],
            "start": "2015-01-01",
            "end": "2026-06-30",
        },
        "events": {"sources": [{"type": "bundled_earnings"}], "overlap": "allow"},
        "strategies": [
            {"name": "earnings_hold", "params": {"entry_offset": 1, "hold_sessions": 1}}
        ],
        "engine": {"fees_bps": 10, "slippage_bps": 5, "sizing": {"mode": "fixed", "value": 1000}},
        "benchmarks": ["SPY"],
        "output": {"charts": False},
        "sweep": {"grid": grid, "min_trades": 1, "top_n": 0, **sweep},
    }


GRID = {
    "entry_offset": [0, 2],
    "hold_sessions": [1, 3],
    "side": ["long", "short"],
    "stop_loss_pct": [None, 4],
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    path = write_config(tmp_path_factory.mktemp("sweep"), sweep_config(None, GRID))
    return path, run_sweep(load_config(path), now=NOW)


def test_every_combination_matches_a_single_vectorbt_run(swept):
    path, result = swept
    assert len(result.table) == 16
    for _, row in result.table.iterrows():
        sets = [
            "sweep=null",
            f"strategies.0.params.entry_offset={row.entry_offset}",
            f"strategies.0.params.hold_sessions={row.hold_sessions}",
            f"strategies.0.params.side={row.side}",
            f"engine.stop_loss_pct={'null' if pd.isna(row.stop_loss_pct) else row.stop_loss_pct}",
        ]
        trades = run_loaded(load_config(path, sets), now=NOW).trades
        assert len(trades) == row.n_trades
        assert abs(trades["net_return"].mean() - row.mean_trade_return) <= 1e-12
        assert abs((trades["net_return"] > 0).mean() - row.trade_hit_rate) <= 1e-12


def test_chunking_does_not_change_results(tmp_path, swept):
    path, result = swept
    small = run_sweep(load_config(path, ["sweep.chunk_cells=1000"]), now=NOW)
    pd.testing.assert_frame_equal(small.table, result.table)


def test_walk_forward_windows_are_by_event_date(tmp_path):
    path = write_config(
        tmp_path,
        sweep_config(
            tmp_path, {"hold_sessions": [1, 2]}, walk_forward={"train_years": 3, "test_years": 2}
        ),
    )
    result = run_sweep(load_config(path), now=NOW)
    wf = result.walkforward
    assert len(wf) >= 4
    assert (pd.to_datetime(wf["train_start"]) < pd.to_datetime(wf["test_start"])).all()
    assert wf["test_n_trades"].sum() > 0


def test_folds_never_put_a_later_event_in_train():
    times = pd.Series(
        pd.to_datetime(
            np.sort(np.random.default_rng(1).integers(1.4e9, 1.7e9, 300)), unit="s", utc=True
        )
    )
    for fold in folds_by_date(times, 2, 1, "expanding"):
        assert times[fold.train].max() < fold.test_start <= times[fold.test].min()


def test_deflated_sharpe_matches_an_independent_scipy_computation():
    r = np.random.default_rng(3).normal(0.002, 0.03, 400)
    sr = r.mean() / r.std(ddof=1)
    sk, ku = stats.skew(r), stats.kurtosis(r, fisher=False)
    expected = stats.norm.cdf(
        (sr - 0.05) * np.sqrt(len(r) - 1) / np.sqrt(1 - sk * sr + (ku - 1) / 4 * sr**2)
    )
    assert deflated_sharpe(r, 0.05) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"hold_sessions": []}, "empty list"),
        ({"hold_sesions": [1]}, "did you mean 'hold_sessions'"),
        (
            {
                "entry_offset": list(range(-60, 60)),
                "exit_offset": list(range(250)),
                "hold_sessions": list(range(1, 250)),
                "side": ["long", "short"],
                "fees_bps": list(range(100)),
            },
            "more than sweep.max_combinations",
        ),
    ],
)
def test_bad_grids_fail_before_any_work(tmp_path, grid, message):
    path = write_config(tmp_path, sweep_config(tmp_path, grid))
    with pytest.raises(ConfigError, match=message):
        run_sweep(load_config(path), now=NOW)


def test_sweep_publishes_table_heatmaps_and_top_runs(tmp_path):
    path = write_config(
        tmp_path, sweep_config(tmp_path, {"entry_offset": [0, 1], "hold_sessions": [1, 2]}, top_n=1)
    )
    result = sweep_and_publish(path, out_dir=tmp_path / "results", now=NOW)
    table = pd.read_parquet(result.folder / "sweep.parquet")
    assert len(table) == 4 and {"entry_offset", "hold_sessions", "trade_sharpe", "n_trades"} <= set(
        table.columns
    )
    assert (result.folder / "charts" / "heatmap_entry_offset_hold_sessions.png").is_file()
    assert len(result.top_folders) == 1 and (result.top_folders[0] / "trades.csv").is_file()
    page = (result.folder / "report.html").read_text()
    assert f"<h1>{result.run_id}</h1>" in page
    assert f'href="top/{result.top_folders[0].name}/report.html"' in page


def test_shipped_sweep_config_is_valid():
    assert (
        load_config(REPO / "configs" / "earnings_sweep.yaml").config.sweep.metric == "trade_sharpe"
    )


def _geometric_setup():
    """Two tickers whose closes grow by a fixed factor per session, one earnings event each."""
    from backtest.data.synthetic import geometric_prices
    from backtest.events.align import align_events
    from tests.conftest import CAL, SESSIONS

    prices = {
        "A": geometric_prices(SESSIONS, growth=0.01),
        "B": geometric_prices(SESSIONS, growth=-0.005),
    }
    times = [
        pd.Timestamp("2026-02-02 08:00", tz="America/New_York"),  # bmo: reaction 02-02
        pd.Timestamp("2026-02-10 16:30", tz="America/New_York"),  # amc: reaction 02-11
    ]
    events = pd.DataFrame(
        {
            "event_id": ["A-1", "B-1"],
            "ticker": ["A", "B"],
            "event_type": "earnings",
            "event_time": pd.to_datetime([t.tz_convert("UTC") for t in times]),
            "timing": ["bmo", "amc"],
            "known_at": pd.to_datetime(
                [t.tz_convert("UTC") - pd.Timedelta(days=30) for t in times]
            ),
            "source": "test",
        }
    )
    aligned, drops = align_events(events, prices, CAL, now=NOW)
    assert drops.empty
    return prices, aligned


def test_sweep_grid_returns_hand_derived_close_to_close_returns():
    from backtest.sweep.evaluate import sweep_grid

    prices, aligned = _geometric_setup()
    grid = {"entry_offset": [-1, 0, 2], "hold_sessions": [1, 3], "side": ["long", "short"]}
    out = sweep_grid(prices, aligned, grid, base={"fees_bps": 10}, keep_returns=True)
    growth = out.events["ticker"].map({"A": 0.01, "B": -0.005}).to_numpy()
    fee = 10 / 10_000
    assert out.returns.shape == (12, 2) and not out.invalid
    for i, combo in out.table.iterrows():
        # Close to close over h sessions: the price ratio is (1 + g) ** h whatever the entry day.
        ratio = (1 + growth) ** combo["hold_sessions"]
        sign = 1 if combo["side"] == "long" else -1
        expected = sign * (ratio - 1) - fee * (1 + ratio)
        np.testing.assert_allclose(out.returns[i], expected, rtol=0, atol=1e-12)
        assert combo["n_trades"] == 2
        assert combo["mean_trade_return"] == pytest.approx(expected.mean(), abs=1e-12)


def test_sweep_grid_chunks_and_reports_invalid_combinations():
    from backtest.sweep.evaluate import sweep_grid

    prices, aligned = _geometric_setup()
    grid = {"entry_offset": [0, 1], "hold_sessions": [0, 1, 2]}  # (0, hold 0) exits at entry
    whole = sweep_grid(prices, aligned, grid)
    one_at_a_time = sweep_grid(prices, aligned, grid, chunk_cells=1)
    assert len(whole.invalid) == 1 and "entry must come before exit" in whole.invalid[0]
    assert len(whole.table) == 5 and whole.returns is None
    pd.testing.assert_frame_equal(whole.table, one_at_a_time.table)


def test_sweep_grid_skips_exactly_the_windows_over_a_session_without_prices():
    from backtest.sweep.evaluate import sweep_grid

    prices, aligned = _geometric_setup()
    # A reacts on 02-02 and B on 02-11 (entry at that close); take away A's whole bar two
    # sessions later and only B's high two sessions later: both are unfillable sessions.
    prices["A"] = prices["A"].drop(pd.Timestamp("2026-02-04"))
    prices["B"] = prices["B"].copy()
    prices["B"].loc[pd.Timestamp("2026-02-13"), "high"] = np.nan
    grid = {"entry_offset": [0], "hold_sessions": [1, 2, 3]}
    out = sweep_grid(prices, aligned, grid, keep_returns=True)
    growth = out.events["ticker"].map({"A": 0.01, "B": -0.005}).to_numpy()
    # hold 1 ends the session before the gap; holds 2 and 3 cover it.
    np.testing.assert_allclose(out.returns[0], growth, rtol=0, atol=1e-12)
    assert np.isnan(out.returns[1:]).all()
    assert out.table["n_trades"].tolist() == [2, 0, 0]


def test_overlap_skip_sweep_keeps_the_events_a_run_keeps_on_bundled_data(tmp_path):
    """Holds of 70 sessions on quarterly earnings overlap; each row equals its run."""
    from backtest.strategy.signals import get_strategy
    from backtest.sweep.evaluate import chunk_returns, expand_grid, prepare
    from backtest.sweep.runner import _base_params, _data, _strategy_config

    grid = {"entry_offset": [0, 2], "hold_sessions": [1, 70], "side": ["long", "short"]}
    cfg = sweep_config(None, grid)
    cfg["events"]["overlap"] = "skip"
    path = write_config(tmp_path, cfg)
    loaded = load_config(path)
    result = run_sweep(loaded, now=NOW)
    spec = get_strategy("earnings_hold")
    combos, _ = expand_grid(spec, _base_params(loaded, _strategy_config(loaded)), grid, 100)
    prices, aligned, market = _data(loaded, NOW)
    data = prepare(spec, aligned, prices, market, "skip")
    returns = chunk_returns(data, combos)
    ids = data.ev.events["event_id"].to_numpy()
    for i, row in result.table.iterrows():
        sets = [
            "sweep=null",
            f"strategies.0.params.entry_offset={row.entry_offset}",
            f"strategies.0.params.hold_sessions={row.hold_sessions}",
            f"strategies.0.params.side={row.side}",
        ]
        run = run_loaded(load_config(path, sets), now=NOW)
        trades = run.trades.set_index("event_id")
        traded = ~np.isnan(returns[i])
        assert sorted(ids[traded]) == sorted(trades.index)
        got, want = returns[i][traded], trades.loc[ids[traded], "net_return"].to_numpy()
        assert np.max(np.abs(got - want)) <= 1e-12
        assert row.n_trades == len(trades)
        assert abs(trades["net_return"].mean() - row.mean_trade_return) <= 1e-12
        overlaps = (run.drops["reason"] == "overlap").sum() if len(run.drops) else 0
        assert (overlaps > 0) == (row.hold_sessions == 70)  # only the long holds overlap
    allow = run_sweep(load_config(path, ["events.overlap=allow"]), now=NOW).table
    assert (allow["n_trades"] > result.table["n_trades"]).tolist() == [
        h == 70 for h in result.table["hold_sessions"]
    ]


def test_overlap_truncate_sweep_makes_the_trades_a_run_makes_on_bundled_data(tmp_path):
    """Holds of 70 sessions on quarterly earnings are cut at the next report's entry."""
    from backtest.strategy.signals import get_strategy
    from backtest.sweep.evaluate import chunk_returns, expand_grid, prepare
    from backtest.sweep.runner import _base_params, _data, _strategy_config

    grid = {"entry_offset": [0, 2], "hold_sessions": [1, 70], "side": ["long", "short"]}
    cfg = sweep_config(None, grid)
    cfg["events"]["overlap"] = "truncate"
    path = write_config(tmp_path, cfg)
    loaded = load_config(path)
    result = run_sweep(loaded, now=NOW)
    spec = get_strategy("earnings_hold")
    combos, _ = expand_grid(spec, _base_params(loaded, _strategy_config(loaded)), grid, 100)
    prices, aligned, market = _data(loaded, NOW)
    data = prepare(spec, aligned, prices, market, "truncate")
    returns = chunk_returns(data, combos)
    allowed = chunk_returns(prepare(spec, aligned, prices, market, "allow"), combos)
    ids = data.ev.events["event_id"].to_numpy()
    for i, row in result.table.iterrows():
        sets = [
            "sweep=null",
            f"strategies.0.params.entry_offset={row.entry_offset}",
            f"strategies.0.params.hold_sessions={row.hold_sessions}",
            f"strategies.0.params.side={row.side}",
        ]
        run = run_loaded(load_config(path, sets), now=NOW)
        trades = run.trades.set_index("event_id")
        traded = ~np.isnan(returns[i])
        assert sorted(ids[traded]) == sorted(trades.index)
        got, want = returns[i][traded], trades.loc[ids[traded], "net_return"].to_numpy()
        assert np.max(np.abs(got - want)) <= 1e-12
        assert row.n_trades == len(trades)
        assert abs(trades["net_return"].mean() - row.mean_trade_return) <= 1e-12
        cut = trades["exit_reason"] == "truncated"
        assert cut.any() == (row.hold_sessions == 70)  # only the long holds overlap
        # Cut trades, and only they, differ from the full windows; none is dropped.
        assert traded.tolist() == (~np.isnan(allowed[i])).tolist()
        differs = np.abs(returns[i] - allowed[i]) > 1e-12
        assert sorted(ids[differs]) == sorted(trades.index[cut])


def test_usable_cells_are_kept_trades_on_the_panel_with_prices_to_their_exit(tmp_path):
    """The compiled cell pass of the sweep equals the rule in numpy, windows off the panel included."""
    from backtest.strategy.plan import Drop, Plan
    from backtest.strategy.signals import get_strategy
    from backtest.sweep.evaluate import _usable, prepare
    from backtest.sweep.runner import _data

    loaded = load_config(write_config(tmp_path, sweep_config(None, {"entry_offset": [0]})))
    prices, aligned, market = _data(loaded, NOW)
    data = prepare(get_strategy("earnings_hold"), aligned, prices, market, "allow")
    rng = np.random.default_rng(5)
    n_ticks, events = data.panel.price.shape[1], len(data.ev.events)
    lo, hi = data.tick_offset - 40, data.tick_offset + n_ticks + 40  # some windows leave it
    entry = rng.integers(lo, hi, (9, events)).astype(np.int32)
    exit_ = entry + rng.integers(0, 30, (9, events)).astype(np.int32)
    drop = np.where(rng.random((9, events)) < 0.2, Drop.NO_SURPRISE, Drop.KEEP).astype(np.int8)
    plan = Plan(entry, exit_, np.ones((9, 1), int), np.zeros((9, events), np.int64), drop)
    usable, got_entry, got_exit = _usable(data, plan)

    on_panel = (entry - data.tick_offset >= 0) & (exit_ - data.tick_offset < n_ticks)
    want_entry = np.where(on_panel, entry - data.tick_offset, 0)
    want_exit = np.where(on_panel, exit_ - data.tick_offset, 0)
    session = want_entry >> 1
    limit = data.clean_until[np.broadcast_to(data.ticker_row, entry.shape), session]
    want = on_panel & (drop == Drop.KEEP) & (exit_ <= limit)
    np.testing.assert_array_equal(got_entry, want_entry)
    np.testing.assert_array_equal(got_exit, want_exit)
    np.testing.assert_array_equal(usable, want)
    assert 0 < want.sum() < want.size and (~on_panel).any()  # every branch taken


def test_clean_until_is_the_last_tick_before_the_next_session_without_prices():
    from backtest.sweep.evaluate import clean_until

    rng = np.random.default_rng(3)
    tradable = rng.random((6, 40)) < 0.85
    tradable[0] = True  # a ticker with prices every session
    tradable[1] = False  # and one with none
    got = clean_until(tradable, 14)
    for i, row in enumerate(tradable):
        for s in range(len(row)):
            bad = [t for t in range(s, len(row)) if not row[t]]
            assert got[i, s] == 2 * (bad[0] if bad else len(row)) - 1 + 14
