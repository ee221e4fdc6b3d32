"""The overlap policy: which of a ticker's overlapping windows trade, and where each exits.

``events.overlap`` decides what happens when a window opens in a ticker while
an earlier one is still open (ticks ``2 * session + (0 open, 1 close)`` order
fills in time):

* ``skip`` (the default): trades are taken in order of entry session, then
  ``event_id``, then row, and one is dropped when its entry tick is at or
  before the planned exit tick of the previous *kept* trade of its ticker;
* ``allow``: every window trades on its own;
* ``truncate``: a trade entering at the very fill (tick) of an earlier one is
  dropped (the first by ``event_id``, then row, is kept), since cutting the
  earlier one there would leave it empty; every other trade exits no later than
  the next kept entry of its ticker. Exits only move earlier, to a fill the
  later signal had decided on by then, so truncation adds no look-ahead.

:func:`apply_overlap` is the rule, on arrays shaped (combinations, events):
the sweep calls it per chunk, and ``backtest run`` through the signal-table
forms :func:`overlap_signals` (the drops, before the portfolio caps) and
:func:`truncate_signals` (the cut exits, after them, so a trade is only ever
cut short by one the book took).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from backtest.core.errors import ConfigError
from backtest.core.schema import empty_drops
from backtest.core.timeline import tick_keys
from backtest.engine.rules.arrays import distinct_rows
from backtest.engine.rules.defaults import DEFAULT_OVERLAP
from backtest.events.align import drop_rows

__all__ = [
    "OVERLAPS",
    "OVERLAP_DETAIL",
    "apply_overlap",
    "check_overlap",
    "id_rank",
    "overlap_signals",
    "skip_overlaps",
    "truncate_overlaps",
    "truncate_signals",
]

OVERLAPS = ("skip", "allow", "truncate")
OVERLAP_DETAIL = {
    "skip": "window overlaps an earlier trade in the same ticker",
    "truncate": "enters at the same fill as an earlier trade in the same ticker, "
    "so truncating that trade would leave it empty",
}


def check_overlap(policy: str) -> str:
    """``policy`` if it is one of :data:`OVERLAPS`, else a :class:`ConfigError`.

    Examples
    --------
    >>> check_overlap("truncate")
    'truncate'
    """
    if policy not in OVERLAPS:
        raise ConfigError(f"events.overlap must be one of {', '.join(OVERLAPS)}, got {policy!r}")
    return policy


def apply_overlap(
    policy: str,
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    usable: np.ndarray,
    ticker: np.ndarray,
    id_rank: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The cells ``policy`` drops (C, E) and every cell's exit tick after it.

    ``entry_tick`` and ``exit_tick`` may be (1, E) or (C, E); ``usable`` (C, E)
    marks cells with a trade (the others neither keep nor block anything);
    ``ticker`` holds row numbers ``0..T-1`` per event and ``id_rank`` each
    event's position in ``event_id`` order (:func:`id_rank`). The exit ticks
    are ``exit_tick`` itself (the same object) unless ``policy`` is ``truncate``.

    Examples
    --------
    Three windows of one ticker: B enters inside A, C at B's very fill.

    >>> entry, exit_ = np.array([[10, 14, 14]]), np.array([[15, 19, 22]])
    >>> args = (entry, exit_, np.ones((1, 3), bool), np.zeros(3, int), np.arange(3))
    >>> [apply_overlap(p, *args)[0].tolist() for p in OVERLAPS]
    [[[False, True, True]], [[False, False, False]], [[False, False, True]]]
    >>> apply_overlap("truncate", *args)[1].tolist()  # A exits at B's entry
    [[14, 19, 22]]
    """
    check_overlap(policy)
    if policy == "skip":
        return skip_overlaps(entry_tick, exit_tick, usable, ticker, id_rank), exit_tick
    if policy == "truncate":
        return truncate_overlaps(entry_tick, exit_tick, usable, ticker, id_rank)
    return np.zeros(np.shape(usable), dtype=bool), exit_tick


def id_rank(event_id: pd.Series) -> np.ndarray:
    """Each event's position in ``event_id`` order, ties by row: the overlap walks' tie-break.

    Sorted by pandas, so a string column is sorted natively (by code point, as
    Python compares strings) instead of as boxed objects, 4x faster.

    Examples
    --------
    >>> id_rank(pd.Series(["b", "a", "c", "a"])).tolist()
    [2, 0, 3, 1]
    """
    rank = np.empty(len(event_id), dtype=np.int64)
    rank[event_id.argsort(kind="stable").to_numpy()] = np.arange(len(event_id))
    return rank


