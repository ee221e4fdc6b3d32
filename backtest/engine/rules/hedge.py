"""Hedge legs: an opposite trade in an index ETF (or a per-ticker instrument) beside each trade.

A strategy's ``hedge:`` section names the instrument of each traded ticker and
the ratio: a fixed number, or ``beta``, the OLS slope of the ticker's daily
close-to-close returns on the instrument's over a trailing window
(:func:`backtest.engine.rules.estimates.trailing_beta`) read at the decision's
session, so it uses only bars of the sessions before the decision session.

The hedge leg trades ``-side`` at the main leg's actual entry and exit ticks
(same session and point, stops and truncations included). Its entry fill value
is ``ratio`` times the main leg's entry fill value, and its fills pay the same
rules as any fill (slippage, fees and the ``costs:`` section:
:func:`backtest.engine.rules.trade_costs.price_orders`), so its P&L
as a return on the main leg's entry notional is ``ratio * hedge_leg_return``
and ``hedged_net_return = net_return + hedge_return``.

* :func:`decision_sessions`: the session each decision's ratio is read at;
* :func:`hedge_ratios`: the ratio of each signal (NaN: not enough history);
* :func:`price_hedge_leg`: the hedge leg's shares, fills and own net return;
* :func:`hedged_return_at_cost`: both legs at an all-in cost per side (the
  cost sensitivity's ``<strategy>+hedge`` rows) and :func:`hedged_break_even_bps`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.core.timeline import session_bars, session_dates, tradable
from backtest.engine.rules.arrays import at, choose, loop_arrays
from backtest.engine.rules.costs import break_even_from, return_at_cost
from backtest.engine.rules.date_grid import (
    DateGrid,
    date_grid,
    field_block,
    frame_fields,
    frame_keys,
)
from backtest.engine.rules.estimates import trailing_beta
from backtest.engine.rules.trade_costs import (
    HEDGE_LEG,
    INLINE_RULES,
    RULE_FILES,
    RULES,
    CostPanel,
    TradeCosts,
    first_refused,
    panel_tables,
    price_flags,
    price_leg,
    price_orders,
    price_rates,
    raise_refused,
    table_types,
)

__all__ = [
    "HEDGE_COLUMNS",
    "HEDGE_REASONS",
    "HedgeLeg",
    "HedgeSpec",
    "decision_sessions",
    "hedge_contribution",
    "hedge_notional",
    "hedge_side",
    "hedge_ratios",
    "hedged_break_even_bps",
    "hedged_return_at_cost",
    "instrument_priced",
    "leg_direction",
    "price_hedge_leg",
    "price_hedged",
    "beta_series",
    "ratio_table",
    "read_ratios",
]

HEDGE_REASONS = ("hedge_history", "hedge_no_price")
# Columns a hedged strategy's trades gain (after TRADE_COLUMNS and the engine's own).
HEDGE_COLUMNS = (
    "hedge_instrument",
    "hedge_ratio",
    "hedge_side",
    "hedge_size",
    "hedge_entry_ref_price",
    "hedge_exit_ref_price",
    "hedge_entry_price",
    "hedge_exit_price",
    "hedge_pnl",
    "hedge_return",
    "hedged_net_return",
)


@dataclass(frozen=True)
class HedgeSpec:
    """A strategy's ``hedge:`` section as the rules read it.

    ``by_ticker`` maps tickers to their hedge instrument, ``default`` serves the
    others (the runner checks every traded ticker has one). ``ratio`` is
    ``"beta"`` or a number.

    Examples
    --------
    >>> HedgeSpec(default="SPY").instrument_of("AAPL")
    'SPY'
    >>> HedgeSpec(by_ticker=(("BABA", "KWEB"),)).instrument_of("BABA")
    'KWEB'
    """

    default: str | None = None
    by_ticker: tuple[tuple[str, str], ...] = ()
    ratio: float | str = "beta"
    window: int = 60
    min_obs: int = 40
    shrink: float = 0.0

    def instrument_of(self, ticker: str) -> str | None:
        """The hedge instrument of ``ticker``: its map entry, else the default."""
        return dict(self.by_ticker).get(ticker, self.default)


def decision_sessions(decision_time: pd.Series, sessions: pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Position in ``sessions`` of the first session on or after each decision's local date.

    A value read there from :mod:`~backtest.engine.rules.estimates` uses bars of
    the sessions before it only, which all closed before the decision
    (len(sessions): the decision is after the last session).

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02", "2026-01-05", "2026-01-06"])
    >>> t = pd.Series(pd.to_datetime(["2026-01-03 15:00", "2026-01-05 21:30"], utc=True))
    >>> decision_sessions(t, days, "America/New_York").tolist()
    [1, 1]
    """
    local = pd.DatetimeIndex(decision_time).tz_convert(tz).tz_localize(None).normalize()
    return sessions.searchsorted(local, side="left")


