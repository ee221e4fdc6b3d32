"""Strategy registry, the as-of market view strategies read, and signal checks.

A strategy is a function ``(events, market, params) -> (signals, drops)``
registered by name with :func:`register`. It receives aligned events (schema
in :mod:`backtest.core.schema`) and a :class:`MarketView` that only answers
questions about the past of a given instant, and returns one signal row per
intended round trip plus a drop row for every event it declines, with a reason.

Timing contract checked by :func:`check_signals` for every strategy:
``info_time <= decision_time <= entry instant < exit instant``. A violation is a
:class:`~backtest.core.errors.LookAheadError`, never a silently shifted trade.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import exchange_calendars as xcals
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from backtest.core.errors import ConfigError, LookAheadError, StrategyError
from backtest.core.schema import SIGNAL_COLUMNS, empty_drops
from backtest.core.sessions import session_instant, shift_session
from backtest.core.timeline import session_bars, tradable
from backtest.events.align import drop_rows

__all__ = [
    "MarketView",
    "StrategyParams",
    "StrategySpec",
    "check_signals",
    "get_strategy",
    "params_grid",
    "register",
    "register_planner",
    "registered_strategies",
    "window_drops",
]

AT_RANK = {"open": 0, "close": 1}
# Sessions before a window's entry whose suspect split jump also drops it: the built-in
# strategies read at most the entry session's opening gap or the last closed move.
SPLIT_GUARD_SESSIONS = 1


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


StrategyFn = Callable[
    [pd.DataFrame, "MarketView", StrategyParams], tuple[pd.DataFrame, pd.DataFrame]
]


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy: name, parameter model, function, event types, planner.

    ``planner`` (optional) plans every parameter combination at once over arrays
    (:mod:`backtest.strategy.plan`); strategies that have one can be swept by the kernel.
    ``decide`` is the per-event form of a strategy registered with
    :func:`backtest.strategy.per_event.register_event_strategy` (None for the others),
    ``reasons`` the drop reasons it declared, with their meaning.
    """

    name: str
    params: type[StrategyParams]
    fn: StrategyFn
    event_types: tuple[str, ...]
    summary: str
    planner: Callable | None = None
    decide: Callable | None = None
    reasons: Mapping[str, str] = field(default_factory=dict)


_REGISTRY: dict[str, StrategySpec] = {}


def register(name: str, params: type[StrategyParams], event_types: tuple[str, ...]) -> Callable:
    """Decorator registering a strategy function under ``name``."""

    def wrap(fn: StrategyFn) -> StrategyFn:
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        _REGISTRY[name] = StrategySpec(name, params, fn, event_types, summary)
        return fn

    return wrap


def params_grid(params: BaseModel) -> dict[str, np.ndarray]:
    """One parameter combination as a grid of (1, 1) arrays.

    Examples
    --------
    >>> class P(StrategyParams):
    ...     hold: int = 3
    >>> params_grid(P())["hold"].shape
    (1, 1)
    """
    return {k: np.array([[v]]) for k, v in params.model_dump().items()}


def register_planner(
    name: str,
    params: type[StrategyParams],
    event_types: tuple[str, ...],
    decide: Callable | None = None,
    reasons: Mapping[str, str] | None = None,
) -> Callable:
    """Decorator registering a vectorized planner ``(events, market, grid) -> Plan``.

    The single-run function is derived from it, so runs and sweeps share one
    implementation of the strategy's timing. ``decide`` and ``reasons`` are
    recorded for planners built from a per-event function
    (:func:`backtest.strategy.per_event.register_event_strategy`).
    """

    def wrap(planner: Callable) -> Callable:
        from backtest.strategy.plan import event_arrays, plan_to_signals

        def fn(events: pd.DataFrame, market: MarketView, p: StrategyParams) -> tuple:
            ev = event_arrays(events, market.cal)
            return plan_to_signals(ev, planner(ev, market, params_grid(p)), name)

        summary = (planner.__doc__ or "").strip().splitlines()[0] if planner.__doc__ else ""
        _REGISTRY[name] = StrategySpec(
            name, params, fn, event_types, summary, planner, decide, dict(reasons or {})
        )
        return planner

    return wrap


#: The strategy library shipped with the package, loaded like a plugin: by name, on the
#: first look-up, so this API module never imports the strategies written against it.
LIBRARY_MODULE = "backtest.strategies"


def _load_library() -> None:
    import importlib

    importlib.import_module(LIBRARY_MODULE)  # registers the built-ins on import


