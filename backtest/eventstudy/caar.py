"""Cumulative abnormal returns: CAR per event over a window, CAAR path with a band.

``CAR_i(t1, t2) = sum_{t=t1..t2} AR_it`` and ``CAAR(t1, t2) = mean_i CAR_i(t1, t2)``
(MacKinlay 1997). The CAAR path cumulates from the first session of the event
window; its band at each day is ``CAAR +- t_{N-1} sd(CAR) / sqrt(N)``, the
cross-sectional interval of the mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["caar_path", "car_over", "window_label"]


def window_label(window: tuple[int, int]) -> str:
    """Return the label of a session window, as used in column names.

    Examples
    --------
    >>> window_label((-1, 1)), window_label((0, 0))
    ('[-1,+1]', '[0,0]')
    """
    return "[" + ",".join(f"{d:+d}" if d else "0" for d in window) + "]"


def car_over(ar: np.ndarray, days: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Sum each event's ARs over the sessions of ``window`` (inclusive).

    Parameters
    ----------
    ar : numpy.ndarray
        (events x days) abnormal returns over the event window.
    days : numpy.ndarray
        (days,) offsets relative to day 0 of the columns of ``ar``.
    window : (int, int)
        First and last day.

    Examples
    --------
    >>> car_over(np.array([[0.01, 0.02, 0.03]]), np.array([-1, 0, 1]), (0, 1)).round(6)
    array([0.05])
    """
    inside = (days >= window[0]) & (days <= window[1])
    return ar[:, inside].sum(axis=1)


def caar_path(ar: np.ndarray, days: np.ndarray, confidence: float) -> pd.DataFrame:
    """Average AR, CAAR and its confidence band for each day of the event window.

    Parameters
    ----------
    ar : numpy.ndarray
        (events x days) abnormal returns.
    days : numpy.ndarray
        (days,) offsets of the columns.
    confidence : float
        Band level, e.g. 0.95.

    Returns
    -------
    pandas.DataFrame
        Columns ``day, n, aar, caar, caar_low, caar_high`` (band NaN when n < 2).

    Examples
    --------
    >>> out = caar_path(np.array([[0.01, 0.03], [0.03, 0.01]]), np.array([0, 1]), 0.95)
    >>> out[["day", "aar", "caar"]].round(4).values.tolist()
    [[0.0, 0.02, 0.02], [1.0, 0.02, 0.04]]
    >>> out["caar_high"].round(6).tolist()  # 0.02 + t(0.975, 1) * 0.01414.../sqrt(2)
    [0.147062, 0.04]
    """
    n = ar.shape[0]
    cum = np.cumsum(ar, axis=1)
    caar = cum.mean(axis=0) if n else np.full(len(days), np.nan)
    half = np.full(len(days), np.nan)
    if n >= 2:
        sem = cum.std(axis=0, ddof=1) / np.sqrt(n)
        half = stats.t.ppf((1.0 + confidence) / 2.0, n - 1) * sem
    aar = ar.mean(axis=0) if n else np.full(len(days), np.nan)
    return pd.DataFrame(
        {
            "day": days,
            "n": n,
            "aar": aar,
            "caar": caar,
            "caar_low": caar - half,
            "caar_high": caar + half,
        }
    )
