"""The ``costs:`` section's rules: spread, commission, impact, participation, borrow, dividends.

Each cost is one function here, and both engines take them from here: the
vectorbt engine (:mod:`backtest.engine.vectorbt`) books them (fill prices,
``fixed_fees``, the book's sizes) and the kernel (:mod:`backtest.engine.kernel`)
prices them in :func:`net_return_with_costs`. All are off by default
(:class:`TradeCosts` with no argument charges nothing).

* spread: half the (fixed or estimated) spread moves each fill against the trader;
  the estimate (:mod:`~backtest.engine.rules.estimates`) is read at the fill's
  session, so it uses bars up to the session before;
* commission: ``max(per_share * shares, minimum)`` per order
  (:func:`backtest.engine.rules.book.commission`);
* impact: ``k * sigma * sqrt(shares / ADV)`` moves each fill against the trader,
  sigma and ADV trailing (before the fill's session), shares those of the order
  before impact; an entry ADV of zero drops the trade (``zero_adv``);
* participation: an entry order above ``max_pct`` % of the entry's ADV is cut to
  it (or dropped); the exit, which closes the position, is not capped;
* borrow: a short pays ``annual_bps`` per 365 calendar days held, on its entry fill value;
* dividends: a long receives, a short pays, each cash dividend whose ex-date
  session opens inside the holding: the price table's own list (its optional
  ``dividend`` column, e.g. yfinance's ``Dividends``) where it has one, else
  derived from its ``adj_close`` (:func:`dividends_from_adj`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.core.errors import ConfigError
from backtest.core.schema import DIVIDEND_COLUMN
from backtest.core.timeline import Timeline
from backtest.engine.rules.arrays import at
from backtest.engine.rules.book import commission, shares_for_budget
from backtest.engine.rules.costs import BPS, fee_rate, fill_price
from backtest.engine.rules.date_grid import (
    DateGrid,
    date_grid,
    field_block,
    frame_fields,
    frame_keys,
    on_sessions,
)
from backtest.engine.rules.estimates import (
    abdi_ranaldo,
    corwin_schultz,
    trailing_adv,
    trailing_vol,
)
from backtest.engine.rules.windows import carry_forward

__all__ = [
    "COST_REASONS",
    "CostPanel",
    "CostTerms",
    "TradeCosts",
    "borrow_per_share",
    "carry_per_share",
    "check_fill_prices",
    "build_cost_panel",
    "cost_terms",
    "dividends_from_adj",
    "entry_estimates",
    "impact_rate",
    "net_from_fills",
    "net_return_with_costs",
    "order_shares",
    "participation_limit",
]

COST_REASONS = (
    "do_not_short",
    "zero_adv",
    "cost_history",
    "participation_cap",
    "participation_drop",
)
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class TradeCosts:
    """The ``costs:`` section as the engines read it (every cost off by default).

    Examples
    --------
    >>> TradeCosts().active
    False
    >>> TradeCosts(commission_minimum=1.0).active
    True
    """

    spread_bps: float = 0.0
    spread_estimator: str | None = None  # "corwin_schultz" | "abdi_ranaldo"
    spread_window: int = 21
    commission_per_share: float = 0.0
    commission_minimum: float = 0.0
    impact_k: float = 0.0
    vol_window: int = 20
    adv_window: int = 20
    participation_pct: float | None = None
    participation_action: str = "cut"  # "cut" | "drop"
    borrow_bps: float = 0.0
    borrow_bps_by_ticker: tuple[tuple[str, float], ...] = ()
    do_not_short: tuple[str, ...] = ()
    dividends: bool = False
    # The notional (account currency) the kernel prices size-dependent costs at.
    notional: float = field(default=0.0, compare=False)

    @property
    def active(self) -> bool:
        """Whether any cost of the section is on."""
        return bool(
            self.spread_bps
            or self.spread_estimator
            or self.commission_per_share
            or self.commission_minimum
            or self.impact_k
            or self.participation_pct is not None
            or self.borrow_bps
            or self.borrow_bps_by_ticker
            or self.do_not_short
            or self.dividends
        )

    @property
    def needs_adv(self) -> bool:
        """Whether impact or participation read the trailing ADV."""
        return bool(self.impact_k) or self.participation_pct is not None

    def borrow_of(self, ticker: str) -> float:
        """Annual borrow fee (bps) of ``ticker``: its override, else the global one."""
        return dict(self.borrow_bps_by_ticker).get(ticker, self.borrow_bps)


def dividends_from_adj(close, adj_close):
    """Cash dividend per share on each ex-date, from the close and dividend-adjusted close.

    An adjusted close divides the prices before an ex-date ``d`` by
    ``1 - D / close[d-1]``, so the ratio ``a = adj / close`` steps by that factor:
    ``D = close[d-1] * (1 - a[d-1] / a[d])``. Steps below 1e-6 of the price
    (rounding of the published adjusted close) count as none; the first session is 0.
    Series in, Series out; arrays (rows are sessions) in, an array out.

    Examples
    --------
    A 1.00 dividend on the third session, off a close of 50 (factor 0.98):

    >>> close = pd.Series([50.0, 50.0, 49.5, 50.5])
    >>> adj = pd.Series([49.0, 49.0, 49.5, 50.5])
    >>> dividends_from_adj(close, adj).round(9).tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    c = np.asarray(close, dtype=float)
    ratio = np.asarray(adj_close, dtype=float) / c
    div = np.zeros_like(ratio)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = 1.0 - ratio[:-1] / ratio[1:]
        div[1:] = np.where(step > 1e-6, c[:-1] * step, 0.0)
    div[np.isnan(div)] = 0.0
    if isinstance(close, pd.Series):
        return pd.Series(div, index=close.index)
    return div