def registered_strategies() -> dict[str, StrategySpec]:
    """Return the registry, importing the built-in strategies first.

    Examples
    --------
    >>> {"earnings_hold", "news_momentum"} <= set(registered_strategies())
    True
    """
    _load_library()
    return dict(_REGISTRY)


def get_strategy(name: str) -> StrategySpec:
    """Return the strategy registered as ``name`` or raise listing the available ones."""
    known = registered_strategies()
    if name not in known:
        raise ConfigError(f"unknown strategy {name!r}; available: {', '.join(sorted(known))}")
    return known[name]


class MarketView:
    """Read-only, as-of access to sessions and prices for strategies.

    Every price accessor takes the instant of the decision and returns only
    bars that had closed by then, so a strategy cannot see the future through it.
    ``suspect_splits`` (ticker -> :class:`~backtest.data.splits.SuspectSplit`
    list, from validation) names the sessions whose close-to-close jump looks
    like a missing or double split adjustment; :func:`window_drops` drops the
    windows held across one. Strategies do not see it. ``events`` (optional) are
    the run's aligned events of every type, for strategies that read other
    events than their own (:meth:`published_events`).
    """

    def __init__(
        self,
        prices: dict[str, pd.DataFrame],
        cal: xcals.ExchangeCalendar,
        suspect_splits: dict[str, list] | None = None,
        events: pd.DataFrame | None = None,
    ) -> None:
        self._prices = prices
        self.cal = cal
        self._tradable: dict[str, np.ndarray] = {}
        self._suspect = dict(suspect_splits or {})
        self._events = events

    def published_events(
        self, ticker: str, as_of: pd.Timestamp, event_type: str | None = None
    ) -> pd.DataFrame:
        """Events of ``ticker`` (of ``event_type``) published at or before ``as_of``, in time order."""
        events = self._events
        if events is None or events.empty:
            return pd.DataFrame(columns=["event_id", "ticker", "event_type", "event_time"])
        mask = (events["ticker"] == ticker) & (events["event_time"] <= as_of)
        if event_type is not None:
            mask &= events["event_type"] == event_type
        return events[mask].sort_values(["event_time", "event_id"], kind="stable")

    def suspect_splits(self, ticker: str) -> list:
        """Validation's suspect split ratios of ``ticker`` (empty when none)."""
        return list(self._suspect.get(ticker, []))

    def shift(self, session: pd.Timestamp, n: int) -> pd.Timestamp:
        """Session ``n`` sessions after ``session`` (before, if negative)."""
        return shift_session(self.cal, session, n)

    def instant(self, session: pd.Timestamp, at: str) -> pd.Timestamp:
        """UTC instant of ``session``'s open or close."""
        return session_instant(self.cal, session, at)

    def closed_bars(self, ticker: str, as_of: pd.Timestamp) -> pd.DataFrame:
        """Bars of ``ticker`` whose session closed at or before ``as_of``."""
        frame = self._prices[ticker]
        closes = self.cal.closes.reindex(frame.index)
        return frame[(closes <= as_of).to_numpy()]

    def tradable_sessions(self, ticker: str) -> np.ndarray:
        """Boolean per calendar session: ``ticker`` has finite OHLC prices that day.

        This tells only whether the engine could fill; it reveals no price.
        """
        if ticker not in self._tradable:
            frame = self._prices.get(ticker)
            frames = [] if frame is None else [frame]
            ok = tradable(session_bars(frames, self.cal.sessions))
            self._tradable[ticker] = ok[0] if frames else np.zeros(len(self.cal.sessions), bool)
        return self._tradable[ticker]


def check_signals(
    signals: pd.DataFrame, strategy: str, cal: xcals.ExchangeCalendar
) -> pd.DataFrame:
    """Validate a strategy's signal table; raise on look-ahead or malformed rows."""
    missing = [c for c in SIGNAL_COLUMNS if c not in signals.columns]
    if missing:
        raise StrategyError(f"strategy {strategy!r} returned signals without column(s) {missing}")
    if signals.empty:
        return signals[list(SIGNAL_COLUMNS)]
    if signals[list(SIGNAL_COLUMNS)].isna().any().any():
        bad = signals[signals[list(SIGNAL_COLUMNS)].isna().any(axis=1)].iloc[0]
        raise StrategyError(
            f"strategy {strategy!r} returned a NaN field for event {bad['event_id']}"
        )
    if not signals["side"].isin([1, -1]).all():
        raise StrategyError(f"strategy {strategy!r}: side must be +1 or -1")
    _check_timing(signals, strategy, cal)
    return signals[list(SIGNAL_COLUMNS)]


