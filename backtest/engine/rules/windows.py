"""Trailing-window means and covariances down a panel's columns, and carrying values forward,
compiled with numba.

The estimators (:mod:`~backtest.engine.rules.estimates`) read every window
through :func:`window_mean` and :func:`window_cov_var`, and the cost panel carries
estimates forward to exits with :func:`carry_forward`. The window functions run
one pass per column keeping running sums: a value enters the sums at its row and leaves ``window`` rows later, so
the result at row ``t`` depends on rows ``t - window + 1 .. t`` only. Missing
values (NaN, or a pair with one side missing) never enter, so a column
preceded by missing rows, as a ticker listed later is in a panel, gets the
same floats as on its own (tests/test_estimates.py checks both as
properties). One pass in compiled code instead of pandas' rolling machinery
per column is what makes a 500-ticker panel cost milliseconds.

numba is vectorbt's own dependency; it is imported, and the kernels compiled
(cached on disk after the first time), on first use, so a run that estimates
nothing never compiles them.
"""

from __future__ import annotations

import numpy as np

from backtest.core.jit import compiled

__all__ = ["FLAT", "carry_forward", "window_cov_var", "window_mean"]

# A window's variance below this share of its mean square is rounding of the running
# sums, not variation (a constant series): it counts as zero.
FLAT = 1e-12


def _mean_kernel(values, window, min_obs, out):  # pragma: no cover - compiled by numba
    # A Neumaier-compensated running sum: a window of zeros after a run of spreads
    # sums to 0 (to ~1e-30), not to the rounding the run left behind.
    rows, cols = values.shape
    for j in range(cols):
        n = 0
        negative = 0
        total = 0.0
        carry = 0.0
        for t in range(rows):
            for r, sign in ((t, 1.0), (t - window, -1.0)):  # entering, leaving
                if r < 0:
                    continue
                v = values[r, j]
                if not np.isfinite(v):
                    continue
                n += int(sign)
                negative += int(sign) * (v < 0)
                v *= sign
                s = total + v
                carry += (total - s) + v if abs(total) >= abs(v) else (v - s) + total
                total = s
            if n >= min_obs:
                mean = (total + carry) / n
                # A mean of values of one sign keeps that sign (rounding must not flip it).
                if (negative == 0 and mean < 0) or (negative == n and mean > 0):
                    mean = 0.0
                out[t, j] = mean
            else:
                out[t, j] = np.nan


def _cov_var_kernel(x, y, window, min_obs, flat, cov, var):  # pragma: no cover - numba
    rows, cols = x.shape
    for j in range(cols):
        n = 0
        sx = sy = sxy = syy = 0.0
        for t in range(rows):
            a, b = x[t, j], y[t, j]
            if np.isfinite(a) and np.isfinite(b):
                n += 1
                sx += a
                sy += b
                sxy += a * b
                syy += b * b
            if t >= window:
                a, b = x[t - window, j], y[t - window, j]
                if np.isfinite(a) and np.isfinite(b):
                    n -= 1
                    sx -= a
                    sy -= b
                    sxy -= a * b
                    syy -= b * b
            if n >= min_obs:
                cov[t, j] = (sxy - sx * sy / n) / (n - 1)
                v = (syy - sy * sy / n) / (n - 1)
                var[t, j] = v if v > flat * syy / n else 0.0
            else:
                cov[t, j] = np.nan
                var[t, j] = np.nan


def _carry_kernel(values, out):  # pragma: no cover - compiled by numba
    rows, cols = values.shape
    for i in range(rows):
        last = np.nan
        for t in range(cols):
            v = values[i, t]
            if np.isfinite(v):
                last = v
            out[i, t] = last


def _compiled():
    """The kernels, compiled on first use (numba caches the machine code on disk)."""
    return tuple(compiled(k) for k in (_mean_kernel, _cov_var_kernel, _carry_kernel))


def _panel(values) -> np.ndarray:
    """``values`` as a (rows, columns) float array, each column contiguous."""
    a = np.asarray(values, dtype=float)
    return np.asfortranarray(a.reshape(len(a), -1))


def _empty(like: np.ndarray) -> np.ndarray:
    return np.empty(like.shape[::-1]).T  # column-major, as the kernels write it


def window_mean(values, window: int, min_obs: int) -> np.ndarray:
    """Mean of the finite values in each trailing window of ``window`` rows, per column.

    NaN where the window holds fewer than ``max(min_obs, 1)`` values.

    Examples
    --------
    >>> window_mean(np.array([1.0, np.nan, 2.0, 4.0]), 2, 1).tolist()
    [1.0, 1.0, 2.0, 3.0]
    >>> window_mean(np.array([[1.0, 10.0], [3.0, 30.0]]), 2, 2).tolist()
    [[nan, nan], [2.0, 20.0]]
    """
    a = _panel(values)
    out = _empty(a)
    _compiled()[0](a, int(window), max(int(min_obs), 1), out)
    return out.reshape(np.shape(values))


def window_cov_var(x, y, window: int, min_obs: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample covariance of ``x`` with ``y`` and variance of ``y`` per trailing window.

    Over the rows of the window where both are finite; NaN with fewer than
    ``max(min_obs, 2)`` such pairs. A variance below ``FLAT`` of the window's
    mean square of ``y`` is 0. ``y`` may be one column for every column of ``x``.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, np.nan, 4.0])
    >>> cov, var = window_cov_var(x, 2 * x, 3, 2)
    >>> cov.tolist(), var.tolist()
    ([nan, 1.0, 1.0, 4.0], [nan, 2.0, 2.0, 8.0])
    >>> window_cov_var(np.ones(3), np.ones(3), 3, 2)[1].tolist()  # flat: zero variance
    [nan, 0.0, 0.0]
    """
    a = _panel(x)
    b = np.broadcast_to(_panel(y), a.shape)
    cov, var = _empty(a), _empty(a)
    _compiled()[1](a, b, int(window), max(int(min_obs), 2), FLAT, cov, var)
    return cov.reshape(np.shape(x)), var.reshape(np.shape(x))


def carry_forward(values) -> np.ndarray:
    """Each row's last finite value at or before each column (NaN before the first).

    Along the last axis, one pass per row: the estimate an exit reads is the last
    one known by its session.

    Examples
    --------
    >>> carry_forward(np.array([[np.nan, 1.0, np.nan, 3.0, np.inf]])).tolist()
    [[nan, 1.0, 1.0, 3.0, 3.0]]
    """
    a = np.asarray(values, dtype=float)
    rows = np.ascontiguousarray(a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1))
    out = np.empty_like(rows)
    _compiled()[2](rows, out)
    return out.reshape(a.shape)
