"""Small array helpers the strategy planners share (ticks, drops, plan assembly).

Ticks are the global tick axis of :mod:`backtest.strategy.plan`: ``2 * session + 0``
for a session's open, ``+ 1`` for its close.
"""

from __future__ import annotations

import numpy as np

from backtest.strategy.plan import Drop, EventArrays, Plan, drop_codes

__all__ = ["assemble", "first_open_after", "leaves_calendar", "signed", "tick_ns"]


def tick_ns(ev: EventArrays, ticks: np.ndarray) -> np.ndarray:
    """UTC instants (ns) of ``ticks``, clipped onto the calendar (callers drop outside ticks)."""
    return ev.instants[np.clip(ticks, 0, len(ev.instants) - 1)]


def leaves_calendar(ev: EventArrays, entry: np.ndarray, exit_: np.ndarray) -> np.ndarray:
    """Whether a holding window starts before or ends after the exchange calendar."""
    return (entry < 0) | (exit_ >= len(ev.instants))


def first_open_after(actionable_tick: np.ndarray) -> np.ndarray:
    """Session position of the first open at or after each actionable tick.

    An event actionable at a session's open (bmo, amc, unknown) gets that
    session; one actionable only at a close (intraday with ``same_close``) gets
    the next session, whose open is the first one after the event.

    Examples
    --------
    >>> first_open_after(np.array([10, 11])).tolist()  # open of 5 -> 5; close of 5 -> 6
    [5, 6]
    """
    return (actionable_tick + 1) // 2


def signed(value: np.ndarray, minimum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sign of a signal (%) and its drop code: NaN or 0 -> ``no_direction``, small -> ``below_threshold``.

    ``value`` is shaped (events,), ``minimum`` (combinations, 1); both results
    are (combinations, events). ``|value| == minimum`` trades.

    Examples
    --------
    >>> side, drop = signed(np.array([2.0, -0.5, np.nan, 0.0]), np.array([[1.0]]))
    >>> from backtest.strategy.plan import REASONS
    >>> side.tolist(), [REASONS[c] for c in drop[0]]
    ([[1, -1, 0, 0]], ['', 'below_threshold', 'no_direction', 'no_direction'])
    """
    sign = np.sign(np.nan_to_num(value)).astype(int)[None, :]
    small = np.abs(np.nan_to_num(value))[None, :] < minimum
    drop = drop_codes((sign == 0, Drop.NO_DIRECTION), (small, Drop.BELOW_THRESHOLD))
    return np.broadcast_to(sign, drop.shape), drop


def assemble(
    entry: np.ndarray, exit_: np.ndarray, side: np.ndarray, info: np.ndarray, drop: np.ndarray
) -> Plan:
    """Broadcast the five plan arrays to one (combinations, events) shape (views, no copies)."""
    shape = np.broadcast_shapes(entry.shape, exit_.shape, side.shape, info.shape, drop.shape)
    return Plan(*(np.broadcast_to(a, shape) for a in (entry, exit_, side, info, drop)))
