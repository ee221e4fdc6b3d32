"""The sweep table says what it holds: per-trade statistics under per-trade names, sized
figures at the config's size, the top-N re-runs' own metrics beside them, heatmaps that
never average long with short, walk-forward folds inside the data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import ConfigError
from backtest.report import sweep_charts
from backtest.stats import metrics
from backtest.stats.trade_stats import TRADE_STATISTICS, sequential_at_size, trade_statistics
from backtest.stats.walkforward import folds_by_date
from backtest.sweep.runner import RUN_METRICS, run_sweep, sweep_and_publish
from tests.conftest import REPO, write_config
from tests.test_sweep import NOW, sweep_config


def _random_trades(seed: int, rows: int = 7, cols: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.002, 0.03, (rows, cols))
    r[rng.random((rows, cols)) < 0.3] = np.nan
    r[0] = np.nan  # a combination without a trade
    r[1, 1:] = np.nan  # one trade
    return r


def test_the_runs_trade_metrics_and_the_sweeps_rows_come_from_one_function():
    r = _random_trades(0)
    stats = trade_statistics(r, 12.0)
    assert list(stats) == list(TRADE_STATISTICS)
    for i, row in enumerate(r):
        trades = pd.Series(row)
        run = metrics.summarize(pd.Series([1.0, 1.0]), trades, pd.Series([True, False]))
        assert run["n_trades"] == stats["n_trades"][i] == np.count_nonzero(~np.isnan(row))
        # The run's names for the same statistics; equal up to summation order (the
        # matrix row sums its no-trade cells as zeros, in another pairwise grouping).
        for run_name, sweep_name in [
            ("avg_trade_return", "mean_trade_return"),
            ("median_trade_return", "median_trade_return"),
            ("hit_rate", "trade_hit_rate"),
        ]:
            np.testing.assert_allclose(run[run_name], stats[sweep_name][i], rtol=1e-13)
        kept = row[~np.isnan(row)]
        if len(kept) > 1:  # per trade, annualised by sqrt(trades per year): not the run's sharpe
            want = kept.mean() / kept.std(ddof=1) * np.sqrt(12.0)
            assert stats["trade_sharpe"][i] == pytest.approx(want, rel=1e-12)
        else:
            assert np.isnan(stats["trade_sharpe"][i])


@pytest.mark.parametrize("fraction", [1.0, 0.2])
def test_sequential_figures_equal_the_runs_total_return_and_drawdown_of_the_sized_trades(
    fraction,
):
    """Compounded at ``fraction`` of equity = metrics.total_return / max_drawdown of f x r."""
    r = _random_trades(1)
    total, drawdown = sequential_at_size(r, fraction)
    for i, row in enumerate(r):
        sized = fraction * row[~np.isnan(row)]
        np.testing.assert_allclose(total[i], metrics.total_return(sized), rtol=1e-12)
        np.testing.assert_allclose(drawdown[i], metrics.max_drawdown(sized), rtol=1e-12)


def test_a_fixed_size_adds_trades_to_the_starting_capital_instead_of_compounding():
    r = np.array([[0.5, 0.5, -0.5]])  # at 10% of the starting capital: 1.05, 1.10, 1.05
    total, drawdown = sequential_at_size(r, 0.1, compound=False)
    assert total[0] == pytest.approx(0.05, abs=1e-15)
    assert drawdown[0] == pytest.approx(1.05 / 1.10 - 1, abs=1e-15)


@pytest.fixture(scope="module")
def shipped_sweep(tmp_path_factory):
    """configs/earnings_sweep.yaml as a new user runs it (top_n 2, 20% sizing), no charts."""
    out = tmp_path_factory.mktemp("shipped")
    return sweep_and_publish(
        REPO / "configs" / "earnings_sweep.yaml", out, ["output.charts=false"], now=NOW
    )


def test_every_top_rerun_has_the_sweeps_trades_and_shows_its_own_metrics(shipped_sweep):
    result = shipped_sweep
    top = pd.read_csv(result.folder / "top_runs.csv")
    sweep = result.loaded.config.sweep
    assert len(top) == len(result.top_folders) == sweep.top_n == 2
    assert top["rank"].tolist() == [1, 2]
    for row, folder in zip(top.itertuples(), result.top_folders, strict=True):
        assert row.run == folder.name
        trades = pd.read_csv(folder / "trades.csv")
        assert row.n_trades == len(trades) == row.run_n_trades
        assert abs(row.mean_trade_return - trades["net_return"].mean()) <= 1e-12
        shown = json.loads((folder / "metrics.json").read_text())["earnings_hold"]
        for key in RUN_METRICS:
            # Exactly in memory; to the 12 significant digits CSVs are written with in the file.
            assert result.top_runs.loc[row.Index, key] == shown[key], key
            assert getattr(row, key) == pytest.approx(shown[key], rel=1e-11, abs=1e-15), key
        # The combination the row names is the one the folder ran.
        ran = load_config(folder / "config.yaml").config.strategies[0].params
        assert (ran.entry_offset, ran.hold_sessions, ran.side) == (
            row.entry_offset,
            row.hold_sessions,
            row.side,
        )
    page = (result.folder / "report.html").read_text()
    assert "Sweep: top combinations re-run" in page and "run_n_trades" in page


def test_the_sized_figures_of_the_shipped_sweep_say_their_size(shipped_sweep):
    result = shipped_sweep
    table = pd.read_parquet(result.folder / "sweep.parquet")
    assert {"sharpe", "total_return", "max_drawdown", "mean_return", "hit_rate"}.isdisjoint(
        table.columns
    )
    assert {*TRADE_STATISTICS, "sequential_return_at_size"} <= set(table.columns)
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["sizing"].startswith("sequential_return_at_size and")
    assert "20% of current equity per trade" in summary["sizing"]
    assert "sqrt(" in summary["trade_sharpe"]


def test_an_old_sweep_metric_name_says_what_it_was_renamed(tmp_path):
    path = write_config(tmp_path, sweep_config(None, {"hold_sessions": [1, 2]}, metric="sharpe"))
    with pytest.raises(ConfigError, match="'sharpe' was renamed 'trade_sharpe'"):
        load_config(path)


def _drawn_heatmap(monkeypatch, table, swept, metric="trade_sharpe"):
    figures = []
    monkeypatch.setattr(sweep_charts, "_save", lambda fig, path: figures.append(fig) or path)
    paths = sweep_charts.plot_heatmaps(table, swept, metric, "unused")
    return dict(zip([p.name for p in paths], figures, strict=True))


def _cell_texts(ax) -> list[str]:
    return sorted(t.get_text() for t in ax.texts)


def test_heatmaps_never_average_long_and_short_together(monkeypatch):
    # Long wins 0.5, the short of the same window loses 0.5: averaged, every cell would be 0.
    grid = pd.MultiIndex.from_product(
        [[1, 2], [3, 5], ["long", "short"]], names=["a", "b", "side"]
    ).to_frame(index=False)
    grid["trade_sharpe"] = np.where(grid["side"] == "long", 0.5, -0.5)
    grid["n_trades"] = np.where(grid["side"] == "long", 30, 20)
    figures = _drawn_heatmap(monkeypatch, grid, ["a", "b", "side"])
    assert sorted(figures) == ["heatmap_a_b.png", "heatmap_a_side.png", "heatmap_b_side.png"]
    long_panel, short_panel = figures["heatmap_a_b.png"].axes[:2]
    assert long_panel.get_title().startswith("side = long: 4 combinations")
    assert short_panel.get_title().startswith("side = short: 4 combinations")
    assert _cell_texts(long_panel) == ["0.50\nn=30"] * 4
    assert _cell_texts(short_panel) == ["-0.50\nn=20"] * 4
    # Side as an axis: one panel, long and short in different rows, averaged over b only.
    side_axis = figures["heatmap_a_side.png"].axes[0]
    assert _cell_texts(side_axis) == ["-0.50\nn=20"] * 2 + ["0.50\nn=30"] * 2
    assert "mean over b" in figures["heatmap_a_side.png"]._suptitle.get_text()


def test_walk_forward_folds_end_inside_the_data():
    times = pd.Series(pd.date_range("2015-01-01", "2020-06-30", freq="7D", tz="UTC"))
    end = pd.Timestamp("2020-06-30 20:00", tz="UTC")
    folds = folds_by_date(times, 2, 1, "rolling", end)
    assert [f.test_end.year for f in folds] == [2018, 2019, 2020]
    assert all(f.test_end <= end for f in folds)
    # The last whole test window is kept: extending the data by one day does not add one.
    assert len(folds_by_date(times, 2, 1, "rolling", end + pd.Timedelta(days=1))) == 3


def test_a_sweeps_walk_forward_stops_at_the_last_session_with_prices(tmp_path):
    from backtest.sweep.runner import _data

    cfg = sweep_config(None, {"hold_sessions": [1, 2]}, walk_forward={"train_years": 3})
    loaded = load_config(write_config(tmp_path, cfg))
    result = run_sweep(loaded, now=NOW)
    wf = result.walkforward
    assert len(wf) >= 4
    prices = _data(loaded, NOW)[0]
    last_price = max(p.index.max() for p in prices.values())
    assert (pd.to_datetime(wf["test_end"]) <= last_price).all()
    # Fold after fold up to the data's end: the next one would not fit.
    next_end = pd.to_datetime(wf["test_end"]).max() + pd.DateOffset(years=1)
    assert next_end > last_price
    assert {"train_trade_sharpe", "test_trade_sharpe", "test_mean_trade_return"} <= set(wf)


def test_heatmaps_never_average_hedged_and_unhedged_trades(monkeypatch):
    # Unhedged +0.4, hedged -0.2: a panel per hedge value, never a 0.1 average.
    grid = pd.MultiIndex.from_product(
        [[1, 2], [3, 5], ["off", "beta"]], names=["a", "b", "hedge"]
    ).to_frame(index=False)
    grid["trade_sharpe"] = np.where(grid["hedge"] == "off", 0.4, -0.2)
    grid["n_trades"] = 25
    figures = _drawn_heatmap(monkeypatch, grid, ["a", "b", "hedge"])
    beta_panel, off_panel = figures["heatmap_a_b.png"].axes[:2]
    assert beta_panel.get_title().startswith("hedge = beta: 4 combinations")
    assert off_panel.get_title().startswith("hedge = off: 4 combinations")
    assert _cell_texts(beta_panel) == ["-0.20\nn=25"] * 4
    assert _cell_texts(off_panel) == ["0.40\nn=25"] * 4


def _numpy_sequential(returns, fraction, compound):
    """The sequential figures by numpy's running product / sum and running maximum."""
    missing = np.isnan(returns)
    stakes = np.where(missing, 0.0, returns)
    if fraction != 1.0:
        stakes = stakes * fraction
    path = np.cumprod(stakes + 1.0, axis=1) if compound else np.cumsum(stakes, axis=1) + 1.0
    peak = np.maximum.accumulate(np.concatenate([np.ones((len(path), 1)), path], axis=1), axis=1)
    worst = np.minimum((path / peak[:, 1:]).min(axis=1, initial=np.inf) - 1.0, 0.0)
    traded = ~missing.all(axis=1)
    total = np.where(traded, path[:, -1] - 1.0 if path.shape[1] else np.nan, np.nan)
    return total, np.where(traded, worst, np.nan)


@pytest.mark.parametrize("compound", [True, False])
@pytest.mark.parametrize("fraction", [1.0, 0.2, 3.0])
def test_the_compiled_sequential_pass_gives_numpys_floats_bit_for_bit(fraction, compound):
    rng = np.random.default_rng(7)
    r = rng.normal(0.0, 0.08, (40, 300))
    r[rng.random(r.shape) < 0.6] = np.nan
    r[3] = np.nan  # a combination without trades
    r[5, :] = np.nan
    r[5, 17] = -0.9  # one large loss
    total, drawdown = sequential_at_size(r, fraction, compound)
    want_total, want_drawdown = _numpy_sequential(r, fraction, compound)
    np.testing.assert_array_equal(total, want_total)
    np.testing.assert_array_equal(drawdown, want_drawdown)
    assert np.isnan(total[3]) and not np.isnan(total).all()


def test_sequential_figures_of_no_trades_or_no_events_are_nan():
    total, drawdown = sequential_at_size(np.empty((2, 0)), 0.5)
    assert np.isnan(total).all() and np.isnan(drawdown).all() and total.shape == (2,)
