"""Costs of a fill: slippage moves its price against the trader, fees charge its value.

``slippage_bps`` moves every fill price against the trader: a buy fills at
``ref * (1 + s)``, a sell at ``ref * (1 - s)`` with ``s = slippage_bps * BPS``.
``fees_bps`` is charged on the traded value of every fill, entry and exit.
These are the only places the bps arithmetic is written: the vectorbt engine
hands vectorbt the fill prices and fee rate made here, the sweep kernel prices
trades with :func:`net_return`.
"""

from __future__ import annotations

import numpy as np

from backtest.engine.rules.arrays import distinct

__all__ = ["BPS", "fee", "fee_rate", "fill_price", "net_return", "slip_rate"]

BPS = 1e-4


def slip_rate(slippage_bps: float) -> float:
    """Slippage as a fraction of the price.

    Examples
    --------
    >>> slip_rate(5.0)
    0.0005
    """
    return slippage_bps * BPS


def fee_rate(fees_bps: float) -> float:
    """Fees as a fraction of a fill's traded value.

    Examples
    --------
    >>> fee_rate(10.0)
    0.001
    """
    return fees_bps * BPS


def fill_price(ref, direction, slippage_bps: float):
    """Fill price of an order at reference price ``ref``: slippage against the trader.

    ``direction`` is +1 for a buy (a long entry, a short exit) and -1 for a sell;
    arrays broadcast. Without slippage ``ref`` itself is returned.

    Examples
    --------
    >>> fill_price(100.0, 1, 5.0), fill_price(100.0, -1, 5.0)
    (100.05, 99.95)
    >>> fill_price(np.array([100.0, 121.0]), np.array([1, -1]), 10.0).tolist()
    [100.1, 120.879]
    """
    if not slippage_bps:
        return ref
    return ref * (1 + direction * slip_rate(slippage_bps))


def fee(value, fees_bps: float):
    """Fee charged on a fill of traded ``value`` (size times fill price).

    Examples
    --------
    >>> fee(10_000.0, 10.0)
    10.0
    """
    return value * fee_rate(fees_bps)


def net_return(ref_in, ref_out, side, slippage_bps: float, fees_bps: float) -> np.ndarray:
    """P&L per unit of entry fill value after slippage and fees on both fills.

    With fills ``f_in = ref_in (1 + side s)`` and ``f_out = ref_out (1 - side s)``
    (:func:`fill_price`) and fee rate ``c``, the return
    ``(side (f_out - f_in) - c (f_in + f_out)) / f_in`` equals
    ``(ref_out / ref_in) k - (side + c)`` with ``k = (side - c) (1 - side s) / (1 + side s)``:
    the per-combination factors are computed on ``side``'s own (often (C, 1))
    shape, leaving three full-size operations (the sweep's hot path). This is
    vectorbt's trade ``return`` (tested to 1e-12 in tests/test_kernel.py).

    Examples
    --------
    Long on geometric prices 100 -> 110, 10 bps slippage and 20 bps fees:

    >>> r = net_return(np.array([100.0]), np.array([110.0]), np.array([1]), 10.0, 20.0)
    >>> f_in, f_out = 100 * 1.001, 110 * 0.999
    >>> bool(np.isclose(r[0], (f_out - f_in - 0.002 * (f_in + f_out)) / f_in, rtol=0, atol=1e-15))
    True
    """
    slip, cost = slip_rate(slippage_bps), fee_rate(fees_bps)
    side = distinct(side)
    k = (side - cost) * (1 - side * slip) / (1 + side * slip)
    net = ref_out / ref_in
    net *= k
    net -= side + cost
    return net
