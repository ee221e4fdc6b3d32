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

Per combination (one row of ``sweep.parquet``): the parameters, ``n_trades``,
``mean_return``, ``median_return``, ``hit_rate``, ``sharpe`` (mean / std of the
per-trade net returns times sqrt(trades per year)), ``total_return`` and
``max_drawdown`` of the trades compounded one after another in entry order (each
trade taking the whole account in turn; overlapping trades are not netted).

Overlapping windows in one ticker follow ``events.overlap`` per combination,
as in ``backtest run``: with ``skip`` (the default) an event whose entry comes at
or before the planned exit of the previous *kept* trade of its ticker does not
trade (:func:`skip_overlaps`, the array form of the run's greedy rule in
:func:`backtest.strategy.signals.window_drops`); with ``allow`` every window is priced on
its own; with ``truncate`` an event entering at the very fill of an earlier
usable one does not trade, and every other trade closes no later than the next
kept entry of its ticker (:func:`truncate_overlaps`, the array form of
:func:`backtest.strategy.signals.window_drops` and :func:`backtest.strategy.signals.truncate_overlaps`),
applied before pricing so stops are scanned over the shortened window only.
Walk-forward train and test subsets summarise the trades of the whole sweep, so
an event skipped (or a trade cut short) because of a trade in the previous fold
stays so.
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

from backtest.core.errors import ConfigError, LookAheadError
from backtest.core.sessions import get_calendar
from backtest.core.timeline import build_timeline, valid_run
from backtest.engine.kernel import TickPanel, at, build_panel, kernel_trades
from backtest.strategy.plan import EventArrays, Plan, event_arrays
from backtest.strategy.signals import SPLIT_GUARD_SESSIONS, MarketView, StrategySpec, get_strategy

__all__ = [
    "COST_KEYS",
    "ChunkRunner",
    "ChunkTables",
    "GridResult",
    "SweepData",
    "chunk_returns",
    "chunk_tables",
    "chunked_returns",
    "combo_metrics",
    "expand_grid",
    "prepare",
    "run_in_process",
    "skip_overlaps",
    "sweep_grid",
    "sweep_tables",
    "truncate_overlaps",
]

COST_KEYS = ("fees_bps", "slippage_bps", "stop_loss_pct", "take_profit_pct")
SWEEP_OVERLAPS = ("skip", "allow", "truncate")
DAYS_PER_YEAR = 365.25


def expand_grid(
    spec: StrategySpec, base: dict, grid: dict[str, list], limit: int
) -> tuple[list[dict], list[str]]:
    """Every combination of ``grid`` over ``base`` params, validated by the strategy's model.

    Returns the valid parameter dicts and one message per invalid combination.
    Raises before any work when a key is unknown or the grid exceeds ``limit``.
    """
    known = set(spec.params.model_fields) | set(COST_KEYS)
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
        strategy_part = {k: v for k, v in combo.items() if k not in COST_KEYS}
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


@dataclass(frozen=True)
class SweepData:
    """Everything the kernel needs, computed once per sweep.

    ``clean_until`` (tickers, panel ticks) is, for a window entering at that
    tick, the last global tick it may exit at with prices every session: the
    close before the ticker's next session without prices (:func:`clean_until`),
    or before its next suspect split jump (:func:`split_until`).
    ``overlap`` is ``events.overlap`` (``skip``, ``allow`` or ``truncate``); ``id_rank`` each
    event's position when events are ordered by ``event_id`` (then row), the
    run's tie-break between entries in one session.
    """

    spec: StrategySpec
    market: MarketView
    ev: EventArrays
    panel: TickPanel
    tick_offset: int
    ticker_row: np.ndarray
    clean_until: np.ndarray
    trades_per_year: float
    overlap: str = "skip"
    id_rank: np.ndarray | None = None


def clean_until(tradable: np.ndarray, tick_offset: int) -> np.ndarray:
    """Per (ticker, tick): the last global tick before the next session lacking prices.

    A window from entry tick ``e`` to exit tick ``x`` has prices every session
    exactly when ``x <= clean_until[ticker, e]``: one lookup per window instead
    of two prefix-sum lookups and a subtraction.

    Examples
    --------
    >>> clean_until(np.array([[True, True, False, True]]), 0).tolist()  # session 2 has no bar
    [[3, 3, 3, 3, 3, 3, 7, 7]]
    """
    next_bad = _next_untradable(tradable)
    return np.repeat(2 * next_bad - 1 + tick_offset, 2, axis=1)


