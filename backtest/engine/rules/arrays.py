"""Array helpers of the rules: flat gathers and broadcast views (no rule lives here)."""

from __future__ import annotations

import numpy as np

__all__ = ["at", "choose", "distinct", "distinct_rows", "loop_arrays"]


def at(values: np.ndarray, row: np.ndarray, tick: np.ndarray) -> np.ndarray:
    """``values[row, tick]`` for broadcastable index arrays, as one flat gather.

    numpy's two-dimensional fancy indexing is 2-3x slower than ``take`` on the
    flattened array, and these gathers are most of a sweep's time.

    Examples
    --------
    >>> at(np.arange(6.0).reshape(2, 3), np.array([1, 0]), np.array([[2, 2], [0, 1]])).tolist()
    [[5.0, 2.0], [3.0, 1.0]]
    """
    if values.shape[0] == 1:  # one row (a hedge instrument): no row arithmetic
        tick = np.asarray(tick)
        shape = np.broadcast_shapes(np.shape(row), tick.shape)
        out = values[0].take(tick)
        return out if out.shape == shape else np.broadcast_to(out, shape).copy()
    flat = np.asarray(row) * values.shape[1] + tick
    return values.ravel().take(flat)


def distinct(a: np.ndarray) -> np.ndarray:
    """A broadcast view's underlying block: axes with stride 0 collapsed to length 1.

    Examples
    --------
    >>> distinct(np.broadcast_to(np.array([[1], [2]]), (2, 3))).shape
    (2, 1)
    """
    a = np.asarray(a)
    index = tuple(
        slice(0, 1) if st == 0 and n > 1 else slice(None)
        for st, n in zip(a.strides, a.shape, strict=True)
    )
    return a[index]


def distinct_rows(a: np.ndarray) -> np.ndarray:
    """``a`` itself, or its one row when it is a view repeating that row (a broadcast plan array).

    Examples
    --------
    >>> distinct_rows(np.broadcast_to(np.arange(3), (4, 3))).shape
    (1, 3)
    """
    return a[:1] if a.ndim == 2 and a.strides[0] == 0 else a


def choose(condition, if_true, if_false):
    """``numpy.where`` on arrays; a plain branch on numbers where the rules run compiled.

    The per-trade rules are written once and run both ways: on arrays in numpy,
    and on single numbers in the compiled loops of
    :mod:`~backtest.engine.rules.trade_costs`, where numba's ``numpy.where``
    would allocate a 0-d array per call; those loops compile this function as
    ``if_true if condition else if_false``.

    Examples
    --------
    >>> choose(np.array([1.0, -1.0]) > 0, 2.0, 0.0).tolist()
    [2.0, 0.0]
    """
    return np.where(condition, if_true, if_false)


def loop_arrays(integers, floats) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """The broadcast shape of all arrays, and each as a read-only two-dimensional view of it.

    What the compiled loops take: (combinations, trades) for a sweep, (1, trades)
    for a run; ``integers`` (rows, ticks, sides) as int32 (a sweep's ticks already
    are) and ``floats`` as float64, the types the loops are compiled for.
    """
    # Cast the underlying block of a broadcast view, not the view (which would copy
    # every cell of a sweep's (combinations, trades) grid).
    arrays = [np.asarray(distinct(a), dtype=np.int32) for a in integers]
    arrays += [np.asarray(distinct(a), dtype=np.float64) for a in floats]
    shape = np.broadcast_shapes(*(np.shape(a) for a in (*integers, *floats)))
    views = [np.broadcast_to(a, shape) for a in arrays]
    return shape, [a.reshape(1, -1) if a.ndim < 2 else a.reshape(-1, shape[-1]) for a in views]
