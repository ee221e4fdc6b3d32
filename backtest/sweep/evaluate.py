"""Parameter sweeps on the event-level kernel: every combination, chunked, in numpy.

``backtest sweep CONFIG`` expands the config's ``sweep.grid`` (one list per
strategy parameter, plus optional cost lists), plans every combination at once
with the strategy's vectorized planner (the same code single runs use), checks
windows and the knowledge-time rule on arrays, and computes every trade with
:mod:`backtest.engine.kernel`. Memory is bounded by ``sweep.chunk_cells`` (combinations
x events held at once), not by the grid size. Chunks run one after another in
this process, or on a Dask cluster (:mod:`backtest.sweep.cluster`) through the same
:func:`chunk_tables`, with the same result.

Without a YAML config, :func:`sweep_grid` sweeps in-memory prices and aligned
events (for benchmarks, notebooks and other engines' parity checks).

Per combination (one row of ``sweep.parquet``): the parameters, then statistics
of its trades, each trade weighing the same (:func:`combo_metrics`): ``n_trades``,
``mean_trade_return``, ``median_trade_return``, ``trade_hit_rate``,
``trade_sharpe`` (mean / std of the net trade returns times sqrt(events per
year)), computed by :func:`backtest.stats.trade_stats.trade_statistics`, the
function a run's ``avg_trade_return``, ``median_trade_return`` and ``hit_rate``
come from; and ``sequential_return_at_size`` / ``sequential_max_drawdown_at_size``:
the trades taken one after another in entry order, each staking the config's
size (``engine.sizing``: a percent of current equity, compounded; or a fixed
amount, as a fraction of ``engine.init_cash``). They are not the account
metrics of ``backtest run`` (trades overlapping in time are not held
together, idle cash earns nothing); ``backtest sweep`` re-runs the best
combinations for those (``top/`` and ``top_runs.csv``).

Overlapping windows in one ticker follow ``events.overlap`` per combination,
as in ``backtest run``: both apply the one rule,
:func:`backtest.engine.rules.overlap.apply_overlap` (``skip``, the default, drops
an event entering at or before the planned exit of the previous *kept* trade of
its ticker; ``allow`` prices every window; ``truncate`` drops an event entering
at the very fill of an earlier one and closes every other trade no later than the
next kept entry of its ticker), before pricing, so stops are scanned over the
shortened window only.
Walk-forward train and test subsets summarise the trades of the whole sweep, so
an event skipped (or a trade cut short) because of a trade in the previous fold
stays so.

Hedge legs: with a strategy's ``hedge:`` section (:class:`~backtest.engine.rules.hedge.HedgeSpec`),
every trade is priced with its hedge leg (the run's rule, :mod:`backtest.engine.rules.hedge`)
and the trade statistics are of the hedged net return; the grid key ``hedge``
(:data:`HEDGE_KEY`: ``off``, ``beta`` or a fixed ratio) sweeps the ratio. A trade
whose beta window holds too few returns is not taken (``hedge_history`` in a run).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import exchange_calendars as xcals
import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from backtest.core.errors import ConfigError, LookAheadError, StrategyError
from backtest.core.jit import compiled
from backtest.core.sessions import get_calendar
from backtest.core.timeline import build_timeline, session_bars, spread_price, tradable
from backtest.engine.kernel import KernelHedge, TickPanel, build_panel, kernel_trades
from backtest.engine.rules.arrays import at, distinct_rows
from backtest.engine.rules.costs import net_return
from backtest.engine.rules.defaults import DEFAULT_OVERLAP
from backtest.engine.rules.hedge import HedgeSpec, hedge_contribution, hedge_side, ratio_table
from backtest.engine.rules.overlap import apply_overlap, check_overlap, id_rank
from backtest.engine.rules.sizing import VolTarget, vol_table, vol_target_pct
from backtest.engine.rules.trade_costs import (
    CostPanel,
    TradeCosts,
    build_cost_panel,
)
from backtest.stats.trade_stats import sequential_at_size, trade_statistics
from backtest.strategy.plan import Drop, EventArrays, Plan, event_arrays
from backtest.strategy.signals import SPLIT_GUARD_SESSIONS, MarketView, StrategySpec, get_strategy

__all__ = [
    "COST_KEYS",
    "HEDGE_KEY",
    "HEDGE_OFF",
    "SweepHedge",
    "hedge_value",
    "hedge_values",
    "hedged_base",
    "ChunkRunner",
    "ChunkTables",
    "GridResult",
    "SweepData",
    "ChunkTrades",
    "chunk_returns",
    "chunk_trades",
    "chunk_tables",
    "chunked_returns",
    "combo_metrics",
    "expand_grid",
    "prepare",
    "run_in_process",
    "sweep_grid",
    "sweep_tables",
]

COST_KEYS = ("fees_bps", "slippage_bps", "stop_loss_pct", "take_profit_pct")
# The grid key of the hedge ratio: HEDGE_OFF, "beta" or a number (strings in the table).
HEDGE_KEY, HEDGE_OFF = "hedge", "off"
NON_PARAMS = (*COST_KEYS, HEDGE_KEY)
DAYS_PER_YEAR = 365.25


def expand_grid(
    spec: StrategySpec, base: dict, grid: dict[str, list], limit: int
) -> tuple[list[dict], list[str]]:
    """Every combination of ``grid`` over ``base`` params, validated by the strategy's model.

    Returns the valid parameter dicts and one message per invalid combination.
    Raises before any work when a key is unknown or the grid exceeds ``limit``.
    """
    known = set(spec.params.model_fields) | set(NON_PARAMS)
    for key in grid:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"sweep.grid.{key}: not a parameter of {spec.name}{hint} (have: {', '.join(sorted(known))})"
            )
        if not grid[key]:
            raise ConfigError(f"sweep.grid.{key}: empty list; give at least one value")
    if HEDGE_KEY in grid:
        grid = {
            **grid,
            HEDGE_KEY: [hedge_value(v, f"sweep.grid.{HEDGE_KEY}") for v in grid[HEDGE_KEY]],
        }
    if HEDGE_KEY in base:
        base = {**base, HEDGE_KEY: hedge_value(base[HEDGE_KEY], HEDGE_KEY)}
    size = math.prod(len(v) for v in grid.values())
    if size > limit:
        raise ConfigError(
            f"sweep grid has {size:,} combinations, more than sweep.max_combinations = {limit:,}; "
            "narrow the grid or raise the limit"
        )
    keys = list(grid)
    valid, invalid = [], []
    used: set[tuple[str, int]] = set()
    first_error: dict[tuple[str, int], str] = {}
    for picks in itertools.product(*(range(len(grid[k])) for k in keys)):
        values = [grid[k][i] for k, i in zip(keys, picks, strict=True)]
        combo = {**base, **dict(zip(keys, values, strict=True))}
        strategy_part = {k: v for k, v in combo.items() if k not in NON_PARAMS}
        try:
            spec.params.model_validate(strategy_part)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            invalid.append(f"{dict(zip(keys, values, strict=True))}: {msg}")
            for k, i in zip(keys, picks, strict=True):
                first_error.setdefault((k, i), msg)
            continue
        used.update(zip(keys, picks, strict=True))
        valid.append(combo)
    if not valid:
        raise ConfigError(f"no valid combination in sweep.grid; e.g. {invalid[0]}")
    never = [(k, i) for k in keys for i in range(len(grid[k])) if (k, i) not in used]
    if never:  # a value no combination can use is a typo, not a pruned corner of the grid
        k, i = never[0]
        raise ConfigError(
            f"sweep.grid.{k}[{i}]: {grid[k][i]!r} is not valid in any combination "
            f"({first_error.get((k, i), 'invalid')}); remove it or fix it"
        )
    return valid, invalid


def hedge_value(value: object, key: str) -> str:
    """A grid value of :data:`HEDGE_KEY` as the table stores it: ``off``, ``beta`` or a ratio.

    Examples
    --------
    >>> hedge_value("beta", "hedge"), hedge_value(1, "hedge"), hedge_value(False, "hedge")
    ('beta', '1', 'off')
    """
    if value is False or value is None:  # YAML reads a bare off (and no) as false
        return HEDGE_OFF
    if value is True:  # a bare on, yes or true
        raise ConfigError(
            f"{key}: on (YAML true) is not a hedge ratio; use beta, a number such as 1.0, or off"
        )
    text = str(value).strip().lower()
    if text in (HEDGE_OFF, "beta"):
        return text
    try:
        ratio = float(text)
    except ValueError:
        ratio = math.nan
    if not (math.isfinite(ratio) and -10 < ratio <= 10 and ratio != 0):
        raise ConfigError(
            f"{key}: {value!r} is not a hedge ratio; use off, beta or a number in (-10, 10] "
            "other than 0"
        )
    return f"{ratio:g}"


@dataclass(frozen=True)
class SweepHedge:
    """The hedge legs of a sweep, built once (:func:`sweep_hedge`).

    ``price`` holds each instrument's fill reference prices on the panel's ticks
    (gaps filled, as a run's), ``row`` the instrument row of each panel ticker,
    ``beta`` the ratio a decision on each panel session reads per ticker (None
    when no ``beta`` is swept), ``cost_panel`` the instruments' cost estimates
    (only with the ``costs:`` section), ``priced`` whether each instrument has a
    bar on each panel session (a run drops a trade whose entry or exit session
    has none: ``hedge_no_price``).
    """

    spec: HedgeSpec
    instruments: tuple[str, ...]
    price: np.ndarray
    row: np.ndarray
    beta: np.ndarray | None = None
    cost_panel: CostPanel | None = None
    priced: np.ndarray | None = None

    def ratios(
        self, value: str, ticker_row: np.ndarray, entry: np.ndarray, exit_: np.ndarray
    ) -> np.ndarray:
        """The ratio of each trade at ``value`` (:func:`hedge_value`) entering at tick
        ``entry`` and planned out at ``exit_``: NaN without history or instrument bars."""
        if value == "beta":
            ratio = at(self.beta, ticker_row, entry >> 1)  # read at the entry's session
        else:
            ratio = np.full(np.shape(entry), float(value))
        if self.priced.all():  # every instrument has a bar on every panel session
            return ratio
        rows = self.row[ticker_row]
        ok = at(self.priced, rows, entry >> 1) & at(self.priced, rows, exit_ >> 1)
        return np.where(ok, ratio, np.nan)


def sweep_hedge(
    spec: HedgeSpec,
    panel: TickPanel,
    prices: dict[str, pd.DataFrame],
    calendar: pd.DatetimeIndex,
    values: set[str],
    costs: TradeCosts | None,
) -> SweepHedge:
    """Build :class:`SweepHedge` for the hedge ``values`` the grid uses."""
    missing = [t for t in panel.tickers if spec.instrument_of(t) is None]
    if missing:
        raise ConfigError(f"hedge: no hedge instrument for {missing}; add them to the map")
    of = [spec.instrument_of(t) for t in panel.tickers]
    instruments = tuple(sorted(set(of)))
    absent = [i for i in instruments if i not in prices]
    if absent:
        raise ConfigError(f"hedge: no prices for hedge instrument(s) {absent}")
    sessions = panel.timeline.sessions
    bars = session_bars([prices[i] for i in instruments], sessions)
    beta = None
    if "beta" in values:
        beta_spec = HedgeSpec(
            spec.default, spec.by_ticker, "beta", spec.window, spec.min_obs, spec.shrink
        )
        beta = ratio_table(prices, list(panel.tickers), beta_spec, sessions, calendar)
    cost_panel = (
        build_cost_panel(list(instruments), prices, panel.timeline, costs)
        if costs is not None and costs.active
        else None
    )
    return SweepHedge(
        spec,
        instruments,
        spread_price(bars),
        np.array([instruments.index(i) for i in of], dtype=np.intp),
        beta,
        cost_panel,
        tradable(bars),
    )


@dataclass(frozen=True)
class SweepData:
    """Everything the kernel needs, computed once per sweep.

    ``clean_until`` (tickers, panel sessions) is, for a window entering on that
    session (either tick), the last global tick it may exit at with prices every session: the
    close before the ticker's next session without prices (:func:`clean_until`),
    or before its next suspect split jump (:func:`split_until`).
    ``overlap`` is ``events.overlap`` (``skip``, ``allow`` or ``truncate``); ``id_rank`` each
    event's position when events are ordered by ``event_id`` (then row), the
    run's tie-break between entries in one session. ``size_fraction`` and
    ``compound`` size the sequential figures of :func:`combo_metrics`.
    ``costs`` is the ``costs:`` section (None or inactive: none), ``cost_panel``
    its estimates (rows as ``panel``'s tickers) and ``sizing`` (``fixed`` or
    ``percent``) how the kernel turns ``costs.notional`` into an order's shares.
    ``hedge`` prices hedge legs (None: unhedged; a combination's :data:`HEDGE_KEY`
    says which ratio, ``off`` none). ``vol`` is ``vol_target`` sizing (None: one
    stake for every trade) and ``vol_sigma`` (tickers, panel sessions) the daily
    vol a decision on each session reads (:func:`~backtest.engine.rules.sizing.vol_table`).
    """

    spec: StrategySpec
    market: MarketView
    ev: EventArrays
    panel: TickPanel
    tick_offset: int
    ticker_row: np.ndarray
    clean_until: np.ndarray
    trades_per_year: float
    overlap: str = DEFAULT_OVERLAP
    id_rank: np.ndarray | None = None
    size_fraction: float = 1.0
    compound: bool = True
    costs: TradeCosts | None = None
    cost_panel: CostPanel | None = None
    sizing: str = "fixed"
    hedge: SweepHedge | None = None
    vol: VolTarget | None = None
    vol_sigma: np.ndarray | None = None


def clean_until(tradable: np.ndarray, tick_offset: int) -> np.ndarray:
    """Per (ticker, session): the last global tick before the next session lacking prices.

    A window from entry tick ``e`` (panel session ``e // 2``) to exit tick ``x``
    has prices every session exactly when ``x <= clean_until[ticker, e // 2]``:
    one lookup per window instead of two prefix-sum lookups and a subtraction.
    Per session, not per tick: both ticks of a session have the same limit, and
    half the table is half the memory a sweep's lookups walk.

    Examples
    --------
    >>> clean_until(np.array([[True, True, False, True]]), 0).tolist()  # session 2 has no bar
    [[3, 3, 3, 7]]
    """
    out = np.empty(tradable.shape, dtype=np.int32)
    compiled(_clean_until_rows)(tradable, tick_offset, out)
    return out


def split_until(gaps: np.ndarray, tick_offset: int) -> np.ndarray:
    """Per (ticker, session): the last global tick before a window's first suspect split jump.

    ``gaps[t, s]`` marks a session whose jump from the previous close looks like
    a missing or double split adjustment (:mod:`backtest.data.splits`). A window
    entering on session ``e`` must exit before the first such jump into a
    session from ``e - SPLIT_GUARD_SESSIONS`` on, as ``backtest run`` drops it as
    ``suspect_split`` otherwise (:func:`backtest.strategy.signals.window_drops`); a jump
    at or before the guard leaves the limit past the exit.

    Examples
    --------
    >>> gaps = np.array([[False, False, False, True, False, False]])  # a jump into session 3
    >>> split_until(gaps, 0).tolist()  # entries up to session 4 exit by session 2's close
    [[5, 5, 5, 5, 5, 11]]
    """
    n = gaps.shape[1]
    at_gap = np.where(gaps, np.arange(n, dtype=np.int32), np.int32(n))
    from_here = np.minimum.accumulate(at_gap[:, ::-1], axis=1)[:, ::-1]
    guard = min(SPLIT_GUARD_SESSIONS, n)
    head = np.repeat(from_here[:, :1], guard, axis=1)
    next_gap = np.concatenate([head, from_here[:, : n - guard]], axis=1)
    return 2 * next_gap - 1 + tick_offset


def _split_gaps(market: MarketView, panel: TickPanel) -> np.ndarray:
    """``(tickers, sessions)``: the panel sessions with a suspect split jump."""
    sessions = panel.timeline.sessions
    return np.array(
        [sessions.isin([s.session for s in market.suspect_splits(t)]) for t in panel.tickers],
        dtype=bool,
    ).reshape(len(panel.tickers), len(sessions))


def _clean_until_rows(tradable, tick_offset, out):  # pragma: no cover - compiled by numba
    """:func:`clean_until` row by row, from the last session back: the next session
    without prices is this one where it lacks them, else the next one's."""
    sessions = tradable.shape[1]
    for i in range(tradable.shape[0]):
        next_bad = sessions
        for s in range(sessions - 1, -1, -1):
            if not tradable[i, s]:
                next_bad = s
            out[i, s] = 2 * next_bad - 1 + tick_offset


def _window_limit(market: MarketView, panel: TickPanel, tick_offset: int) -> np.ndarray:
    """Per (ticker, session): the last exit tick a window entering then may have.

    Before the next session without prices and before a suspect split jump
    (only scanned when a ticker has one, as most sweeps have none).
    """
    limit = clean_until(panel.tradable, tick_offset)
    gaps = _split_gaps(market, panel)
    return np.minimum(limit, split_until(gaps, tick_offset)) if gaps.any() else limit


def prepare(
    spec: StrategySpec,
    aligned: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    market: MarketView,
    overlap: str = DEFAULT_OVERLAP,
    size_fraction: float = 1.0,
    compound: bool = True,
    costs: TradeCosts | None = None,
    sizing: str = "fixed",
    hedge: HedgeSpec | None = None,
    hedge_values: set[str] | None = None,
    vol: VolTarget | None = None,
) -> SweepData:
    """Index the strategy's events and build the price panel over the calendar span they can touch.

    ``overlap`` is ``events.overlap``: ``skip`` (as ``backtest run`` by default),
    ``allow`` or ``truncate``, applied per combination by :func:`chunk_returns`.
    ``size_fraction`` and ``compound``: the stake of each trade in the sequential
    figures (:func:`backtest.stats.trade_stats.sequential_at_size`).
    ``costs``: the ``costs:`` section; when any cost is on, its estimates are
    built once here (:func:`~backtest.engine.rules.trade_costs.build_cost_panel`)
    and every chunk prices them, size-dependent ones at ``costs.notional`` under
    ``sizing`` (``fixed`` or ``percent``). ``hedge``: the strategy's hedge legs,
    for the :data:`HEDGE_KEY` values ``hedge_values`` (default: the spec's own ratio).
    ``vol``: ``vol_target`` sizing; each trade then stakes its own weight in the
    sequential figures (compounded), size-dependent costs are priced at
    ``costs.notional`` (the initial equity) times that weight under ``percent``
    sizing, and a trade whose ticker has too little history is left out, as a run drops it.
    """
    check_overlap(overlap)
    events = aligned[aligned["event_type"].isin(spec.event_types)].reset_index(drop=True)
    if events.empty:
        raise ConfigError(f"no {'/'.join(spec.event_types)} events for strategy {spec.name}")
    cal = market.cal
    ev = event_arrays(events, cal)
    first = max(int(ev.session_pos.min()) - 260, 0)
    last = min(int(ev.session_pos.max()) + 260, len(cal.sessions) - 1)
    timeline = build_timeline(cal, cal.sessions[first], cal.sessions[last])
    # unique() and get_indexer, not a set and a dict map: iterating 25k pandas strings
    # one by one was 18 ms of a W1 sweep's set-up (benchmarks/RESULTS.md).
    tickers = sorted(events["ticker"].unique())
    panel = build_panel({t: prices[t] for t in tickers}, timeline)
    active = costs is not None and costs.active
    cost_panel = build_cost_panel(list(panel.tickers), prices, timeline, costs) if active else None
    span = (events["event_time"].max() - events["event_time"].min()).days / DAYS_PER_YEAR
    hedged = None
    if hedge is not None:
        values = hedge_values if hedge_values is not None else {hedge_value(hedge.ratio, "hedge")}
        if values - {HEDGE_OFF}:
            calendar = pd.DatetimeIndex(cal.sessions).tz_localize(None)
            hedged = sweep_hedge(hedge, panel, prices, calendar, values, costs if active else None)
    sigma = None
    if vol is not None:  # each trade spends its weight of equity, fees included: percent
        sizing, compound = "percent", True
        sigma = vol_table(prices, list(panel.tickers), timeline.sessions, vol, str(cal.tz))
    return SweepData(
        spec,
        market,
        ev,
        panel,
        2 * first,
        pd.Index(panel.tickers).get_indexer(events["ticker"]),
        _window_limit(market, panel, 2 * first),
        len(events) / max(span, 1.0),
        overlap,
        id_rank(events["event_id"]),
        size_fraction,
        compound,
        costs if active else None,
        cost_panel,
        sizing,
        hedged,
        vol,
        sigma,
    )


def _grid_arrays(combos: list[dict], params: type[BaseModel]) -> dict[str, np.ndarray]:
    """Strategy parameters of ``combos`` as (C, 1) arrays, defaults filled in."""
    models = [
        params.model_validate({k: v for k, v in c.items() if k not in NON_PARAMS}) for c in combos
    ]
    dumped = [m.model_dump() for m in models]
    return {k: _narrow(np.array([d[k] for d in dumped]))[:, None] for k in dumped[0]}


def _narrow(values: np.ndarray) -> np.ndarray:
    """Small integers as int32, so tick arithmetic on int32 event ticks stays int32.

    Examples
    --------
    >>> _narrow(np.array([1, -5])).dtype, _narrow(np.array([2**40])).dtype
    (dtype('int32'), dtype('int64'))
    """
    small = values.dtype.kind == "i" and np.abs(values).max(initial=0) < 2**30
    return values.astype(np.int32) if small else values


def _usable(data: SweepData, plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Planned trades whose window lies on the panel with prices every session.

    Also returns the entry and exit ticks on the panel (tick 0 where a window
    leaves it, so every cell can be gathered; the caller masks unusable cells).
    """
    shape = np.broadcast_shapes(plan.entry_tick.shape, plan.exit_tick.shape, plan.drop.shape)
    if len(shape) != 2:
        raise StrategyError(
            f"strategy {data.spec.name}: its plan's arrays broadcast to {shape}, "
            "not (combinations, events)"
        )
    entry_tick, exit_tick, drop = (
        np.broadcast_to(a, shape) for a in (plan.entry_tick, plan.exit_tick, plan.drop)
    )
    usable = np.empty(shape, dtype=bool)
    entry = np.empty(shape, dtype=np.result_type(entry_tick.dtype, np.int32))
    exit_ = np.empty(shape, dtype=np.result_type(exit_tick.dtype, np.int32))
    row = np.broadcast_to(data.ticker_row, shape[-1:])
    compiled(_window_cells)(
        entry_tick, exit_tick, drop, int(Drop.KEEP), row, data.clean_until,
        data.tick_offset, data.panel.price.shape[1], usable, entry, exit_,
    )  # fmt: skip
    return usable, entry, exit_


# Events per block of :func:`_window_cells`: each combination walks a block's cells in
# memory order, and the block's lookups into ``clean_until`` stay in cache for the next
# combination. On W1, 1,024 took 7 ms; whole rows 13 ms, one event at a time 10 ms.
EVENT_BLOCK = 1024


def _window_cells(
    entry_tick, exit_tick, drop, keep, row, clean_until, offset, ticks, usable, entry, exit_
):  # pragma: no cover - compiled by numba
    """:func:`_usable` cell by cell: a kept trade whose window lies on the panel (ticks
    ``0 .. ticks - 1`` after ``offset``) with prices every session up to its exit."""
    combos, events = usable.shape
    for start in range(0, events, EVENT_BLOCK):
        for c in range(combos):
            for e in range(start, min(start + EVENT_BLOCK, events)):
                first, last = entry_tick[c, e] - offset, exit_tick[c, e] - offset
                if first < 0 or last >= ticks:  # the window leaves the panel: tick 0, no trade
                    entry[c, e], exit_[c, e], usable[c, e] = 0, 0, False
                    continue
                entry[c, e], exit_[c, e] = first, last
                clean = clean_until[row[e], first >> 1]  # the entry's session
                usable[c, e] = drop[c, e] == keep and exit_tick[c, e] <= clean


def _check_knowledge(data: SweepData, plan: Plan, usable: np.ndarray) -> None:
    # On ticks, not instants: entering before the tick at which the information is public.
    late = usable & (plan.entry_tick < data.ev.first_tick_at(distinct_rows(plan.info_ns)))
    if late.any():
        raise LookAheadError(
            f"strategy {data.spec.name}: {int(late.sum())} planned trades enter before "
            "the information they use is public"
        )


@dataclass(frozen=True)
class ChunkTrades:
    """A chunk's net returns (C, E; NaN where no trade) and, under ``vol_target``
    sizing, each trade's stake as a fraction of equity (else None: one stake for all)."""

    returns: np.ndarray
    stake: np.ndarray | None = None


def chunk_returns(data: SweepData, combos: list[dict]) -> np.ndarray:
    """Net return of every (combination, event); NaN where no trade. Shape (C, E)."""
    return chunk_trades(data, combos).returns


def chunk_trades(data: SweepData, combos: list[dict]) -> ChunkTrades:
    """Every (combination, event)'s net return, and its stake under ``vol_target`` sizing."""
    plan = data.spec.planner(data.ev, data.market, _grid_arrays(combos, data.spec.params))
    usable, entry, exit_ = _usable(data, plan)
    _check_knowledge(data, plan, usable)
    dropped, cut = apply_overlap(
        data.overlap, plan.entry_tick, plan.exit_tick, usable, data.ticker_row, data.id_rank
    )
    usable &= ~dropped
    if cut is not plan.exit_tick:
        # Truncated exits, before pricing: the kernel prices (and scans stops over) the cut window.
        exit_ = np.where(usable, cut - data.tick_offset, exit_)
    stake = notional = None
    if data.vol is not None:
        stake = _vol_stakes(data, entry)
        usable &= ~np.isnan(stake)  # too little history: a run drops it (vol_history)
        if data.costs is not None:  # each order's notional at the initial equity
            notional = data.costs.notional * stake
    # Every cell is computed (dense arrays beat gathering the usable ones); unusable
    # cells are set to NaN at the end.
    out = np.empty(usable.shape)
    groups = _by_costs(combos)
    for key, rows in groups.items():
        rows = slice(None) if len(groups) == 1 else rows  # one setting: no row copies
        cost = {k: v for k, v in key if k != HEDGE_KEY}
        hedge = dict(key).get(HEDGE_KEY, HEDGE_OFF)
        priced_hedge = None
        if hedge != HEDGE_OFF and data.costs is not None:  # both legs in one compiled pass
            priced_hedge = _kernel_hedge(data, hedge, entry[rows], exit_[rows])
        trades = kernel_trades(
            data.panel,
            data.ticker_row,
            entry[rows],
            exit_[rows],
            plan.side[rows],
            **cost,
            costs=data.costs,
            cost_panel=data.cost_panel,
            sizing=data.sizing,
            hedge=priced_hedge,
            keep_refs=False,
            notional=None if notional is None else notional[rows],
        )
        if hedge == HEDGE_OFF:
            out[rows] = trades.net_return
        elif priced_hedge is not None:
            out[rows] = trades.net_return
            usable[rows] &= ~np.isnan(priced_hedge.ratio)  # a run drops it (hedge_history)
        else:
            net, ratio = _hedged_return(data, trades, exit_[rows], hedge, cost)
            out[rows] = net
            usable[rows] &= ~np.isnan(ratio)  # too little history: a run drops it (hedge_history)
    np.copyto(out, np.nan, where=~usable)
    return ChunkTrades(out, stake)


def _vol_stakes(data: SweepData, entry: np.ndarray) -> np.ndarray:
    """Each trade's ``vol_target`` weight as a fraction of equity (NaN: too little history).

    The vol is read at the entry's session, where a run reads it for the
    decision (a planned trade decides at its entry), from :func:`vol_table`;
    the weight is :func:`vol_target_pct`'s, as in a run.
    """
    sigma = at(data.vol_sigma, data.ticker_row, entry >> 1)
    return vol_target_pct(sigma, data.vol.target_daily_vol_pct, data.vol.max_pct) / 100.0


def _kernel_hedge(data: SweepData, value: str, entry, planned_exit) -> KernelHedge:
    """The hedge legs of trades entering at ``entry``, as the kernel prices them with costs."""
    hedge = data.hedge
    if hedge is None:
        raise ConfigError(f"sweep.grid.{HEDGE_KEY}: the strategy has no hedge: section to price")
    ratio = hedge.ratios(value, data.ticker_row, entry, planned_exit)
    return KernelHedge(hedge.price, hedge.row[data.ticker_row], ratio, hedge.cost_panel)


def _hedged_return(
    data: SweepData, trades, planned_exit, value: str, cost: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Each trade's hedged net return without the ``costs:`` section, and its hedge ratio
    (NaN: no ratio, no trade). With costs, :func:`_kernel_hedge` and the kernel price both legs."""
    hedge = data.hedge
    if hedge is None:
        raise ConfigError(f"sweep.grid.{HEDGE_KEY}: the strategy has no hedge: section to price")
    ratio = hedge.ratios(value, data.ticker_row, trades.entry_tick, planned_exit)
    rows = hedge.row[data.ticker_row]
    h_in = at(hedge.price, rows, trades.entry_tick)
    h_out = at(hedge.price, rows, trades.exit_tick)
    slip, fees = cost.get("slippage_bps", 0.0), cost.get("fees_bps", 0.0)
    leg = net_return(h_in, h_out, hedge_side(trades.side, ratio), slip, fees)
    return trades.net_return + hedge_contribution(ratio, leg), ratio


def _by_costs(combos: list[dict]) -> dict[tuple, list[int]]:
    """Combinations grouped by their cost settings and hedge value (each group one kernel call)."""
    groups: dict[tuple, list[int]] = {}
    for i, combo in enumerate(combos):
        key = tuple((k, combo[k]) for k in (*COST_KEYS, HEDGE_KEY) if k in combo)
        groups.setdefault(key, []).append(i)
    return groups


def combo_metrics(
    returns: np.ndarray, trades_per_year: float, size_fraction: float = 1.0, compound: bool = True
) -> pd.DataFrame:
    """Per-trade statistics of each row of a (C, E) net-return matrix (NaN = no trade).

    Columns: :data:`backtest.stats.trade_stats.TRADE_STATISTICS` (``n_trades``,
    ``mean_trade_return``, ``median_trade_return``, ``trade_hit_rate``,
    ``trade_sharpe`` = mean / std of the net trade returns x sqrt(``trades_per_year``)),
    computed by :func:`backtest.stats.trade_stats.trade_statistics` as a run's are;
    then ``sequential_return_at_size`` and ``sequential_max_drawdown_at_size``: the
    trades taken one after another in column order (entry order), each staking
    ``size_fraction`` of the current equity (``compound``) or of the starting
    capital (:func:`backtest.stats.trade_stats.sequential_at_size`).

    Examples
    --------
    >>> r = np.array([[0.1, -0.05, np.nan], [np.nan, np.nan, np.nan]])
    >>> m = combo_metrics(r, 2.0, size_fraction=0.2)
    >>> m["n_trades"].tolist(), round(float(m["sequential_return_at_size"].iloc[0]), 6)
    ([2, 0], 0.0098)
    """
    stats = trade_statistics(returns, trades_per_year)
    total, drawdown = sequential_at_size(returns, size_fraction, compound)
    return pd.DataFrame(
        {
            **stats,
            "sequential_return_at_size": total,
            "sequential_max_drawdown_at_size": drawdown,
        }
    )


def chunks(combos: list[dict], n_events: int, cells: int) -> Iterator[list[dict]]:
    """Split combinations so each chunk holds at most ``cells`` (combination, event) pairs."""
    size = max(1, cells // max(n_events, 1))
    for start in range(0, len(combos), size):
        yield combos[start : start + size]


ChunkTables = dict[str, pd.DataFrame]
ChunkRunner = Callable[
    [SweepData, list[list[dict]], dict[str, np.ndarray], Callable[[int], None] | None],
    list[ChunkTables],
]


def chunk_tables(data: SweepData, part: list[dict], subsets: dict[str, np.ndarray]) -> ChunkTables:
    """Parameters and metrics of one chunk's combinations over each event subset.

    The (C, E) return matrix lives only inside this call; what leaves it is one
    summary row per combination and subset, so a remote worker sends back kilobytes.
    """
    order = np.argsort(data.ev.actionable_tick, kind="stable")
    trades = chunk_trades(data, part)
    params = pd.DataFrame(part)
    tables = {}
    for name, mask in subsets.items():
        metrics = _metrics(data, trades, order[mask[order]])
        tables[name] = pd.concat([params, metrics], axis=1)
    return tables


def _metrics(data: SweepData, trades: ChunkTrades, columns: np.ndarray) -> pd.DataFrame:
    """:func:`combo_metrics` of the events ``columns`` (in entry order) of a chunk's trades."""
    stake = data.size_fraction if trades.stake is None else trades.stake[:, columns]
    return combo_metrics(trades.returns[:, columns], data.trades_per_year, stake, data.compound)


def run_in_process(
    data: SweepData,
    parts: list[list[dict]],
    subsets: dict[str, np.ndarray],
    progress: Callable[[int], None] | None = None,
) -> list[ChunkTables]:
    """Every chunk one after another in this process (the default :data:`ChunkRunner`)."""
    out = []
    for part in parts:
        out.append(chunk_tables(data, part, subsets))
        if progress:
            progress(len(part))
    return out


def chunked_returns(
    data: SweepData, combos: list[dict], cells: int
) -> Iterator[tuple[list[dict], np.ndarray]]:
    """Yield each chunk of ``combos`` with its (C, E) net-return matrix (:func:`chunk_returns`)."""
    for part in chunks(combos, len(data.ev.events), cells):
        yield part, chunk_returns(data, part)


def sweep_tables(
    data: SweepData,
    combos: list[dict],
    cells: int,
    subsets: dict[str, np.ndarray],
    progress: Callable[[int], None] | None = None,
    run_chunks: ChunkRunner | None = None,
) -> dict[str, pd.DataFrame]:
    """Metrics of every combination over each event subset (a boolean mask over events).

    Each chunk's return matrix is computed once and summarised for every subset
    (all events, each walk-forward train and test window), then dropped.
    ``run_chunks`` decides where chunks run (default: in this process, in order;
    :mod:`backtest.sweep.cluster` sends them to a Dask cluster) and must return the
    chunks' tables in chunk order, so the result does not depend on where it ran.
    """
    parts = list(chunks(combos, len(data.ev.events), cells))
    results = (run_chunks or run_in_process)(data, parts, subsets, progress)
    return {name: pd.concat([r[name] for r in results], ignore_index=True) for name in subsets}


@dataclass(frozen=True)
class GridResult:
    """What :func:`sweep_grid` returns.

    ``table`` has one row per valid combination (its parameters, then the
    metrics of :func:`combo_metrics`); ``returns`` (only with ``keep_returns``)
    the net return of every (combination, event), NaN where no trade, with
    columns in the row order of ``events``; ``invalid`` one message per
    combination the strategy's parameter model rejected.
    """

    table: pd.DataFrame
    events: pd.DataFrame
    invalid: list[str]
    returns: np.ndarray | None = None


def hedged_base(base: dict | None, hedge: HedgeSpec | None, grid: dict) -> dict:
    """``base`` with the hedge ratio every combination gets unless the grid sweeps it.

    Examples
    --------
    >>> hedged_base({"fees_bps": 5}, HedgeSpec("SPY", ratio=1.0), {})
    {'fees_bps': 5, 'hedge': '1'}
    """
    base = dict(base or {})
    if hedge is None:
        if HEDGE_KEY in grid or HEDGE_KEY in base:
            raise ConfigError(
                f"sweep.grid.{HEDGE_KEY}: the strategy has no hedge: section (instrument, "
                "window); add one to sweep the hedge ratio"
            )
        return base
    base.setdefault(HEDGE_KEY, hedge_value(hedge.ratio, "hedge.ratio"))
    return base


def hedge_values(combos: list[dict]) -> set[str]:
    """The :data:`HEDGE_KEY` values the combinations use."""
    return {c[HEDGE_KEY] for c in combos if HEDGE_KEY in c}


def sweep_grid(
    prices: dict[str, pd.DataFrame],
    aligned: pd.DataFrame,
    grid: dict[str, list],
    strategy: str = "earnings_hold",
    base: dict | None = None,
    calendar: str | xcals.ExchangeCalendar = "XNYS",
    chunk_cells: int = 4_000_000,
    keep_returns: bool = False,
    max_combinations: int = 100_000,
    overlap: str = DEFAULT_OVERLAP,
    suspect_splits: dict[str, list] | None = None,
    size_fraction: float = 1.0,
    compound: bool = True,
    costs: TradeCosts | None = None,
    sizing: str = "fixed",
    hedge: HedgeSpec | None = None,
    vol: VolTarget | None = None,
) -> GridResult:
    """Sweep ``grid`` over in-memory prices and aligned events, without a config file.

    Parameters
    ----------
    prices : dict of str to pandas.DataFrame
        Prices by ticker (schema in :mod:`backtest.core.schema`).
    aligned : pandas.DataFrame
        Aligned events, e.g. from :func:`backtest.events.align.align_events`.
    grid : dict of str to list
        Values per strategy parameter or cost key (:data:`COST_KEYS`).
    strategy : str
        A registered strategy with a vectorized planner.
    base : dict, optional
        Fixed parameters and costs under the grid (e.g. ``{"fees_bps": 10}``).
    calendar : str or exchange_calendars.ExchangeCalendar
        The calendar ``aligned`` was aligned on.
    chunk_cells : int
        Combinations x events held in memory at once.
    keep_returns : bool
        Also return the (combinations, events) net-return matrix; its memory
        grows with the grid, so leave it off for large grids.
    max_combinations : int
        Refuse larger grids before any work.
    overlap : str
        ``events.overlap``: ``"skip"`` (as ``backtest run`` by default) drops an
        event entering at or before the planned exit of the previous kept trade
        of its ticker, per combination; ``"allow"`` prices every window;
        ``"truncate"`` drops an event entering at the very fill of an earlier
        one and closes every other trade no later than the next entry of its
        ticker (exit reason ``truncated`` in a run).
    suspect_splits : dict, optional
        Validation's suspect split jumps by ticker
        (:func:`backtest.data.validate.suspect_splits_by_ticker`): windows across
        one are not priced, as ``backtest run`` drops them as ``suspect_split``.
    size_fraction : float
        Stake of each trade in ``sequential_return_at_size`` and
        ``sequential_max_drawdown_at_size`` (1.0: the whole account).
    compound : bool
        Stake ``size_fraction`` of the current equity (True, percent sizing) or of
        the starting capital (False, fixed sizing).
    costs : TradeCosts, optional
        The ``costs:`` section (:class:`~backtest.engine.rules.trade_costs.TradeCosts`);
        costs that depend on an order's size are priced at ``costs.notional``.
    sizing : str
        ``"fixed"`` (``costs.notional`` bought at the reference price) or
        ``"percent"`` (``costs.notional`` spent, fees included).
    hedge : HedgeSpec, optional
        Hedge legs (:mod:`backtest.engine.rules.hedge`): every trade is priced
        with its leg at ``hedge.ratio``, or at each combination's ``grid["hedge"]``
        (``"off"``, ``"beta"`` or a number).
    vol : VolTarget, optional
        ``vol_target`` sizing (:class:`~backtest.engine.rules.sizing.VolTarget`):
        each trade stakes ``target_daily_vol_pct`` over its ticker's trailing
        daily vol (capped) in the sequential figures, compounded; size-dependent
        costs are priced at ``costs.notional`` times that weight (``compound`` and
        ``sizing`` are then ignored).

    Returns
    -------
    GridResult

    Examples
    --------
    >>> from backtest.data.synthetic import geometric_prices
    >>> cal = get_calendar("XNYS")
    >>> days = cal.sessions_in_range("2026-01-02", "2026-02-27")
    >>> prices = {"A": geometric_prices(days, growth=0.01)}
    >>> when = pd.Timestamp("2026-02-02 08:00", tz="America/New_York").tz_convert("UTC")
    >>> events = pd.DataFrame({"event_id": ["A-1"], "ticker": ["A"], "event_type": ["earnings"],
    ...     "event_time": [when], "timing": ["bmo"], "known_at": [when - pd.Timedelta(days=30)],
    ...     "source": ["demo"]})
    >>> from backtest.events.align import align_events
    >>> aligned, _ = align_events(events, prices, cal, now=when)
    >>> out = sweep_grid(prices, aligned, {"hold_sessions": [1, 2]}, keep_returns=True)
    >>> out.returns.round(6).tolist()  # close to close: 1.01**h - 1
    [[0.01], [0.0201]]
    """
    spec = get_strategy(strategy)
    if spec.planner is None:
        raise ConfigError(f"strategy {spec.name} has no vectorized planner, so it cannot be swept")
    combos, invalid = expand_grid(spec, hedged_base(base, hedge, grid), grid, max_combinations)
    cal = get_calendar(calendar) if isinstance(calendar, str) else calendar
    market = MarketView(prices, cal, suspect_splits, aligned)
    data = prepare(
        spec,
        aligned,
        prices,
        market,
        overlap,
        size_fraction,
        compound,
        costs,
        sizing,
        hedge,
        hedge_values(combos),
        vol,
    )
    order = np.argsort(data.ev.actionable_tick, kind="stable")
    tables, kept = [], []
    for part in chunks(combos, len(data.ev.events), chunk_cells):
        trades = chunk_trades(data, part)
        tables.append(pd.concat([pd.DataFrame(part), _metrics(data, trades, order)], axis=1))
        if keep_returns:
            kept.append(trades.returns)
    return GridResult(
        pd.concat(tables, ignore_index=True),
        data.ev.events,
        invalid,
        np.vstack(kept) if keep_returns else None,
    )
