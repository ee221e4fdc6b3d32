"""Costs of a fill: slippage moves its price against the trader, fees charge its value.

``slippage_bps`` moves every fill price against the trader: a buy fills at
``ref * (1 + s)``, a sell at ``ref * (1 - s)`` with ``s = slippage_bps * BPS``.
``fees_bps`` is charged on the traded value of every fill, entry and exit.
These are the only places the bps arithmetic is written: the vectorbt engine
hands vectorbt the fill prices and fee rate made here, the sweep kernel prices
trades with :func:`net_return`.
"""

from __future__ import annotations

import functools

import numpy as np

from backtest.engine.rules.arrays import distinct, loop_arrays
from backtest.engine.rules.compiled import compile_loops, readonly, writable

__all__ = [
    "BPS",
    "MAX_BPS",
    "break_even_bps",
    "break_even_from",
    "fee",
    "fee_rate",
    "fill_price",
    "filled",
    "gathered_net_return",
    "net_factors",
    "net_return",
    "return_at_cost",
    "slip_rate",
]

BPS = 1e-4
#: The largest cost a config may state, in bps (100 %).
MAX_BPS = 10_000


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


def fill_price(ref, direction, slippage_bps: float, extra=None):
    """Fill price of an order at reference price ``ref``: slippage against the trader.

    ``direction`` is +1 for a buy (a long entry, a short exit) and -1 for a sell;
    arrays broadcast. ``extra`` (a fraction, per order) adds the ``costs:`` section's
    half spread and impact (:mod:`~backtest.engine.rules.trade_costs`). Without
    slippage and extra ``ref`` itself is returned.

    Examples
    --------
    >>> fill_price(100.0, 1, 5.0), fill_price(100.0, -1, 5.0)
    (100.05, 99.95)
    >>> fill_price(np.array([100.0, 121.0]), np.array([1, -1]), 10.0).tolist()
    [100.1, 120.879]
    """
    if extra is not None:
        return filled(ref, direction, slip_rate(slippage_bps), extra)
    if not slippage_bps:
        return ref
    return ref * (1 + direction * slip_rate(slippage_bps))


def filled(ref, direction, slip: float, extra):
    """``ref (1 + direction (slip + extra))``: :func:`fill_price`'s arithmetic, with ``slip``
    a fraction; on arrays, or on single numbers in the compiled pricing loops.

    Examples
    --------
    >>> round(filled(100.0, -1, 0.0005, 0.001), 12)
    99.85
    """
    return ref * (1 + direction * (slip + extra))


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
    k, offset = net_factors(distinct(side), slip, cost)
    net = ref_out / ref_in
    net *= k
    net -= offset
    return net


def net_factors(side, slip: float, cost: float):
    """``k`` and ``side + cost`` of :func:`net_return` (net = ref_out / ref_in x k - offset),
    with ``slip`` and ``cost`` as fractions; on arrays, or on numbers in :func:`gathered_net_return`.

    Examples
    --------
    >>> net_factors(1, 0.0, 0.0), net_factors(-1, 0.0, 0.001)
    ((1.0, 1.0), (-1.001, -0.999))
    """
    return (side - cost) * (1 - side * slip) / (1 + side * slip), side + cost


def gathered_net_return(
    price, row, entry_tick, exit_tick, side, slippage_bps: float, fees_bps: float, keep_refs=False
):
    """:func:`net_return` of trades whose reference prices are ``price[row, tick]``, in one
    compiled pass (with ``keep_refs`` also returning those entry and exit prices, else None).

    What a sweep prices most: a gather, a gather and :func:`net_return`, each over
    every (combination, event), cost a fifth of a W1 sweep in numpy, mostly writing
    and reading full-size temporaries (benchmarks/RESULTS.md). The loop calls
    :func:`net_factors`, compiled, so the arithmetic is written once and gives
    the same floats (tests/test_kernel.py). ``row`` broadcasts against the ticks.

    Examples
    --------
    A long from 100 to 110 and a short from 110 to 100, 10 bps fees on both fills:
    ``(10 - 0.001 * 210) / 100`` and ``(10 - 0.001 * 210) / 110``.

    >>> price = np.array([[100.0, 110.0]])
    >>> net, _, _ = gathered_net_return(price, np.array([0, 0]), np.array([0, 1]),
    ...                                 np.array([1, 0]), np.array([1, -1]), 0.0, 10.0)
    >>> net.round(6).tolist()
    [0.0979, 0.089]
    """
    shape, (row, entry_tick, exit_tick, side) = loop_arrays((row, entry_tick, exit_tick, side), ())
    net = np.empty(shape).reshape(row.shape)
    refs = (np.empty(net.shape), np.empty(net.shape)) if keep_refs else (np.empty((0, 0)),) * 2
    price = np.asarray(price, dtype=np.float64)
    _compiled_net()[0](
        price,
        row,
        entry_tick,
        exit_tick,
        side,
        slip_rate(slippage_bps),
        fee_rate(fees_bps),
        *refs,
        net,
    )
    if not keep_refs:
        return net.reshape(shape), None, None
    return net.reshape(shape), refs[0].reshape(shape), refs[1].reshape(shape)