def _signal_arrays(signals: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Entry and exit tick keys (1, n), ticker rows and ``event_id`` ranks of a signal table."""
    entry = tick_keys(signals["entry_session"], signals["entry_at"])[None, :]
    exit_ = tick_keys(signals["exit_session"], signals["exit_at"])[None, :]
    ticker = pd.factorize(signals["ticker"])[0]
    return entry, exit_, ticker, id_rank(signals["event_id"].astype(str).reset_index(drop=True))


def overlap_signals(
    signals: pd.DataFrame, policy: str = DEFAULT_OVERLAP
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The signals ``policy`` keeps (exits unchanged), and a drop row, reason ``overlap``, per other.

    Examples
    --------
    >>> d = pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-08"])
    >>> sig = pd.DataFrame({"event_id": ["a", "b"], "ticker": "A", "side": 1,
    ...     "entry_session": d[:2], "entry_at": "open", "exit_session": d[2], "exit_at": "close"})
    >>> kept, drops = overlap_signals(sig, "skip")
    >>> kept["event_id"].tolist(), drops[["event_id", "reason"]].values.tolist()
    (['a'], [['b', 'overlap']])
    >>> len(overlap_signals(sig, "truncate")[0])  # b is kept, to cut a later
    2
    """
    check_overlap(policy)
    if signals.empty or policy == "allow":
        return signals.reset_index(drop=True), empty_drops()
    entry, exit_, ticker, rank = _signal_arrays(signals)
    usable = np.ones(entry.shape, dtype=bool)
    clash = apply_overlap(policy, entry, exit_, usable, ticker, rank)[0][0]
    drops = drop_rows(signals[clash], "signals", "overlap", OVERLAP_DETAIL[policy])
    return signals[~clash].reset_index(drop=True), drops


def truncate_signals(signals: pd.DataFrame) -> pd.DataFrame:
    """Close each signal no later than the next entry of its ticker (``overlap: truncate``).

    A signal whose planned exit comes after the next kept entry of its ticker
    exits at that entry's session and price point instead, and its
    ``truncated_by`` names the later event; every other row has
    ``truncated_by`` empty. Rows keep their order; signals sharing an entry
    fill were already dropped by :func:`overlap_signals`.

    Examples
    --------
    >>> d = pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-08"])
    >>> sig = pd.DataFrame({"event_id": ["a", "b"], "ticker": "A",
    ...     "entry_session": d[:2], "entry_at": "open",
    ...     "exit_session": d[2], "exit_at": "close"})
    >>> out = truncate_signals(sig)
    >>> out[["exit_session", "exit_at", "truncated_by"]].astype(str).values.tolist()
    [['2026-01-06', 'open', 'b'], ['2026-01-08', 'close', '']]
    """
    out = signals.assign(truncated_by="")
    if out.empty:
        return out
    entry, exit_, ticker, rank = _signal_arrays(out)
    usable = np.ones(entry.shape, dtype=bool)
    dropped, cut = apply_overlap("truncate", entry, exit_, usable, ticker, rank)
    if dropped.any():
        raise ValueError("truncate_signals: signals sharing an entry fill; drop them first")
    now = np.flatnonzero(cut[0] < exit_[0])
    # The cutting trade is the one of the same ticker entering at the cut tick (unique,
    # as no two kept trades share an entry fill).
    key = pd.Series(np.arange(len(out)), index=pd.MultiIndex.from_arrays([ticker, entry[0]]))
    by = key.loc[list(zip(ticker[now], cut[0][now], strict=True))].to_numpy() if len(now) else now
    rows, by_rows = out.index[now], out.index[by]
    out.loc[rows, "exit_session"] = out.loc[by_rows, "entry_session"].to_numpy()
    out.loc[rows, "exit_at"] = out.loc[by_rows, "entry_at"].to_numpy()
    out.loc[rows, "truncated_by"] = out.loc[by_rows, "event_id"].to_numpy()
    return out


def skip_overlaps(
    entry_tick: np.ndarray,
    exit_tick: np.ndarray,
    usable: np.ndarray,
    ticker: np.ndarray,
    id_rank: np.ndarray,
) -> np.ndarray:
    """Cells ``events.overlap: skip`` drops: a mask shaped like ``usable`` (C, E).

    Per combination and ticker, trades are taken in the run's order (entry
    session, then ``event_id``, then row; :func:`overlap_signals`)
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
    :func:`overlap_signals` drops a trade entering at the very
    fill (tick) of an earlier one (the first by ``event_id``, then row, is
    kept), then :func:`truncate_signals` takes the kept trades
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
    ticks = np.asarray(distinct_rows(np.asarray(entry_tick)))
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
    values = distinct_rows(np.asarray(values))
    if len(slots) == 1:
        return np.broadcast_to(np.take(values, slots[0], axis=1), shape)
    return np.take_along_axis(np.broadcast_to(values, shape), slots, axis=1)
