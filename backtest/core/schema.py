"""Column schemas of the plain pandas tables passed between stages.

The pipeline is config -> prices and events -> aligned events -> signals ->
trades and equity -> metrics -> report. Each arrow carries one of the tables
below, and :func:`require_columns` checks it at the boundary.

Prices (one DataFrame per ticker)
    index ``session``: tz-naive midnight dates of exchange sessions, ascending,
    unique. Columns ``open, high, low, close, volume`` (floats), optional
    ``adj_close`` and ``dividend`` (cash dividend per share on each ex-date, 0 or
    empty elsewhere: yfinance's ``Dividends``, or a file's own column). A session is
    a date, not an instant; its open and close instants come from the exchange
    calendar (:mod:`backtest.core.sessions`).

Events
    ``event_id`` str, unique and stable across runs;
    ``ticker`` str; ``event_type`` in :data:`EVENT_TYPES`;
    ``event_time`` tz-aware UTC, when the information was published (for a
    date-only event: midnight exchange time of that date);
    ``timing`` in :data:`TIMINGS`;
    ``known_at`` tz-aware UTC, when the event's existence and date were public
    (equal to ``event_time`` for unscheduled news; earlier for scheduled reports);
    ``source`` str; plus optional payload columns in :data:`PAYLOAD_COLUMNS`:
    earnings ``eps_estimate, eps_actual, surprise_pct``; news ``headline, isin,
    move_pct`` (signed %), ``sentiment`` (Loughran-McDonald tone in [-1, 1]),
    ``consensus_target``; analyst ``firm, rating, target_old, target_new,
    direction`` (``up``/``down``/``unchanged`` of the stated change, from the
    targets when both are given, else from the verb: "lowered its target").
    ``evidence`` (events read from articles, :mod:`backtest.events.news`) is a
    JSON object ``{field: sentence}`` naming the sentence each extracted value
    came from; :func:`backtest.events.news.evidence_table` lays it out as the
    long table ``event_id, field, value, sentence``. It is a column rather than
    a side table so it travels with its event into ``events.csv``.

Aligned events (events plus)
    ``session`` the first session whose ``fill_at`` price can act on the event;
    ``fill_at`` ``"open"`` or ``"close"``; ``actionable_at`` tz-aware UTC instant
    of that open or close; ``session_price`` the price there; ``align_rule`` a
    short human explanation.

Signals (one row per intended round trip)
    ``strategy, event_id, ticker, side (+1 long, -1 short), decision_time,
    info_time, entry_session, entry_at, exit_session, exit_at``.
    ``info_time`` is the latest publication time of anything the decision used;
    ``decision_time`` must be >= ``info_time`` and <= the entry fill instant.
    With a ``portfolio:`` section, kept signals also carry ``size_pct``, the
    percent of equity the engine spends on the entry (:mod:`backtest.engine.portfolio`);
    with ``vol_target`` sizing, ``size_pct`` and ``sizing_vol``, the trailing daily vol
    it came from (:mod:`backtest.engine.rules.sizing`).
    With ``events.overlap: truncate``, kept signals also carry ``truncated_by``:
    the ``event_id`` of the later signal of the same ticker at whose entry fill
    this one's exit was moved (:func:`backtest.engine.rules.overlap.truncate_signals`), or
    ``""`` when the exit is the strategy's own.

Trades
    ``strategy, ticker, event_id, side, entry_time, entry_price, exit_time,
    exit_price, size, fees, gross_return, net_return, exit_reason``.
    ``exit_reason`` is one of :data:`EXIT_REASONS`: ``time`` (the strategy's
    planned exit), ``truncated`` (``events.overlap: truncate`` closed the trade
    early at the entry fill of the ticker's next trade, at that tick's price
    like a time exit), ``stop_loss`` or ``take_profit`` (a stop filled first).

Drops
    ``event_id, ticker, stage, reason, detail``: every event that did not
    become a trade, and why. Stage ``load`` rows come from loaders before an
    event exists (an article without a usable stamp or ISIN, a non-article
    file): their ``event_id`` is ``article:<file name>`` and ``ticker`` may be
    empty.
    Stage ``portfolio`` rows are signals a ``portfolio:`` cap refused
    (``portfolio_full``, ``portfolio_session_cap``, ``portfolio_name_cap``,
    ``portfolio_gross_cap``), with the cap's numbers in ``detail``.
    The engine's book adds rows for entries it cut or dropped (the trade may
    still exist, smaller): stage ``sizing`` (``cash_cap``, ``no_cash``, and
    ``vol_history`` for a ``vol_target`` signal without enough history),
    ``caps`` (``engine.caps``: ``max_positions``, ``name_cap``, ``gross_cap``,
    ``net_cap``) and ``costs`` (``participation_cap``, ``zero_adv``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from backtest.core.errors import DataIntegrityError

__all__ = [
    "ALIGNED_COLUMNS",
    "DROP_COLUMNS",
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "EXIT_REASONS",
    "FILL_POINTS",
    "PAYLOAD_COLUMNS",
    "PRICE_COLUMNS",
    "SIGNAL_COLUMNS",
    "TICK_EXITS",
    "TIMINGS",
    "TRADE_COLUMNS",
    "empty_drops",
    "require_columns",
]

EVENT_TYPES = ("earnings", "news", "analyst")
TIMINGS = ("bmo", "amc", "intraday", "unknown")
FILL_POINTS = ("open", "close")

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
DIVIDEND_COLUMN = "dividend"  # optional: cash dividend per share on each ex-date
EVENT_COLUMNS = (
    "event_id",
    "ticker",
    "event_type",
    "event_time",
    "timing",
    "known_at",
    "source",
)
PAYLOAD_COLUMNS = (
    "eps_estimate",
    "eps_actual",
    "surprise_pct",
    "headline",
    "isin",
    "move_pct",
    "firm",
    "rating",
    "target_old",
    "target_new",
    "direction",
    "consensus_target",
    "sentiment",
    "evidence",
)
ALIGNED_COLUMNS = EVENT_COLUMNS + (
    "session",
    "fill_at",
    "actionable_at",
    "session_price",
    "align_rule",
)
SIGNAL_COLUMNS = (
    "strategy",
    "event_id",
    "ticker",
    "side",
    "decision_time",
    "info_time",
    "entry_session",
    "entry_at",
    "exit_session",
    "exit_at",
)
TRADE_COLUMNS = (
    "strategy",
    "ticker",
    "event_id",
    "side",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "size",
    "fees",
    "gross_return",
    "net_return",
    "exit_reason",
)
DROP_COLUMNS = ("event_id", "ticker", "stage", "reason", "detail")
EXIT_REASONS = ("time", "truncated", "stop_loss", "take_profit")
# Exits that fill at the tick's open or close price (the others fill at a stop level).
TICK_EXITS = ("time", "truncated")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise if ``frame`` lacks any of ``columns``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to check.
    columns : iterable of str
        Column names the next stage relies on.
    what : str
        Name of the table, used in the message.

    Raises
    ------
    DataIntegrityError
        Naming every missing column at once.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"], "demo")
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "demo")
    Traceback (most recent call last):
    ...
    backtest.core.errors.DataIntegrityError: demo is missing column(s) ['b']; it has ['a']
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataIntegrityError(
            f"{what} is missing column(s) {missing}; it has {list(frame.columns)}"
        )


def empty_drops() -> pd.DataFrame:
    """Return an empty drops table with the documented columns.

    Examples
    --------
    >>> list(empty_drops().columns)
    ['event_id', 'ticker', 'stage', 'reason', 'detail']
    """
    return pd.DataFrame({c: pd.Series(dtype="object") for c in DROP_COLUMNS})
