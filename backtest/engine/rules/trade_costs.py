"""The ``costs:`` section's rules: spread, commission, impact, participation, borrow, dividends.

Each cost is one function here, and both engines take them from here: the
vectorbt engine (:mod:`backtest.engine.vectorbt`) books them (fill prices,
``fixed_fees``, the book's sizes) and the kernel (:mod:`backtest.engine.kernel`)
prices them in :func:`price_orders`. All are off by default
(:class:`TradeCosts` with no argument charges nothing).

Written once, run two ways. The per-trade rules (:func:`order_terms`,
:func:`budget_order`, :func:`order_net`, :func:`order_carry`, the fill of
:func:`backtest.engine.rules.costs.filled`, the commission and budget of
:mod:`backtest.engine.rules.book`) are plain functions of numbers that also take
numpy arrays where they have no branch per trade. :func:`cost_terms` and
:func:`price_orders` run them compiled with numba, one pass over the trades
(a sweep prices millions), calling these same functions: the run's book, the
sweep's kernel and the audit read one rule.

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

import functools
import types
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.core.errors import ConfigError
from backtest.core.schema import DIVIDEND_COLUMN
from backtest.core.timeline import Timeline
from backtest.engine.rules.arrays import at, choose, loop_arrays
from backtest.engine.rules.book import budget_shares, order_commission
from backtest.engine.rules.costs import BPS, fee_rate, fill_price, filled, slip_rate
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
    "FIXED",
    "HEDGE_LEG",
    "PERCENT",
    "SIZING_MODES",
    "CostPanel",
    "CostTerms",
    "PricedOrders",
    "TradeCosts",
    "borrow_per_share",
    "budget_order",
    "carry_per_share",
    "check_fill_prices",
    "build_cost_panel",
    "cost_terms",
    "dividends_from_adj",
    "entry_estimates",
    "impact_rate",
    "net_from_fills",
    "net_return_with_costs",
    "order_carry",
    "order_net",
    "order_terms",
    "participation_limit",
    "fill_sessions",
    "held_carry",
    "leg_estimates",
    "first_refused",
    "panel_tables",
    "price_flags",
    "price_leg",
    "price_one",
    "price_orders",
    "price_rates",
    "raise_refused",
    "refused_fill",
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
    return k * sigma * np.sqrt(np.abs(shares) / adv)


def participation_limit(adv, max_pct: float):
    """Most shares an order may trade: ``max_pct`` % of the trailing ADV.

    Examples
    --------
    >>> float(participation_limit(2_000_000.0, 1.0))
    20000.0
    """
    return adv * max_pct / 100.0


def borrow_per_share(entry_fill, days, annual_bps):
    """Borrow fee per share of a short: ``annual_bps`` per 365 calendar days of its entry value.

    Examples
    --------
    A 365-day short at 365 bps a year pays 3.65 % of its entry value:

    >>> round(float(borrow_per_share(100.0, 365, 365.0)), 12)
    3.65
    """
    return entry_fill * annual_bps * BPS * days / DAYS_PER_YEAR


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
    # The close only where a cost reads it: Abdi-Ranaldo, sigma (impact), the dividends.
    closes = costs.spread_estimator == "abdi_ranaldo" or costs.impact_k or costs.dividends
    return (
        ["high", "low"]
        + (["close"] if closes else [])
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

    ``fields`` holds the bars' high and low (close, volume, dividend, adj_close: as
    :func:`_fields` asks) as
    arrays on the dates ``keys`` (int64 ns): (dates,) for one ticker, (dates,
    tickers) for several. Arrays come back (sessions,) or (tickers, sessions).
    Sigma is estimated only for impact (the one cost that reads it): NaN otherwise.
    """
    s = len(sessions)
    lead = fields["high"].shape[1:]

    def on(values):
        return on_sessions(values, keys, sessions)

    if costs.spread_estimator == "corwin_schultz":
        half = 0.5 * on(corwin_schultz(fields["high"], fields["low"], costs.spread_window))
    elif costs.spread_estimator == "abdi_ranaldo":
        est = abdi_ranaldo(fields["high"], fields["low"], fields["close"], costs.spread_window)
        half = 0.5 * on(est)
    else:
        half = np.full((*lead, s), 0.5 * costs.spread_bps * BPS)
    sigma = (
        on(trailing_vol(fields["close"], costs.vol_window, max(2, costs.vol_window // 2)))
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


def _code(reason: str) -> int:
    return COST_REASONS.index(reason) + 1


DO_NOT_SHORT, ZERO_ADV, COST_HISTORY, PARTICIPATION_CAP, PARTICIPATION_DROP = (
    _code(r) for r in COST_REASONS
)


def order_terms(
    half_in,
    half_out,
    sigma_in,
    sigma_out,
    adv_in,
    adv_out,
    shares,
    side,
    no_short,
    impact_k,
    participation,
    participation_pct,
    participation_drop,
    sized,
):
    """One order's price moves, the most shares it may trade and why: the rule of :func:`cost_terms`.

    On single numbers (run compiled, one call per trade). Returns ``(extra_in,
    extra_out, limit, code)``: the fractions half spread and impact move the
    entry and exit fills, the shares limit (``inf``: none, 0: dropped) and its
    reason code (0: none, else ``COST_REASONS[code - 1]``). ``sized``: the
    order's ``shares`` before impact are known and impact or participation is
    on (else neither is applied, nor is the ADV read).

    Examples
    --------
    10 000 shares against an ADV of 1 000 000 at 2 % vol and k = 1 add 20 bps to a
    5 bps half spread; a 1 % participation cap cuts the order to 10 000 shares:

    >>> nan = float("nan")
    >>> order_terms(5e-4, 5e-4, 0.02, 0.02, 1e6, 1e6, 20_000.0, 1, False, 1.0, True, 1.0,
    ...             False, True)[2:]
    (10000.0, 4)
    """
    extra_in, extra_out = half_in, half_out
    limit, code = np.inf, 0
    bad = not np.isfinite(half_in)
    if sized:
        if impact_k:
            extra_in = extra_in + impact_rate(impact_k, sigma_in, shares, adv_in)
            extra_out = extra_out + impact_rate(impact_k, sigma_out, shares, adv_out)
            bad = bad or not np.isfinite(sigma_in)
        if participation:
            cap = participation_limit(adv_in, participation_pct)
            if np.abs(shares) > cap:
                if participation_drop:
                    limit, code = 0.0, PARTICIPATION_DROP
                else:
                    limit, code = cap, PARTICIPATION_CAP
        zero = adv_in <= 0
        bad = bad or (np.isnan(adv_in) and not zero)
        if zero:
            limit, code = 0.0, ZERO_ADV
    if bad:
        limit, code = 0.0, COST_HISTORY
    if side < 0 and no_short:
        limit, code = 0.0, DO_NOT_SHORT
    # A dropped order moves no price (zero ADV makes its impact infinite).
    if not limit > 0 or np.isnan(extra_in):
        extra_in = 0.0
    if not limit > 0 or np.isnan(extra_out):
        extra_out = 0.0
    return extra_in, extra_out, limit, code


def fill_sessions(entry_tick, exit_tick):
    """The sessions whose estimates an entry and an exit read: each fill's own (two ticks a session).

    :class:`CostPanel` holds at a session the estimates of the bars before it,
    and for exits the ones carried forward to it. On arrays, or on numbers compiled.

    Examples
    --------
    >>> fill_sessions(5, 8)
    (2, 4)
    """
    return entry_tick // 2, exit_tick // 2


def held_carry(cum_in, cum_out, day_in, day_out, side, dividends, borrow):
    """Signed dividends per share and calendar days of a holding (each 0 when not charged).

    ``cum_in`` and ``cum_out`` are :class:`CostPanel`'s cumulative dividends at the
    entry and exit ticks (a dividend counts at its ex-date's open tick), ``day_*``
    their calendar days. On single numbers, compiled.

    Examples
    --------
    >>> held_carry(1.0, 1.5, 100, 130, -1, True, True)
    (-0.5, 30)
    """
    dividend = side * (cum_out - cum_in) if dividends else 0.0
    days = day_out - day_in if borrow else 0
    return dividend, days


def leg_estimates(half, half_x, sigma, sigma_x, adv, adv_x, no_short, r, e, x):
    """What the trade of cost-panel row ``r`` from tick ``e`` to ``x`` reads: the estimates
    of its entry and exit (:func:`fill_sessions`) and whether its ticker may not be shorted.

    The compiled loops' one gather (inlined into them, so the arrays cost nothing to pass).
    """
    s_in, s_out = fill_sessions(e, x)
    return (
        half[r, s_in], half_x[r, s_out], sigma[r, s_in], sigma_x[r, s_out], adv[r, s_in],
        adv_x[r, s_out], no_short[r],
    )  # fmt: skip


def _terms_kernel(
    tables,
    row,
    entry,
    exit_,
    side,
    shares,
    flags,
    k,
    pct,
    out_extra,
    out_dividend,
    out_days,
    out_limit,
    out_code,
):  # pragma: no cover - compiled by numba
    # The arrays reach the rules only through inlined functions (leg_estimates): a call
    # handed arrays would pay numba's reference counting on every trade.
    half, half_x, sigma, sigma_x, adv, adv_x, cum_div, day, no_short = tables
    sized, participation, drop, dividends, borrow = flags
    for i in range(row.size):
        r, e, x, sd = row[i], entry[i], exit_[i], side[i]
        h_in, h_out, sig_in, sig_out, adv_in, adv_out, banned = leg_estimates(
            half, half_x, sigma, sigma_x, adv, adv_x, no_short, r, e, x
        )
        ex_in, ex_out, limit, code = order_terms(
            h_in, h_out, sig_in, sig_out, adv_in, adv_out, shares[i], sd, banned, k,
            participation, pct, drop, sized,
        )  # fmt: skip
        out_extra[0, i], out_extra[1, i] = ex_in, ex_out
        out_limit[i], out_code[i] = limit, code
        out_dividend[i], out_days[i] = held_carry(
            cum_div[r, e], cum_div[r, x], day[e], day[x], sd, dividends, borrow
        )


def panel_tables(panel: CostPanel) -> tuple:
    """The cost panel's arrays in the order the compiled loops read them."""
    return (
        panel.half_spread,
        panel.half_spread_exit,
        panel.sigma,
        panel.sigma_exit,
        panel.adv,
        panel.adv_exit,
        panel.cum_div,
        panel.day,
        panel.no_short,
    )


def _flat(a, dtype) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype).ravel()


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
    then zero ADV, then participation (:func:`order_terms`, per trade).
    """
    # broadcast_to, not broadcast_arrays: its views are read-only, as numba wants them.
    shape = np.broadcast_shapes(*(np.shape(a) for a in (row, entry_tick, exit_tick, side)))
    row, entry_tick, exit_tick, side = (
        np.broadcast_to(a, shape) for a in (row, entry_tick, exit_tick, side)
    )
    n = row.size
    sized = shares is not None and costs.needs_adv
    q = _flat(np.broadcast_to(shares, shape), float) if sized else np.zeros(n)
    extra = np.empty((2, n))
    dividend, days = np.empty(n), np.empty(n, dtype=np.int64)
    limit, code = np.empty(n), np.empty(n, dtype=np.int8)
    flags = (
        bool(sized),
        costs.participation_pct is not None,
        costs.participation_action == "drop",
        bool(costs.dividends),
        bool(panel.borrow_bps.any()),
    )
    _compiled().terms(
        panel_tables(panel),
        _flat(row, np.int64),
        _flat(entry_tick, np.int64),
        _flat(exit_tick, np.int64),
        _flat(side, np.float64),
        q,
        flags,
        float(costs.impact_k),
        float(costs.participation_pct or 0.0),
        extra,
        dividend,
        days,
        limit,
        code,
    )
    return CostTerms(*(a.reshape(shape) for a in (extra[0], extra[1], dividend, days, limit, code)))


def entry_estimates(panel: CostPanel, row, entry_tick) -> dict[str, np.ndarray]:
    """The estimates an entry's costs read (half spread, sigma, ADV at its session), by name.

    What the look-ahead audit compares (:mod:`backtest.audit.sizes`).
    """
    s_in, _ = fill_sessions(np.asarray(entry_tick), 0)
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
    bad = refused_fill(fill, np.asarray(traded, dtype=bool))
    if not bad.any():
        return
    # ``i`` is flat over the broadcast arrays (a sweep's are (combinations, events)).
    fill, ref = (np.broadcast_to(a, bad.shape).ravel() for a in (fill, ref))
    i = int(np.flatnonzero(bad)[0])
    raise _fill_error(where(i), fill[i], ref[i])


def refused_fill(fill, traded):
    """Whether a fill is refused: traded without a positive price (arrays, or numbers compiled).

    Examples
    --------
    >>> refused_fill(np.array([0.0, 5.0, -1.0]), np.array([True, True, False])).tolist()
    [True, False, False]
    """
    return np.logical_and(traded, np.logical_not(fill > 0))


def _fill_error(name: str, fill: float, ref: float) -> ConfigError:
    return ConfigError(
        f"costs: {name} fills at {fill:.6g} against a reference price of {ref:.6g} "
        f"(slippage, half spread and impact take {abs(1 - fill / ref):.1%} of it): lower "
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
    return order_carry(
        np.asarray(entry_fill), np.asarray(side), terms.days, terms.dividend, borrow_bps
    )


def order_carry(entry_fill, side, days, dividend, borrow_bps):
    """:func:`carry_per_share`'s arithmetic: on arrays, or on single numbers compiled.

    Examples
    --------
    >>> float(order_carry(100.0, -1, 365, -0.5, 365.0))
    4.15
    """
    return choose(side < 0, borrow_per_share(entry_fill, days, borrow_bps), 0.0) - dividend


# How price_orders turns an order's budget into shares: the sweep's notional bought at
# the reference price (fixed sizing) or spent, fees included (percent); a hedge leg's
# notional at its fill price.
FIXED, PERCENT, HEDGE_LEG = 0, 1, 2
SIZING_MODES = {"fixed": FIXED, "percent": PERCENT}


def budget_order(budget, mode, ref_in, f_in, fee: float, per_share: float, minimum: float):
    """Shares of an order worth ``budget``, as ``mode`` (:data:`FIXED`, :data:`PERCENT`,
    :data:`HEDGE_LEG`) says (on arrays, or on single numbers compiled).

    ``FIXED`` buys the budget at the reference price, ``PERCENT`` spends it, fees
    included (:func:`backtest.engine.rules.book.shares_for_budget`), ``HEDGE_LEG``
    is worth it at the entry fill price.

    Examples
    --------
    >>> float(budget_order(10_000.0, FIXED, 100.0, 100.1, 0.001, 0.0, 0.0))
    100.0
    >>> round(float(budget_order(10_010.0, PERCENT, 100.0, 100.0, 0.001, 0.0, 0.0)), 12)
    100.0
    """
    if mode == FIXED:
        return budget / ref_in
    if mode == PERCENT:
        return budget_shares(budget, f_in, fee, per_share, minimum)
    return budget / f_in


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
    commissions = bool(costs.commission_per_share or costs.commission_minimum)
    carries = bool(costs.dividends or np.any(borrow_bps))
    carry = carry_per_share(terms, f_in, side, borrow_bps) if carries else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return order_net(
            np.asarray(f_in, dtype=float),
            np.asarray(f_out, dtype=float),
            np.asarray(side),
            np.asarray(shares, dtype=float),
            fee_rate(fees_bps),
            costs.commission_per_share,
            costs.commission_minimum,
            carry,
            commissions,
            carries,
        )


def order_net(f_in, f_out, side, shares, fee, per_share, minimum, carry, commissions, carries):
    """:func:`net_from_fills`'s arithmetic: on arrays, or on single numbers compiled.

    ``commissions`` and ``carries`` say whether those costs are charged: a cost
    that is off is left out rather than subtracted as 0 (the same floats, fewer passes).

    Examples
    --------
    >>> round(float(order_net(100.0, 110.0, 1, 5.0, 0.0, 0.0, 0.0, 0.0, False, False)), 12)
    0.1
    """
    pnl = (f_out - f_in) * side - fee * (f_in + f_out)  # per share
    if commissions:
        pnl = pnl - 2 * order_commission(np.abs(shares), per_share, minimum) / shares
    if carries:
        pnl = pnl - carry
    return pnl / f_in


@dataclass(frozen=True)
class PricedOrders:
    """Per trade, with every cost: net return and entry fill value; fills and shares if kept.

    ``net_return`` is P&L per unit of entry fill value (:func:`net_from_fills`;
    NaN for a main leg the costs drop); ``entry_value`` is shares x entry fill
    price. ``entry_price``, ``exit_price`` and ``shares`` (what the order trades
    after the participation cap, or the hedge leg's shares) only with ``keep_fills``.
    """

    net_return: np.ndarray
    entry_value: np.ndarray
    entry_price: np.ndarray | None = None
    exit_price: np.ndarray | None = None
    shares: np.ndarray | None = None


def price_orders(
    panel: CostPanel,
    row,
    entry_tick,
    exit_tick,
    side,
    ref_in,
    ref_out,
    budget,
    mode: int,
    slippage_bps: float,
    fees_bps: float,
    costs: TradeCosts,
    keep_fills: bool = False,
    name=None,
) -> PricedOrders:
    """Every trade priced with every cost, at the order size ``budget`` gives (arrays broadcast).

    The sweep's trades (at ``costs.notional``, ``mode`` :data:`FIXED` or
    :data:`PERCENT`) and hedge legs (``mode`` :data:`HEDGE_LEG`, ``budget`` each
    leg's notional) in one compiled pass, by the rules every engine uses:
    :func:`order_terms` before impact, the fill (:func:`~backtest.engine.rules.costs.filled`),
    the shares (:func:`budget_order`; a main leg's are cut to the terms' limit),
    the terms again at those shares when impact or participation read them,
    and :func:`order_net`. ``keep_fills`` also returns the fill prices and shares
    (a sweep needs only the returns). A traded fill without a positive price
    (:func:`refused_fill`) is a :class:`ConfigError` naming it by ``name(what)(i)``
    (``what`` is ``"entry"`` or ``"exit"``, ``i`` the trade's flat position).

    Examples
    --------
    A long bought at 100 and sold at 110 with a fixed 10 bps spread (5 bps a fill)
    and 10 000 of notional: fills at 100.05 and 109.945.

    >>> from backtest.core.timeline import build_timeline
    >>> from backtest.core.sessions import get_calendar
    >>> from backtest.data.synthetic import geometric_prices
    >>> cal = get_calendar("XNYS")
    >>> timeline = build_timeline(cal, "2026-01-05", "2026-01-09")
    >>> prices = {"X": geometric_prices(timeline.sessions.tz_localize(None), growth=0.0)}
    >>> costs = TradeCosts(spread_bps=10.0, notional=10_000.0)
    >>> panel = build_cost_panel(["X"], prices, timeline, costs)
    >>> out = price_orders(panel, 0, 1, 3, 1, 100.0, 110.0, 10_000.0, FIXED, 0.0, 0.0, costs,
    ...                    keep_fills=True)
    >>> round(float(out.entry_price), 6), round(float(out.exit_price), 6), float(out.shares)
    (100.05, 109.945, 100.0)
    >>> round(float(out.net_return), 12) == round(109.945 / 100.05 - 1, 12)
    True
    """
    shape, (row, entry_tick, exit_tick, side, ref_in, ref_out, budget) = loop_arrays(
        (row, entry_tick, exit_tick, side), (ref_in, ref_out, budget)
    )
    net, value = np.empty(row.shape), np.empty(row.shape)
    fills = np.empty((3, *row.shape)) if keep_fills else np.empty((3, 0, 0))
    refused = np.full(2, -1, dtype=np.int64)  # the first refused entry and exit fill
    refused_price = np.zeros(2)
    _compiled().price(
        panel_tables(panel),
        panel.borrow_bps,
        row,
        entry_tick,
        exit_tick,
        side,
        ref_in,
        ref_out,
        budget,
        mode,
        price_flags(costs, panel),
        price_rates(slippage_bps, fees_bps, costs),
        keep_fills,
        net,
        value,
        fills,
        refused,
        refused_price,
    )
    raise_refused(refused, refused_price, (ref_in, ref_out), (name, name), ("entry", "exit"))
    kept = [a.reshape(shape) for a in fills] if keep_fills else [None] * 3
    return PricedOrders(net.reshape(shape), value.reshape(shape), *kept)


def price_flags(costs: TradeCosts, panel: CostPanel) -> tuple[bool, ...]:
    """Which costs :func:`price_one` charges on ``panel``'s rows."""
    return (
        bool(costs.needs_adv),
        costs.participation_pct is not None,
        costs.participation_action == "drop",
        bool(costs.dividends),
        bool(panel.borrow_bps.any()),
        bool(costs.commission_per_share or costs.commission_minimum),
    )


def price_rates(slippage_bps: float, fees_bps: float, costs: TradeCosts) -> tuple[float, ...]:
    """The rates :func:`price_one` reads: slippage and fee as fractions, commission, impact, cap."""
    return (
        slip_rate(slippage_bps),
        fee_rate(fees_bps),
        float(costs.commission_per_share),
        float(costs.commission_minimum),
        float(costs.impact_k),
        float(costs.participation_pct or 0.0),
    )


def raise_refused(refused, refused_price, refs, names, whats) -> None:
    """Raise the error of the first slot a loop noted a refused fill in (:func:`first_refused`).

    Slot ``k`` holds the fill ``whats[k]`` (``"entry"``, ``"exit"``, ...) of the
    trade at flat position ``refused[k]``, whose reference price is in ``refs[k]``;
    ``names[k](what)(i)`` names it (None: by position).
    """
    for k, pos in enumerate(refused):
        if pos >= 0:
            i, name, what = int(pos), names[k], whats[k]
            where = name(what) if name is not None else (lambda j, w=what: f"the {w} of trade {j}")
            ref = float(np.asarray(refs[k]).ravel()[i])
            raise _fill_error(where(i), float(refused_price[k]), ref)


def price_one(
    half_in, half_out, sig_in, sig_out, adv_in, adv_out, banned, dividend, days, borrow_bps,
    side, ref_in, ref_out, budget, mode, flags, rates,
):  # fmt: skip
    """One order with every cost: ``(entry fill, exit fill, shares, net return, traded)``.

    From the estimates its entry and exit read (:func:`fill_sessions`), whether
    its ticker may not be shorted, its :func:`held_carry` and borrow rate, at
    reference prices ``ref_in`` and ``ref_out``, worth ``budget`` as ``mode``
    says (:func:`budget_order`): the terms before impact, the fill and the
    shares, the terms again at those shares when impact or participation read
    them, then the net return (:func:`order_net`). A main leg is cut to the
    terms' limit and, not traded, has a NaN return; a hedge leg without a
    positive budget has 0. ``flags`` and ``rates`` as :func:`price_flags` and
    :func:`price_rates` make them. On single numbers, compiled.
    """
    needs_adv, participation, drop, dividends, borrow, commissions = flags
    slip, fee, per_share, minimum, k, pct = rates
    hedge_leg = mode == HEDGE_LEG
    # Each name is assigned once (numba inlines this function into its loops).
    # Before impact: the spread alone sizes the order.
    spread_in, _, spread_limit, _ = order_terms(
        half_in, half_out, sig_in, sig_out, adv_in, adv_out, 0.0, side, banned, k,
        participation, pct, drop, False,
    )  # fmt: skip
    spread_fill = filled(ref_in, side, slip, spread_in)
    sized = budget_order(budget, mode, ref_in, spread_fill, fee, per_share, minimum)
    shares = sized if hedge_leg or spread_limit > 0 else 0.0
    # Every cost at those shares (the same terms again when nothing reads the shares).
    ex_in, ex_out, limit, _ = order_terms(
        half_in, half_out, sig_in, sig_out, adv_in, adv_out, shares, side, banned, k,
        participation, pct, drop, needs_adv,
    )  # fmt: skip
    f_in = filled(ref_in, side, slip, ex_in)
    q = budget / f_in if hedge_leg else np.minimum(shares, limit)
    f_out = filled(ref_out, -side, slip, ex_out)
    carries = dividends or borrow
    carry = order_carry(f_in, side, days, dividend, borrow_bps) if carries else 0.0
    net = order_net(f_in, f_out, side, q, fee, per_share, minimum, carry, commissions, carries)
    traded = budget > 0 if hedge_leg else q > 0
    kept = net if traded else (0.0 if hedge_leg else np.nan)
    return f_in, f_out, q, kept, traded


def price_leg(
    half, half_x, sigma, sigma_x, adv, adv_x, cum_div, day, no_short, borrow_bps, r, e, x,
    side, ref_in, ref_out, budget, mode, flags, rates,
):  # fmt: skip
    """:func:`price_one` of the trade of cost-panel row ``r`` (the panel's arrays, as
    :func:`panel_tables` orders them) from tick ``e`` to ``x``: what every loop prices a leg with.

    Inlined into the loops, so the arrays cost nothing to pass.
    """
    h_in, h_out, sig_in, sig_out, adv_in, adv_out, banned = leg_estimates(
        half, half_x, sigma, sigma_x, adv, adv_x, no_short, r, e, x
    )
    dividend, days = held_carry(
        cum_div[r, e], cum_div[r, x], day[e], day[x], side, flags[3], flags[4]
    )
    return price_one(
        h_in, h_out, sig_in, sig_out, adv_in, adv_out, banned, dividend, days, borrow_bps[r],
        side, ref_in, ref_out, budget, mode, flags, rates,
    )  # fmt: skip


def first_refused(best, best_fill, pos, fill, traded):
    """``(position, fill)`` of the refused fill with the lowest position so far (-1: none).

    A loop keeps, per kind of fill, the first trade whose ``fill`` is refused
    (:func:`refused_fill`), so its error names the same trade as
    :func:`check_fill_prices` would. On single numbers, compiled.

    Examples
    --------
    >>> first_refused(-1, 0.0, 7, -2.0, True), first_refused(3, -1.0, 7, -2.0, True)
    ((7, -2.0), (3, -1.0))
    """
    if refused_fill(fill, traded) and (best < 0 or pos < best):
        return pos, fill
    return best, best_fill


def _price_kernel(
    tables,
    borrow_bps,
    row,
    entry,
    exit_,
    side,
    ref_in,
    ref_out,
    budget,
    mode,
    flags,
    rates,
    keep,
    net_out,
    value_out,
    fills_out,
    refused,
    refused_price,
):  # pragma: no cover - compiled by numba
    half, half_x, sigma, sigma_x, adv, adv_x, cum_div, day, no_short = tables
    combos, trades = row.shape
    # One trade's combinations together: they read one ticker's estimates near one session.
    for t in range(trades):
        for c in range(combos):
            f_in, f_out, q, net, traded = price_leg(
                half, half_x, sigma, sigma_x, adv, adv_x, cum_div, day, no_short, borrow_bps,
                row[c, t], entry[c, t], exit_[c, t], side[c, t], ref_in[c, t], ref_out[c, t],
                budget[c, t], mode, flags, rates,
            )  # fmt: skip
            pos = c * trades + t
            refused[0], refused_price[0] = first_refused(
                refused[0], refused_price[0], pos, f_in, traded
            )
            refused[1], refused_price[1] = first_refused(
                refused[1], refused_price[1], pos, f_out, traded
            )
            net_out[c, t], value_out[c, t] = net, q * f_in
            if keep:
                fills_out[0, c, t], fills_out[1, c, t], fills_out[2, c, t] = f_in, f_out, q


# The rules the loops call, and the files they are written in.
RULES = (
    filled,
    order_commission,
    budget_shares,
    impact_rate,
    participation_limit,
    borrow_per_share,
    order_carry,
    order_net,
    budget_order,
    order_terms,
    refused_fill,
    fill_sessions,
    held_carry,
    leg_estimates,
    price_one,
    price_leg,
    first_refused,
)
RULE_FILES = ("arrays.py", "book.py", "costs.py", "trade_costs.py")
INLINE_RULES = (price_one, price_leg, leg_estimates)


def table_types():
    """numba's type of :func:`panel_tables`."""
    from numba import types

    from backtest.engine.rules.compiled import readonly

    arrays = [readonly("float64", 2)] * 7 + [readonly("int64", 1), readonly("boolean", 1)]
    return types.Tuple(arrays)


def _terms_types() -> list:
    from numba import types

    from backtest.engine.rules.compiled import readonly, writable

    f1, i1 = readonly("float64", 1), readonly("int64", 1)
    return [
        types.void(
            table_types(),
            i1,
            i1,
            i1,
            f1,
            f1,
            types.UniTuple(types.boolean, 5),
            types.float64,
            types.float64,
            writable("float64", 2),
            writable("float64", 1),
            writable("int64", 1),
            writable("float64", 1),
            writable("int8", 1),
        )  # fmt: skip
    ]


def _price_types() -> list:
    from numba import types

    from backtest.engine.rules.compiled import readonly, writable

    f2, i2 = readonly("float64", 2), readonly("int32", 2)
    return [
        types.void(
            table_types(),
            readonly("float64", 1),
            i2,
            i2,
            i2,
            i2,
            f2,
            f2,
            f2,
            types.int64,
            types.UniTuple(types.boolean, 6),
            types.UniTuple(types.float64, 6),
            types.boolean,
            writable("float64", 2),
            writable("float64", 2),
            writable("float64", 3),
            writable("int64", 1),
            writable("float64", 1),
        )  # fmt: skip
    ]


@functools.cache
def _compiled():
    """The loops, compiled on first use with the rules they call."""
    from backtest.engine.rules.compiled import compile_loops

    loops = {_terms_kernel: _terms_types, _price_kernel: _price_types}
    terms, price = compile_loops(__file__, loops, RULES, RULE_FILES, INLINE_RULES)
    return types.SimpleNamespace(terms=terms, price=price)
