"""The event study of one event set: AR, CAR, CAAR by group, the tests, the drops.

Data flow: aligned events + prices -> :func:`~backtest.eventstudy.sample.build_sample`
(windows, market model, drops) -> tables here. See :mod:`backtest.eventstudy.sample`
for the definition of day 0.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.eventstudy.attribution import ATTRIBUTION_COLUMNS, attribute_trades
from backtest.eventstudy.bootstrap import BootstrapCI, bootstrap_means, percentile_ci
from backtest.eventstudy.caar import caar_path, car_over, window_label
from backtest.eventstudy.groups import group_labels, point_in_time_quantiles
from backtest.eventstudy.nonparametric import (
    corrado_from_ranks,
    generalized_sign_test,
    standardized_ranks,
)
from backtest.eventstudy.parametric import (
    bmp_test,
    cross_sectional_t,
    group_cross_correlations,
    kp_adjusted_bmp_test,
    patell_test,
)
from backtest.eventstudy.sample import EventSample, build_sample
from backtest.eventstudy.settings import EventStudyConfig

__all__ = ["TEST_NAMES", "EventStudyResult", "run_event_study"]

TEST_NAMES = (
    "cross_sectional_t",
    "patell_z",
    "bmp_t",
    "bmp_kp_t",
    "corrado_rank_z",
    "generalized_sign_z",
    "bootstrap",
)
TEST_COLUMNS = (
    "group_by",
    "group",
    "window",
    "test",
    "n",
    "caar",
    "statistic",
    "p_value",
    "ci_low",
    "ci_high",
)
CAAR_COLUMNS = ("group_by", "group", "day", "n", "aar", "caar", "caar_low", "caar_high")
EVENT_INFO = ("event_id", "ticker", "event_type", "timing", "session")


@dataclass(frozen=True)
class EventStudyResult:
    """Tables of an event study.

    Attributes
    ----------
    ar : pandas.DataFrame
        Long: ``event_id, ticker, day, session, stock_return, market_return, ar, sar``.
    car : pandas.DataFrame
        One row per studied event: identity, group labels, market-model fit
        (``alpha, beta, sigma, n_estimation``) and ``car[a,b]`` per CAR window.
    caar : pandas.DataFrame
        Per group and day: ``group_by, group, day, n, aar, caar, caar_low, caar_high``.
    tests : pandas.DataFrame
        Per group, CAR window and test: ``n, caar, statistic, p_value`` and, for the
        bootstrap, ``ci_low, ci_high`` (its statistic is NaN: it is an interval).
    drops : pandas.DataFrame
        Events not studied, with reason (drops schema).
    attribution : pandas.DataFrame
        Per-trade overnight / intraday split (empty without trades).
    groups : pandas.DataFrame
        ``event_id, group_by, group`` of the studied events.
    settings : EventStudyConfig
        The settings used.
    """

    ar: pd.DataFrame
    car: pd.DataFrame
    caar: pd.DataFrame
    tests: pd.DataFrame
    drops: pd.DataFrame
    attribution: pd.DataFrame
    groups: pd.DataFrame
    settings: EventStudyConfig


def _ar_table(s: EventSample) -> pd.DataFrame:
    n, width = s.ar.shape
    return pd.DataFrame(
        {
            "event_id": np.repeat(s.events["event_id"].to_numpy(), width),
            "ticker": np.repeat(s.events["ticker"].to_numpy(), width),
            "day": np.tile(s.event_days, n),
            "session": s.sessions.ravel(),
            "stock_return": s.stock.ravel(),
            "market_return": s.market.ravel(),
            "ar": s.ar.ravel(),
            "sar": s.sar.ravel(),
        }
    )


def _car_table(s: EventSample, groups: pd.DataFrame, cfg: EventStudyConfig) -> pd.DataFrame:
    out = s.events[list(EVENT_INFO)].copy()
    wide = groups.pivot(index="event_id", columns="group_by", values="group")
    out["surprise_pct"] = s.events.get("surprise_pct", np.nan)
    out["surprise_bucket"] = out["event_id"].map(wide.get("surprise", pd.Series(dtype=object)))
    if "surprise_quantile" in cfg.group_by:
        out["surprise_quantile"] = out["event_id"].map(
            wide.get("surprise_quantile", pd.Series(dtype=object))
        )
    out["alpha"], out["beta"] = s.model.alpha, s.model.beta
    out["sigma"], out["n_estimation"] = s.model.sigma, s.model.n_obs
    for window in cfg.car_windows:
        out[f"car{window_label(window)}"] = car_over(s.ar, s.event_days, window)
    return out


def _group_rows(s: EventSample, groups: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    position = pd.Series(np.arange(len(s.events)), index=s.events["event_id"])
    return [
        (by, name, position[part["event_id"]].to_numpy())
        for (by, name), part in groups.groupby(["group_by", "group"], sort=False)
    ]


def _window_tests(s: EventSample, ranks: np.ndarray, rows: np.ndarray, window, boot, rbar):
    car = car_over(s.ar[rows], s.event_days, window)
    in_window = (s.event_days >= window[0]) & (s.event_days <= window[1])
    in_all = np.concatenate([np.zeros(len(s.est_days), dtype=bool), in_window])
    results = (
        cross_sectional_t(car),
        patell_test(s.sar[rows][:, in_window], s.model.n_obs[rows]),
        bmp_test(s.sar[rows][:, in_window]),
        kp_adjusted_bmp_test(s.sar[rows][:, in_window], rbar),
        corrado_from_ranks(ranks[rows], in_all),
        generalized_sign_test(s.ar_est[rows], car),
        (np.nan, boot.p_value),
    )
    caar = float(car.mean()) if len(car) else np.nan
    ci = (boot.low, boot.high)
    return [
        (name, len(car), caar, stat, p, *(ci if name == "bootstrap" else (np.nan, np.nan)))
        for name, (stat, p) in zip(TEST_NAMES, results, strict=True)
    ]


def _bootstraps(s: EventSample, rows: np.ndarray, key: str, cfg: EventStudyConfig) -> list:
    """One resample draw per group serves all its CAR windows (seeded by the group's name,
    so a group's intervals do not change when other groups are added)."""
    if len(rows) < 2:
        return [BootstrapCI(np.nan, np.nan, np.nan)] * len(cfg.car_windows)
    cars = np.column_stack([car_over(s.ar[rows], s.event_days, w) for w in cfg.car_windows])
    rng = np.random.default_rng([cfg.seed, zlib.crc32(key.encode())])
    means = bootstrap_means(cars, cfg.bootstrap_reps, rng)
    return [percentile_ci(means[:, k], cfg.confidence) for k in range(len(cfg.car_windows))]


def _tests_table(s: EventSample, groups: pd.DataFrame, cfg: EventStudyConfig) -> pd.DataFrame:
    ranks = standardized_ranks(np.hstack([s.ar_est, s.ar]))
    rows = []
    parts = _group_rows(s, groups)
    members = np.zeros((len(s.events), len(parts)), dtype=bool)
    for k, (_, _, idx) in enumerate(parts):
        members[idx, k] = True
    rbars = group_cross_correlations(s.ar_est, members)  # one r-bar per group, every window
    for (by, name, idx), rbar in zip(parts, rbars, strict=True):
        boots = _bootstraps(s, idx, f"{by}/{name}", cfg)
        for window, boot in zip(cfg.car_windows, boots, strict=True):
            label = window_label(window)
            tests = _window_tests(s, ranks, idx, window, boot, rbar)
            rows += [(by, name, label, *r) for r in tests]
    return pd.DataFrame(rows, columns=list(TEST_COLUMNS))


def _caar_table(s: EventSample, groups: pd.DataFrame, cfg: EventStudyConfig) -> pd.DataFrame:
    frames = [pd.DataFrame(columns=list(CAAR_COLUMNS))]
    for by, name, idx in _group_rows(s, groups):
        path = caar_path(s.ar[idx], s.event_days, cfg.confidence)
        frames.append(path.assign(group_by=by, group=name)[list(CAAR_COLUMNS)])
    return pd.concat([f for f in frames if len(f)] or frames, ignore_index=True)


def run_event_study(
    aligned: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    benchmark: pd.DataFrame,
    settings: EventStudyConfig | None = None,
    trades: pd.DataFrame | None = None,
) -> EventStudyResult:
    """Run a market-model event study of ``aligned`` events.

    Parameters
    ----------
    aligned : pandas.DataFrame
        Aligned events (schema in :mod:`backtest.core.schema`); day 0 is ``session``.
    prices : dict of str to pandas.DataFrame
        Daily bars per ticker (``close`` for returns; open/close for attribution).
    benchmark : pandas.DataFrame
        Daily bars of the market index named by ``settings.benchmark``.
    settings : EventStudyConfig, optional
        Windows, tests and buckets; defaults when omitted.
    trades : pandas.DataFrame, optional
        Trades of a run, for the per-event overnight / intraday attribution.

    Returns
    -------
    EventStudyResult
        Inputs are not modified.
    """
    cfg = settings or EventStudyConfig()
    sample, drops = build_sample(aligned, prices, benchmark, cfg)
    quantiles = None
    if "surprise_quantile" in cfg.group_by:
        # From every aligned event, before the sample's drops: which events are studied
        # depends on prices after the event, which must not move any breakpoint.
        quantiles = point_in_time_quantiles(
            aligned, cfg.surprise_quantiles, cfg.quantile_min_history
        )
    groups = group_labels(sample.events, cfg.surprise_thresholds, cfg.group_by, quantiles)
    attribution = (
        attribute_trades(trades, prices)
        if trades is not None
        else pd.DataFrame(columns=list(ATTRIBUTION_COLUMNS))
    )
    return EventStudyResult(
        ar=_ar_table(sample),
        car=_car_table(sample, groups, cfg),
        caar=_caar_table(sample, groups, cfg),
        tests=_tests_table(sample, groups, cfg),
        drops=drops,
        attribution=attribution,
        groups=groups,
        settings=cfg,
    )
