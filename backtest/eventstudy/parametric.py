"""Parametric tests of mean abnormal returns: cross-sectional t, Patell, BMP, KP-adjusted BMP.

Notation: N events; for a CAR window of L sessions, ``CAR_i`` is event i's
cumulative abnormal return and ``SAR_it`` its standardised abnormal returns
(:func:`backtest.eventstudy.market_model.standardized_ar`); ``M_i`` is the
number of estimation-window sessions of event i.
"""

from __future__ import annotations

import math

import numpy as np

from backtest.eventstudy.statistic import StatResult, normal_p, student_p

__all__ = [
    "bmp_test",
    "cross_sectional_t",
    "group_cross_correlations",
    "kp_adjust",
    "kp_adjusted_bmp_test",
    "mean_cross_correlation",
    "patell_test",
]

NAN = StatResult(math.nan, math.nan)


def _one_sample_t(values: np.ndarray) -> StatResult:
    n = len(values)
    if n < 2:
        return NAN
    sd = float(np.std(values, ddof=1))
    if sd == 0.0:
        return NAN
    t = float(np.mean(values)) / (sd / math.sqrt(n))
    return StatResult(t, student_p(t, n - 1))


def cross_sectional_t(car: np.ndarray) -> StatResult:
    """Cross-sectional t-test of mean CAR = 0 (Brown & Warner 1985, J. Fin. Econ. 14).

    ``t = mean(CAR) / (sd(CAR) / sqrt(N))`` with ``sd`` the sample standard
    deviation (N - 1 denominator); p-value from Student's t with N - 1 degrees of
    freedom. Robust to event-induced variance, but ignores that events differ in
    volatility.

    Parameters
    ----------
    car : numpy.ndarray
        (N,) CAR per event.

    Returns
    -------
    StatResult
        NaN when N < 2 or all CARs are equal.

    Examples
    --------
    >>> r = cross_sectional_t(np.array([0.01, 0.03, 0.02]))
    >>> round(r.statistic, 6)  # 0.02 / (0.01 / sqrt(3))
    3.464102
    """
    return _one_sample_t(np.asarray(car, dtype=float))


def patell_test(sar: np.ndarray, n_obs: np.ndarray) -> StatResult:
    """Patell (1976) standardised residual test (J. Accounting Research 14(2)).

    Each SAR has variance ``(M_i - 2) / (M_i - 4)`` under H0 (Student t with M_i - 2
    degrees of freedom), so over a window of L sessions::

        Z = sum_i sum_t SAR_it / sqrt( sum_i L (M_i - 2) / (M_i - 4) )

    is standard normal under H0 (p-value two-sided). Assumes no event-induced
    variance and independent events.

    Parameters
    ----------
    sar : numpy.ndarray
        (N x L) standardised abnormal returns over the CAR window.
    n_obs : numpy.ndarray
        (N,) estimation sessions M_i; each must exceed 4.

    Examples
    --------
    >>> r = patell_test(np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([6, 6]))
    >>> round(r.statistic, 6)  # 3 / sqrt(2 * 2 * (4 / 2))
    1.06066
    """
    sar = np.asarray(sar, dtype=float)
    m = np.asarray(n_obs, dtype=float)
    if sar.shape[0] == 0 or np.any(m <= 4):
        return NAN
    z = float(sar.sum() / math.sqrt(np.sum(sar.shape[1] * (m - 2.0) / (m - 4.0))))
    return StatResult(z, normal_p(z))


def bmp_test(sar: np.ndarray) -> StatResult:
    """Boehmer, Musumeci & Poulsen (1991) standardised cross-sectional test (J. Fin. Econ. 30).

    With the standardised CAR ``SCAR_i = sum_t SAR_it / sqrt(L)``::

        t = mean(SCAR) / (sd(SCAR) / sqrt(N))

    a cross-sectional t on standardised values, so it allows event-induced
    variance; p-value from Student's t with N - 1 degrees of freedom.

    Parameters
    ----------
    sar : numpy.ndarray
        (N x L) standardised abnormal returns over the CAR window.

    Examples
    --------
    >>> r = bmp_test(np.array([[1.0], [2.0], [3.0]]))
    >>> round(r.statistic, 6)  # mean 2, sd 1: 2 / (1 / sqrt(3))
    3.464102
    """
    sar = np.asarray(sar, dtype=float)
    if sar.ndim != 2 or sar.shape[1] == 0:
        return NAN
    return _one_sample_t(sar.sum(axis=1) / math.sqrt(sar.shape[1]))


def mean_cross_correlation(resid: np.ndarray, min_overlap: int = 3, block: int = 512) -> float:
    """Average pairwise Pearson correlation of the events' estimation-window residuals.

    Residuals are paired by session relative to day 0 (column), over the sessions
    both events have (pairwise complete, as :meth:`pandas.DataFrame.corr`); a pair
    with fewer than ``min_overlap`` common sessions or a constant series has no
    correlation and is left out of the mean. For events with the same day 0 the
    pairing is by calendar date, the case the Kolari-Pynnonen adjustment is for;
    events on different dates pair different dates and correlate near 0.

    Parameters
    ----------
    resid : numpy.ndarray
        (N x M) estimation-window abnormal returns, NaN where missing.
    min_overlap : int
        Fewest common sessions of a pair.
    block : int
        Rows per block of the N x N computation (memory, not the result).

    Returns
    -------
    float
        r-bar; NaN with fewer than two events or no valid pair.

    Examples
    --------
    >>> e = np.array([[1.0, -1.0, 2.0, 0.0], [2.0, -2.0, 4.0, 0.0], [-1.0, 1.0, -2.0, 0.0]])
    >>> mean_cross_correlation(e)  # pairs: +1, -1, -1
    -0.3333333333333333
    """
    x = np.asarray(resid, dtype=float)
    members = np.ones((x.shape[0], 1), dtype=bool)
    return float(group_cross_correlations(x, members, min_overlap, block)[0])


