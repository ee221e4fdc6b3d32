"""Comparison statistics against hand computations and independent re-computations.

Each expected value is derived here without calling the code under test's
helpers: Welch from the textbook formulas (exact fractions on a tiny example),
Jobson-Korkie-Memmel by hand, Ledoit-Wolf with a finite-difference gradient,
``numpy.cov`` and a Toeplitz kernel matrix, the bootstrap against the
asymptotic standard errors.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import linalg, stats

from backtest.core.errors import DataIntegrityError
from backtest.stats import compare as cs


# ---- Welch ----------------------------------------------------------------------------------
def test_welch_interval_by_hand():
    a, b = [0.01, 0.03, 0.05], [0.00, 0.02]
    # s_a^2 = 0.0004, s_b^2 = 0.0002 -> se^2 = 0.0004/3 + 0.0002/2 = 7/30000;
    # df = (7/30000)^2 / ((4/30000)^2/2 + (3/30000)^2/1) = 49 / 17.
    se, df = math.sqrt(7 / 30000), 49 / 17
    t = 0.02 / se
    half = stats.t.ppf(0.975, df) * se
    r = cs.mean_difference(a, b)
    assert (r.n_a, r.n_b) == (3, 2)
    assert r.diff == pytest.approx(0.02, rel=1e-12)
    assert r.df == pytest.approx(df, rel=1e-12)
    assert r.t_stat == pytest.approx(t, rel=1e-12)
    assert r.p_value == pytest.approx(2 * stats.t.sf(t, df), rel=1e-10)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.02 - half, 0.02 + half), rel=1e-10)


def test_welch_interval_level_and_nans():
    a = [0.01, 0.03, float("nan"), 0.05]
    r90 = cs.mean_difference(a, [0.00, 0.02], confidence=0.90)
    r95 = cs.mean_difference(a, [0.00, 0.02])
    assert r90.n_a == 3  # the NaN is not a trade
    assert r95.ci_low < r90.ci_low < r90.diff < r90.ci_high < r95.ci_high


@pytest.mark.parametrize(
    "a, b",
    [([0.01], [0.02, 0.03]), ([], [0.01, 0.02]), ([0.01, 0.01], [0.02, 0.02])],
    ids=["one_trade", "no_trades", "both_constant"],
)
def test_welch_undefined_cases_are_nan(a, b):
    r = cs.mean_difference(a, b)
    assert all(math.isnan(v) for v in (r.ci_low, r.ci_high, r.t_stat, r.p_value))


# ---- Jobson-Korkie with Memmel's correction -------------------------------------------------
def test_memmel_by_hand():
    a = [0.02, -0.01, 0.03, 0.00, 0.01]
    b = [0.01, 0.00, 0.01, -0.01, 0.02]
    # Deviations from the means 0.01 and 0.006; sums of squares 0.001 and 0.00052;
    # cross products sum to 0.0004.
    sr_a, sr_b = 0.01 / math.sqrt(0.001 / 4), 0.006 / math.sqrt(0.00052 / 4)
    rho = 0.0004 / math.sqrt(0.001 * 0.00052)
    var = (2 - 2 * rho + 0.5 * (sr_a**2 + sr_b**2 - 2 * sr_a * sr_b * rho**2)) / 5
    r = cs.sharpe_diff_memmel(a, b)
    assert (r.sharpe_a, r.sharpe_b) == pytest.approx((sr_a, sr_b), rel=1e-12)
    assert r.se == pytest.approx(math.sqrt(var), rel=1e-12)
    assert r.stat == pytest.approx((sr_a - sr_b) / math.sqrt(var), rel=1e-12)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(r.stat), rel=1e-10)
    assert r.se == pytest.approx(0.474690, abs=1e-6)  # the same, worked on paper


# ---- Ledoit-Wolf ----------------------------------------------------------------------------
TINY_A = [0.02, -0.01, 0.03, 0.00, 0.01, -0.02]
TINY_B = [0.01, 0.00, 0.01, -0.01, 0.02, 0.01]


def _f(u):
    """Sharpe difference as a function of (mu_a, mu_b, E[a^2], E[b^2])."""
    return u[0] / math.sqrt(u[2] - u[0] ** 2) - u[1] / math.sqrt(u[3] - u[1] ** 2)


def _numeric_gradient(u, h=1e-7):
    grad = []
    for i in range(4):
        up, down = list(u), list(u)
        up[i] += h
        down[i] -= h
        grad.append((_f(up) - _f(down)) / (2 * h))
    return np.array(grad)


def test_ledoit_wolf_iid_standard_error_by_hand():
    a, b = np.array(TINY_A), np.array(TINY_B)
    t = len(a)
    diff = statistics.mean(TINY_A) / statistics.stdev(TINY_A) - statistics.mean(
        TINY_B
    ) / statistics.stdev(TINY_B)
    u = [a.mean(), b.mean(), (a**2).mean(), (b**2).mean()]
    psi = np.cov(np.vstack([a, b, a**2, b**2]), bias=True) * t / (t - 4)
    g = _numeric_gradient(u)
    se = math.sqrt(g @ psi @ g / t)
    r = cs.sharpe_diff_ledoit_wolf(a, b, bandwidth=1.0)
    assert r.diff == pytest.approx(diff, rel=1e-12)
    assert r.se == pytest.approx(se, rel=1e-6)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(diff) / se), rel=1e-5)
    assert r.ci_high - r.ci_low == pytest.approx(2 * 1.959963984540054 * se, rel=1e-6)


def test_analytic_gradient_equals_finite_differences():
    u = [0.003, -0.001, 0.0004, 0.0002]
    got = cs.sharpe_gradient(np.array(u[:2]), np.array(u[2:]))
    np.testing.assert_allclose(got, _numeric_gradient(u), rtol=1e-6)


def _ar1_pair(n, phi, seed):
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 0.01, (n, 2))
    e[:, 1] = 0.6 * e[:, 0] + 0.8 * e[:, 1]  # correlated strategies
    x = np.zeros((n, 2))
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x + np.array([0.0008, 0.0003])


def test_hac_equals_a_toeplitz_kernel_quadratic_form():
    # Independent route: grad' Psi grad = T/(T-4) * (1/T) z' K z with z_t = grad' y_t and
    # K[t, s] = parzen((t - s) / S), a kernel-weighted double sum over all pairs of sessions.
    x = _ar1_pair(300, 0.4, seed=11)
    t = len(x)
    mu, gamma = x.mean(axis=0), (x**2).mean(axis=0)
    y = np.column_stack([x - mu, x**2 - gamma])
    g = cs.sharpe_gradient(mu, gamma)
    z = y @ g
    for bandwidth in (1.0, 3.7, 12.0):
        lags = np.arange(t) / bandwidth
        k = np.where(
            lags <= 0.5,
            1 - 6 * lags**2 + 6 * lags**3,
            np.where(lags <= 1, 2 * (1 - lags) ** 3, 0.0),
        )
        expected = t / (t - 4) * (z @ linalg.toeplitz(k) @ z) / t
        assert g @ cs.hac_covariance(y, bandwidth) @ g == pytest.approx(expected, rel=1e-10)


def test_andrews_bandwidth_with_an_independent_ar1_fit():
    x = _ar1_pair(400, 0.5, seed=5)
    y = np.column_stack([x - x.mean(axis=0), x**2 - (x**2).mean(axis=0)])
    num = den = 0.0
    for col in y.T:
        slope, intercept = np.polyfit(col[:-1], col[1:], 1)
        s2 = np.mean((col[1:] - intercept - slope * col[:-1]) ** 2)
        num += 4 * slope**2 * s2**2 / (1 - slope) ** 8
        den += s2**2 / (1 - slope) ** 4
    expected = 2.6614 * (num / den * len(y)) ** 0.2
    assert cs.andrews_bandwidth(y) == pytest.approx(expected, rel=1e-9)
    assert 1 < expected < len(y) - 1


def test_ledoit_wolf_widens_for_positively_autocorrelated_returns():
    x = _ar1_pair(1000, 0.5, seed=3)
    iid = cs.sharpe_diff_ledoit_wolf(x[:, 0], x[:, 1], bandwidth=1.0)
    hac = cs.sharpe_diff_ledoit_wolf(x[:, 0], x[:, 1])
    assert hac.diff == iid.diff
    assert hac.se > 1.2 * iid.se


def test_ledoit_wolf_iid_matches_memmel_for_normal_returns():
    # Under i.i.d. normal returns both estimate the same asymptotic variance.
    rng = np.random.default_rng(2)
    e = rng.normal(0, 0.01, (20000, 2))
    x = np.column_stack([e[:, 0], 0.5 * e[:, 0] + 0.866 * e[:, 1]]) + [0.001, 0.0002]
    lw = cs.sharpe_diff_ledoit_wolf(x[:, 0], x[:, 1], bandwidth=1.0)
    jkm = cs.sharpe_diff_memmel(x[:, 0], x[:, 1])
    assert lw.diff == pytest.approx(jkm.diff, rel=1e-12)
    assert lw.se == pytest.approx(jkm.se, rel=0.03)


def test_ledoit_wolf_size_under_the_null():
    # Two strategies with the same Sharpe ratio: about 5% of samples reject at 5%.
    rng = np.random.default_rng(17)
    rejections = 0
    for _ in range(300):
        e = rng.normal(0, 0.01, (250, 2))
        rejections += cs.sharpe_diff_ledoit_wolf(e[:, 0] + 0.0005, e[:, 1] + 0.0005).p_value < 0.05
    assert 0.01 <= rejections / 300 <= 0.10


def test_a_clear_difference_is_significant():
    rng = np.random.default_rng(4)
    e = rng.normal(0, 0.01, (1000, 2))
    a, b = e[:, 0] + 0.003, 0.7 * e[:, 0] + 0.7 * e[:, 1]
    for test in (cs.sharpe_diff_ledoit_wolf, cs.sharpe_diff_memmel, cs.sharpe_diff_bootstrap):
        r = test(a, b)
        assert r.diff > 0 and r.p_value < 0.01 and r.ci_low > 0, r.method


# ---- bootstrap ------------------------------------------------------------------------------
class FixedStarts:
    """A stand-in generator whose block starts are chosen by the test."""

    def __init__(self, starts):
        self.starts = np.array(starts)

    def integers(self, low, high, size):
        assert (low, high, size) == (0, 5, len(self.starts))
        return self.starts


def test_circular_blocks_wrap_around_by_hand():
    got = cs.circular_block_indices(5, 3, FixedStarts([3, 0]))
    assert got.tolist() == [3, 4, 0, 0, 1]  # 3,4 then wraps to 0; second block cut at n


def test_bootstrap_is_seeded():
    x = _ar1_pair(300, 0.2, seed=8)
    r1 = cs.sharpe_diff_bootstrap(x[:, 0], x[:, 1], n_boot=300, seed=42)
    assert r1 == cs.sharpe_diff_bootstrap(x[:, 0], x[:, 1], n_boot=300, seed=42)
    assert r1.se != cs.sharpe_diff_bootstrap(x[:, 0], x[:, 1], n_boot=300, seed=43).se
    assert "seed=42" in r1.method


def test_bootstrap_se_agrees_with_the_asymptotic_se():
    rng = np.random.default_rng(9)
    e = rng.normal(0, 0.01, (1500, 2))
    a, b = e[:, 0] + 0.001, 0.5 * e[:, 0] + 0.866 * e[:, 1]
    boot = cs.sharpe_diff_bootstrap(a, b, block=1, n_boot=2000, seed=0)
    lw = cs.sharpe_diff_ledoit_wolf(a, b, bandwidth=1.0)
    assert boot.diff == lw.diff
    assert boot.se == pytest.approx(lw.se, rel=0.1)


def test_identical_strategies_are_not_different():
    x = _ar1_pair(200, 0.0, seed=1)[:, 0]
    r = cs.sharpe_diff_bootstrap(x, x, n_boot=200)
    assert r.diff == 0.0 and r.p_value == 1.0
    assert cs.sharpe_diff_memmel(x, x).diff == 0.0


# ---- inputs ---------------------------------------------------------------------------------
def test_series_are_paired_on_their_index():
    idx = pd.bdate_range("2026-01-05", periods=8)
    a = pd.Series(TINY_A + [0.5, 0.4], index=idx)
    b = pd.Series([np.nan, *TINY_B], index=idx[2:].append(pd.bdate_range("2026-01-19", periods=1)))
    pairs = cs.paired_returns(a, b)
    expected = np.column_stack([a.loc[idx[3:8]], b.loc[idx[3:8]]])
    np.testing.assert_array_equal(pairs, expected)


def test_mixing_tz_aware_and_naive_raises():
    idx = pd.bdate_range("2026-01-05", periods=6)
    a = pd.Series(TINY_A, index=idx.tz_localize("America/New_York"))
    with pytest.raises(DataIntegrityError, match="tz-aware"):
        cs.sharpe_diff_ledoit_wolf(a, pd.Series(TINY_B, index=idx))


@pytest.mark.parametrize(
    "test", [cs.sharpe_diff_ledoit_wolf, cs.sharpe_diff_memmel, cs.sharpe_diff_bootstrap]
)
@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_sessions_give_nan(test, n):
    r = test(TINY_A[:n], TINY_B[:n])
    assert r.n == n and math.isnan(r.p_value) and math.isnan(r.se)


@pytest.mark.parametrize(
    "test", [cs.sharpe_diff_ledoit_wolf, cs.sharpe_diff_memmel, cs.sharpe_diff_bootstrap]
)
def test_a_flat_strategy_gives_nan(test):
    r = test([0.01] * 10, TINY_A + TINY_B[:4])
    assert math.isnan(r.sharpe_a) and math.isnan(r.diff) and math.isnan(r.p_value)
