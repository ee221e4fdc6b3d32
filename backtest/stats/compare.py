"""Statistics for comparing two strategies: mean trade returns and Sharpe ratios.

Three questions, each a small pure function returning a frozen result:

- :func:`mean_difference`: is the mean trade return of A different from B's?
  Welch's unequal-variance t interval (the two strategies trade different
  events, so the samples are unpaired).
- :func:`sharpe_diff_ledoit_wolf` and :func:`sharpe_diff_memmel`: is the
  Sharpe ratio of A different from B's, on *paired* daily returns (the same
  sessions)? Ledoit & Wolf (2008) is robust to fat tails and serial
  correlation (HAC); Jobson & Korkie (1981) with Memmel's (2003) correction
  assumes i.i.d. normal returns and is given as the classic reference.
- :func:`sharpe_diff_bootstrap`: a seeded circular block bootstrap of the
  same difference (Politis & Romano 1992), which needs no normal approximation.

Conventions: Sharpe ratios here are *per period* (daily), ``mean / std`` with
``ddof=1`` as in :mod:`backtest.stats.metrics`; multiply ``diff``, ``se`` and the
interval by ``sqrt(252)`` to annualise them (the statistic and p-value do not
change). Paired series are aligned on their index and a session missing in
either is dropped (:func:`backtest.stats.metrics.align_pair`, which also refuses to
mix tz-aware and tz-naive indexes). Anything undefined (too few observations, a
zero standard error) is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from backtest.stats.metrics import DDOF, ZERO_SPREAD_RTOL, align_pair

__all__ = [
    "MeanDifference",
    "SharpeDifference",
    "andrews_bandwidth",
    "circular_block_indices",
    "hac_covariance",
    "mean_difference",
    "paired_returns",
    "parzen_kernel",
    "sharpe_diff_bootstrap",
    "sharpe_diff_ledoit_wolf",
    "sharpe_diff_memmel",
    "sharpe_gradient",
]

NAN = float("nan")
PARZEN_BANDWIDTH_CONSTANT = 2.6614  # Andrews (1991), Parzen kernel: S = 2.6614 (alpha T)^(1/5)
CHUNK = 256  # bootstrap replicates resampled at once (bounds memory for long series)


@dataclass(frozen=True)
class MeanDifference:
    """Difference of two means with its Welch t interval and two-sided p-value."""

    diff: float
    ci_low: float
    ci_high: float
    t_stat: float
    df: float
    p_value: float
    n_a: int
    n_b: int
    confidence: float


@dataclass(frozen=True)
class SharpeDifference:
    """Per-period Sharpe ratios of A and B, their difference, and a test of it being 0."""

    sharpe_a: float
    sharpe_b: float
    diff: float
    se: float
    stat: float
    p_value: float
    ci_low: float
    ci_high: float
    n: int
    method: str


def _clean(x) -> np.ndarray:
    arr = np.asarray(x, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def mean_difference(a, b, confidence: float = 0.95) -> MeanDifference:
    """Welch's t interval for ``mean(a) - mean(b)`` (unequal variances, unpaired).

    Welch (1947), "The generalization of Student's problem when several
    different population variances are involved", Biometrika 34:

    ``se = sqrt(s_a^2/n_a + s_b^2/n_b)``, ``t = (mean_a - mean_b) / se``,
    ``df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1))``
    (Welch-Satterthwaite) and ``CI = diff -/+ t_{df, (1+confidence)/2} * se``.
    Computed by :func:`scipy.stats.ttest_ind` with ``equal_var=False``. NaN
    values are ignored; fewer than two values on a side, or two constant
    samples, leave the interval and test NaN.

    Examples
    --------
    >>> r = mean_difference([0.01, 0.03, 0.05], [0.00, 0.02])
    >>> round(r.diff, 6), round(r.df, 4), round(r.t_stat, 4)
    (0.02, 2.8824, 1.3093)
    """
    x, y = _clean(a), _clean(b)
    diff = float(x.mean() - y.mean()) if len(x) and len(y) else NAN
    undefined = MeanDifference(diff, NAN, NAN, NAN, NAN, NAN, len(x), len(y), confidence)
    if min(len(x), len(y)) < 2 or x.var(ddof=1) + y.var(ddof=1) == 0:
        return undefined
    res = stats.ttest_ind(x, y, equal_var=False)
    ci = res.confidence_interval(confidence)
    return MeanDifference(
        diff,
        float(ci.low),
        float(ci.high),
        float(res.statistic),
        float(res.df),
        float(res.pvalue),
        len(x),
        len(y),
        confidence,
    )


def paired_returns(a, b) -> np.ndarray:
    """The two return series as a (T, 2) array of sessions where both are present.

    Series are aligned on their index; plain arrays must have equal length.

    Examples
    --------
    >>> paired_returns([0.01, float("nan"), 0.03], [0.02, 0.01, 0.0]).tolist()
    [[0.01, 0.02], [0.03, 0.0]]
    """
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        left, right = align_pair(a, b)
        return np.column_stack([left.to_numpy(float), right.to_numpy(float)])
    both = np.column_stack([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    return both[~np.isnan(both).any(axis=1)]


def _sharpe(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Per-period Sharpe ratios along ``axis`` (ddof 1); NaN for a zero spread.

    A spread within ``ZERO_SPREAD_RTOL`` of the mean is float noise (a constant
    1% series), as in :mod:`backtest.stats.metrics`.
    """
    mean, sd = x.mean(axis=axis), x.std(axis=axis, ddof=DDOF)
    flat = sd <= ZERO_SPREAD_RTOL * np.abs(mean)
    return np.where(flat, np.nan, mean / np.where(flat, 1.0, sd))