def group_cross_correlations(
    resid: np.ndarray, members: np.ndarray, min_overlap: int = 3, block: int = 512
) -> np.ndarray:
    """:func:`mean_cross_correlation` of several groups of events in one pass.

    Parameters
    ----------
    resid : numpy.ndarray
        (N x M) estimation-window abnormal returns of all events, NaN where missing.
    members : numpy.ndarray
        (N x K) bool, event i in group k.

    Returns
    -------
    numpy.ndarray
        (K,) r-bar per group (NaN without a valid pair).

    Examples
    --------
    >>> e = np.array([[1.0, -1.0, 2.0, 0.0], [2.0, -2.0, 4.0, 0.0], [-1.0, 1.0, -2.0, 0.0]])
    >>> group_cross_correlations(e, np.array([[1, 1], [1, 0], [0, 1]], dtype=bool)).tolist()
    [1.0, -1.0]
    """
    x = np.asarray(resid, dtype=float)
    g = np.asarray(members, dtype=float)
    n = x.shape[0]
    mask = np.isfinite(x).astype(float)
    x0 = np.where(mask > 0, x, 0.0)
    x0t, maskt, sqt = x0.T.copy(), mask.T.copy(), (x0 * x0).T.copy()
    total, pairs = np.zeros(g.shape[1]), np.zeros(g.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        for start in range(0, n, block):
            rows = slice(start, min(start + block, n))
            common = mask[rows] @ maskt
            sx, sy = x0[rows] @ maskt, mask[rows] @ x0t
            vx = (x0[rows] * x0[rows]) @ maskt - sx * sx / common
            vy = mask[rows] @ sqt - sy * sy / common
            r = (x0[rows] @ x0t - sx * sy / common) / np.sqrt(vx * vy)
            upper = np.arange(n)[None, :] > np.arange(rows.start, rows.stop)[:, None]
            ok = upper & (common >= min_overlap) & (vx > 0) & (vy > 0) & np.isfinite(r)
            total += ((np.where(ok, r, 0.0) @ g) * g[rows]).sum(axis=0)
            pairs += ((ok.astype(float) @ g) * g[rows]).sum(axis=0)
    return np.where(pairs > 0, total / np.where(pairs > 0, pairs, 1.0), np.nan)


def kp_adjust(statistic: float, n: int, rbar: float) -> float:
    """Scale a BMP statistic for cross-correlation: ``t * sqrt((1 - r) / (1 + (n - 1) r))``.

    Kolari & Pynnonen (2010), "Event study testing with cross-sectional correlation
    of abnormal returns", Review of Financial Studies 23(11), 3996-4025, eq. (8).
    With ``rbar = 0`` it is the BMP statistic unchanged.

    Examples
    --------
    >>> kp_adjust(3.0, 10, 0.0)
    3.0
    >>> round(kp_adjust(3.0, 10, 0.1), 6)  # 3 * sqrt(0.9 / 1.9)
    2.064742
    """
    if not math.isfinite(rbar) or n < 2:
        return math.nan
    denominator = 1.0 + (n - 1) * rbar
    if denominator <= 0 or rbar >= 1:
        return math.nan
    return statistic * math.sqrt((1.0 - rbar) / denominator)


def kp_adjusted_bmp_test(sar: np.ndarray, rbar: float) -> StatResult:
    """BMP test adjusted for cross-sectional correlation (Kolari & Pynnonen 2010, RFS 23).

    Events that share a calendar date have correlated abnormal returns, which the
    BMP test assumes away; it then over-rejects. With r-bar the average
    cross-correlation of the events' estimation-window residuals
    (:func:`mean_cross_correlation`)::

        t_KP = t_BMP * sqrt((1 - r) / (1 + (N - 1) r))

    p-value from Student's t with N - 1 degrees of freedom, as for :func:`bmp_test`.

    Parameters
    ----------
    sar : numpy.ndarray
        (N x L) standardised abnormal returns over the CAR window.
    rbar : float
        Average cross-correlation of the N events' estimation residuals.

    Examples
    --------
    >>> sar = np.array([[1.0], [2.0], [3.0]])
    >>> kp_adjusted_bmp_test(sar, 0.0) == bmp_test(sar)
    True
    >>> round(kp_adjusted_bmp_test(sar, 0.5).statistic, 6)  # 3.464102 * sqrt(0.5 / 2)
    1.732051
    """
    sar = np.asarray(sar, dtype=float)
    base = bmp_test(sar)
    t = kp_adjust(base.statistic, sar.shape[0], rbar)
    if not math.isfinite(t):
        return NAN
    return StatResult(t, student_p(t, sar.shape[0] - 1))
