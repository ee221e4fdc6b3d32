"""``backtest signals CONFIG --as-of DATE``: the orders a config would place next.

The same code as ``backtest run`` (:func:`backtest.run.pipeline.run_strategy`:
the strategies, overlap and portfolio rules), on what was knowable at the
as-of instant, with the audit's knowledge rules:

* events: those whose date was public by then (``known_at <= as_of``); a
  scheduled report not yet published keeps its schedule and loses its content
  (EPS, surprise: every payload column), as the audit's cut does to prices;
* prices: the bars closed by then (:func:`backtest.data.knowledge.truncate_after`),
  followed by flat placeholder bars at the last known close, so windows that
  end in the future can be planned. A decision that reads one of them (a gap
  not yet printed) has an ``info_time`` after the as-of instant: it is not
  an order yet and is counted as *waiting*, never listed.

Orders are the entries and exits whose fill falls in the next N sessions
after the as-of instant. A date means the end of that day (exchange time).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from backtest.config.model import LoadedConfig
from backtest.core.errors import ConfigError
from backtest.core.sessions import session_instant
from backtest.data.knowledge import truncate_after
from backtest.data.validate import suspect_splits_by_ticker
from backtest.engine.portfolio import PortfolioCaps
from backtest.run.pipeline import align, run_strategy, vol_target_signals
from backtest.run.runner import RunInputs, load_inputs, vol_target
from backtest.strategy.per_event import CONTENT
from backtest.strategy.signals import MarketView, get_strategy

__all__ = ["ORDER_COLUMNS", "Upcoming", "as_of_instant", "upcoming_orders"]

ORDER_COLUMNS = [
    "strategy",
    "ticker",
    "event_id",
    "action",
    "side",
    "session",
    "at",
    "fill_time",
    "notional",
    "ref_price",
    "shares",
    "why",
]
FAR_FUTURE = pd.Timestamp("2200-01-01", tz="UTC")
# Placeholder sessions after the as-of instant: the longest hold (250) plus offsets (60).
HORIZON_SESSIONS = 320


@dataclass(frozen=True)
class Upcoming:
    """Orders in the next ``sessions`` sessions after ``as_of``, and what explains an empty list.

    ``orders`` has :data:`ORDER_COLUMNS`; ``notes`` are plain sentences (events
    known, the next known event, decisions still waiting for prices).
    """

    as_of: pd.Timestamp
    sessions: list
    equity: float
    orders: pd.DataFrame
    notes: list[str]


def as_of_instant(when: pd.Timestamp, cal) -> pd.Timestamp:
    """A date (midnight) as the end of that day, a time as given; in the exchange's zone.

    Examples
    --------
    >>> from backtest.core.sessions import get_calendar
    >>> str(as_of_instant(pd.Timestamp("2026-02-17"), get_calendar("XNYS")))
    '2026-02-18 05:00:00+00:00'
    >>> str(as_of_instant(pd.Timestamp("2026-01-13 09:00"), get_calendar("XNYS")))
    '2026-01-13 14:00:00+00:00'
    """
    stamp = when if when.tzinfo else when.tz_localize(cal.tz)
    if stamp == stamp.normalize():
        stamp = stamp + pd.Timedelta(days=1)
    return stamp.tz_convert("UTC")


def _price_span(inputs: RunInputs, tickers: list[str]) -> tuple[pd.Timestamp, pd.Timestamp]:
    frames = [inputs.prices[t] for t in tickers if t in inputs.prices and len(inputs.prices[t])]
    if not frames:
        raise ConfigError("no prices loaded for data.tickers: nothing to plan on")
    return min(f.index[0] for f in frames), max(f.index[-1] for f in frames)


def _check_in_data(loaded: LoadedConfig, inputs: RunInputs, when: pd.Timestamp) -> None:
    first, last = _price_span(inputs, loaded.config.data.tickers)
    day = when.tz_localize(None).normalize() if when.tzinfo else when.normalize()
    if not first <= day <= last:
        raise ConfigError(
            f"{loaded.path}: --as-of {day:%Y-%m-%d} is outside the data "
            f"(prices {first:%Y-%m-%d} to {last:%Y-%m-%d}); give a date in that range"
        )


def known_events(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Events whose date was public by ``as_of``; content blanked where not yet published."""
    known = events[events["known_at"] <= as_of].copy()
    unpublished = known["event_time"] > as_of
    for column in CONTENT & set(known.columns):
        known[column] = known[column].astype(object).where(~unpublished, None)
    return known.reset_index(drop=True)


