"""Walk-forward splits by event date and the deflated Sharpe ratio.

Splits are by *event date*, not by bar: an event belongs to the window that
contains its publication time, so a train window never contains an event
published after the test window starts. Every fold's test window ends inside
the data: events after the last whole test window are in no test window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = ["EULER_GAMMA", "Fold", "deflated_sharpe", "expected_max_sharpe", "folds_by_date"]

EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: masks over events and the dates that bound them."""

    name: str
    train: np.ndarray
    test: np.ndarray
    train_start: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp


def folds_by_date(
    event_time: pd.Series,
    train_years: float,
    test_years: float,
    mode: str,
    end: pd.Timestamp | None = None,
) -> list[Fold]:
    """Rolling or expanding train/test windows over the events' publication dates.

    Test windows follow one another from ``train_years`` after the first event;
    only whole ones are made: a fold whose test window would end after ``end``
    (the end of the data; default the last event's time) is not, as its test
    figures would cover a shorter span than the others' and silently fewer
    trades.

    Examples
    --------
    >>> t = pd.Series(pd.date_range("2020-01-01", periods=48, freq="MS", tz="UTC"))
    >>> [(int(f.train.sum()), int(f.test.sum())) for f in folds_by_date(t, 2, 1, "rolling")]
    [(24, 12)]
    >>> end = pd.Timestamp("2024-01-01", tz="UTC")  # the data runs one month past the last event
    >>> [(int(f.train.sum()), int(f.test.sum())) for f in folds_by_date(t, 2, 1, "rolling", end)]
    [(24, 12), (24, 12)]
    >>> folds = folds_by_date(t, 2, 1, "expanding", end)
    >>> [(int(f.train.sum()), int(f.test.sum())) for f in folds], str(folds[-1].test_end.date())
    ([(24, 12), (36, 12)], '2024-01-01')
    """
    start = event_time.min()
    end = event_time.max() if end is None else end
    train, test = (
        pd.DateOffset(months=round(12 * train_years)),
        pd.DateOffset(months=round(12 * test_years)),
    )
    folds, test_start = [], start + train
    while test_start + test <= end:
        train_start = start if mode == "expanding" else test_start - train
        test_end = test_start + test
        folds.append(
            Fold(
                f"fold{len(folds) + 1}",
                ((event_time >= train_start) & (event_time < test_start)).to_numpy(),
                ((event_time >= test_start) & (event_time < test_end)).to_numpy(),
                train_start,
                test_start,
                test_end,
            )
        )
        test_start = test_end
    return folds


def expected_max_sharpe(sharpe_variance: float, n_trials: int) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios under the null (Bailey & López de Prado 2014).

    SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e))), g = Euler's gamma.

    Examples
    --------
    >>> expected_max_sharpe(0.01, 1)
    0.0
    >>> round(expected_max_sharpe(0.01, 100), 4)
    0.2531
    """
    if n_trials < 2 or sharpe_variance <= 0:
        return 0.0
    z = NormalDist().inv_cdf
    return math.sqrt(sharpe_variance) * (
        (1 - EULER_GAMMA) * z(1 - 1 / n_trials) + EULER_GAMMA * z(1 - 1 / (n_trials * math.e))
    )


def deflated_sharpe(returns: np.ndarray, sharpe0: float) -> float:
    """Probability that the true per-trade Sharpe exceeds ``sharpe0`` (Bailey & López de Prado 2014).

    DSR = Z((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR^2)),
    with SR the per-trade (not annualized) Sharpe of ``returns`` and kurtosis not in excess.

    Examples
    --------
    >>> r = np.array([0.02, -0.01, 0.03, 0.01, -0.02, 0.04, 0.00, 0.01])
    >>> round(deflated_sharpe(r, 0.0), 4)
    0.9003
    """
    r = returns[~np.isnan(returns)]
    if len(r) < 3 or r.std(ddof=1) == 0:
        return float("nan")
    sr = r.mean() / r.std(ddof=1)
    centred = r - r.mean()
    skew = (centred**3).mean() / r.std(ddof=0) ** 3
    kurt = (centred**4).mean() / r.std(ddof=0) ** 4
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    if denom <= 0:
        return float("nan")
    return NormalDist().cdf((sr - sharpe0) * math.sqrt(len(r) - 1) / math.sqrt(denom))
