"""Portfolio caps: which of a strategy's signals one cash-sharing book takes, and their sizes.

A cross-sectional run over many tickers trades one account per strategy. On an
earnings-season day with 40 reports, sizing each trade at a percent of the cash
left would give the first few names most of the account and the rest crumbs.
The ``portfolio:`` section instead gives every position the same target weight
and caps the book; :func:`apply_portfolio_caps` applies it to the signal table
before the engine runs.

Caps. Signals are taken greedily in entry order: entry tick (a session's open
before its close), ties by ``event_id``. A signal is dropped, with the first
reason that applies, when at its entry tick

1. ``max_positions`` positions are open (``portfolio_full``);
2. ``max_new_per_session`` signals already entered in its entry session
   (``portfolio_session_cap``);
3. its ticker's open weight plus ``position_pct`` would exceed ``max_name_pct``
   (``portfolio_name_cap``; overlapping windows in one name, allowed by
   ``events.overlap: allow``, all count);
4. the summed open weight plus ``position_pct`` would exceed ``max_gross_pct``
   (``portfolio_gross_cap``; longs and shorts both count).

A kept position is open from its entry tick to its planned exit tick, both
included: an exit frees room for entries at later ticks only, as in the
``overlap`` rule. Every open position weighs ``position_pct`` (its target at
entry), so the caps count positions and never depend on prices. A decision
uses only signals that enter at or before the capped one, all decided by its
entry (``decision_time <= entry``), so the caps add no look-ahead: a later
event never changes an earlier decision.

Sizing. Each kept signal gets ``size_pct = position_pct``: the engine's book
(:func:`backtest.engine.rules.book.book_sizes`) spends that percent of the
equity measured at the fill before the entry, fees included, and never spends
short proceeds; an entry the free cash cannot pay for is cut and recorded
(stage ``sizing``).
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.core.schema import empty_drops
from backtest.core.timeline import tick_keys
from backtest.events.align import drop_rows

__all__ = ["PORTFOLIO_REASONS", "PortfolioCaps", "apply_portfolio_caps", "entry_order"]

PORTFOLIO_REASONS = (
    "portfolio_full",
    "portfolio_session_cap",
    "portfolio_name_cap",
    "portfolio_gross_cap",
)
EPS = 1e-9  # weights are multiples of position_pct; this absorbs float error only


@dataclass(frozen=True)
class PortfolioCaps:
    """The ``portfolio:`` section: caps on one strategy's book, weights in % of equity."""

    max_positions: int = 20
    max_new_per_session: int | None = None
    position_pct: float = 5.0
    max_name_pct: float = 10.0
    max_gross_pct: float = 100.0


def entry_order(signals: pd.DataFrame) -> np.ndarray:
    """Row positions of ``signals`` by entry tick, then ``event_id`` (stable).

    Examples
    --------
    >>> sig = pd.DataFrame({"entry_session": pd.to_datetime(["2026-01-06", "2026-01-05"] * 2),
    ...     "entry_at": ["open", "close", "open", "open"], "event_id": ["b", "a", "a", "c"]})
    >>> entry_order(sig).tolist()
    [3, 1, 2, 0]
    """
    keys = tick_keys(signals["entry_session"], signals["entry_at"])
    return np.lexsort((signals["event_id"].astype(str).to_numpy(), keys))


@dataclass
class _Book:
    """Positions open at the current tick (a heap by exit key) and running counts."""

    exits: list[tuple[int, str]]
    names: Counter
    sessions: Counter


def _release(book: _Book, entry_key: int) -> None:
    """Close positions whose exit tick is before ``entry_key``."""
    while book.exits and book.exits[0][0] < entry_key:
        _, ticker = heapq.heappop(book.exits)
        book.names[ticker] -= 1