def _closes(frame: pd.DataFrame) -> pd.Series:
    """A frame's closes as floats on tz-naive midnight dates."""
    return pd.Series(
        frame["close"].to_numpy(dtype=float), index=session_dates(frame.index), name="close"
    )


def beta_series(ticker: pd.DataFrame, instrument: pd.DataFrame, spec: HedgeSpec):
    """The trailing beta of ``ticker`` on ``instrument`` on the sessions both have a close.

    Returns those sessions and the beta a decision on each of them reads (from
    :func:`~backtest.engine.rules.estimates.trailing_beta`: only returns of the
    sessions before it). :func:`read_ratios` looks decisions up in it.
    """
    both = pd.concat([_closes(ticker), _closes(instrument)], axis=1, join="inner")
    rets = both.pct_change(fill_method=None)
    beta = trailing_beta(rets.iloc[:, 0], rets.iloc[:, 1], spec.window, spec.min_obs, spec.shrink)
    return pd.DatetimeIndex(both.index), beta.to_numpy(dtype=float)


def read_ratios(sessions: pd.DatetimeIndex, beta: np.ndarray, dates) -> np.ndarray:
    """The ratio decisions on ``dates`` (local, tz-naive) read: at the first session on or after.

    NaN after the last session and where the window holds too few returns.

    Examples
    --------
    >>> s = pd.DatetimeIndex(["2026-01-02", "2026-01-05"])
    >>> read_ratios(s, np.array([np.nan, 1.2]), pd.DatetimeIndex(
    ...     ["2026-01-03", "2026-01-05", "2026-01-06"])).tolist()
    [1.2, 1.2, nan]
    """
    pos = sessions.searchsorted(pd.DatetimeIndex(dates), side="left")
    out = np.full(len(pos), np.nan)
    inside = pos < len(beta)
    out[inside] = beta[pos[inside]]
    return out