def _net_kernel(
    price, row, entry_tick, exit_tick, side, slip, cost, ref_in, ref_out, net
):  # pragma: no cover - numba
    keep = ref_in.shape[0] > 0
    ticks = price.shape[1]
    # Events outer, combinations inner: an event's combinations read the same ticker's
    # prices a few ticks apart, from cache (on W1 9.5 ms, against 15 ms row by row).
    for e in range(net.shape[1]):
        for c in range(net.shape[0]):
            r, a, b = row[c, e], entry_tick[c, e], exit_tick[c, e]
            if r < 0 or r >= price.shape[0] or a < 0 or a >= ticks or b < 0 or b >= ticks:
                raise IndexError("a trade's row or tick lies outside the price panel")
            k, offset = net_factors(side[c, e], slip, cost)
            p_in, p_out = price[r, a], price[r, b]
            net[c, e] = p_out / p_in * k - offset
            if keep:
                ref_in[c, e], ref_out[c, e] = p_in, p_out


def _net_types() -> list:
    from numba import types

    ints, out = readonly("int32", 2), writable("float64", 2)
    rates = (types.float64, types.float64)
    return [(readonly("float64", 2), ints, ints, ints, ints, *rates, out, out, out)]


@functools.cache
def _compiled_net():
    """:func:`_net_kernel`, compiled on first use with :func:`net_factors` inlined."""
    return compile_loops(
        __file__, {_net_kernel: _net_types}, [net_factors], ["arrays.py"], [net_factors]
    )


def return_at_cost(ref_in, ref_out, side, bps_per_side: float):
    """Trade return at an all-in cost of ``bps_per_side`` on each fill's value, from reference prices.

    ``(side (ref_out - ref_in) - c (ref_in + ref_out)) / ref_in`` with
    ``c = bps_per_side * BPS``: the configured fees and slippage replaced by
    one cost per side (the cost-sensitivity table of every run).

    Examples
    --------
    >>> round(float(return_at_cost(100.0, 110.0, 1, 10.0)), 12)
    0.0979
    """
    c = bps_per_side * BPS
    ref_in, ref_out = np.asarray(ref_in, dtype=float), np.asarray(ref_out, dtype=float)
    return (side * (ref_out - ref_in) - c * (ref_in + ref_out)) / ref_in


def break_even_from(gross, cost_per_bps) -> float:
    """Cost per side (bps) at which ``mean(gross) - c * mean(cost_per_bps)`` is zero.

    ``cost_per_bps``: what one bps per side costs each trade, in units of its return.

    Examples
    --------
    >>> round(break_even_from([0.01], [2.01]), 4)
    49.7512
    """
    return float(np.mean(gross) / np.mean(cost_per_bps) / BPS)


def break_even_bps(ref_in, ref_out, side) -> float:
    """Cost per side (bps) at which the mean :func:`return_at_cost` is zero; NaN without trades.

    The mean return is linear in the cost: ``mean(gross) - c mean(1 + ref_out / ref_in)``.
    Negative when the trades lose before any cost.

    Examples
    --------
    One long 100 -> 101: 1 % gross over 2.01 fill values, 49.75 bps per side.

    >>> round(break_even_bps([100.0], [101.0], [1]), 4)
    49.7512
    """
    ref_in, ref_out = np.asarray(ref_in, dtype=float), np.asarray(ref_out, dtype=float)
    if not len(ref_in):
        return float("nan")
    gross = np.asarray(side) * (ref_out / ref_in - 1.0)
    return break_even_from(gross, 1.0 + ref_out / ref_in)