def split_until(gaps: np.ndarray, tick_offset: int) -> np.ndarray:
    """Per (ticker, tick): the last global tick before a window's first suspect split jump.

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
    [[5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 11, 11]]
    """
    n = gaps.shape[1]
    at_gap = np.where(gaps, np.arange(n, dtype=np.int32), np.int32(n))
    from_here = np.minimum.accumulate(at_gap[:, ::-1], axis=1)[:, ::-1]
    guard = min(SPLIT_GUARD_SESSIONS, n)
    head = np.repeat(from_here[:, :1], guard, axis=1)
    next_gap = np.concatenate([head, from_here[:, : n - guard]], axis=1)
    return np.repeat(2 * next_gap - 1 + tick_offset, 2, axis=1)


def _split_gaps(market: MarketView, panel: TickPanel) -> np.ndarray:
    """``(tickers, sessions)``: the panel sessions with a suspect split jump."""
    sessions = panel.timeline.sessions
    return np.array(
        [sessions.isin([s.session for s in market.suspect_splits(t)]) for t in panel.tickers],
        dtype=bool,
    ).reshape(len(panel.tickers), len(sessions))


def _next_untradable(tradable: np.ndarray) -> np.ndarray:
    """Per (ticker, session): the first session at or after it without prices (n if none), int32.

    A ticker whose tradable sessions are one unbroken run needs no scan: inside
    the run it is the session after the run, outside each session itself. Only
    tickers with a hole take the running minimum (slow along numpy's last axis).

    Examples
    --------
    >>> _next_untradable(np.array([[0, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)).tolist()
    [[0, 3, 3, 3, 4], [1, 1, 5, 5, 5]]
    """
    n = tradable.shape[1]
    at = np.arange(n, dtype=np.int32)
    if n == 0:
        return np.empty(tradable.shape, dtype=np.int32)
    first, last, unbroken = valid_run(tradable)
    inside = (at >= first[:, None]) & (at <= last[:, None])
    next_bad = np.where(inside, (last + 1).astype(np.int32)[:, None], at)
    if not unbroken.all():
        holed = np.where(tradable[~unbroken], n, at)
        next_bad[~unbroken] = np.minimum.accumulate(holed[:, ::-1], axis=1)[:, ::-1]
    return next_bad


