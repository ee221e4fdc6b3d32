"""The market model: OLS of stock on benchmark returns per event, and abnormal returns.

For event i with estimation-window returns R_it (stock) and R_mt (benchmark),
t = 1..M_i (sessions where both are known)::

    R_it = alpha_i + beta_i R_mt + e_it,   s_i^2 = sum(e_it^2) / (M_i - 2)

Abnormal return on any session t: ``AR_it = R_it - alpha_i - beta_i R_mt``
(MacKinlay 1997, "Event Studies in Economics and Finance", J. Econ. Lit. 35).
Its out-of-sample standard deviation, used to standardise it (Patell 1976)::

    S_it = s_i sqrt(1 + 1/M_i + (R_mt - mean(R_m))^2 / sum_est (R_m - mean(R_m))^2)

All events are fitted at once on (events x sessions) arrays with NaN for missing
sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MarketModel", "abnormal_returns", "fit_market_model", "standardized_ar"]


@dataclass(frozen=True)
class MarketModel:
    """Per-event market-model fit; every attribute is an (events,) array.

    Attributes
    ----------
    alpha, beta : numpy.ndarray
        OLS intercept and slope.
    sigma : numpy.ndarray
        Residual standard deviation with M - 2 degrees of freedom.
    n_obs : numpy.ndarray
        M, the sessions used (both returns known).
    market_mean, market_sxx : numpy.ndarray
        Mean of the benchmark returns and their sum of squared deviations.
    """

    alpha: np.ndarray
    beta: np.ndarray
    sigma: np.ndarray
    n_obs: np.ndarray
    market_mean: np.ndarray
    market_sxx: np.ndarray


def fit_market_model(stock: np.ndarray, market: np.ndarray) -> MarketModel:
    """Fit ``stock = alpha + beta * market`` by OLS, row by row, ignoring NaN pairs.

    Parameters
    ----------
    stock, market : numpy.ndarray
        (events x sessions) returns over each event's estimation window.

    Returns
    -------
    MarketModel
        NaN alpha/beta/sigma for a row with fewer than 3 pairs or a constant benchmark.

    Examples
    --------
    >>> m = np.array([[0.01, -0.02, 0.03, 0.0]])
    >>> fit = fit_market_model(0.001 + 1.5 * m, m)
    >>> round(float(fit.alpha[0]), 12), round(float(fit.beta[0]), 12), int(fit.n_obs[0])
    (0.001, 1.5, 4)
    """
    valid = np.isfinite(stock) & np.isfinite(market)
    n = valid.sum(axis=1)
    x, y = np.where(valid, market, 0.0), np.where(valid, stock, 0.0)
    # Rows with too few pairs or a flat benchmark give NaN; callers drop them with a reason.
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = x.sum(axis=1) / n, y.sum(axis=1) / n
        dx = np.where(valid, x - mx[:, None], 0.0)
        dy = np.where(valid, y - my[:, None], 0.0)
        sxx = (dx * dx).sum(axis=1)
        beta = np.where(sxx > 0, (dx * dy).sum(axis=1) / sxx, np.nan)
        alpha = my - beta * mx
        resid = np.where(valid, y - alpha[:, None] - beta[:, None] * x, 0.0)
        sigma = np.sqrt((resid * resid).sum(axis=1) / np.where(n > 2, n - 2, np.nan))
    return MarketModel(alpha, beta, sigma, n, mx, sxx)


def abnormal_returns(model: MarketModel, stock: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Return ``AR_it = R_it - alpha_i - beta_i R_mt`` for (events x sessions) arrays.

    Examples
    --------
    >>> fit = MarketModel(*(np.array([v]) for v in (0.001, 1.5, 0.01, 100, 0.0, 0.01)))
    >>> abnormal_returns(fit, np.array([[0.05]]), np.array([[0.02]])).round(6).tolist()
    [[0.019]]
    """
    return stock - model.alpha[:, None] - model.beta[:, None] * market


def standardized_ar(model: MarketModel, ar: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Divide each AR by its forecast-error standard deviation ``S_it`` (Patell 1976).

    Parameters
    ----------
    model : MarketModel
        The fit of the events.
    ar, market : numpy.ndarray
        (events x sessions) abnormal and benchmark returns of out-of-sample sessions.

    Examples
    --------
    >>> fit = MarketModel(*(np.array([v]) for v in (0.0, 1.0, 0.01, 100, 0.0, 0.01)))
    >>> # S = 0.01 * sqrt(1 + 1/100 + 0.01**2 / 0.01) = 0.01 * sqrt(1.02); 0.02 / S
    >>> float(standardized_ar(fit, np.array([[0.02]]), np.array([[0.01]]))[0, 0].round(6))
    1.980295
    """
    m = model.n_obs[:, None].astype(float)
    dev = market - model.market_mean[:, None]
    forecast_var = 1.0 + 1.0 / m + dev * dev / model.market_sxx[:, None]
    return ar / (model.sigma[:, None] * np.sqrt(forecast_var))
