"""Cut every event's estimation and event windows, fit the market model, record drops.

Day 0 of an event is its aligned ``session``: the first session whose open (or
close, for ``fill_at: close``) could act on it. For a report before the open
(bmo) that is the report's own session, so day 0's close-to-close return holds
the whole reaction; after the close (amc) or at an unknown time it is the next
session, whose return runs from the report day's close. Events published during
a session and filled at the next open have part of their reaction on day -1.

An event is studied only if its whole event window has both returns and its
estimation window enough of them; every other event is a drop with a reason
(``stage = event_study``), never silently skipped. With ``cluster:
same_ticker_day0`` (default) events of one ticker sharing day 0 are first reduced
to the earliest published (:mod:`backtest.eventstudy.clusters`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.core.schema import empty_drops, require_columns
from backtest.events.align import drop_rows
from backtest.eventstudy.clusters import cluster_events
from backtest.eventstudy.market_model import (
    MarketModel,
    abnormal_returns,
    fit_market_model,
    standardized_ar,
)
from backtest.eventstudy.returns import ReturnPanel, gather_windows, return_panel
from backtest.eventstudy.settings import EventStudyConfig

__all__ = ["STAGE", "EventSample", "build_sample"]

STAGE = "event_study"
EVENT_NEEDS = ("event_id", "ticker", "event_type", "timing", "session")


@dataclass(frozen=True)
class EventSample:
    """Arrays of the studied events, one row per event, aligned with ``events``.

    Attributes
    ----------
    events : pandas.DataFrame
        The studied events (aligned-events rows), index 0..N-1.
    model : MarketModel
        Their market-model fits.
    est_days, event_days : numpy.ndarray
        Offsets of the estimation and event-window columns.
    sessions : numpy.ndarray
        (N x event days) session dates of the event window.
    stock, market : numpy.ndarray
        (N x event days) returns over the event window.
    ar_est, ar, sar : numpy.ndarray
        Estimation residuals (N x est days, NaN where missing), event-window
        abnormal returns and standardised abnormal returns (N x event days).
    """

    events: pd.DataFrame
    model: MarketModel
    est_days: np.ndarray
    event_days: np.ndarray
    sessions: np.ndarray
    stock: np.ndarray
    market: np.ndarray
    ar_est: np.ndarray
    ar: np.ndarray
    sar: np.ndarray


def _days(window: tuple[int, int]) -> np.ndarray:
    return np.arange(window[0], window[1] + 1)


def _locate(events: pd.DataFrame, panel: ReturnPanel) -> np.ndarray:
    """(2 x N) rows of day 0 and ticker columns in the panel; -1 where unknown."""
    cols = {t: j for j, t in enumerate(panel.tickers)}
    col = events["ticker"].map(cols).fillna(-1).to_numpy(dtype=int)
    row = panel.sessions.get_indexer(pd.DatetimeIndex(events["session"]))
    return np.vstack([row, col])


def _cut(panel: ReturnPanel, where: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, ...]:
    stock = gather_windows(panel.stock, where, days)
    return stock, gather_windows(panel.market, where[0], days)


def _reasons(
    where: np.ndarray,
    ev: tuple[np.ndarray, ...],
    est: tuple[np.ndarray, ...],
    model: MarketModel,
    cfg: EventStudyConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Per event: a drop reason (or "") and a detail; the first failing check wins."""
    n_est = model.n_obs
    checks = [
        (where[1] < 0, "ticker_without_prices", "no prices for the ticker"),
        (where[0] < 0, "session_not_in_prices", "day 0 session is not in the price index"),
        (
            ~np.isfinite(ev[0]).all(axis=1),
            "event_window_incomplete",
            f"stock returns missing in event window {cfg.event_window} (prices too short)",
        ),
        (
            ~np.isfinite(ev[1]).all(axis=1),
            "event_window_incomplete",
            f"benchmark {cfg.benchmark} returns missing in event window {cfg.event_window}",
        ),
        (
            n_est < cfg.min_estimation_obs,
            "estimation_too_short",
            f"fewer than min_estimation_obs = {cfg.min_estimation_obs} sessions with both "
            f"returns in estimation window {cfg.estimation_window}",
        ),
        (
            ~(np.isfinite(model.beta) & (model.sigma > 0)),
            "degenerate_estimation",
            "benchmark or residuals constant over the estimation window",
        ),
    ]
    reason, detail = np.full(len(n_est), "", dtype=object), np.full(len(n_est), "", dtype=object)
    for mask, name, text in reversed(checks):
        reason, detail = np.where(mask, name, reason), np.where(mask, text, detail)
    return reason, detail


def _drops(events: pd.DataFrame, reason: np.ndarray, detail: np.ndarray) -> pd.DataFrame:
    frames = [empty_drops()]
    for name in pd.unique(reason[reason != ""]):
        mask = reason == name
        frames.append(drop_rows(events[mask], STAGE, name, pd.Series(detail[mask])))
    return pd.concat(frames, ignore_index=True)


def _subset(model: MarketModel, keep: np.ndarray) -> MarketModel:
    return MarketModel(*(getattr(model, f)[keep] for f in MarketModel.__dataclass_fields__))


def build_sample(
    aligned: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    benchmark: pd.DataFrame,
    cfg: EventStudyConfig,
) -> tuple[EventSample, pd.DataFrame]:
    """Return the studied events' arrays and the drops table of the others.

    Parameters
    ----------
    aligned : pandas.DataFrame
        Aligned events (schema in :mod:`backtest.core.schema`).
    prices : dict of str to pandas.DataFrame
        Daily bars per ticker.
    benchmark : pandas.DataFrame
        Daily bars of ``cfg.benchmark``.
    cfg : EventStudyConfig
        Windows and limits.
    """
    require_columns(aligned, EVENT_NEEDS, "aligned events")
    # A fixed order makes every result, the bootstrap included, independent of input row order.
    events = aligned.sort_values(["session", "ticker", "event_id"], kind="stable")
    clustered = empty_drops()
    if cfg.cluster == "same_ticker_day0":
        events, clustered = cluster_events(events, STAGE)
    events = events.reset_index(drop=True)
    tickers = sorted(set(events["ticker"]) & set(prices))
    panel = return_panel(prices, benchmark, tickers)
    where = _locate(events, panel)
    est_days, event_days = _days(cfg.estimation_window), _days(cfg.event_window)
    est, ev = _cut(panel, where, est_days), _cut(panel, where, event_days)
    model = fit_market_model(*est)
    reason, detail = _reasons(where, ev, est, model, cfg)
    keep = reason == ""
    model = _subset(model, keep)
    stock, market = ev[0][keep], ev[1][keep]
    ar = abnormal_returns(model, stock, market)
    day_rows = np.clip(where[0][keep][:, None] + event_days[None, :], 0, len(panel.sessions) - 1)
    sample = EventSample(
        events=events[keep].reset_index(drop=True),
        model=model,
        est_days=est_days,
        event_days=event_days,
        sessions=panel.sessions.to_numpy()[day_rows],
        stock=stock,
        market=market,
        ar_est=abnormal_returns(model, est[0][keep], est[1][keep]),
        ar=ar,
        sar=standardized_ar(model, ar, market),
    )
    return sample, pd.concat([clustered, _drops(events, reason, detail)], ignore_index=True)
