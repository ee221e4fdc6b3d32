"""Metrics against independent reference values, edge cases and metamorphic rules.

Reference vectors and expected values are copied as DATA from empyrical's
published tests (the code is not copied):

- [Q] quantopian/empyrical, ``empyrical/tests/test_stats.py`` at commit
  0a9fa5848a3ed519be0f514df9e3a04fb7b37ad3 (the version with ddof=1 and the
  ``simple_benchmark = [0, 1, 0, 1, ...] %`` vector);
- [R] stefan-jansen/empyrical-reloaded, ``tests/conftest.py`` and
  ``tests/test_stats.py`` at commit 31173cf13db00328bd5bbe70a016e62a36ba067e
  (same vectors and values; adds ``all_negative_returns``).

Both assert to 8 decimal places; so do we. Where our conventions differ (NaN
instead of inf, NaN periods excluded from CAGR), the test says so and derives
our value by hand instead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from backtest.cli.commands import METRIC_FORMATS
from backtest.core.errors import DataIntegrityError
from backtest.stats import metrics as m

DECIMALS = 8
IDX = pd.date_range("2000-1-30", periods=9, freq="D")  # [Q]/[R] index of the 9-day vectors


def pct(values, index=IDX) -> pd.Series:
    return pd.Series(np.array(values, dtype=float) / 100, index=index)


# ---- reference vectors [Q], [R] (per cent) -------------------------------------------------
SIMPLE_BENCHMARK = pct([0, 1, 0, 1, 0, 1, 0, 1, 0])
POSITIVE = pct([1, 2, 1, 1, 1, 1, 1, 1, 1])
NEGATIVE = pct([0, -6, -7, -1, -9, -2, -6, -8, -5])
ALL_NEGATIVE = pct([-2, -6, -7, -1, -9, -2, -6, -8, -5])  # [R] only
MIXED = pct([np.nan, 1, 10, -4, 2, 3, 2, 1, -10])
FLAT_LINE_1 = pct([1] * 9)  # [R] "flat_line_1"
ONE_RETURN = pct([1], IDX[:1])
EMPTY = pct([], IDX[:0])
UDU = pct([10, -10, 10], IDX[:3])
FLAT_LINE_1_TZ = pd.Series(
    np.linspace(0.01, 0.01, num=1000),
    index=pd.date_range("2000-1-30", periods=1000, freq="D", tz="UTC"),
)
DF_ONE = [
    -0.00171614,
    0.01322056,
    0.03063862,
    -0.01422057,
    -0.00489779,
    0.01268925,
    -0.03357711,
    0.01797036,
]
DF_TWO = [
    0.01846232,
    0.00793951,
    -0.01448395,
    0.00422537,
    -0.00339611,
    0.03756813,
    0.0151531,
    0.03549769,
]
NAN = float("nan")


def close(actual: float, expected: float) -> None:
    np.testing.assert_almost_equal(actual, expected, DECIMALS)


# ---- published values -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "returns, expected",
    [
        (EMPTY, NAN),
        (ONE_RETURN, 0.0),
        (SIMPLE_BENCHMARK, 0.0),
        (MIXED, -0.1),
        (POSITIVE, -0.0),
        (NEGATIVE, -0.36590730349873601),
        (ALL_NEGATIVE, -0.378589157),  # [R]: the first day's loss counts
        (UDU, -0.10),
    ],
)
def test_max_drawdown_matches_empyrical(returns, expected):
    close(m.max_drawdown(returns), expected)


@pytest.mark.parametrize(
    "returns, risk_free, expected",
    [
        (EMPTY, 0.0, NAN),
        (ONE_RETURN, 0.0, NAN),
        (MIXED, MIXED, NAN),
        (MIXED, 0.0, 1.7238613961706866),
        (MIXED, SIMPLE_BENCHMARK, 0.34111411441060574),
        (POSITIVE, 0.0, 52.915026221291804),
        (NEGATIVE, 0.0, -24.406808633910085),
    ],
)
def test_sharpe_matches_empyrical(returns, risk_free, expected):
    close(m.sharpe_ratio(returns, risk_free), expected)


def test_sharpe_of_a_flat_series_is_nan_not_inf():
    # [R] expects inf for flat_line_1; RELIABILITY.md R6 requires NaN (never 1e16 / inf).
    assert math.isnan(m.sharpe_ratio(FLAT_LINE_1))
    assert math.isnan(m.sharpe_ratio(FLAT_LINE_1_TZ))
    assert math.isnan(m.sharpe_ratio(pd.Series(0.0, index=IDX)))


@pytest.mark.parametrize(
    "returns, required, expected",
    [
        (EMPTY, 0.0, NAN),
        (ONE_RETURN, 0.0, 0.0),
        (MIXED, MIXED, 0.0),
        (MIXED, 0.0, 0.60448325038829653),
        (MIXED, 0.1, 1.7161730681956295),
        (DF_ONE, 0.0, 0.20671788246185202),
        (DF_TWO, 0.0, 0.083495680595704475),
    ],
)
def test_downside_deviation_matches_empyrical(returns, required, expected):
    close(m.downside_deviation(returns, required), expected)


@pytest.mark.parametrize(
    "returns, required, expected",
    [
        (EMPTY, 0.0, NAN),
        (ONE_RETURN, 0.0, NAN),
        (MIXED, MIXED, NAN),
        (MIXED, 0.0, 2.605531251673693),
        (MIXED, FLAT_LINE_1, -1.3934779588919977),
        (NEGATIVE, 0.0, -13.532743075043401),
        (DF_ONE, 0.0, 3.0639640966566306),
        (DF_TWO, 0.0, 38.090963117002495),
    ],
)
def test_sortino_matches_empyrical(returns, required, expected):
    close(m.sortino_ratio(returns, required), expected)


@pytest.mark.parametrize("returns", [POSITIVE, SIMPLE_BENCHMARK])
def test_sortino_without_downside_is_nan(returns):
    # empyrical returns inf here; an undefined ratio is NaN in this project (R6).
    assert math.isnan(m.sortino_ratio(returns))


@pytest.mark.parametrize(
    "returns, expected",
    [(FLAT_LINE_1_TZ, 0.0), (MIXED, 0.9136465399704637), (EMPTY, NAN), (ONE_RETURN, NAN)],
)
def test_annual_volatility_matches_empyrical(returns, expected):
    close(m.annual_volatility(returns), expected)


@pytest.mark.parametrize(
    "returns, periods, expected",
    [
        (EMPTY, 252, NAN),
        (ONE_RETURN, 252, 11.274002099240244),
        (FLAT_LINE_1_TZ, 252, 11.274002099240256),
        (pct([3, 3, 3], pd.date_range("2000-1-30", periods=3, freq="YE")), 1, 0.03),
        # empyrical counts mixed_returns' leading NaN as a flat period (9 periods);
        # filling it with 0 reproduces its annual_return / cagr value.
        (MIXED.fillna(0.0), 252, 1.9135925373194231),
    ],
)
def test_cagr_matches_empyrical(returns, periods, expected):
    close(m.cagr(returns, periods), expected)


def test_cagr_excludes_leading_nan_periods():
    # Our convention: NaN is not a period. 8 returns compound to this growth (by hand):
    growth = 1.01 * 1.10 * 0.96 * 1.02 * 1.03 * 1.02 * 1.01 * 0.90
    close(m.total_return(MIXED), growth - 1)
    close(m.cagr(MIXED), growth ** (252 / 8) - 1)


@pytest.mark.parametrize(
    "returns, expected",
    [(EMPTY, NAN), (ONE_RETURN, NAN), (MIXED.fillna(0.0), 19.135925373194233)],
)
def test_calmar_matches_empyrical(returns, expected):
    close(m.calmar_ratio(returns), expected)


@pytest.mark.parametrize(
    "returns, benchmark, expected_per_period",
    [
        (EMPTY, pd.Series(0.0, index=IDX), NAN),
        (ONE_RETURN, pd.Series(0.0, index=IDX), NAN),
        (MIXED, pd.Series(0.0, index=IDX), 0.10859306069076737),
        (MIXED, FLAT_LINE_1, -0.06515583641446039),
        (MIXED, MIXED, NAN),  # zero tracking error ("pos_line vs pos_line" in [Q])
    ],
)
def test_information_ratio_matches_empyrical_excess_sharpe(returns, benchmark, expected_per_period):
    # empyrical's excess_sharpe is per period; ours is annualised by sqrt(252).
    close(m.information_ratio(returns, benchmark) / math.sqrt(252), expected_per_period)


@pytest.mark.parametrize(
    "returns, benchmark, expected",
    [
        (EMPTY, SIMPLE_BENCHMARK, (NAN, NAN)),
        (ONE_RETURN, ONE_RETURN, (NAN, NAN)),
        (MIXED, NEGATIVE[1:], (-8.306666666666668, -0.71296296296296313)),  # [Q]
        (MIXED, MIXED, (0.0, 1.0)),
        (MIXED, -MIXED, (0.0, -1.0)),
        (MIXED, FLAT_LINE_1, (NAN, NAN)),  # a constant benchmark has no beta
    ],
)
def test_alpha_beta_matches_empyrical(returns, benchmark, expected):
    alpha, beta = m.alpha_beta(returns, benchmark)
    close(alpha, expected[0])
    close(beta, expected[1])


def test_alpha_compounded_gives_empyrical_reloaded_value():
    # [R] compounds the daily alpha: (1 + a) ** 252 - 1 = -0.9997853834885004 for the
    # same pair, so our daily alpha (alpha / 252) is the same number.
    alpha, _ = m.alpha_beta(MIXED, NEGATIVE[1:])
    close((1 + alpha / 252) ** 252 - 1, -0.9997853834885004)


def test_alpha_beta_equal_scipy_linregress_on_noise():
    rng = np.random.default_rng(7)
    index = pd.date_range("2020-01-01", periods=300, freq="B")
    bench = pd.Series(rng.normal(0.0005, 0.01, 300), index=index)
    ret = 0.0002 + 1.3 * bench + pd.Series(rng.normal(0, 0.004, 300), index=index)
    ret.iloc[[0, 1, 50]] = np.nan  # NaNs at the start and inside
    mask = ret.notna()
    fit = stats.linregress(bench[mask], ret[mask])
    alpha, beta = m.alpha_beta(ret, bench)
    assert beta == pytest.approx(fit.slope, rel=1e-12)
    assert alpha == pytest.approx(fit.intercept * 252, rel=1e-10)


# ---- trades ---------------------------------------------------------------------------------
def test_trade_metrics_by_hand():
    trades = pd.Series([0.04, -0.02, 0.01, -0.01, 0.0])
    assert m.hit_rate(trades) == pytest.approx(2 / 5)
    assert m.average_trade_return(trades) == pytest.approx(0.02 / 5)
    assert m.median_trade_return(trades) == 0.0
    assert m.profit_factor(trades) == pytest.approx(0.05 / 0.03)


def test_no_trades_gives_nan_trade_metrics():
    none = pd.Series(dtype=float)
    for fn in (m.hit_rate, m.average_trade_return, m.median_trade_return, m.profit_factor):
        assert math.isnan(fn(none)), fn.__name__


@pytest.mark.parametrize("r, hit, pf", [(0.03, 1.0, NAN), (-0.03, 0.0, 0.0)])
def test_one_trade(r, hit, pf):
    one = pd.Series([r])
    assert m.hit_rate(one) == hit
    assert m.average_trade_return(one) == m.median_trade_return(one) == r
    np.testing.assert_equal(m.profit_factor(one), pf)


def test_exposure():
    assert m.exposure(pd.Series([True, True, False, False, False])) == pytest.approx(0.4)
    assert math.isnan(m.exposure(pd.Series(dtype=bool)))


# ---- NaN, time zones ------------------------------------------------------------------------
SERIES_METRICS = [
    m.total_return,
    m.cagr,
    m.annual_volatility,
    m.sharpe_ratio,
    m.sortino_ratio,
    m.downside_deviation,
    m.max_drawdown,
    m.calmar_ratio,
]


@pytest.mark.parametrize("fn", SERIES_METRICS, ids=lambda f: f.__name__)
def test_leading_nans_change_nothing(fn):
    base = NEGATIVE.iloc[1:] + 0.03  # mixed signs, no NaN
    padded = pd.concat([pd.Series(NAN, index=pd.date_range("2000-1-20", periods=3)), base])
    np.testing.assert_equal(fn(padded), fn(base))


@pytest.mark.parametrize("fn", SERIES_METRICS, ids=lambda f: f.__name__)
def test_tz_aware_and_naive_indexes_give_the_same_metrics(fn):
    naive = MIXED
    aware = MIXED.tz_localize("America/New_York")
    np.testing.assert_equal(fn(aware), fn(naive))


def test_benchmark_in_another_time_zone_aligns_on_instants():
    ret = MIXED.tz_localize("UTC")
    bench = NEGATIVE.tz_localize("UTC").tz_convert("Asia/Tokyo")  # same instants
    assert m.alpha_beta(ret, bench) == pytest.approx(m.alpha_beta(MIXED, NEGATIVE))
    assert m.information_ratio(ret, bench) == pytest.approx(m.information_ratio(MIXED, NEGATIVE))


@pytest.mark.parametrize("aware", ["returns", "benchmark"])
def test_mixing_tz_aware_and_naive_raises_a_clear_error(aware):
    # quantstats #226: "Invalid comparison between dtype=datetime64[ns, America/New_York]
    # and datetime" when one side is aware. Here: one-line DataIntegrityError with the fix.
    ret, bench = MIXED, NEGATIVE
    if aware == "returns":
        ret = ret.tz_localize("America/New_York")
    else:
        bench = bench.tz_localize("America/New_York")
    with pytest.raises(DataIntegrityError, match="tz_localize"):
        m.alpha_beta(ret, bench)
    with pytest.raises(DataIntegrityError, match="tz-aware"):
        m.information_ratio(ret, bench)


def test_all_nan_benchmark_gives_nan_not_an_error():
    bench = pd.Series(NAN, index=IDX)
    assert all(math.isnan(v) for v in m.alpha_beta(MIXED, bench))
    assert math.isnan(m.information_ratio(MIXED, bench))


# ---- summarize (the run's metrics row) ------------------------------------------------------
SESSIONS = pd.bdate_range("2026-01-05", periods=6)


def test_summarize_by_hand():
    equity = pd.Series([100.0, 100.0, 110.0, 99.0, 99.0, 108.9], index=SESSIONS)
    daily = [0.0, 0.1, -0.1, 0.0, 0.1]
    bench = pd.Series([50.0, 51.0, 52.0, 51.0, 50.0, 51.0], index=SESSIONS)
    trades = pd.Series([0.1, -0.1, 0.1])
    in_market = pd.Series([False, True, True, False, True, True], index=SESSIONS)
    out = m.summarize(equity, trades, in_market, bench)
    assert out["total_return"] == pytest.approx(0.089)
    assert out["cagr"] == pytest.approx(1.089 ** (252 / 5) - 1)
    mean, sd = 0.02, math.sqrt(sum((x - 0.02) ** 2 for x in daily) / 4)
    assert out["sharpe"] == pytest.approx(mean / sd * math.sqrt(252))
    assert out["annual_volatility"] == pytest.approx(sd * math.sqrt(252))
    assert out["sortino"] == pytest.approx(mean * 252 / (math.sqrt(0.01 / 5) * math.sqrt(252)))
    assert out["max_drawdown"] == pytest.approx(-0.1)
    assert out["calmar"] == pytest.approx(out["cagr"] / 0.1)
    assert (out["n_trades"], out["hit_rate"]) == (3, pytest.approx(2 / 3))
    assert out["avg_trade_return"] == pytest.approx(0.1 / 3)
    assert out["median_trade_return"] == pytest.approx(0.1)
    assert out["profit_factor"] == pytest.approx(2.0)
    assert out["exposure"] == pytest.approx(4 / 6)
    assert out["benchmark_return"] == pytest.approx(51 / 50 - 1)
    b = np.array([51 / 50, 52 / 51, 51 / 52, 50 / 51, 51 / 50]) - 1
    fit = stats.linregress(b, daily)
    assert (out["alpha"], out["beta"]) == pytest.approx((fit.intercept * 252, fit.slope))
    active = np.array(daily) - b
    assert out["information_ratio"] == pytest.approx(
        active.mean() / active.std(ddof=1) * math.sqrt(252)
    )


def test_summarize_keeps_every_key_the_cli_prints():
    equity = pd.Series([100.0, 101.0], index=SESSIONS[:2])
    out = m.summarize(equity, pd.Series([0.01]), pd.Series([True, True]))
    assert set(METRIC_FORMATS) <= set(out)


def test_summarize_with_no_trades_and_flat_equity():
    equity = pd.Series(100.0, index=SESSIONS)
    out = m.summarize(equity, pd.Series(dtype=float), pd.Series(False, index=SESSIONS))
    assert (out["n_trades"], out["total_return"], out["max_drawdown"]) == (0, 0.0, 0.0)
    for key in ("sharpe", "sortino", "calmar", "hit_rate", "avg_trade_return", "profit_factor"):
        assert math.isnan(out[key]), key
    for key in ("benchmark_return", "alpha", "beta", "information_ratio"):  # no benchmark
        assert math.isnan(out[key]), key


def test_summarize_with_an_all_nan_benchmark():
    equity = pd.Series([100.0, 101.0, 99.0, 102.0, 102.0, 103.0], index=SESSIONS)
    bench = pd.Series(NAN, index=SESSIONS)
    out = m.summarize(equity, pd.Series([0.03]), pd.Series(True, index=SESSIONS), bench)
    for key in ("benchmark_return", "alpha", "beta", "information_ratio"):
        assert math.isnan(out[key]), key
    assert out["total_return"] == pytest.approx(0.03)


def test_summarize_of_a_geometric_equity_curve():
    # 100 * 1.01**i: every daily return is 1%, so the series is flat in returns.
    equity = pd.Series(100 * 1.01 ** np.arange(6), index=SESSIONS)
    out = m.summarize(equity, pd.Series([1.01**5 - 1]), pd.Series(True, index=SESSIONS))
    assert out["total_return"] == pytest.approx(1.01**5 - 1)
    assert out["cagr"] == pytest.approx(1.01**252 - 1)
    assert out["max_drawdown"] == 0.0
    assert math.isnan(out["sharpe"]) and math.isnan(out["sortino"]) and math.isnan(out["calmar"])


def test_summarize_skips_benchmark_nans_at_the_start():
    equity = pd.Series([100.0, 101.0, 99.0, 102.0, 102.0, 103.0], index=SESSIONS)
    bench = pd.Series([NAN, NAN, 10.0, 11.0, 10.0, 10.5], index=SESSIONS)
    out = m.summarize(equity, pd.Series(dtype=float), pd.Series(True, index=SESSIONS), bench)
    assert out["benchmark_return"] == pytest.approx(0.05)
    b = pd.Series([0.1, -1 / 11, 0.05], index=SESSIONS[3:])
    r = m.returns_from_equity(equity)
    assert out["beta"] == pytest.approx(stats.linregress(b, r[SESSIONS[3:]]).slope)


# ---- metamorphic rules (RELIABILITY.md I17) and no mutation (I18) ---------------------------
NOISE = pd.Series(
    np.random.default_rng(1337).normal(0, 0.01, 500),
    index=pd.date_range("2000-1-30", periods=500, freq="D", tz="UTC"),
)


@pytest.mark.parametrize("c", [0.0001, 0.001, 0.01])
def test_raising_every_return_never_lowers_max_drawdown(c):
    assert m.max_drawdown(NOISE + c) >= m.max_drawdown(NOISE) >= m.max_drawdown(NOISE - c)


@pytest.mark.parametrize("c", [0.001, 0.01])
def test_raising_every_trade_return_raises_mean_and_hit_rate(c):
    assert m.average_trade_return(NOISE + c) > m.average_trade_return(NOISE)
    assert m.hit_rate(NOISE + c) >= m.hit_rate(NOISE)


def test_more_noise_lowers_sharpe():
    rng = np.random.default_rng(3)
    base = rng.normal(0, 1, 1000)
    assert m.sharpe_ratio(0.001 + 0.002 * base) > m.sharpe_ratio(0.001 + 0.02 * base)


def test_sharpe_is_invariant_to_translating_returns_and_risk_free_together():
    close(m.sharpe_ratio(NOISE + 0.005, 0.005), m.sharpe_ratio(NOISE))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=1, max_size=40))
def test_drawdown_is_within_minus_one_and_zero(values):
    dd = m.max_drawdown(values)
    assert -1.0 <= dd <= 0.0


def test_no_metric_mutates_its_inputs():
    ret, bench = MIXED.copy(), NEGATIVE.copy()
    trades = pd.Series([0.01, np.nan, -0.02])
    for fn in SERIES_METRICS + [m.hit_rate, m.profit_factor, m.median_trade_return]:
        fn(trades)
        fn(ret)
    m.alpha_beta(ret, bench)
    m.information_ratio(ret, bench)
    m.sharpe_ratio(ret, bench)
    m.summarize(100 * (1 + ret.fillna(0)).cumprod(), trades, ret.notna(), 100 + bench.cumsum())
    pd.testing.assert_series_equal(ret, MIXED)
    pd.testing.assert_series_equal(bench, NEGATIVE)
    pd.testing.assert_series_equal(trades, pd.Series([0.01, np.nan, -0.02]))