def ratio_table(
    prices: dict[str, pd.DataFrame],
    tickers: list[str],
    spec: HedgeSpec,
    sessions: pd.DatetimeIndex,
    calendar: pd.DatetimeIndex,
) -> np.ndarray:
    """The hedge ratio a decision on each of ``sessions`` reads, per ticker: (tickers, sessions).

    The values :func:`hedge_ratios` gives a decision on that session (the
    sweep reads it at each entry's session). ``calendar`` holds every session
    of the exchange (tz-naive). Tickers whose closes and their instrument's
    cover every calendar session between their first and last common one (the
    usual case) get their betas from one :func:`trailing_beta` over all of
    them on the calendar: the same rolling arithmetic per column, so the same
    floats; any other ticker goes through :func:`beta_series` as a run does.

    Examples
    --------
    >>> from backtest.data.synthetic import geometric_prices
    >>> days = pd.bdate_range("2026-01-05", periods=8)
    >>> idx = geometric_prices(days, growth=0.01)
    >>> stock = idx.assign(close=idx["close"] * (1 + 0.02 * np.sin(np.arange(8))))
    >>> spec = HedgeSpec("IDX", window=4, min_obs=3)
    >>> table = ratio_table({"S": stock, "IDX": idx}, ["S"], spec, days[5:], days)
    >>> expected = hedge_ratios(pd.DataFrame({"ticker": ["S"] * 3,
    ...     "decision_time": days[5:].tz_localize("America/New_York")}),
    ...     {"S": stock, "IDX": idx}, spec, "America/New_York")[1]
    >>> bool(np.array_equal(table[0], expected, equal_nan=True))
    True
    """
    out = np.full((len(tickers), len(sessions)), np.nan)
    if spec.ratio != "beta":
        out[:] = float(spec.ratio)
        return out
    if not len(sessions):
        return out
    keys = calendar.as_unit("ns").asi8
    for inst in sorted({spec.instrument_of(t) for t in tickers}):
        rows = [i for i, t in enumerate(tickers) if spec.instrument_of(t) == inst]
        frames = [prices[inst]] + [prices[tickers[i]] for i in rows]
        grid = date_grid([frame_keys(f) for f in frames], keys)
        spans = [_common(grid.spans[0], grid.spans[1 + k]) for k in range(len(rows))]
        for i, span in zip(rows, spans, strict=True):
            if span is None:  # a hole or an off-calendar bar: the run's own path
                out[i] = read_ratios(*beta_series(prices[tickers[i]], prices[inst], spec), sessions)
        on_grid = [k for k, span in enumerate(spans) if span is not None]
        if not on_grid:
            continue
        # Rows lo..hi of the calendar: every common span, and the sessions read.
        lo = min(spans[k][0] for k in on_grid)
        hi = max(
            int(np.searchsorted(keys, sessions.as_unit("ns").asi8[-1])),
            *(spans[k][1] for k in on_grid),
        )
        hi = min(hi, len(keys) - 1)
        fitting = [0, *(1 + k for k in on_grid)]
        sub = DateGrid(keys, tuple(grid.spans[f] for f in fitting))
        closes = field_block(sub, [frame_fields(frames[f], ["close"])["close"] for f in fitting])
        closes = closes[lo : hi + 1]
        market, own = closes[:, 0], np.asfortranarray(closes[:, 1:])
        # Each column's returns only inside its common span with the instrument, as a
        # run's inner join of the two has them.
        first = np.array([spans[k][0] for k in on_grid]) - lo
        last = np.array([spans[k][1] for k in on_grid]) - lo
        row = np.arange(len(own))[:, None]
        own[(row < first) | (row > last)] = np.nan
        beta = trailing_beta(
            _returns(own), _returns(market), spec.window, spec.min_obs, spec.shrink
        )
        grid_days = keys[lo : hi + 1]
        want = sessions.as_unit("ns").asi8
        pos = np.minimum(np.searchsorted(grid_days, want), len(grid_days) - 1)
        read = beta.T.take(pos, axis=1)  # row-major (tickers, sessions): no transposing copy
        # Outside the common span a run reads NaN (before: no return yet; after: no session).
        read[(want < grid_days[first][:, None]) | (want > grid_days[last][:, None])] = np.nan
        out[[rows[k] for k in on_grid]] = read
    return out


