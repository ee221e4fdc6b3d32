"""Event-study statistics: each test against values worked out by hand on a tiny example,
and the whole study against an independent scipy/numpy computation on bundled real data.

The independent computation below never calls backtest.eventstudy helpers: it re-derives
returns with pandas, fits with scipy.stats.linregress, and runs the tests with
scipy.stats (ttest_1samp, rankdata, norm, bootstrap).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.core.sessions import get_calendar
from backtest.data.bundled import BundledPrices
from backtest.events.align import align_events
from backtest.events.loaders import load_bundled_earnings
from backtest.eventstudy import (
    EventStudyConfig,
    bmp_test,
    bootstrap_caar,
    corrado_rank_test,
    cross_sectional_t,
    generalized_sign_test,
    patell_test,
    run_event_study,
)
from backtest.eventstudy.market_model import fit_market_model, standardized_ar

TOL = 1e-9

# ---------------------------------------------------------------- by hand, tiny examples


def test_market_model_by_hand():
    # m = [.01, -.01, .02, 0], r = [.02, -.01, .03, .005]
    # means: m .005, r .01125; dm = [.005, -.015, .015, -.005]; dr = [.00875, -.02125, .01875, -.00625]
    # Sxx = .000025 + .000225 + .000225 + .000025 = .0005
    # Sxy = .005*.00875 + .015*.02125 + .015*.01875 + .005*.00625 = .000675
    # beta = .000675 / .0005 = 1.35; alpha = .01125 - 1.35 * .005 = .0045
    # residuals [.002, -.001, -.0015, .0005]; SSR = 7.5e-6; s^2 = 7.5e-6 / (4 - 2)
    fit = fit_market_model(
        np.array([[0.02, -0.01, 0.03, 0.005]]), np.array([[0.01, -0.01, 0.02, 0.0]])
    )
    assert fit.beta[0] == pytest.approx(1.35, abs=1e-12)
    assert fit.alpha[0] == pytest.approx(0.0045, abs=1e-12)
    assert fit.sigma[0] == pytest.approx(math.sqrt(7.5e-6 / 2), abs=1e-15)
    assert fit.n_obs[0] == 4 and fit.market_sxx[0] == pytest.approx(0.0005, abs=1e-15)
    # Out of sample, R_m = .03, R = .05: AR = .05 - .0045 - 1.35 * .03 = .005
    # S = s * sqrt(1 + 1/4 + (.03 - .005)^2 / .0005) = s * sqrt(1 + .25 + 1.25) = s * sqrt(2.5)
    sar = standardized_ar(fit, np.array([[0.005]]), np.array([[0.03]]))
    assert sar[0, 0] == pytest.approx(0.005 / (math.sqrt(3.75e-6) * math.sqrt(2.5)), rel=1e-12)


def test_market_model_ignores_missing_pairs():
    # The NaN session is left out of the fit: same answer as the 4 complete pairs above.
    fit = fit_market_model(
        np.array([[0.02, np.nan, -0.01, 0.03, 0.005]]), np.array([[0.01, 0.5, -0.01, 0.02, 0.0]])
    )
    assert fit.n_obs[0] == 4 and fit.beta[0] == pytest.approx(1.35, abs=1e-12)


def test_cross_sectional_t_by_hand():
    # CAR = [.02, .04, -.01, .03]: mean .02; deviations [0, .02, -.03, .01]
    # sum of squares .0014; sd = sqrt(.0014 / 3); t = .02 / (sd / sqrt(4))
    t = 0.02 / (math.sqrt(0.0014 / 3) / 2)
    res = cross_sectional_t(np.array([0.02, 0.04, -0.01, 0.03]))
    assert res.statistic == pytest.approx(t, rel=1e-12)
    assert t == pytest.approx(1.851640199545103, rel=1e-12)
    # p two-sided, Student t with 3 df: 2 * (1 - F(1.8516)) from the t(3) closed form
    # F(t) = 1/2 + (1/pi) [ t / (sqrt3 (1 + t^2/3)) + atan(t / sqrt3) ]
    x = t / math.sqrt(3)
    cdf = 0.5 + (x / (1 + x * x) + math.atan(x)) / math.pi
    assert res.p_value == pytest.approx(2 * (1 - cdf), rel=1e-10)


def test_patell_by_hand():
    # 3 events x 2 sessions of SAR; M = [10, 12, 14]
    # sum SAR = (1 + .5) + (-.2 + .8) + (.3 + .4) = 2.8
    # var: 2 * (8/6 + 10/8 + 12/10) = 2 * (1.333.. + 1.25 + 1.2) = 7.5666..
    sar = np.array([[1.0, 0.5], [-0.2, 0.8], [0.3, 0.4]])
    z = 2.8 / math.sqrt(2 * (8 / 6 + 10 / 8 + 12 / 10))
    res = patell_test(sar, np.array([10, 12, 14]))
    assert res.statistic == pytest.approx(z, rel=1e-12)
    assert z == pytest.approx(1.0179014, rel=1e-6)  # 2.8 / sqrt(7.566667)
    # two-sided normal p: erfc(|z| / sqrt 2)
    assert res.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)


def test_patell_needs_more_than_four_estimation_sessions():
    assert math.isnan(patell_test(np.ones((2, 1)), np.array([4, 10])).statistic)


def test_bmp_by_hand():
    # SCAR_i = (sum_t SAR_it) / sqrt(2) = [1.5, .6, .7] / sqrt 2
    # mean = 2.8 / 3 / sqrt2; deviations of [1.5, .6, .7] from .9333: [.5667, -.3333, -.2333]
    # sum sq = .32111 + .11111 + .05444 = .48667 (= (1.5^2+.6^2+.7^2) - 2.8^2/3 = 3.1 - 2.61333)
    # t = mean / (sd / sqrt3), the common 1/sqrt2 cancels
    sar = np.array([[1.0, 0.5], [-0.2, 0.8], [0.3, 0.4]])
    sd = math.sqrt((3.1 - 2.8**2 / 3) / 2)
    t = (2.8 / 3) / (sd / math.sqrt(3))
    res = bmp_test(sar)
    assert res.statistic == pytest.approx(t, rel=1e-12)
    # Student t with 2 df: F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so p = 2 (1 - F(t))
    assert res.p_value == pytest.approx(2 * (0.5 - t / (2 * math.sqrt(2 + t * t))), rel=1e-10)


def test_corrado_by_hand():
    # 3 events x 4 sessions (3 estimation + day 0); ranks within each event's row:
    # e1 [.01, -.02, .00, .05] -> ranks [3, 1, 2, 4]
    # e2 [.03, .01, -.01, .02] -> ranks [4, 2, 1, 3]
    # e3 [-.01, .02, .01, -.02]-> ranks [2, 4, 3, 1]
    # U = K / (4 + 1) - 1/2 = (K - 2.5) / 5
    # Ubar_t = mean over events: t1 (3+4+2)/3 = 3 -> .1; t2 (1+2+4)/3 = 7/3 -> -1/30;
    #          t3 (2+1+3)/3 = 2 -> -.1; t4 (4+3+1)/3 = 8/3 -> 1/30
    # S_U = sqrt((.01 + 1/900 + .01 + 1/900) / 4); Z(day 0) = (1/30) / S_U
    ar = np.array([[0.01, -0.02, 0.0, 0.05], [0.03, 0.01, -0.01, 0.02], [-0.01, 0.02, 0.01, -0.02]])
    s_u = math.sqrt((0.01 + 1 / 900 + 0.01 + 1 / 900) / 4)
    res = corrado_rank_test(ar, np.array([False, False, False, True]))
    assert res.statistic == pytest.approx((1 / 30) / s_u, rel=1e-12)
    # Two-day window (t3, t4): (-.1 + 1/30) / (sqrt2 * S_U)
    res2 = corrado_rank_test(ar, np.array([False, False, True, True]))
    assert res2.statistic == pytest.approx((-0.1 + 1 / 30) / (math.sqrt(2) * s_u), rel=1e-12)


def test_corrado_with_a_missing_session():
    # e1 misses t2: ranks of [.01, .00, .05] are [2, 1, 3], n = 3 -> U = K/4 - 1/2 = [0, -.25, .25]
    # e2 [.03, .01, -.01, .02] -> U = [.3, -.1, -.3, .1]
    # Ubar: t1 .15, t2 -.1 (only e2), t3 -.275, t4 .175
    ar = np.array([[0.01, np.nan, 0.0, 0.05], [0.03, 0.01, -0.01, 0.02]])
    s_u = math.sqrt((0.15**2 + 0.1**2 + 0.275**2 + 0.175**2) / 4)
    res = corrado_rank_test(ar, np.array([False, False, False, True]))
    assert res.statistic == pytest.approx(0.175 / s_u, rel=1e-12)


def test_generalized_sign_by_hand():
    # Estimation residuals, share positive per event: e1 2/4, e2 1/4, e3 3/4, e4 2/3 (one NaN)
    # p = (.5 + .25 + .75 + 2/3) / 4 = 0.541666..; CAR > 0 for 3 of 4 events (w = 3)
    # Z = (3 - 4p) / sqrt(4 p (1 - p))
    est = np.array(
        [
            [0.01, -0.01, 0.02, -0.03],
            [0.01, -0.01, -0.02, -0.03],
            [0.01, 0.01, 0.02, -0.03],
            [0.01, np.nan, 0.02, -0.03],
        ]
    )
    p = (0.5 + 0.25 + 0.75 + 2 / 3) / 4
    z = (3 - 4 * p) / math.sqrt(4 * p * (1 - p))
    res = generalized_sign_test(est, np.array([0.02, -0.01, 0.05, 0.001]))
    assert res.statistic == pytest.approx(z, rel=1e-12)
    assert res.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-12)


def test_bootstrap_by_hand():
    # Equal CARs: every resample has the same mean, so the interval is that value.
    same = bootstrap_caar(np.full(4, 0.03), 500, 0.95, np.random.default_rng(1))
    assert same.low == pytest.approx(0.03) and same.high == pytest.approx(0.03)
    # CARs {0, 1}: a resample mean of 2 draws is 0, .5 or 1; the 2.5%/97.5% quantiles of
    # 1000 draws land on 0 and 1 (P(0) = P(1) = 1/4 each, far above 2.5%).
    two = bootstrap_caar(np.array([0.0, 1.0]), 1000, 0.95, np.random.default_rng(2))
    assert (two.low, two.high) == (0.0, 1.0)
    # Same seed, same interval; another seed draws other resamples.
    car = np.array([0.01, -0.02, 0.04, 0.03, 0.0])
    a, b, c = (bootstrap_caar(car, 999, 0.9, np.random.default_rng(s)) for s in (7, 7, 8))
    assert a == b and a != c


def test_degenerate_inputs_give_nan_not_warnings():
    assert all(math.isnan(v) for v in cross_sectional_t(np.array([0.1])))
    assert all(math.isnan(v) for v in cross_sectional_t(np.array([0.1, 0.1])))
    assert all(math.isnan(v) for v in bmp_test(np.ones((1, 3))))
    assert math.isnan(bootstrap_caar(np.array([0.1]), 100, 0.9, np.random.default_rng(0)).low)


# ---------------------------------------------------------------- independent, real data

TICKERS = ["BABA", "BIDU", "JD", "PDD", "NTES", "AMZN", "NFLX", "TSLA"]
NOW = pd.Timestamp("2026-07-24", tz="UTC")


@pytest.fixture(scope="module")
def real():
    cal = get_calendar("XNYS")
    source = BundledPrices()
    prices = {t: source.load(t) for t in TICKERS}
    spy = source.load("SPY")
    aligned, _ = align_events(load_bundled_earnings(TICKERS, cal), prices, cal, now=NOW)
    # Every event its own observation: the independent computation below knows no clusters.
    cfg = EventStudyConfig(cluster="none")
    return prices, spy, aligned, cfg, run_event_study(aligned, prices, spy, cfg)


def _independent_events(prices, spy, car_table, cfg):
    """Per studied event: linregress fit, event-window ARs, SARs and estimation residuals."""
    (e0, e1), (w0, w1) = cfg.estimation_window, cfg.event_window
    out = []
    for ev in car_table.itertuples():
        both = pd.concat({"r": prices[ev.ticker]["close"], "m": spy["close"]}, axis=1, join="inner")
        rets = both / both.shift(1) - 1.0
        p = rets.index.get_loc(ev.session)
        est = rets.iloc[max(p + e0, 0) : p + e1 + 1].dropna()
        fit = stats.linregress(est["m"], est["r"])
        resid = est["r"] - fit.intercept - fit.slope * est["m"]
        m_obs = len(est)
        s2 = float((resid**2).sum()) / (m_obs - 2)
        window = rets.iloc[p + w0 : p + w1 + 1]
        ar = window["r"] - fit.intercept - fit.slope * window["m"]
        dev = window["m"] - est["m"].mean()
        sxx = float(((est["m"] - est["m"].mean()) ** 2).sum())
        sar = ar / np.sqrt(s2 * (1 + 1 / m_obs + dev**2 / sxx))
        est_days = np.array([rets.index.get_loc(d) - p for d in est.index])
        out.append(
            {
                "event_id": ev.event_id,
                "alpha": fit.intercept,
                "beta": fit.slope,
                "m": m_obs,
                "ar": ar.to_numpy(),
                "sar": sar.to_numpy(),
                "resid": resid.to_numpy(),
                "est_days": est_days,
            }
        )
    return out


@pytest.fixture(scope="module")
def independent(real):
    prices, spy, _, cfg, result = real
    return {e["event_id"]: e for e in _independent_events(prices, spy, result.car, cfg)}


def test_real_sample_is_large_enough(real):
    *_, result = real
    assert len(result.car) >= 250
    assert set(result.groups["group_by"]) == {"all", "timing", "event_type", "surprise"}


def test_market_model_matches_linregress(real, independent):
    *_, result = real
    ids = result.car["event_id"]
    np.testing.assert_allclose(
        result.car["alpha"], [independent[i]["alpha"] for i in ids], rtol=TOL, atol=1e-12
    )
    np.testing.assert_allclose(
        result.car["beta"], [independent[i]["beta"] for i in ids], rtol=TOL, atol=1e-12
    )
    assert result.car["n_estimation"].tolist() == [independent[i]["m"] for i in ids]


def test_abnormal_returns_match(real, independent):
    *_, result = real
    for event_id, rows in result.ar.groupby("event_id"):
        np.testing.assert_allclose(rows["ar"], independent[event_id]["ar"], rtol=TOL, atol=1e-12)
        np.testing.assert_allclose(rows["sar"], independent[event_id]["sar"], rtol=TOL, atol=1e-10)


CASES = [
    ("all", "all", (-1, 1)),
    ("all", "all", (0, 0)),
    ("timing", "amc", (2, 20)),
    ("surprise", "high", (0, 1)),
]


def _members(result, by, group):
    ids = result.groups.loc[
        (result.groups["group_by"] == by) & (result.groups["group"] == group), "event_id"
    ]
    return list(ids)


def _row(result, by, group, window, test):
    label = "[" + ",".join(f"{d:+d}" if d else "0" for d in window) + "]"
    t = result.tests
    hit = t[
        (t["group_by"] == by) & (t["group"] == group) & (t["window"] == label) & (t["test"] == test)
    ]
    assert len(hit) == 1
    return hit.iloc[0]


def _cols(window, cfg):
    days = np.arange(cfg.event_window[0], cfg.event_window[1] + 1)
    return (days >= window[0]) & (days <= window[1]), days


@pytest.mark.parametrize(("by", "group", "window"), CASES)
def test_cross_sectional_t_and_bmp_match_ttest_1samp(real, independent, by, group, window):
    *_, cfg, result = real
    cols, _ = _cols(window, cfg)
    events = [independent[i] for i in _members(result, by, group)]
    car = np.array([e["ar"][cols].sum() for e in events])
    ref = stats.ttest_1samp(car, 0.0)
    row = _row(result, by, group, window, "cross_sectional_t")
    assert row["n"] == len(car) and row["caar"] == pytest.approx(car.mean(), rel=TOL)
    assert row["statistic"] == pytest.approx(ref.statistic, rel=TOL)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=TOL, abs=1e-15)
    scar = np.array([e["sar"][cols].sum() / math.sqrt(cols.sum()) for e in events])
    ref_bmp = stats.ttest_1samp(scar, 0.0)
    row = _row(result, by, group, window, "bmp_t")
    assert row["statistic"] == pytest.approx(ref_bmp.statistic, rel=TOL)
    assert row["p_value"] == pytest.approx(ref_bmp.pvalue, rel=TOL, abs=1e-15)
    # Kolari-Pynnonen: r-bar from pandas' pairwise-complete correlation of the linregress
    # residuals, paired by session relative to day 0.
    resid = pd.DataFrame(
        {i: pd.Series(e["resid"], index=e["est_days"]) for i, e in enumerate(events)}
    )
    corr = resid.corr(min_periods=3).to_numpy()
    rbar = np.nanmean(corr[np.triu_indices(len(events), k=1)])
    n = len(events)
    t_kp = ref_bmp.statistic * math.sqrt((1 - rbar) / (1 + (n - 1) * rbar))
    row = _row(result, by, group, window, "bmp_kp_t")
    assert row["statistic"] == pytest.approx(t_kp, rel=1e-8)
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(t_kp), n - 1), rel=1e-7)


@pytest.mark.parametrize(("by", "group", "window"), CASES)
def test_patell_matches(real, independent, by, group, window):
    *_, cfg, result = real
    cols, _ = _cols(window, cfg)
    events = [independent[i] for i in _members(result, by, group)]
    total = sum(e["sar"][cols].sum() for e in events)
    var = sum(cols.sum() * (e["m"] - 2) / (e["m"] - 4) for e in events)
    z = total / math.sqrt(var)
    row = _row(result, by, group, window, "patell_z")
    assert row["statistic"] == pytest.approx(z, rel=TOL)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-8, abs=1e-15)


@pytest.mark.parametrize(("by", "group", "window"), CASES)
def test_corrado_matches_rankdata(real, independent, by, group, window):
    *_, cfg, result = real
    cols, days = _cols(window, cfg)
    by_day: dict[int, list[float]] = {}
    for e in (independent[i] for i in _members(result, by, group)):
        series = np.concatenate([e["resid"], e["ar"]])
        u = stats.rankdata(series) / (len(series) + 1) - 0.5
        for d, value in zip(np.concatenate([e["est_days"], days]), u, strict=True):
            by_day.setdefault(int(d), []).append(value)
    ubar = {d: np.mean(v) for d, v in by_day.items()}
    s_u = math.sqrt(np.mean([v**2 for v in ubar.values()]))
    inside = [d for d in days[cols]]
    z = sum(ubar[d] for d in inside) / (math.sqrt(len(inside)) * s_u)
    row = _row(result, by, group, window, "corrado_rank_z")
    assert row["statistic"] == pytest.approx(z, rel=TOL)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-8, abs=1e-15)


@pytest.mark.parametrize(("by", "group", "window"), CASES)
def test_generalized_sign_matches(real, independent, by, group, window):
    *_, cfg, result = real
    cols, _ = _cols(window, cfg)
    events = [independent[i] for i in _members(result, by, group)]
    p_hat = np.mean([np.mean(e["resid"] > 0) for e in events])
    wins = sum(e["ar"][cols].sum() > 0 for e in events)
    n = len(events)
    z = (wins - n * p_hat) / math.sqrt(n * p_hat * (1 - p_hat))
    row = _row(result, by, group, window, "generalized_sign_z")
    assert row["statistic"] == pytest.approx(z, rel=TOL)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-8, abs=1e-15)
    # The normal approximation and scipy's exact binomial test must broadly agree.
    exact = stats.binomtest(int(wins), n, p_hat).pvalue
    assert abs(exact - row["p_value"]) < 0.1


@pytest.mark.parametrize(("by", "group", "window"), CASES)
def test_bootstrap_matches_scipy_bootstrap(real, independent, by, group, window):
    *_, cfg, result = real
    cols, _ = _cols(window, cfg)
    car = np.array([independent[i]["ar"][cols].sum() for i in _members(result, by, group)])
    # The documented seed rule: Generator([seed, crc32("group_by/group")]), one draw per group.
    rng = np.random.default_rng([cfg.seed, zlib.crc32(f"{by}/{group}".encode())])
    ref = stats.bootstrap(
        (car,),
        np.mean,
        n_resamples=cfg.bootstrap_reps,
        confidence_level=cfg.confidence,
        method="percentile",
        rng=rng,
    ).confidence_interval
    row = _row(result, by, group, window, "bootstrap")
    assert row["ci_low"] == pytest.approx(ref.low, rel=TOL)
    assert row["ci_high"] == pytest.approx(ref.high, rel=TOL)
    assert row["ci_low"] <= car.mean() <= row["ci_high"]


def test_caar_band_matches_t_interval(real, independent):
    *_, cfg, result = real
    ids = _members(result, "timing", "amc")
    car = np.array([np.cumsum(independent[i]["ar"]) for i in ids])
    lo, hi = stats.t.interval(
        cfg.confidence, len(ids) - 1, loc=car.mean(axis=0), scale=stats.sem(car, axis=0)
    )
    rows = result.caar[(result.caar["group_by"] == "timing") & (result.caar["group"] == "amc")]
    np.testing.assert_allclose(rows["caar"], car.mean(axis=0), rtol=TOL, atol=1e-13)
    np.testing.assert_allclose(rows["caar_low"], lo, rtol=TOL, atol=1e-13)
    np.testing.assert_allclose(rows["caar_high"], hi, rtol=TOL, atol=1e-13)
