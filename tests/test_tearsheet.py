"""Tear-sheet pieces (backtest.stats.tearsheet): calendar returns, worst drawdowns, rolling ratios.

Expected values are computed here by hand on geometric series (every session +0.1 %,
so a month of k returns gained exactly 1.001**k - 1) and on short hand-made curves,
and cross-checked against quantstats' ``monthly_returns`` and ``drawdown_details``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.stats import metrics
from backtest.stats.tearsheet import (
    MONTHS,
    drawdowns_table,
    monthly_returns_table,
    monthly_table,
    rolling_beta,
    rolling_sample,
    rolling_sharpe,
    rolling_volatility,
    worst_drawdowns,
)

GROWTH = 1.001
SESSIONS = pd.bdate_range("2024-01-02", "2025-06-30")  # 18 months, two partial years


def geometric(sessions: pd.DatetimeIndex = SESSIONS, growth: float = GROWTH) -> pd.Series:
    return pd.Series(100.0 * growth ** np.arange(len(sessions)), index=sessions)


def random_walk(n: int = 600, seed: int = 7) -> pd.Series:
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2021-01-04", periods=n)
    return pd.Series(100.0 * np.cumprod(1.0 + rng.normal(0.0003, 0.012, n)), index=sessions)


def test_monthly_and_yearly_returns_of_a_geometric_series_are_growth_to_the_count_of_returns():
    table = monthly_table(geometric()).set_index("year")
    # Each session after the first adds one return; the first session is the base.
    returns_in = pd.Series(1, index=SESSIONS[1:])
    per_month = returns_in.groupby([returns_in.index.year, returns_in.index.month]).size()
    for (year, month), k in per_month.items():
        assert table.loc[year, MONTHS[month - 1]] == pytest.approx(GROWTH**k - 1, rel=1e-12)
    per_year = returns_in.groupby(returns_in.index.year).size()
    for year, k in per_year.items():
        assert table.loc[year, "year_return"] == pytest.approx(GROWTH**k - 1, rel=1e-12)
        assert table.loc[year, "n_sessions"] == k
    assert table.loc[2025, ["Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]].isna().all()


def test_the_year_is_the_compounded_months_and_all_years_the_total_return():
    equity = random_walk()
    table = monthly_table(equity).set_index("year")
    months = table[list(MONTHS)]
    assert np.allclose((1 + months.fillna(0)).prod(axis=1) - 1, table["year_return"], rtol=1e-12)
    total = metrics.total_return(metrics.returns_from_equity(equity))
    assert (1 + table["year_return"]).prod() - 1 == pytest.approx(total, rel=1e-12)


def test_monthly_returns_match_quantstats():
    qs = pytest.importorskip("quantstats")
    equity = random_walk()
    ours = monthly_table(equity).set_index("year")
    theirs = qs.stats.monthly_returns(metrics.returns_from_equity(equity), eoy=True)
    theirs.index = theirs.index.astype(int)
    for month in MONTHS:  # quantstats fills months without data with 0
        assert np.allclose(ours[month].fillna(0), theirs[month.upper()], rtol=1e-12, atol=0)
    assert np.allclose(ours["year_return"], theirs["EOY"], rtol=1e-12, atol=0)


# A hand-made curve: peak 100 on day 0, trough 80 on day 2, back to 100 on day 4;
# new peak 120 on day 5, trough 60 on day 7, recovered to 120 on day 10; peak 130 on
# day 11, trough 117 on day 12, not recovered by the last session (day 13).
HAND = [100, 90, 80, 95, 100, 120, 90, 60, 100, 110, 120, 130, 117, 120]
HAND_SESSIONS = pd.bdate_range("2026-03-02", periods=len(HAND))


def test_worst_drawdowns_of_a_hand_made_curve():
    table = worst_drawdowns(pd.Series(HAND, index=HAND_SESSIONS, dtype=float))
    day = HAND_SESSIONS
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["start"].tolist() == [day[5], day[0], day[11]]
    assert table["trough"].tolist() == [day[7], day[2], day[12]]
    assert table["recovery"].tolist()[:2] == [day[10], day[4]]
    assert pd.isna(table["recovery"].iloc[2])  # not recovered
    assert np.allclose(table["depth"], [60 / 120 - 1, 80 / 100 - 1, 117 / 130 - 1], rtol=1e-12)
    assert table["length_sessions"].tolist() == [10 - 5, 4 - 0, 13 - 11]


def test_only_the_top_five_are_kept_deepest_first_and_a_rising_curve_has_none():
    # Six drawdowns of 1 % to 6 %, each recovered the next session.
    values = [100.0]
    for depth in (0.03, 0.01, 0.06, 0.02, 0.05, 0.04):
        values += [values[-1] * (1 - depth), values[-1]]
    table = worst_drawdowns(pd.Series(values, index=pd.bdate_range("2026-01-05", periods=13)))
    assert np.allclose(table["depth"], [-0.06, -0.05, -0.04, -0.03, -0.02], rtol=1e-12)
    assert worst_drawdowns(geometric()).empty


def test_the_deepest_drawdown_is_the_metrics_max_drawdown():
    equity = random_walk()
    deepest = worst_drawdowns(equity)["depth"].iloc[0]
    assert deepest == pytest.approx(metrics.max_drawdown(metrics.returns_from_equity(equity)))


def test_worst_drawdowns_match_quantstats_drawdown_details():
    qs = pytest.importorskip("quantstats")
    equity = random_walk()
    ours = worst_drawdowns(equity, top=5)
    dd = qs.stats.to_drawdown_series(metrics.returns_from_equity(equity))
    theirs = qs.stats.drawdown_details(dd).sort_values("max drawdown").head(5)
    pos = equity.index.get_indexer
    # quantstats dates a drawdown from its first session below the peak to its last one.
    assert (pos(pd.to_datetime(theirs["start"])) - 1).tolist() == pos(ours["start"]).tolist()
    assert pd.to_datetime(theirs["valley"]).tolist() == ours["trough"].tolist()
    recovered = ours["recovery"].notna().to_numpy()
    last_under = pos(pd.to_datetime(theirs["end"]))[recovered] + 1
    assert last_under.tolist() == pos(ours["recovery"][recovered]).tolist()
    assert np.allclose(theirs["max drawdown"] / 100, ours["depth"], rtol=1e-9)


def test_tables_of_several_columns_and_inputs_left_untouched():
    walk = random_walk(len(SESSIONS)).to_numpy()
    frame = pd.DataFrame({"a": geometric(), "b": walk}, index=SESSIONS)
    before = frame.copy()
    monthly = monthly_returns_table(frame)
    drawdowns = drawdowns_table(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert monthly["strategy"].unique().tolist() == ["a", "b"]
    assert monthly.columns.tolist()[:3] == ["strategy", "year", "Jan"]
    assert set(drawdowns["strategy"]) == {"b"}  # a rising curve has no drawdown
    expected = worst_drawdowns(frame["b"])
    pd.testing.assert_frame_equal(drawdowns.drop(columns="strategy"), expected)


def test_rolling_volatility_and_sharpe_by_hand():
    # Alternating +a, -a: every even window has mean 0 and std a * sqrt(w / (w - 1)).
    a, window = 0.01, 4
    returns = pd.Series([a, -a] * 5, index=pd.bdate_range("2026-01-05", periods=10))
    vol = rolling_volatility(returns, window)
    assert vol.iloc[: window - 1].isna().all()
    assert np.allclose(vol.iloc[window - 1 :], a * np.sqrt(window / (window - 1) * 252))
    # Shifted up by c: mean c, same spread; odd windows have one more +a than -a.
    c = 0.002
    sharpe = rolling_sharpe(returns + c, window)
    assert np.allclose(sharpe.iloc[window - 1 :], c / (a * np.sqrt(4 / 3)) * np.sqrt(252))


def test_rolling_ratios_of_each_window_are_the_metrics_of_that_window():
    returns = metrics.returns_from_equity(random_walk(300))
    for window in (126, 252):
        sharpe = rolling_sharpe(returns, window)
        end = len(returns) - 17
        assert sharpe.iloc[end] == pytest.approx(
            metrics.sharpe_ratio(returns.iloc[end - window + 1 : end + 1]), rel=1e-12
        )


def test_rolling_beta_of_a_leveraged_copy_is_its_leverage_after_the_benchmark_starts():
    bench = metrics.returns_from_equity(random_walk(200, seed=3))
    strategy = 1.5 * bench + 0.0004
    late = bench.copy()
    late.iloc[:20] = np.nan  # a benchmark listed later: windows count common sessions
    beta = rolling_beta(strategy, late, 50)
    assert beta.index.equals(strategy.index)
    assert beta.iloc[: 20 + 49].isna().all()
    assert np.allclose(beta.iloc[20 + 49 :], 1.5, rtol=1e-10)


def test_a_series_shorter_than_the_window_is_judged_too_few():
    returns = pd.Series([0.01, -0.01] * 62)
    assert rolling_sample(returns, 126).too_few
    assert not rolling_sample(returns, 124).too_few
    assert rolling_sharpe(returns, 126).isna().all()
