"""Parametric tests of mean abnormal returns: cross-sectional t, Patell, BMP.

Notation: N events; for a CAR window of L sessions, ``CAR_i`` is event i's
cumulative abnormal return and ``SAR_it`` its standardised abnormal returns
(:func:`backtest.eventstudy.market_model.standardized_ar`); ``M_i`` is the
number of estimation-window sessions of event i.
"""

from __future__ import annotations

import math

import numpy as np

from backtest.eventstudy.statistic import StatResult, normal_p, student_p

__all__ = ["bmp_test", "cross_sectional_t", "patell_test"]

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