def impact_rate(k: float, sigma, shares, adv):
    """Market impact as a fraction of the price: ``k * sigma * sqrt(shares / ADV)``.

    Examples
    --------
    10 000 shares against an ADV of 1 000 000 at 2 % daily vol and k = 1: 20 bps.

    >>> round(float(impact_rate(1.0, 0.02, 10_000.0, 1_000_000.0)), 12)
    0.002
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return k * np.asarray(sigma) * np.sqrt(np.abs(shares) / np.asarray(adv))


def participation_limit(adv, max_pct: float):
    """Most shares an order may trade: ``max_pct`` % of the trailing ADV.

    Examples
    --------
    >>> float(participation_limit(2_000_000.0, 1.0))
    20000.0
    """
    return np.asarray(adv, dtype=float) * max_pct / 100.0


def borrow_per_share(entry_fill, days, annual_bps):
    """Borrow fee per share of a short: ``annual_bps`` per 365 calendar days of its entry value.

    Examples
    --------
    A 365-day short at 365 bps a year pays 3.65 % of its entry value:

    >>> round(float(borrow_per_share(100.0, 365, 365.0)), 12)
    3.65
    """
    return np.asarray(entry_fill) * np.asarray(annual_bps) * BPS * np.asarray(days) / DAYS_PER_YEAR


@dataclass(frozen=True)
class CostPanel:
    """Per ticker row: trailing estimates per session, and per tick the dividends and day number.

    ``half_spread``, ``sigma`` and ``adv`` are (rows, sessions) as of each session
    (bars before it): what an entry reads. ``*_exit`` are the same estimates
    carried forward: at each session the last finite one at or before it (for
    ``adv_exit`` the last positive one), what an exit reads, so an exit is
    always priced (an entry was priced with an estimate at or before it) and a
    missing estimate at the exit never drops a trade after its entry.
    ``cum_div`` is (rows, ticks), the dividends paid up to each tick (a dividend
    counts at its ex-date's open tick); ``day`` is (ticks,) the calendar day of
    each tick.
    """

    half_spread: np.ndarray
    sigma: np.ndarray
    adv: np.ndarray
    cum_div: np.ndarray
    day: np.ndarray
    borrow_bps: np.ndarray
    no_short: np.ndarray
    half_spread_exit: np.ndarray
    sigma_exit: np.ndarray
    adv_exit: np.ndarray


def build_cost_panel(
    tickers: list[str], prices: dict[str, pd.DataFrame], timeline: Timeline, costs: TradeCosts
) -> CostPanel:
    """The estimates every cost reads, one row per entry of ``tickers`` (repeats allowed).

    Estimates run over each ticker's whole price history, so a timeline's first
    sessions have their trailing window too. An estimate no cost of ``costs``
    reads (sigma without impact, ADV without impact or participation, dividends)
    is a read-only broadcast of NaN (0 for dividends), not a table.
    """
    sessions = timeline.sessions
    unique = list(dict.fromkeys(tickers))
    estimates = _all_estimates(unique, prices, sessions, costs)
    if len(unique) < len(tickers):
        pos = np.array([unique.index(t) for t in tickers])
        estimates = tuple(_take_rows(a, pos) for a in estimates)
    half, sigma, adv, cum_div = estimates
    day = timeline.ticks.tz_convert("America/New_York").normalize().tz_localize(None)
    day = day.to_numpy().astype("datetime64[D]").astype(np.int64)
    borrow = np.array([costs.borrow_of(t) for t in tickers], dtype=float)
    no_short = np.array([t in costs.do_not_short for t in tickers], dtype=bool)
    positive_adv = np.where(adv > 0, adv, np.nan) if costs.needs_adv else adv
    # Exits read carried-forward estimates only where they vary and are read:
    # a fixed spread is the same every session, and only impact reads sigma and ADV at exit.
    return CostPanel(
        half,
        sigma,
        adv,
        cum_div,
        day,
        borrow,
        no_short,
        carry_forward(half) if costs.spread_estimator else half,
        carry_forward(sigma) if costs.impact_k else sigma,
        carry_forward(positive_adv) if costs.impact_k else positive_adv,
    )


def _take_rows(a: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Rows ``pos`` of ``a``; a broadcast stays a broadcast."""
    if a.strides[0] == 0:
        return np.broadcast_to(a[:1], (len(pos), *a.shape[1:]))
    return a[pos]


def _all_estimates(
    tickers: list[str], prices: dict[str, pd.DataFrame], sessions: pd.DatetimeIndex, costs
) -> tuple[np.ndarray, ...]:
    """:func:`_estimates` of every ticker on ``sessions``, one row each.

    Tickers whose bars are one unbroken run of the dates any of them trades (the
    usual universe) are estimated together, one column each of a
    :mod:`~backtest.engine.rules.date_grid` panel: the estimators give a column
    the floats they give the ticker alone. Any other ticker (a hole, a stray or
    repeated date) is estimated alone on its own dates.
    """
    n, s = len(tickers), len(sessions)
    needed = _fields(costs)
    bars = [frame_fields(prices[t], needed) for t in tickers]
    dates = [frame_keys(prices[t]) for t in tickers]
    grid = date_grid(dates)
    together = [
        i
        for i, span in enumerate(grid.spans)
        if span is not None and all(k in bars[i] for k in needed if k not in OPTIONAL_FIELDS)
    ]
    read = (True, bool(costs.impact_k), costs.needs_adv, costs.dividends)
    shapes = ((n, s), (n, s), (n, s), (n, 2 * s))
    everyone = len(together) == n  # the usual universe: the panel's rows are the output
    out = [
        _unread(shape, k) if not used else None if everyone else np.full(shape, np.nan)
        for k, (used, shape) in enumerate(zip(read, shapes, strict=True))
    ]
    alone = sorted(set(range(n)) - set(together))
    for i in alone:
        for k, values in enumerate(_estimates(bars[i], dates[i], sessions, costs)):
            if read[k]:
                out[k][i] = values
    if not together:
        return tuple(out)
    fields: dict = {}
    sub = DateGrid(grid.keys, tuple(grid.spans[i] for i in together))
    for name in needed:
        columns = [bars[i].get(name) for i in together]
        if all(c is None for c in columns):
            continue
        fields[name] = field_block(sub, columns)
        if name == DIVIDEND_COLUMN:  # which columns have a list at all
            fields[f"has_{name}"] = np.array([c is not None for c in columns])
    block = _estimates(fields, grid.keys, sessions, costs)
    keys = sessions.as_unit("ns").asi8
    first = grid.keys[[grid.spans[i][0] for i in together]]
    last = grid.keys[[grid.spans[i][1] for i in together]]
    # A ticker alone has no estimate on a session outside its own bars (a fixed spread
    # is no estimate: it holds everywhere), and it is paid no dividend there. Only the
    # rows listed late or delisted early have such sessions.
    short = np.flatnonzero((first > keys[0]) | (last < keys[-1])) if len(keys) else []
    outside = (keys[None, :] < first[short, None]) | (keys[None, :] > last[short, None])
    for k in range(4):
        if not read[k]:
            continue
        values = np.ascontiguousarray(block[k])  # a row-major copy, masked in place
        if k < 3 and not (k == 0 and costs.spread_estimator is None):
            values[short] = np.where(outside, np.nan, values[short])
        if everyone:
            out[k] = values
        else:
            out[k][together] = values
    return tuple(out)


def _unread(shape: tuple[int, int], k: int) -> np.ndarray:
    """An estimate no cost reads: NaN (0 for the dividends, column ``k == 3``), broadcast."""
    return np.broadcast_to(0.0 if k == 3 else np.nan, shape)


def _fields(costs) -> list[str]:
    """The bar fields the estimates of ``costs`` read (the last two only if a table has them)."""
    return (
        ["high", "low", "close"]
        + (["volume"] if costs.needs_adv else [])
        + ([DIVIDEND_COLUMN, "adj_close"] if costs.dividends else [])
    )


OPTIONAL_FIELDS = (DIVIDEND_COLUMN, "adj_close")


def _dividends(fields: dict) -> np.ndarray:
    """Cash dividend per share on each ex-date: the table's own list (``dividend``) where a
    ticker has one, else from ``adj_close`` (:func:`dividends_from_adj`), else none.

    ``fields`` as :func:`_estimates`'s; for several tickers, ``has_dividend`` says
    which columns have a list at all.
    """
    close = fields["close"]
    if "adj_close" in fields:
        from_adj = dividends_from_adj(close, fields["adj_close"])
    else:
        from_adj = np.zeros_like(close)
    if DIVIDEND_COLUMN not in fields:
        return from_adj
    listed = np.nan_to_num(fields[DIVIDEND_COLUMN])
    if "has_dividend" not in fields:
        return listed
    return np.where(np.broadcast_to(fields["has_dividend"], close.shape), listed, from_adj)


def _estimates(fields: dict, keys: np.ndarray, sessions: pd.DatetimeIndex, costs: TradeCosts):
    """Half spread, sigma, ADV on ``sessions`` and the cumulative dividend per tick.

    ``fields`` holds the bars' high, low, close (volume, dividend, adj_close) as
    arrays on the dates ``keys`` (int64 ns): (dates,) for one ticker, (dates,
    tickers) for several. Arrays come back (sessions,) or (tickers, sessions).
    Sigma is estimated only for impact (the one cost that reads it): NaN otherwise.
    """
    s = len(sessions)
    close = fields["close"]
    lead = close.shape[1:]

    def on(values):
        return on_sessions(values, keys, sessions)

    if costs.spread_estimator == "corwin_schultz":
        half = 0.5 * on(corwin_schultz(fields["high"], fields["low"], costs.spread_window))
    elif costs.spread_estimator == "abdi_ranaldo":
        est = abdi_ranaldo(fields["high"], fields["low"], close, costs.spread_window)
        half = 0.5 * on(est)
    else:
        half = np.full((*lead, s), 0.5 * costs.spread_bps * BPS)
    sigma = (
        on(trailing_vol(close, costs.vol_window, max(2, costs.vol_window // 2)))
        if costs.impact_k
        else np.broadcast_to(np.nan, (*lead, s))
    )
    adv = (
        on(trailing_adv(fields["volume"], costs.adv_window, max(1, costs.adv_window // 2)))
        if costs.needs_adv and "volume" in fields
        else np.broadcast_to(np.nan, (*lead, s))
    )
    if not costs.dividends:
        return half, sigma, adv, np.broadcast_to(0.0, (*lead, 2 * s))
    per_tick = np.zeros((*lead, 2 * s))
    per_tick[..., 0::2] = on(_dividends(fields))
    return half, sigma, adv, np.cumsum(np.nan_to_num(per_tick), axis=-1)


@dataclass(frozen=True)
class CostTerms:
    """Per trade: price moves of each fill (fractions), carry per share, and drops.

    ``limit`` is the most shares the order may trade (``inf``: no limit, 0: dropped)
    and ``reason_code`` why it is limited (0 where not, else ``COST_REASONS[code - 1]``;
    :attr:`reason` spells it out). ``dividend`` and ``days`` are zeros (a
    read-only broadcast) when no dividend or borrow is charged.
    """

    extra_in: np.ndarray
    extra_out: np.ndarray
    dividend: np.ndarray
    days: np.ndarray
    limit: np.ndarray
    reason_code: np.ndarray

    @property
    def reason(self) -> np.ndarray:
        """Why each order is limited, by name ('' where it is not)."""
        return np.array(("", *COST_REASONS), dtype=object)[self.reason_code]


def _session(tick: np.ndarray) -> np.ndarray:
    """The session of each tick (two per session): a shift for integers, as the sweep's."""
    return tick >> 1 if np.issubdtype(tick.dtype, np.integer) else tick // 2


def _code(reason: str) -> int:
    return COST_REASONS.index(reason) + 1


def cost_terms(
    panel: CostPanel, row, entry_tick, exit_tick, side, costs: TradeCosts, shares=None
) -> CostTerms:
    """The costs of each trade: one function for both engines (arrays broadcast).

    ``shares`` are the order's shares before impact (None: no impact or
    participation terms). Dividends per share are signed: received by a long
    (positive), paid by a short (negative).

    Every drop or cut is decided from the estimates read at the entry's session
    (bars before it), never from the exit's: a trade is dropped when its entry
    has no spread, sigma (impact) or ADV (impact, participation) estimate
    (``cost_history``), when its entry ADV is zero (``zero_adv``), and the
    participation cap limits the entry order to ``max_pct`` % of the entry ADV
    (the exit closes the whole position: it is not capped). Exits read the
    estimates carried forward to their session (:class:`CostPanel`).
    Later rules override earlier ones: do-not-short, then a missing estimate,
    then zero ADV, then participation.
    """
    row, entry_tick, exit_tick, side = np.broadcast_arrays(row, entry_tick, exit_tick, side)
    shape = np.shape(row)
    s_in, s_out = _session(entry_tick), _session(exit_tick)
    extra_in = at(panel.half_spread, row, s_in)
    extra_out = at(panel.half_spread_exit, row, s_out)
    zeros = np.broadcast_to(0.0, shape)
    if costs.dividends:
        dividend = side * (at(panel.cum_div, row, exit_tick) - at(panel.cum_div, row, entry_tick))
    else:
        dividend = zeros
    days = panel.day[exit_tick] - panel.day[entry_tick] if panel.borrow_bps.any() else zeros
    limit = np.full(shape, np.inf)
    code = np.zeros(shape, dtype=np.int8)
    bad = ~np.isfinite(extra_in)
    if shares is not None and costs.needs_adv:
        adv_in = at(panel.adv, row, s_in)
        if costs.impact_k:
            sig_in, sig_out = at(panel.sigma, row, s_in), at(panel.sigma_exit, row, s_out)
            adv_out = at(panel.adv_exit, row, s_out)
            with np.errstate(invalid="ignore"):
                extra_in = extra_in + impact_rate(costs.impact_k, sig_in, shares, adv_in)
                extra_out = extra_out + impact_rate(costs.impact_k, sig_out, shares, adv_out)
            bad |= ~np.isfinite(sig_in)
        if costs.participation_pct is not None:
            cap = participation_limit(adv_in, costs.participation_pct)
            over = np.abs(shares) > cap
            if costs.participation_action == "drop":
                limit[over] = 0.0
                code[over] = _code("participation_drop")
            else:
                limit[over] = cap[over]
                code[over] = _code("participation_cap")
        zero = adv_in <= 0
        bad |= np.isnan(adv_in) & ~zero
        limit[zero] = 0.0
        code[zero] = _code("zero_adv")
    limit[bad] = 0.0
    code[bad] = _code("cost_history")
    if panel.no_short.any():
        shorted = (side < 0) & panel.no_short[row]
        limit[shorted] = 0.0
        code[shorted] = _code("do_not_short")
    # A dropped order moves no price (zero ADV makes its impact infinite).
    dead = ~(limit > 0)
    for extra in (extra_in, extra_out):  # fresh arrays (gathered or summed): set in place
        extra[dead | np.isnan(extra)] = 0.0
    return CostTerms(extra_in, extra_out, dividend, days, limit, code)


def entry_estimates(panel: CostPanel, row, entry_tick) -> dict[str, np.ndarray]:
    """The estimates an entry's costs read (half spread, sigma, ADV at its session), by name.

    What the look-ahead audit compares (:mod:`backtest.audit.sizes`).
    """
    s_in = np.asarray(entry_tick) // 2
    return {
        "half_spread_in": at(panel.half_spread, row, s_in),
        "sigma_in": at(panel.sigma, row, s_in),
        "adv_in": at(panel.adv, row, s_in),
    }


def check_fill_prices(ref, fill, traded, where) -> None:
    """Refuse costs that leave a traded fill without a positive price (a ConfigError).

    A sell whose slippage, half spread and impact add up to 100 % of the price
    or more would fill at zero or below: the costs are absurd for the order's
    size. ``where(i)`` names fill ``i`` in the message.

    Examples
    --------
    >>> try:
    ...     check_fill_prices(np.array([100.0]), np.array([-20.0]), np.array([True]),
    ...                       lambda i: "the exit of e1 (X)")
    ... except ConfigError as exc:
    ...     print(str(exc)[:98])
    costs: the exit of e1 (X) fills at -20 against a reference price of 100 (slippage, half spread and
    """
    fill, ref = np.asarray(fill, dtype=float), np.asarray(ref, dtype=float)
    if fill.size and fill.min() > 0:  # every fill positive (NaN fails this): one pass
        return
    bad = np.asarray(traded, dtype=bool) & ~(fill > 0)
    if not bad.any():
        return
    # ``i`` is flat over the broadcast arrays (a sweep's are (combinations, events)).
    fill, ref = (np.broadcast_to(a, bad.shape).ravel() for a in (fill, ref))
    i = int(np.flatnonzero(bad)[0])
    raise ConfigError(
        f"costs: {where(i)} fills at {fill[i]:.6g} against a reference price of {ref[i]:.6g} "
        f"(slippage, half spread and impact take {abs(1 - fill[i] / ref[i]):.1%} of it): lower "
        "costs.impact.k or the spread, add costs.participation, or size the trades smaller"
    )


def carry_per_share(terms: CostTerms, entry_fill, side, borrow_bps):
    """Cost per share paid at the exit: borrow of a short minus the (signed) dividends.

    Examples
    --------
    >>> t = CostTerms(*(np.zeros(1),) * 2, np.array([-0.5]), np.array([365]),
    ...               np.full(1, np.inf), np.zeros(1, dtype=np.int8))
    >>> carry_per_share(t, np.array([100.0]), np.array([-1]), 365.0).tolist()
    [4.15]
    """
    borrow = np.where(np.asarray(side) < 0, borrow_per_share(entry_fill, terms.days, borrow_bps), 0)
    return borrow - terms.dividend


def order_shares(costs: TradeCosts, sizing: str, ref_in, f_in, fees_bps: float):
    """Shares of an order at the notional ``costs.notional`` (the sweep's, at the initial equity).

    ``fixed`` buys the notional at the reference price; ``percent`` spends it,
    fees included (:func:`backtest.engine.rules.book.shares_for_budget`).

    Examples
    --------
    >>> float(order_shares(TradeCosts(notional=10_000.0), "fixed", 100.0, 100.1, 10.0))
    100.0
    """
    if sizing == "fixed":
        return costs.notional / np.asarray(ref_in, dtype=float)
    return shares_for_budget(
        costs.notional,
        f_in,
        fee_rate(fees_bps),
        costs.commission_per_share,
        costs.commission_minimum,
    )


def net_return_with_costs(
    ref_in,
    ref_out,
    side,
    shares,
    slippage_bps: float,
    fees_bps: float,
    terms: CostTerms,
    costs: TradeCosts,
    borrow_bps,
):
    """P&L per unit of entry fill value with every cost of ``costs`` (vectorbt's trade return).

    Fills ``f_in = ref_in (1 + side (s + e_in))``, ``f_out = ref_out (1 - side (s + e_out))``;
    P&L per share ``side (f_out - f_in) - c (f_in + f_out) - (comm_in + comm_out) / q - carry``.

    Examples
    --------
    A short of 10 shares held 365 days at 100 -> 100, no other cost, 365 bps a year: -3.65 %.

    >>> t = CostTerms(*(np.zeros(1),) * 3, np.array([365]), np.full(1, np.inf),
    ...               np.zeros(1, dtype=np.int8))
    >>> r = net_return_with_costs(100.0, 100.0, -1, 10.0, 0, 0, t, TradeCosts(), 365.0)
    >>> round(float(r[0]), 12)
    -0.0365
    """

    side = np.asarray(side)
    f_in = fill_price(ref_in, side, slippage_bps, terms.extra_in)
    f_out = fill_price(ref_out, -side, slippage_bps, terms.extra_out)
    return net_from_fills(f_in, f_out, side, shares, fees_bps, terms, costs, borrow_bps)


def net_from_fills(f_in, f_out, side, shares, fees_bps: float, terms, costs, borrow_bps):
    """:func:`net_return_with_costs` from the fills themselves (callers that already have them).

    Examples
    --------
    >>> t = CostTerms(*(np.zeros(1),) * 4, np.full(1, np.inf), np.zeros(1, dtype=np.int8))
    >>> round(float(net_from_fills(100.0, 110.0, 1, 5.0, 0.0, t, TradeCosts(), 0.0)), 12)
    0.1
    """
    c = fee_rate(fees_bps)
    side = np.asarray(side)
    # A cost that is off adds nothing: its term is left out rather than subtracted as 0
    # (the same floats; a sweep prices millions of trades). A trade without shares gets
    # no return from its caller either way.
    with np.errstate(divide="ignore", invalid="ignore"):
        per_share = np.subtract(f_out, f_in)  # side (f_out - f_in) - c (f_in + f_out), in place
        per_share *= side
        per_share -= c * np.add(f_in, f_out)
        if costs.commission_per_share or costs.commission_minimum:
            q = np.asarray(shares, dtype=float)
            per_share = (
                per_share
                - 2 * commission(q, costs.commission_per_share, costs.commission_minimum) / q
            )
        if costs.dividends or np.any(borrow_bps):
            per_share = per_share - carry_per_share(terms, f_in, side, borrow_bps)
        per_share /= f_in
        return per_share