def _check_timing(signals: pd.DataFrame, strategy: str, cal: xcals.ExchangeCalendar) -> None:
    for row in signals.itertuples(index=False):
        entry = session_instant(cal, row.entry_session, row.entry_at)
        exit_ = session_instant(cal, row.exit_session, row.exit_at)
        if not row.info_time <= row.decision_time <= entry:
            raise LookAheadError(
                f"strategy {strategy!r}, event {row.event_id}: decision at {row.decision_time} uses "
                f"information from {row.info_time} and fills at {entry}; a decision must come after "
                "its information and before its fill"
            )
        if not entry < exit_:
            raise StrategyError(
                f"strategy {strategy!r}, event {row.event_id}: exit {exit_} is not "
                f"after entry {entry}"
            )


def window_drops(signals: pd.DataFrame, market: MarketView) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop signals whose holding window lacks prices or spans a suspect split.

    Returns the kept signals and the drop rows: ``window_incomplete`` when the
    window runs past either end of the ticker's price history,
    ``price_nan_in_window`` when a session inside that history has no finite
    price (a NaN or missing row, RELIABILITY P3), ``suspect_split`` when a
    session from the one before entry to the exit opens on a jump that looks
    like a missing or double split adjustment (P9: the return held across it,
    or the gap or move a decision read, would be fake; the detail names the
    ratio seen and the one expected). Overlapping windows are the engine's
    rule (``events.overlap``, :mod:`backtest.engine.rules.overlap`), applied
    to the signals kept here.
    """
    if signals.empty:
        return signals, empty_drops()
    complete = _complete_windows(signals, market)
    inside = _inside_history(signals, market)
    drops = [
        drop_rows(
            signals[~complete & ~inside],
            "signals",
            "window_incomplete",
            "prices do not cover every session of the holding window",
        ),
        drop_rows(
            signals[~complete & inside],
            "signals",
            "price_nan_in_window",
            "a session of the holding window has a NaN or missing price",
        ),
    ]
    split = _suspect_split_details(signals, market)
    held = complete & split.ne("")
    drops.append(drop_rows(signals[held], "signals", "suspect_split", split[held]))
    kept = signals[complete & ~held]
    return kept.reset_index(drop=True), pd.concat(drops, ignore_index=True)


def _inside_history(signals: pd.DataFrame, market: MarketView) -> pd.Series:
    """Whether the window lies between the first and the last price row of its ticker."""
    out = pd.Series(False, index=signals.index)
    for ticker, rows in signals.groupby("ticker").groups.items():
        frame = market._prices.get(ticker)
        if frame is None or frame.empty:
            continue
        part = signals.loc[rows]
        out[rows] = (part["entry_session"] >= frame.index[0]) & (
            part["exit_session"] <= frame.index[-1]
        )
    return out


def _suspect_split_details(signals: pd.DataFrame, market: MarketView) -> pd.Series:
    """Per signal, the first suspect split jump its guarded span covers ("" for none).

    The span of a window entering on session ``e`` and exiting on ``x`` covers
    the jumps into sessions ``e - SPLIT_GUARD_SESSIONS .. x``: a jump into a
    later session falsifies the return held across it, and one into ``e`` or
    the session before is the opening gap or last closed move that a decision
    may have read (``gap_*``, ``news_*``).
    """
    sessions = market.cal.sessions
    first = sessions.get_indexer(pd.DatetimeIndex(signals["entry_session"])) - SPLIT_GUARD_SESSIONS
    last = sessions.get_indexer(pd.DatetimeIndex(signals["exit_session"]))
    out = np.full(len(signals), "", dtype=object)
    for ticker, rows in signals.groupby("ticker").indices.items():
        for suspect in market.suspect_splits(ticker):
            jump = sessions.get_loc(suspect.session)
            hit = (first[rows] <= jump) & (jump <= last[rows]) & (out[rows] == "")
            out[rows[hit]] = suspect.describe()
    return pd.Series(out, index=signals.index)


def _complete_windows(signals: pd.DataFrame, market: MarketView) -> pd.Series:
    """Whether every session from entry to exit has finite prices (prefix-sum count)."""
    sessions = market.cal.sessions
    entry = sessions.get_indexer(pd.DatetimeIndex(signals["entry_session"]))
    exit_ = sessions.get_indexer(pd.DatetimeIndex(signals["exit_session"]))
    out = np.zeros(len(signals), dtype=bool)
    for ticker, rows in signals.groupby("ticker").indices.items():
        counts = np.r_[0, np.cumsum(market.tradable_sessions(ticker))]
        e, x = entry[rows], exit_[rows]
        out[rows] = (counts[x + 1] - counts[e]) == (x - e + 1)
    return pd.Series(out, index=signals.index)