def sharpe_gradient(mu: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Gradient of ``f(mu_a, mu_b, g_a, g_b) = mu_a/sqrt(g_a - mu_a^2) - mu_b/sqrt(g_b - mu_b^2)``.

    ``g`` are the uncentred second moments ``E[r^2]``; Ledoit & Wolf (2008),
    section 3.1, the delta-method gradient of the Sharpe difference.

    Examples
    --------
    >>> sharpe_gradient(np.array([0.0, 0.0]), np.array([1.0, 4.0])).tolist()
    [1.0, -0.5, -0.0, 0.0]
    """
    var = gamma - mu**2
    return np.array(
        [
            gamma[0] / var[0] ** 1.5,
            -gamma[1] / var[1] ** 1.5,
            -0.5 * mu[0] / var[0] ** 1.5,
            0.5 * mu[1] / var[1] ** 1.5,
        ]
    )


def parzen_kernel(x: np.ndarray) -> np.ndarray:
    """Parzen kernel: ``1 - 6x^2 + 6|x|^3`` for ``|x| <= 1/2``, ``2(1-|x|)^3`` to 1, else 0.

    Examples
    --------
    >>> parzen_kernel(np.array([0.0, 0.5, 0.75, 1.0])).tolist()
    [1.0, 0.25, 0.03125, 0.0]
    """
    ax = np.abs(np.asarray(x, dtype=float))
    return np.where(ax <= 0.5, 1 - 6 * ax**2 + 6 * ax**3, np.where(ax <= 1, 2 * (1 - ax) ** 3, 0.0))


def _ar1(column: np.ndarray) -> tuple[float, float]:
    """OLS AR(1) fit ``v_t = c + rho v_{t-1} + e_t``: (rho, residual variance)."""
    fit = stats.linregress(column[:-1], column[1:])
    resid = column[1:] - fit.intercept - fit.slope * column[:-1]
    return float(fit.slope), float(np.mean(resid**2))


def andrews_bandwidth(v: np.ndarray) -> float:
    """Andrews (1991) automatic bandwidth for the Parzen kernel, from AR(1) fits.

    Andrews (1991), "Heteroskedasticity and autocorrelation consistent
    covariance matrix estimation", Econometrica 59, eq. (6.4) with equal
    weights: ``alpha = sum 4 rho^2 s^4/(1-rho)^8 / sum s^4/(1-rho)^4`` over the
    columns of ``v``, and ``S = 2.6614 (alpha T)^(1/5)``, capped at ``T - 1``.
    This is the bandwidth rule of Ledoit & Wolf's (2008) HAC standard error.

    Examples
    --------
    >>> v = np.array([[0.0], [1.0], [2.0], [1.0], [0.0], [-1.0], [0.0], [1.0]])
    >>> round(andrews_bandwidth(v), 4)  # smooth series: a wide window
    5.5519
    >>> andrews_bandwidth(np.array([[1.0], [-1.0]] * 3))  # perfect fit: no HAC lags
    0.0
    """
    num = den = 0.0
    for column in np.asarray(v, dtype=float).T:
        rho, s2 = _ar1(column)
        num += 4 * rho**2 * s2**2 / (1 - rho) ** 8
        den += s2**2 / (1 - rho) ** 4
    t = len(v)
    alpha = num / den if den > 0 else 0.0
    return float(min(PARZEN_BANDWIDTH_CONSTANT * (alpha * t) ** 0.2, t - 1))


def hac_covariance(v: np.ndarray, bandwidth: float) -> np.ndarray:
    """Parzen-kernel HAC estimate of the long-run covariance of the rows of ``v``.

    ``Psi = T/(T-4) * [G(0) + sum_{1<=j<S} k(j/S) (G(j) + G(j)')]`` with
    ``G(j) = (1/T) sum_{t>j} v_t v_{t-j}'``; the ``T/(T-4)`` small-sample
    factor is Ledoit & Wolf's (2008) for four moment series.

    Examples
    --------
    >>> v = np.array([[1.0], [-1.0], [1.0], [-1.0], [1.0], [-1.0]])
    >>> hac_covariance(v, 1.0).tolist()  # lag 0 only: 6/2 * mean(v^2)
    [[3.0]]
    """
    v = np.asarray(v, dtype=float)
    t = len(v)
    psi = v.T @ v / t
    for j in range(1, int(math.ceil(bandwidth))):
        gamma = v[j:].T @ v[:-j] / t
        psi = psi + parzen_kernel(j / bandwidth) * (gamma + gamma.T)
    return psi * t / (t - 4)


def _normal_result(sr, diff, se, n, method, confidence) -> SharpeDifference:
    """Two-sided normal test and interval for ``diff`` with standard error ``se``."""
    if not (np.isfinite(se) and se > 0 and np.isfinite(diff)):
        return SharpeDifference(*map(float, sr), float(diff), NAN, NAN, NAN, NAN, NAN, n, method)
    z = diff / se
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * se
    p = 2 * stats.norm.sf(abs(z))
    return SharpeDifference(
        float(sr[0]), float(sr[1]), diff, se, z, float(p), diff - half, diff + half, n, method
    )


def sharpe_diff_ledoit_wolf(
    a, b, bandwidth: float | None = None, confidence: float = 0.95
) -> SharpeDifference:
    """Ledoit & Wolf (2008) HAC test of ``SR_a - SR_b = 0`` on paired returns.

    Ledoit, O. and Wolf, M. (2008), "Robust performance hypothesis testing with
    the Sharpe ratio", Journal of Empirical Finance 15(5), 850-859, section 3.1:
    with ``u = (mu_a, mu_b, gamma_a, gamma_b)`` (means and uncentred second
    moments) and ``y_t = (r_at - mu_a, r_bt - mu_b, r_at^2 - gamma_a, r_bt^2 -
    gamma_b)``, ``se(diff) = sqrt(grad' Psi grad / T)`` where ``grad`` is
    :func:`sharpe_gradient` and ``Psi`` the Parzen-kernel HAC covariance of
    ``y`` (:func:`hac_covariance`) with the Andrews (1991) bandwidth unless one
    is given. The p-value is ``2 * Phi(-|diff| / se)``. (The paper's preferred
    variant also prewhitens ``y``; this is its plain HAC column.)

    Parameters
    ----------
    a, b : Series or array-like
        Per-period returns of the two strategies over the same sessions.
    bandwidth : float, optional
        Kernel bandwidth ``S``; lags ``j < S`` are used. ``1`` gives the
        i.i.d. (no autocorrelation) standard error.
    confidence : float, default 0.95
        Level of the normal interval ``diff -/+ z * se``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0.001, 0.01, (500, 2))
    >>> r = sharpe_diff_ledoit_wolf(x[:, 0] + 0.002, x[:, 1])
    >>> r.method, r.n, bool(r.diff > 0), bool(0 < r.p_value < 1)
    ('ledoit_wolf_hac', 500, True, True)
    """
    x = paired_returns(a, b)
    n = len(x)
    sr = _sharpe(x) if n >= 2 else np.array([NAN, NAN])
    diff = float(sr[0] - sr[1])
    if n <= 4 or not np.isfinite(diff):
        return _normal_result(sr, diff, NAN, n, "ledoit_wolf_hac", confidence)
    mu, gamma = x.mean(axis=0), (x**2).mean(axis=0)
    y = np.column_stack([x - mu, x**2 - gamma])
    s = andrews_bandwidth(y) if bandwidth is None else float(bandwidth)
    grad = sharpe_gradient(mu, gamma)
    se = math.sqrt(max(float(grad @ hac_covariance(y, s) @ grad), 0.0) / n)
    return _normal_result(sr, diff, se, n, "ledoit_wolf_hac", confidence)


def sharpe_diff_memmel(a, b, confidence: float = 0.95) -> SharpeDifference:
    """Jobson & Korkie (1981) test of equal Sharpe ratios with Memmel's (2003) correction.

    Jobson, J. D. and Korkie, B. M. (1981), "Performance hypothesis testing
    with the Sharpe and Treynor measures", Journal of Finance 36(4), 889-908;
    Memmel, C. (2003), "Performance hypothesis testing with the Sharpe ratio",
    Finance Letters 1, 21-23. For i.i.d. jointly normal returns with
    correlation ``rho``:

    ``Var(diff) = (2 - 2 rho + (SR_a^2 + SR_b^2 - 2 SR_a SR_b rho^2) / 2) / T``

    and ``z = diff / sqrt(Var(diff))`` is asymptotically standard normal.

    Examples
    --------
    >>> a = [0.02, -0.01, 0.03, 0.00, 0.01]
    >>> b = [0.01, 0.00, 0.01, -0.01, 0.02]
    >>> r = sharpe_diff_memmel(a, b)
    >>> round(r.sharpe_a, 6), round(r.sharpe_b, 6)  # 0.01/0.0158114, 0.006/0.0114018
    (0.632456, 0.526235)
    >>> round(r.diff, 4), round(r.se, 4)
    (0.1062, 0.4747)
    """
    x = paired_returns(a, b)
    n = len(x)
    sr = _sharpe(x) if n >= 2 else np.array([NAN, NAN])
    diff = float(sr[0] - sr[1])
    if n < 3 or not np.isfinite(diff):
        return _normal_result(sr, diff, NAN, n, "jobson_korkie_memmel", confidence)
    rho = float(np.corrcoef(x[:, 0], x[:, 1])[0, 1])
    var = (2 - 2 * rho + 0.5 * (sr[0] ** 2 + sr[1] ** 2 - 2 * sr[0] * sr[1] * rho**2)) / n
    return _normal_result(sr, diff, math.sqrt(max(var, 0.0)), n, "jobson_korkie_memmel", confidence)


def circular_block_indices(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of one circular block bootstrap sample of length ``n``.

    Politis, D. N. and Romano, J. P. (1992), "A circular block-resampling
    procedure for stationary data": ``ceil(n / block)`` blocks of ``block``
    consecutive rows start at uniform random rows; a block running past the
    end wraps to the start; the sample is cut to ``n`` rows.

    Examples
    --------
    >>> np.random.default_rng(1).integers(0, 5, size=2).tolist()  # the block starts
    [2, 2]
    >>> circular_block_indices(5, 3, np.random.default_rng(1)).tolist()
    [2, 3, 4, 2, 3]
    """
    starts = rng.integers(0, n, size=-(-n // block))
    return ((starts[:, None] + np.arange(block)) % n).ravel()[:n]


def _bootstrap_diffs(x: np.ndarray, block: int, n_boot: int, rng) -> np.ndarray:
    """Sharpe differences of ``n_boot`` circular block resamples of the rows of ``x``."""
    out = []
    for start in range(0, n_boot, CHUNK):
        idx = np.stack(
            [circular_block_indices(len(x), block, rng) for _ in range(min(CHUNK, n_boot - start))]
        )
        sr = _sharpe(x[idx], axis=1)  # x[idx]: (replicates, T, 2)
        out.append(sr[:, 0] - sr[:, 1])
    return np.concatenate(out)


def sharpe_diff_bootstrap(
    a,
    b,
    block: int = 5,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> SharpeDifference:
    """Circular block bootstrap of ``SR_a - SR_b`` on paired returns (seeded).

    Rows (sessions) are resampled in pairs, so the correlation between the two
    strategies is kept, and in blocks of ``block`` sessions, so short-range
    serial correlation is kept (Politis & Romano 1992; the resampling scheme of
    Ledoit & Wolf 2008, section 3.2). From the ``n_boot`` replicates
    ``diff*``:

    - ``se`` is their standard deviation (ddof 1);
    - the interval is their ``(1-confidence)/2`` and ``(1+confidence)/2``
      percentiles (Efron's percentile interval);
    - the p-value of ``diff = 0`` centres the replicates on the estimate:
      ``(1 + #{|diff* - diff| >= |diff|}) / (n_boot + 1)`` (Davison & Hinkley
      1997, section 4.4, basic bootstrap test).

    Replicates with an undefined Sharpe ratio (a constant resample) are dropped.
    The same ``seed`` gives the same result.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0.001, 0.01, (250, 2))
    >>> r = sharpe_diff_bootstrap(x[:, 0], x[:, 1], n_boot=200, seed=1)
    >>> r == sharpe_diff_bootstrap(x[:, 0], x[:, 1], n_boot=200, seed=1)
    True
    >>> r.ci_low < r.diff < r.ci_high
    True
    """
    x = paired_returns(a, b)
    n = len(x)
    sr = _sharpe(x) if n >= 2 else np.array([NAN, NAN])
    diff = float(sr[0] - sr[1])
    method = f"circular_block_bootstrap(block={block}, n_boot={n_boot}, seed={seed})"
    if n < 3 or not np.isfinite(diff):
        return SharpeDifference(*map(float, sr), diff, NAN, NAN, NAN, NAN, NAN, n, method)
    star = _bootstrap_diffs(x, block, n_boot, np.random.default_rng(seed))
    star = star[np.isfinite(star)]
    if len(star) < 2:
        return SharpeDifference(*map(float, sr), diff, NAN, NAN, NAN, NAN, NAN, n, method)
    low, high = np.quantile(star, [(1 - confidence) / 2, (1 + confidence) / 2])
    extreme = int(np.sum(np.abs(star - diff) >= abs(diff)))
    p = (1 + extreme) / (len(star) + 1)
    se = float(star.std(ddof=1))
    stat = diff / se if se > 0 else NAN
    return SharpeDifference(
        float(sr[0]), float(sr[1]), diff, se, stat, p, float(low), float(high), n, method
    )