def _refusal(book: _Book, row, caps: PortfolioCaps) -> tuple[str, str] | None:
    """The first cap ``row`` would break, as (reason, detail); None when it fits."""
    p, n_open, n_name = caps.position_pct, len(book.exits), book.names[row.ticker]
    session = f"{pd.Timestamp(row.entry_session):%Y-%m-%d}"
    if n_open >= caps.max_positions:
        return "portfolio_full", f"{n_open} positions open, max_positions {caps.max_positions}"
    cap = caps.max_new_per_session
    if cap is not None and book.sessions[session] >= cap:
        return "portfolio_session_cap", f"{cap} entries on {session}, max_new_per_session {cap}"
    if (n_name + 1) * p > caps.max_name_pct + EPS:
        detail = f"{row.ticker} holds {n_name * p:g}% + {p:g}% > max_name_pct {caps.max_name_pct:g}"
        return "portfolio_name_cap", detail
    if (n_open + 1) * p > caps.max_gross_pct + EPS:
        detail = f"book holds {n_open * p:g}% + {p:g}% > max_gross_pct {caps.max_gross_pct:g}"
        return "portfolio_gross_cap", detail
    return None


def _admit(book: _Book, row, exit_key: int) -> None:
    heapq.heappush(book.exits, (exit_key, row.ticker))
    book.names[row.ticker] += 1
    book.sessions[f"{pd.Timestamp(row.entry_session):%Y-%m-%d}"] += 1


def _decide(ordered: pd.DataFrame, caps: PortfolioCaps) -> list[tuple[str, str] | None]:
    """Greedy pass in entry order: None for a kept signal, else (reason, detail)."""
    entry = tick_keys(ordered["entry_session"], ordered["entry_at"])
    exit_ = tick_keys(ordered["exit_session"], ordered["exit_at"])
    book, out = _Book([], Counter(), Counter()), []
    for i, row in enumerate(ordered.itertuples(index=False)):
        _release(book, int(entry[i]))
        out.append(_refusal(book, row, caps))
        if out[-1] is None:
            _admit(book, row, int(exit_[i]))
    return out


def apply_portfolio_caps(
    signals: pd.DataFrame, caps: PortfolioCaps
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the signals one book can hold; size them; record every drop with its reason.

    Parameters
    ----------
    signals : pandas.DataFrame
        One strategy's checked signals (schema in :mod:`backtest.core.schema`).
    caps : PortfolioCaps
        The ``portfolio:`` section (or any object with its attributes).

    Returns
    -------
    kept : pandas.DataFrame
        The kept signals in entry order (index reset) with a ``size_pct`` column.
    drops : pandas.DataFrame
        One row per dropped signal, stage ``portfolio``, reason in
        :data:`PORTFOLIO_REASONS`.

    Examples
    --------
    Three reports on one morning, room for two positions:

    >>> day, nxt = pd.Timestamp("2026-01-05"), pd.Timestamp("2026-01-06")
    >>> sig = pd.DataFrame({"event_id": ["c", "a", "b"], "ticker": ["C", "A", "B"],
    ...     "side": 1, "entry_session": day, "entry_at": "open",
    ...     "exit_session": nxt, "exit_at": "close"})
    >>> kept, drops = apply_portfolio_caps(sig, PortfolioCaps(max_positions=2, position_pct=10))
    >>> kept["event_id"].tolist(), kept["size_pct"].tolist()
    (['a', 'b'], [10.0, 10.0])
    >>> drops[["event_id", "stage", "reason"]].values.tolist()
    [['c', 'portfolio', 'portfolio_full']]
    """
    if signals.empty:
        return signals.assign(size_pct=pd.Series(dtype=float)), empty_drops()
    ordered = signals.iloc[entry_order(signals)].reset_index(drop=True)
    verdicts = _decide(ordered, caps)
    kept = ordered[[v is None for v in verdicts]].reset_index(drop=True)
    kept = kept.assign(size_pct=float(caps.position_pct))
    return kept, _drops(ordered, verdicts)


def _drops(ordered: pd.DataFrame, verdicts: list[tuple[str, str] | None]) -> pd.DataFrame:
    refused = [i for i, v in enumerate(verdicts) if v is not None]
    if not refused:
        return empty_drops()
    rows = drop_rows(ordered.iloc[refused], "portfolio", "", "")
    rows["reason"] = [verdicts[i][0] for i in refused]
    rows["detail"] = [verdicts[i][1] for i in refused]
    return rows