def _placeholders(frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """``frame`` followed by flat bars at its last close on ``sessions`` after its end."""
    later = sessions[sessions > frame.index[-1]]
    last = float(frame["close"].iloc[-1])
    pad = pd.DataFrame(
        {c: (0.0 if c == "volume" else last) for c in frame.columns}, index=later
    ).astype(frame.dtypes.to_dict())
    return pd.concat([frame, pad]).rename_axis(frame.index.name)


def known_prices(prices: dict, as_of: pd.Timestamp, cal) -> dict[str, pd.DataFrame]:
    """Bars closed by ``as_of``, then placeholder bars for :data:`HORIZON_SESSIONS` sessions."""
    sessions = cal.sessions[(cal.closes > as_of).to_numpy()][:HORIZON_SESSIONS]
    sessions = pd.DatetimeIndex(sessions)
    return {t: _placeholders(f, sessions) for t, f in truncate_after(prices, as_of, cal).items()}


def _next_sessions(cal, as_of: pd.Timestamp, n: int) -> pd.DatetimeIndex:
    closes = pd.DatetimeIndex(cal.closes)
    return pd.DatetimeIndex(cal.sessions[(closes > as_of)][:n])


def _notional(loaded: LoadedConfig, signals: pd.DataFrame, equity: float) -> np.ndarray:
    if "size_pct" in signals.columns:
        return equity * signals["size_pct"].to_numpy(dtype=float) / 100.0
    sizing = loaded.config.engine.sizing
    value = equity * sizing.value / 100.0 if sizing.mode == "percent" else sizing.value
    return np.full(len(signals), float(value))


def _orders(loaded, cal, run, events, prices, as_of, window, equity) -> pd.DataFrame:
    signals = run.signals
    summary = get_strategy(run.name).summary
    by_id = events.set_index("event_id")
    rows = []
    notional = _notional(loaded, signals, equity)
    for sig, size in zip(signals.itertuples(index=False), notional, strict=True):
        ev = by_id.loc[sig.event_id]
        ref = float(prices[sig.ticker]["close"][prices[sig.ticker].index <= window[0]].iloc[-1])
        why = (
            f"{ev['event_type']} {ev['timing']} {ev['event_time']:%Y-%m-%d %H:%M} UTC "
            f"(known {ev['known_at']:%Y-%m-%d}); {run.label}: {summary}"
        )
        side = "long" if sig.side == 1 else "short"
        for action, session, at in (
            ("enter", sig.entry_session, sig.entry_at),
            ("exit", sig.exit_session, sig.exit_at),
        ):
            fill = session_instant(cal, session, at)
            if fill <= as_of or session not in window:
                continue
            trade = {"enter": ("buy", "sell short"), "exit": ("sell", "buy to cover")}[action]
            rows.append(
                {
                    "strategy": run.label,
                    "ticker": sig.ticker,
                    "event_id": sig.event_id,
                    "action": f"{action} {side}: {trade[0] if side == 'long' else trade[1]}",
                    "side": side,
                    "session": session,
                    "at": at,
                    "fill_time": fill,
                    "notional": size,
                    "ref_price": ref,
                    "shares": size / ref if ref > 0 else np.nan,
                    "why": why,
                }
            )
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def _vol_sized(run, loaded: LoadedConfig, prices: dict, as_of: pd.Timestamp, tz: str):
    """``run`` sized by ``vol_target`` (if the config says so) from the vol known at ``as_of``.

    A decision later than ``as_of`` reads the vol as of ``as_of``: the bars after it
    are placeholders, whose flat prices would understate it.
    """
    vol = vol_target(loaded)
    if vol is None or run.signals.empty:
        return run
    sig = run.signals
    sized = replace(run, signals=sig.assign(decision_time=sig["decision_time"].clip(upper=as_of)))
    sized = vol_target_signals(sized, vol, prices, tz)
    kept = sized.signals.set_index("event_id")["size_pct"]
    return replace(
        run,
        signals=sig[sig["event_id"].isin(kept.index)]
        .assign(size_pct=lambda f: f["event_id"].map(kept).to_numpy(dtype=float))
        .reset_index(drop=True),
    )


def _without_end(loaded: LoadedConfig) -> LoadedConfig:
    """The config with ``data.end`` lifted: the future is what the question is about."""
    data = loaded.config.data.model_copy(update={"end": None})
    return replace(loaded, config=loaded.config.model_copy(update={"data": data}))


def _notes(events, known, waiting: int, as_of, window) -> list[str]:
    notes = [f"{len(known)} of {len(events)} events known by {as_of:%Y-%m-%d %H:%M} UTC"]
    ahead = known[known["event_time"] > as_of].sort_values("event_time")
    if len(ahead):
        nxt = ahead.iloc[0]
        notes.append(
            f"next known event: {nxt['event_id']} ({nxt['event_type']}, {nxt['event_time']:%Y-%m-%d})"
        )
    else:
        notes.append("no event known by then is published after it: nothing scheduled ahead")
    if waiting:
        notes.append(
            f"{waiting} decision(s) in these sessions need prices after the as-of instant "
            "(e.g. an opening gap not yet printed): not orders yet, not listed"
        )
    return notes


def upcoming_orders(
    loaded: LoadedConfig,
    when: pd.Timestamp,
    sessions: int = 5,
    equity: float | None = None,
    inputs: RunInputs | None = None,
) -> Upcoming:
    """The orders ``loaded``'s strategies would place in the ``sessions`` sessions after ``when``.

    Raises
    ------
    ConfigError
        ``when`` outside the config's price data.
    """
    inputs = inputs or load_inputs(loaded)
    _check_in_data(loaded, inputs, when)
    cal, as_of = inputs.cal, as_of_instant(when, inputs.cal)
    equity = float(equity if equity is not None else loaded.config.engine.init_cash)
    window = _next_sessions(cal, as_of, sessions)
    known = known_events(inputs.events, as_of)
    prices = known_prices(inputs.prices, as_of, cal)
    ahead = _without_end(loaded)
    aligned, _ = align(ahead, known, prices, cal, FAR_FUTURE)
    splits = {
        t: [s for s in v if s.session <= as_of.tz_localize(None)]
        for t, v in suspect_splits_by_ticker(inputs.reports).items()
    }
    market = MarketView(prices, cal, splits, aligned)
    cfg = loaded.config
    book = PortfolioCaps(**cfg.portfolio.model_dump()) if cfg.portfolio else None
    frames, waiting = [], 0
    for s in cfg.strategies:
        run = run_strategy(s, aligned, market, cfg.events.overlap, book)
        late = run.signals["info_time"] > as_of
        waiting += int((late & run.signals["entry_session"].isin(window)).sum())
        run = replace(run, signals=run.signals[~late].reset_index(drop=True))
        run = _vol_sized(run, loaded, prices, as_of, str(cal.tz))
        frames.append(_orders(loaded, cal, run, aligned, prices, as_of, window, equity))
    orders = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ORDER_COLUMNS)
    orders = orders.sort_values(["fill_time", "strategy", "ticker"], kind="stable")
    notes = _notes(inputs.events, known, waiting, as_of, window)
    return Upcoming(as_of, list(window), equity, orders.reset_index(drop=True), notes)