def _window_limit(market: MarketView, panel: TickPanel, tick_offset: int) -> np.ndarray:
    """Per (ticker, tick): the last exit tick a window entering there may have.

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
    overlap: str = "skip",
) -> SweepData:
    """Index the strategy's events and build the price panel over the calendar span they can touch.

    ``overlap`` is ``events.overlap``: ``skip`` (as ``backtest run`` by default),
    ``allow`` or ``truncate``, applied per combination by :func:`chunk_returns`.
    """
    if overlap not in SWEEP_OVERLAPS:
        raise ConfigError(
            f"events.overlap must be one of {', '.join(SWEEP_OVERLAPS)}, got {overlap!r}"
        )
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
    span = (events["event_time"].max() - events["event_time"].min()).days / DAYS_PER_YEAR
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
        _id_rank(events["event_id"]),
    )


def _id_rank(event_id: pd.Series) -> np.ndarray:
    """Each event's position in ``event_id`` order, ties by row (the run's sort).

    Sorted by pandas, so a string column is sorted natively (by code point, as
    Python compares strings) instead of as boxed objects, 4x faster.

    Examples
    --------
    >>> _id_rank(pd.Series(["b", "a", "c", "a"])).tolist()
    [2, 0, 3, 1]
    """
    rank = np.empty(len(event_id), dtype=np.int64)
    rank[event_id.argsort(kind="stable").to_numpy()] = np.arange(len(event_id))
    return rank


def skip_overlaps(
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    usable: np.ndarray,
    ticker: np.ndarray,
    id_rank: np.ndarray,
) -> np.ndarray:
    """Cells ``events.overlap: skip`` drops: a mask shaped like ``usable`` (C, E).

    Per combination and ticker, trades are taken in the run's order (entry
    session, then ``event_id``, then row; :func:`backtest.strategy.signals.window_drops`)
    and one is dropped when its entry tick is at or before the planned exit tick
    of the previous *kept* trade of that ticker. Ticks (``2 * session + (0 open,
    1 close)``) order fills as the run's ``(session, open < close)`` pairs do.
    Cells not ``usable`` (no trade) neither keep nor block anything.

    The greedy walk is a loop over the rank of an event within its ticker (at
    most the largest number of events of one ticker), each step vectorized over
    every combination and ticker. ``entry_tick`` and ``exit_tick`` may be (1, E)
    or (C, E); ``ticker`` holds row numbers ``0..T-1`` per event.

    Examples
    --------
    A overlaps B, B overlaps C, A does not overlap C: A and C trade, B is skipped.

    >>> entry, exit_ = np.array([[10, 14, 18]]), np.array([[15, 19, 22]])
    >>> skip_overlaps(entry, exit_, np.ones((1, 3), bool), np.zeros(3, int), np.arange(3)).tolist()
    [[False, True, False]]
    """
    shape = np.shape(usable)
    skipped = np.zeros(shape, dtype=bool)
    walk = _walk_order(entry_tick, exit_tick, usable, ticker, id_rank, by_tick=False)
    if walk is None:
        return skipped
    slots, counts = walk
    entry, exit_, use = (_gather(a, slots, shape) for a in (entry_tick, exit_tick, usable))
    drop = np.zeros(shape, dtype=bool)
    last_exit = np.full((shape[0], len(counts)), np.iinfo(np.int64).min)
    for tickers, block in _rank_blocks(counts):
        prev = last_exit[:, tickers]
        kept = use[:, block] & (entry[:, block] > prev)
        last_exit[:, tickers] = np.where(kept, exit_[:, block], prev)
        drop[:, block] = use[:, block] & ~kept
    _scatter(skipped, slots, drop)
    return skipped


def truncate_overlaps(
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    usable: np.ndarray,
    ticker: np.ndarray,
    id_rank: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Cells ``events.overlap: truncate`` drops, and every cell's exit tick after truncation.

    The array form of the run's two steps, per combination and ticker:
    :func:`backtest.strategy.signals.window_drops` drops a trade entering at the very
    fill (tick) of an earlier one (the first by ``event_id``, then row, is
    kept), then :func:`backtest.strategy.signals.truncate_overlaps` takes the kept trades
    in entry order (entry tick, then ``event_id``) and closes each no later than
    the next one's entry tick. Cells not ``usable`` neither keep nor cut
    anything. Returns the dropped mask (C, E) and the exit ticks (C, E): the
    planned ones, or the next kept entry where that comes first (a dropped or
    unusable cell keeps its planned exit). Same walk as :func:`skip_overlaps`.

    Examples
    --------
    B enters inside A and cuts it, C enters at B's very fill and is dropped.

    >>> entry, exit_ = np.array([[10, 14, 14]]), np.array([[15, 19, 22]])
    >>> drop, cut = truncate_overlaps(entry, exit_, np.ones((1, 3), bool), np.zeros(3, int),
    ...     np.arange(3))
    >>> drop.tolist(), cut.tolist()
    ([[False, False, True]], [[14, 19, 22]])
    """
    shape = np.shape(usable)
    dropped = np.zeros(shape, dtype=bool)
    walk = _walk_order(entry_tick, exit_tick, usable, ticker, id_rank, by_tick=True)
    if walk is None:
        return dropped, np.broadcast_to(exit_tick, shape)
    slots, counts = walk
    entry, exit_, use = (_gather(a, slots, shape) for a in (entry_tick, exit_tick, usable))
    drop = np.zeros(shape, dtype=bool)
    big = np.iinfo(np.int64).max
    next_entry = np.full(shape, big, dtype=np.int64)  # slotted: the next kept entry's tick
    last_entry = np.full((shape[0], len(counts)), np.iinfo(np.int64).min)
    last_slot = np.full((shape[0], len(counts)), -1)
    for tickers, block in _rank_blocks(counts):
        here = entry[:, block]
        same = use[:, block] & (here == last_entry[:, tickers])
        kept = use[:, block] & ~same
        drop[:, block] = same
        prev = last_slot[:, tickers]
        rows, cols = np.nonzero(kept & (prev >= 0))
        next_entry[rows, prev[rows, cols]] = here[rows, cols]
        last_entry[:, tickers] = np.where(kept, here, last_entry[:, tickers])
        last_slot[:, tickers] = np.where(kept, np.arange(block.start, block.stop), prev)
    cut = np.empty(shape, dtype=np.result_type(exit_, np.int64))
    _scatter(dropped, slots, drop)
    _scatter(cut, slots, np.minimum(exit_, next_entry))
    return dropped, cut