def _common(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    """The overlap of two spans on the calendar (None if either is None or they do not meet)."""
    if a is None or b is None or max(a[0], b[0]) > min(a[1], b[1]):
        return None
    return max(a[0], b[0]), min(a[1], b[1])


def _returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close returns down the rows (NaN on the first and next to a missing close)."""
    out = np.empty_like(close)
    out[:1] = np.nan
    np.divide(close[1:], close[:-1], out=out[1:])
    out[1:] -= 1.0
    return out


def hedge_ratios(
    signals: pd.DataFrame, prices: dict[str, pd.DataFrame], spec: HedgeSpec, tz: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each signal's hedge instrument and ratio (NaN where the window holds too few returns).

    ``beta`` regresses the ticker's close-to-close returns on the instrument's,
    both taken on the sessions where both have a close, and is read at the
    decision's session (:func:`decision_sessions`), so only bars before it count.
    """
    instruments = np.array([spec.instrument_of(t) for t in signals["ticker"]], dtype=object)
    if spec.ratio != "beta":
        return instruments, np.full(len(signals), float(spec.ratio))
    ratios = np.full(len(signals), np.nan)
    local = pd.DatetimeIndex(signals["decision_time"]).tz_convert(tz).tz_localize(None).normalize()
    tickers = signals["ticker"].to_numpy(dtype=object)
    for ticker, inst in sorted(set(zip(tickers, instruments, strict=True))):
        rows = np.flatnonzero((tickers == ticker) & (instruments == inst))
        sessions, beta = beta_series(prices[ticker], prices[inst], spec)
        ratios[rows] = read_ratios(sessions, beta, local[rows])
    return instruments, ratios


def instrument_priced(frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> np.ndarray:
    """Whether a hedge instrument has all four prices on each of ``sessions`` (any order).

    A leg fills only at a real bar of its instrument: a price carried forward over
    a gap would be stale, and one carried back before its listing would come from
    the future. A trade whose entry or exit session fails this is not hedged
    (``hedge_no_price``). The test is :func:`backtest.core.timeline.tradable`'s.

    Examples
    --------
    >>> days = pd.DatetimeIndex(["2026-01-02", "2026-01-05", "2026-01-06"])
    >>> frame = pd.DataFrame({k: [1.0, 2.0] for k in ("open", "high", "low", "close")},
    ...                      index=days[1:])
    >>> instrument_priced(frame, days[[2, 0, 1]]).tolist()
    [True, False, True]
    """
    unique = pd.DatetimeIndex(sessions).unique().sort_values()
    ok = tradable(session_bars([frame], unique))[0]
    return ok[unique.get_indexer(pd.DatetimeIndex(sessions))]


def hedge_side(side, ratio):
    """The hedge leg's side: opposite the trade, the same for a negative ratio.

    Examples
    --------
    >>> hedge_side(np.array([1, -1, 1]), np.array([0.8, 1.2, -0.3])).tolist()
    [-1, 1, 1]
    """
    return leg_direction(np.asarray(side), np.asarray(ratio)).astype(int)


def leg_direction(side, ratio):
    """:func:`hedge_side`'s arithmetic: on arrays, or on single numbers compiled.

    Examples
    --------
    >>> int(leg_direction(1, 0.8)), int(leg_direction(1, -0.3))
    (-1, 1)
    """
    return -side * choose(ratio < 0, -1, 1)


def hedge_notional(ratio, entry_value):
    """The hedge leg's entry fill value: ``|ratio|`` times the trade's.

    Examples
    --------
    >>> float(hedge_notional(-0.5, 8000.0))
    4000.0
    """
    return np.abs(ratio) * entry_value


def hedge_contribution(ratio, leg_return):
    """The hedge leg's return on the trade's entry value: ``|ratio|`` times its own.

    ``hedged_net_return = net_return + hedge_contribution(ratio, leg_return)``.

    Examples
    --------
    >>> float(hedge_contribution(-0.5, 0.02))
    0.01
    """
    return np.abs(ratio) * leg_return


@dataclass(frozen=True)
class HedgeLeg:
    """A priced hedge leg: its shares, fill prices and own net return (0 without notional)."""

    shares: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    leg_return: np.ndarray


def price_hedge_leg(
    panel,
    rows,
    entry_tick,
    exit_tick,
    h_in,
    h_out,
    h_side,
    notional,
    slippage_bps: float,
    fees_bps: float,
    costs: TradeCosts,
    keep_fills: bool = True,
    name=None,
) -> HedgeLeg:
    """The hedge leg whose entry fill value is ``notional``, with every fill rule and cost.

    ``panel`` is the instruments' :class:`~backtest.engine.rules.trade_costs.CostPanel`,
    ``rows`` each leg's instrument row in it. The shares are found as the main
    leg's are: before impact (spread only), then every cost at those shares, so
    runs (:func:`backtest.engine.hedging.hedge_trades`) and sweeps price a leg alike
    (:func:`~backtest.engine.rules.trade_costs.price_orders`). A leg's fill without a
    positive price is refused, named by ``name(what)(i)``. ``keep_fills``: also its
    shares and fill prices (a sweep needs only the return).
    """
    priced = price_orders(
        panel,
        rows,
        entry_tick,
        exit_tick,
        h_side,
        h_in,
        h_out,
        notional,
        HEDGE_LEG,
        slippage_bps,
        fees_bps,
        costs,
        keep_fills=keep_fills,
        name=name,
    )
    return HedgeLeg(priced.shares, priced.entry_price, priced.exit_price, priced.net_return)


def hedged_return_at_cost(ref_in, ref_out, h_in, h_out, side, ratio, bps_per_side: float):
    """Both legs at an all-in cost per side: ``main + ratio * hedge`` at the reference prices.

    Examples
    --------
    Long +3 %, the instrument +1 % at ratio 2, no cost: +1 %.

    >>> round(float(hedged_return_at_cost(100.0, 103.0, 50.0, 50.5, 1, 2.0, 0.0)), 12)
    0.01
    """
    main = return_at_cost(ref_in, ref_out, side, bps_per_side)
    hedge = return_at_cost(h_in, h_out, hedge_side(side, ratio), bps_per_side)
    return main + hedge_contribution(np.asarray(ratio), hedge)


def hedged_break_even_bps(ref_in, ref_out, h_in, h_out, side, ratio) -> float:
    """Cost per side (bps) at which the mean :func:`hedged_return_at_cost` is zero.

    Linear in the cost: ``mean(gross) / mean(1 + out/in + ratio (1 + h_out/h_in))``.

    Examples
    --------
    >>> round(hedged_break_even_bps(100.0, 103.0, 50.0, 50.5, 1, 2.0), 2)
    16.53
    """
    arrays = (np.asarray(a, dtype=float) for a in (ref_in, ref_out, h_in, h_out))
    ref_in, ref_out, h_in, h_out = arrays
    if ref_in.size == 0:
        return float("nan")
    gross = hedged_return_at_cost(ref_in, ref_out, h_in, h_out, side, ratio, 0.0)
    per_bps = (1.0 + ref_out / ref_in) + np.abs(np.asarray(ratio)) * (1.0 + h_out / h_in)
    return break_even_from(gross, per_bps)


def price_hedged(
    stock_panel: CostPanel,
    hedge_panel: CostPanel,
    row,
    hedge_row,
    entry_tick,
    exit_tick,
    side,
    ref_in,
    ref_out,
    hedge_price: np.ndarray,
    ratio,
    budget,
    mode: int,
    slippage_bps: float,
    fees_bps: float,
    costs: TradeCosts,
    name=None,
) -> np.ndarray:
    """Each trade's hedged net return with every cost, in one compiled pass (arrays broadcast).

    The trade is priced as :func:`~backtest.engine.rules.trade_costs.price_orders`
    prices it (``row`` in ``stock_panel``, worth ``budget`` as ``mode`` says),
    and its hedge leg as :func:`price_hedge_leg` prices one: instrument row
    ``hedge_row`` of ``hedge_panel`` and of ``hedge_price`` (fill reference
    prices per tick), side :func:`hedge_side`, entry value :func:`hedge_notional`,
    at the trade's own ticks. The result is ``net + hedge_contribution(ratio, leg)``
    (NaN where the trade is not taken or the ratio is NaN). A refused fill is a
    ConfigError named by ``name(what)(i)``, ``what`` one of ``entry``, ``exit``,
    ``hedge leg's entry`` and ``hedge leg's exit``.
    """
    shape, arrays = loop_arrays(
        (row, hedge_row, entry_tick, exit_tick, side), (ref_in, ref_out, ratio, budget)
    )
    row, hedge_row, entry_tick, exit_tick, side, ref_in, ref_out, ratio, budget = arrays
    net = np.empty(row.shape)
    refused = np.full(4, -1, dtype=np.int64)
    refused_price = np.zeros(4)
    _compiled_hedged()(
        panel_tables(stock_panel),
        stock_panel.borrow_bps,
        panel_tables(hedge_panel),
        hedge_panel.borrow_bps,
        row,
        hedge_row,
        entry_tick,
        exit_tick,
        side,
        ref_in,
        ref_out,
        hedge_price,
        ratio,
        budget,
        mode,
        price_flags(costs, stock_panel),
        price_flags(costs, hedge_panel),
        price_rates(slippage_bps, fees_bps, costs),
        net,
        refused,
        refused_price,
    )
    if (refused >= 0).any():
        h_in, h_out = at(hedge_price, hedge_row, entry_tick), at(hedge_price, hedge_row, exit_tick)
        whats = ("entry", "exit", "hedge leg's entry", "hedge leg's exit")
        raise_refused(refused, refused_price, (ref_in, ref_out, h_in, h_out), (name,) * 4, whats)
    return net.reshape(shape)


def _hedged_kernel(
    stock_tables,
    stock_borrow,
    hedge_tables,
    hedge_borrow,
    row,
    hedge_row,
    entry,
    exit_,
    side,
    ref_in,
    ref_out,
    hedge_price,
    ratio,
    budget,
    mode,
    stock_flags,
    hedge_flags,
    rates,
    net_out,
    refused,
    refused_price,
):  # pragma: no cover - compiled by numba
    half, half_x, sigma, sigma_x, adv, adv_x, cum_div, day, no_short = stock_tables
    g_half, g_half_x, g_sigma, g_sigma_x, g_adv, g_adv_x, g_cum, g_day, g_no_short = hedge_tables
    combos, trades = row.shape
    # One trade's combinations together: they read one ticker's estimates near one session.
    for t in range(trades):
        for c in range(combos):
            e, x, sd, h, rt = entry[c, t], exit_[c, t], side[c, t], hedge_row[c, t], ratio[c, t]
            f_in, f_out, q, net, traded = price_leg(
                half, half_x, sigma, sigma_x, adv, adv_x, cum_div, day, no_short, stock_borrow,
                row[c, t], e, x, sd, ref_in[c, t], ref_out[c, t], budget[c, t], mode,
                stock_flags, rates,
            )  # fmt: skip
            g_in, g_out, _, leg, g_traded = price_leg(
                g_half, g_half_x, g_sigma, g_sigma_x, g_adv, g_adv_x, g_cum, g_day, g_no_short,
                hedge_borrow, h, e, x, leg_direction(sd, rt), hedge_price[h, e],
                hedge_price[h, x], hedge_notional(rt, q * f_in), HEDGE_LEG, hedge_flags, rates,
            )  # fmt: skip
            pos = c * trades + t
            for k, fill, ok in ((0, f_in, traded), (1, f_out, traded), (2, g_in, g_traded),
                                (3, g_out, g_traded)):  # fmt: skip
                refused[k], refused_price[k] = first_refused(
                    refused[k], refused_price[k], pos, fill, ok
                )
            net_out[c, t] = net + hedge_contribution(rt, leg)


@functools.cache
def _compiled_hedged():
    """The hedged loop, compiled on first use with the rules it calls."""
    from backtest.engine.rules.compiled import compile_loops

    rules = (*RULES, leg_direction, hedge_notional, hedge_contribution)
    files = (*RULE_FILES, "hedge.py")
    loops = {_hedged_kernel: _hedged_types}
    (loop,) = compile_loops(__file__, loops, rules, files, INLINE_RULES)
    return loop


def _hedged_types() -> list:
    from numba import types

    from backtest.engine.rules.compiled import readonly, writable

    f1, f2, i2 = readonly("float64", 1), readonly("float64", 2), readonly("int32", 2)
    flags, rates = types.UniTuple(types.boolean, 6), types.UniTuple(types.float64, 6)
    return [
        types.void(
            table_types(),
            f1,
            table_types(),
            f1,
            i2,
            i2,
            i2,
            i2,
            i2,
            f2,
            f2,
            f2,
            f2,
            f2,
            types.int64,
            flags,
            flags,
            rates,
            writable("float64", 2),
            writable("int64", 1),
            writable("float64", 1),
        )  # fmt: skip
    ]
