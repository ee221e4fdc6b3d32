"""Nonparametric tests: Corrado (1989) rank test and the generalised sign test (Cowan 1992)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backtest.eventstudy.statistic import StatResult, normal_p

__all__ = [
    "corrado_from_ranks",
    "corrado_rank_test",
    "generalized_sign_test",
    "standardized_ranks",
]

NAN = StatResult(math.nan, math.nan)


def standardized_ranks(ar: np.ndarray) -> np.ndarray:
    """Rank each event's ARs over its whole series and map ranks to ``K / (n_i + 1) - 1/2``.

    Ties get average ranks; NaN stays NaN and is not counted in ``n_i``. With no
    missing sessions this is Corrado's ``K_it - (T + 1) / 2`` divided by ``T + 1``,
    the scaling of Campbell & Wasley (1993) that lets events with gaps be pooled.

    Examples
    --------
    >>> standardized_ranks(np.array([[0.3, -0.1, np.nan, 0.2]])).round(4).tolist()
    [[0.25, -0.25, nan, 0.0]]
    """
    ranks = pd.DataFrame(ar).rank(axis=1, method="average").to_numpy()
    n = np.isfinite(ar).sum(axis=1, keepdims=True)
    return ranks / (n + 1.0) - 0.5


def corrado_rank_test(ar: np.ndarray, in_window: np.ndarray) -> StatResult:
    """Corrado (1989) rank test (J. Fin. Econ. 23), multi-day form of Cowan (1992).

    Each event's ARs over estimation and event window together (T sessions) are
    ranked; ``U_it`` is the standardised rank (:func:`standardized_ranks`) and
    ``Ubar_t`` its mean over events on session t. With
    ``S_U = sqrt( (1/T) sum_t Ubar_t^2 )`` over all T sessions and the L sessions of
    the tested window::

        Z = sum_{t in window} Ubar_t / (sqrt(L) * S_U)

    which is standard normal under H0 (two-sided p-value). For L = 1 this is
    Corrado's ``(Kbar_0 - (T+1)/2) / S(K)``.

    Parameters
    ----------
    ar : numpy.ndarray
        (N x T) abnormal returns: estimation-window residuals and event-window ARs.
    in_window : numpy.ndarray
        (T,) boolean, True on the sessions of the tested window.

    Examples
    --------
    >>> ar = np.array([[-0.1, 0.0, 0.2], [0.0, -0.1, 0.3]])
    >>> # U = [[-.25, 0, .25], [0, -.25, .25]]; Ubar = [-.125, -.125, .25]
    >>> # S_U = sqrt((.015625 + .015625 + .0625) / 3) = 0.176777
    >>> round(corrado_rank_test(ar, np.array([False, False, True])).statistic, 6)
    1.414214
    """
    return corrado_from_ranks(standardized_ranks(np.asarray(ar, dtype=float)), in_window)


def corrado_from_ranks(u: np.ndarray, in_window: np.ndarray) -> StatResult:
    """Corrado's Z from standardised ranks already computed by :func:`standardized_ranks`.

    Ranks are per event, so a study ranks each event once and tests many groups
    and windows on row and column subsets.

    Examples
    --------
    >>> u = np.array([[-0.25, 0.0, 0.25], [0.0, -0.25, 0.25]])
    >>> round(corrado_from_ranks(u, np.array([False, False, True])).statistic, 6)
    1.414214
    """
    known = np.isfinite(u)
    counts = known.sum(axis=0)
    ubar = np.where(known, u, 0.0).sum(axis=0) / np.maximum(counts, 1)
    has = counts > 0
    s_u = math.sqrt(float(np.mean(ubar[has] ** 2))) if has.any() else 0.0
    window = np.asarray(in_window, dtype=bool) & has
    if s_u == 0.0 or not window.any():
        return NAN
    z = float(ubar[window].sum() / (math.sqrt(window.sum()) * s_u))
    return StatResult(z, normal_p(z))


def generalized_sign_test(ar_estimation: np.ndarray, car: np.ndarray) -> StatResult:
    """Generalised sign test of Cowan (1992) (Review of Quantitative Finance and Accounting 2).

    The expected share of positive ARs is estimated from the estimation window,
    ``p = (1/N) sum_i (1/M_i) sum_t 1[AR_it > 0]``; with ``w`` the number of events
    whose CAR is positive::

        Z = (w - N p) / sqrt(N p (1 - p))

    standard normal under H0 (two-sided p-value). Unlike the plain sign test it
    does not assume p = 1/2.

    Parameters
    ----------
    ar_estimation : numpy.ndarray
        (N x M) estimation-window residuals, NaN where missing.
    car : numpy.ndarray
        (N,) CAR of each event over the tested window.

    Examples
    --------
    >>> est = np.array([[0.1, -0.1], [0.1, -0.1], [0.2, -0.2], [-0.1, 0.1]])
    >>> # p = 0.5; w = 3 positive CARs of N = 4: (3 - 2) / sqrt(4 * .5 * .5) = 1
    >>> generalized_sign_test(est, np.array([0.1, 0.2, 0.3, -0.1])).statistic
    1.0
    """
    est = np.asarray(ar_estimation, dtype=float)
    car = np.asarray(car, dtype=float)
    n = len(car)
    known = np.isfinite(est)
    m = known.sum(axis=1)
    if n == 0 or np.any(m == 0):
        return NAN
    p = float(np.mean((np.where(known, est, 0.0) > 0).sum(axis=1) / m))
    if p in (0.0, 1.0):
        return NAN
    z = (float(np.sum(car > 0)) - n * p) / math.sqrt(n * p * (1.0 - p))
    return StatResult(z, normal_p(z))