def _walk_order(
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    usable: np.ndarray,
    ticker: np.ndarray,
    id_rank: np.ndarray,
    by_tick: bool,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Column order of the overlap walks, or None when no two windows can touch.

    Sorts each row by ticker, entry session (``by_tick``: entry tick, so an open
    comes before a close of one session) and ``event_id`` rank, then lays every
    ticker's events out rank-major (all first events, then all second ...), so
    step k of a walk reads one contiguous block of columns. Returns those
    ``slots`` (1 or C rows of column numbers) and the number of events per ticker.
    """
    shape = np.shape(usable)
    ticker = np.asarray(ticker)
    counts = np.bincount(ticker, minlength=1)
    if counts.max() < 2 or not np.any(usable):
        return None
    # One sort key per (row, event), unique: ticker, entry session, event_id rank. Rows
    # whose sessions are one row's shifted by a constant (the usual grid) share its order.
    ticks = np.asarray(_distinct_rows(np.asarray(entry_tick)))
    session = ticks if by_tick else ticks // 2
    if _shifted(session):
        session = session[:1]
    low, n = int(session.min()), shape[1]
    span = int(session.max()) - low + 1
    key = (ticker.astype(np.int64) * span + (session - low)) * n + np.asarray(id_rank)
    perm = np.argsort(key, axis=1)
    if _shifted(ticks):
        # Entries keep their distances in every row: when consecutive entries of a ticker
        # are further apart than the longest window, nothing can overlap (e.g. quarterly
        # events with short holds), and the walk is not needed.
        order = perm[0]
        same = ticker[order][1:] == ticker[order][:-1]
        gaps = np.diff(ticks[0][order])[same]
        if gaps.size == 0 or gaps.min() > np.max(np.subtract(exit_tick, entry_tick)):
            return None
    # Ticker is the first key, so every row holds ticker j's events in the same sorted
    # positions; reorder those rank-major.
    starts = np.cumsum(counts) - counts
    rank = np.arange(n) - np.repeat(starts, counts)
    slots = perm[:, np.lexsort((np.repeat(np.arange(len(counts)), counts), rank))]
    return slots, counts


def _rank_blocks(counts: np.ndarray) -> Iterator[tuple[np.ndarray, slice]]:
    """Per rank k: the tickers with more than k events, and their columns in slot order."""
    begin = 0
    for k in range(int(counts.max())):
        tickers = np.flatnonzero(counts > k)
        yield tickers, slice(begin, begin + len(tickers))
        begin += len(tickers)


def _scatter(out: np.ndarray, slots: np.ndarray, values: np.ndarray) -> None:
    """Write slot-ordered ``values`` back to ``out``'s own columns."""
    if len(slots) == 1:
        out[:, slots[0]] = values
    else:
        np.put_along_axis(out, slots, values, axis=1)


def _shifted(a: np.ndarray) -> bool:
    """Whether every row of ``a`` is its first row plus a constant.

    Examples
    --------
    >>> _shifted(np.array([[1, 5, 2], [3, 7, 4]])), _shifted(np.array([[1, 5], [3, 6]]))
    (True, False)
    """
    return bool(((a - a[:, :1]) == (a[0] - a[0, 0])).all())


def _gather(values: np.ndarray, slots: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``values`` (broadcast to ``shape``) with each row's columns in ``slots`` order."""
    values = _distinct_rows(np.asarray(values))
    if len(slots) == 1:
        return np.broadcast_to(np.take(values, slots[0], axis=1), shape)
    return np.take_along_axis(np.broadcast_to(values, shape), slots, axis=1)


def _grid_arrays(combos: list[dict], params: type[BaseModel]) -> dict[str, np.ndarray]:
    """Strategy parameters of ``combos`` as (C, 1) arrays, defaults filled in."""
    models = [
        params.model_validate({k: v for k, v in c.items() if k not in COST_KEYS}) for c in combos
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
    n = data.panel.price.shape[1]
    entry, exit_ = plan.entry_tick - data.tick_offset, plan.exit_tick - data.tick_offset
    inside = (entry >= 0) & (exit_ < n)
    entry, exit_ = np.where(inside, entry, 0), np.where(inside, exit_, 0)
    clean = at(data.clean_until, data.ticker_row, entry)
    return plan.keep() & inside & (plan.exit_tick <= clean), entry, exit_


def _check_knowledge(data: SweepData, plan: Plan, usable: np.ndarray) -> None:
    # On ticks, not instants: entering before the tick at which the information is public.
    late = usable & (plan.entry_tick < data.ev.first_tick_at(_distinct_rows(plan.info_ns)))
    if late.any():
        raise LookAheadError(
            f"strategy {data.spec.name}: {int(late.sum())} planned trades enter before "
            "the information they use is public"
        )


def _distinct_rows(a: np.ndarray) -> np.ndarray:
    """``a`` itself, or its one row when it is a view repeating that row (a broadcast plan array)."""
    return a[:1] if a.ndim == 2 and a.strides[0] == 0 else a


def chunk_returns(data: SweepData, combos: list[dict]) -> np.ndarray:
    """Net return of every (combination, event); NaN where no trade. Shape (C, E)."""
    plan = data.spec.planner(data.ev, data.market, _grid_arrays(combos, data.spec.params))
    usable, entry, exit_ = _usable(data, plan)
    _check_knowledge(data, plan, usable)
    if data.overlap == "skip":
        usable &= ~skip_overlaps(
            plan.entry_tick, plan.exit_tick, usable, data.ticker_row, data.id_rank
        )
    elif data.overlap == "truncate":
        # Before pricing: the kernel then prices (and scans stops over) the shortened window.
        dropped, cut = truncate_overlaps(
            plan.entry_tick, plan.exit_tick, usable, data.ticker_row, data.id_rank
        )
        usable &= ~dropped
        exit_ = np.where(usable, cut - data.tick_offset, exit_)
    # Every cell is computed (dense arrays beat gathering the usable ones); unusable
    # cells are set to NaN at the end.
    out = np.empty(usable.shape)
    groups = _by_costs(combos)
    for cost, rows in groups.items():
        rows = slice(None) if len(groups) == 1 else rows  # one cost setting: no row copies
        trades = kernel_trades(
            data.panel, data.ticker_row, entry[rows], exit_[rows], plan.side[rows], **dict(cost)
        )
        out[rows] = trades.net_return
    np.copyto(out, np.nan, where=~usable)
    return out


def _by_costs(combos: list[dict]) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, combo in enumerate(combos):
        key = tuple((k, combo[k]) for k in COST_KEYS if k in combo)
        groups.setdefault(key, []).append(i)
    return groups


def _drawdown(paths: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(paths, axis=1)
    drawdown = np.divide(paths, peak, out=peak)  # in place: the matrix is (C, E)
    drawdown -= 1.0
    return drawdown.min(axis=1)


def _nan_moments(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and sample std (ddof 1) of each row's non-NaN values.

    The arithmetic of ``np.nanmean`` and ``np.nanstd`` step for step (so the
    same floats), sharing one NaN-free copy of the matrix instead of making
    three. The mean of an empty row and the std of a row of fewer than two
    values are NaN.

    Examples
    --------
    >>> n, mean, std = _nan_moments(np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, np.nan]]))
    >>> n.tolist(), mean.tolist(), std.round(6).tolist()
    ([2, 1], [2.0, 2.0], [1.414214, nan])
    """
    missing = np.isnan(returns)
    n = (~missing).sum(axis=1, dtype=np.intp)
    values = np.where(missing, 0.0, returns)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=1) / n
        values -= mean[:, None]
        values[missing] = 0.0
        values *= values
        var = values.sum(axis=1) / (n - 1)
    var[n <= 1] = np.nan
    return n, mean, np.sqrt(var)


def _nan_median(returns: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median of each row's ``n`` non-NaN values (NaN for an empty row), as ``np.nanmedian``.

    One single-position partition per distinct count, not one median per row:
    NaN sorts last, so the k-th smallest value of a row lands at position k. The
    lower middle value is the largest one before the upper one, and an even
    count's median is ``(low + high) / 2``, as numpy computes it. numpy's median
    partitions at three positions, 7x slower on a W1 sweep (benchmarks/RESULTS.md).
    The same floats, but for two corner cases: where the middle values are zeros
    of both signs, either sign may come out (kernel returns are never -0.0), and
    numpy's path for rows under 600 values takes ``(x + x) / 2`` for an odd
    count, which differs from ``x`` only when ``x + x`` overflows.

    Examples
    --------
    >>> r = np.array([[4.0, np.nan, 1.0, 3.0], [2.0, 9.0, 5.0, np.nan], [np.nan] * 4])
    >>> _nan_median(r, np.array([3, 3, 0])).tolist()
    [3.0, 5.0, nan]
    >>> _nan_median(np.array([[4.0, 1.0, 3.0, 2.0]]), np.array([4])).tolist()
    [2.5]
    """
    out = np.full(len(returns), np.nan)
    for count in np.unique(n[n > 0]):
        rows = np.flatnonzero(n == count)
        high = count // 2
        part = np.partition(returns[rows], high, axis=1)
        if count % 2:
            out[rows] = part[:, high]
        else:
            out[rows] = (part[:, :high].max(axis=1) + part[:, high]) / 2
    return out


def _equity_paths(returns: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each row's trades compounded in ``order`` (no trade: 0), one (C, E) array."""
    identity = len(order) == returns.shape[1] and bool((order == np.arange(len(order))).all())
    # A copy either way: the steps below run in place on it.
    paths = returns.copy() if identity else returns[:, order]
    np.nan_to_num(paths, copy=False)
    paths += 1.0
    return np.cumprod(paths, axis=1, out=paths)


def combo_metrics(returns: np.ndarray, order: np.ndarray, trades_per_year: float) -> pd.DataFrame:
    """Metrics of each row of a (C, E) net-return matrix (NaN = no trade).

    Examples
    --------
    >>> r = np.array([[0.1, -0.05, np.nan], [np.nan, np.nan, np.nan]])
    >>> m = combo_metrics(r, np.arange(3), 2.0)
    >>> m["n_trades"].tolist(), round(float(m["total_return"].iloc[0]), 6)
    ([2, 0], 0.045)
    """
    n, mean, std = _nan_moments(returns)
    median = _nan_median(returns, n)
    with np.errstate(invalid="ignore"):
        sharpe = np.where(
            (n > 1) & (std > 1e-12 * np.abs(mean)),
            mean / np.where(std > 0, std, 1) * np.sqrt(trades_per_year),
            np.nan,
        )
    paths = _equity_paths(returns, order)
    return pd.DataFrame(
        {
            "n_trades": n,
            "mean_return": mean,
            "median_return": median,
            "hit_rate": np.where(n > 0, (returns > 0).sum(axis=1) / np.maximum(n, 1), np.nan),
            "sharpe": sharpe,
            "total_return": np.where(n > 0, paths[:, -1] - 1.0, np.nan),
            "max_drawdown": np.where(n > 0, _drawdown(paths), np.nan),
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
    returns = chunk_returns(data, part)
    params = pd.DataFrame(part)
    tables = {}
    for name, mask in subsets.items():
        picked = returns[:, order[mask[order]]]
        metrics = combo_metrics(picked, np.arange(picked.shape[1]), data.trades_per_year)
        tables[name] = pd.concat([params, metrics], axis=1)
    return tables


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
    overlap: str = "skip",
    suspect_splits: dict[str, list] | None = None,
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
    combos, invalid = expand_grid(spec, dict(base or {}), grid, max_combinations)
    cal = get_calendar(calendar) if isinstance(calendar, str) else calendar
    data = prepare(spec, aligned, prices, MarketView(prices, cal, suspect_splits), overlap)
    order = np.argsort(data.ev.actionable_tick, kind="stable")
    tables, kept = [], []
    for part, returns in chunked_returns(data, combos, chunk_cells):
        metrics = combo_metrics(returns[:, order], np.arange(len(order)), data.trades_per_year)
        tables.append(pd.concat([pd.DataFrame(part), metrics], axis=1))
        if keep_returns:
            kept.append(returns)
    return GridResult(
        pd.concat(tables, ignore_index=True),
        data.ev.events,
        invalid,
        np.vstack(kept) if keep_returns else None,
    )
