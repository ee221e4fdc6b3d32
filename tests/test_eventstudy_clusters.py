"""Clustered events (one ticker, one day 0: one observation) and the Kolari-Pynnonen
adjustment of the BMP test, on hand-made data (geometric prices) and small matrices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.core.sessions import get_calendar
from backtest.data.synthetic import geometric_prices
from backtest.eventstudy import EventStudyConfig, bmp_test, run_event_study
from backtest.eventstudy.clusters import cluster_events
from backtest.eventstudy.parametric import (
    kp_adjust,
    kp_adjusted_bmp_test,
    mean_cross_correlation,
)

CAL = get_calendar("XNYS")
SESSIONS = CAL.sessions_in_range("2024-01-02", "2026-06-30")[:320]


def _prices():
    """Stock A and market M: geometric prices with a noise the market model can fit."""
    rng = np.random.default_rng(11)
    m = rng.normal(0.0003, 0.01, len(SESSIONS))
    a = 0.0001 + 1.2 * m + rng.normal(0.0, 0.005, len(SESSIONS))
    frame = lambda r: pd.DataFrame(  # noqa: E731
        {"open": 50 * np.cumprod(1 + r), "high": 0.0, "low": 0.0, "close": 50 * np.cumprod(1 + r)},
        index=SESSIONS,
    )
    return frame(a), frame(m)


def _three_on_one_day():
    """An article and the two analyst notes in it (one day 0), plus an event 15 sessions later."""
    day = SESSIONS[280]
    stamp = lambda hm: pd.Timestamp(f"{day.date()} {hm}", tz="UTC")  # noqa: E731
    return pd.DataFrame(
        {
            "event_id": ["A-news", "A-note1", "A-note2", "A-later"],
            "ticker": "A",
            "event_type": ["news", "analyst", "analyst", "earnings"],
            "timing": "bmo",
            "session": [day, day, day, SESSIONS[295]],
            "event_time": [stamp("13:42"), stamp("13:50"), stamp("13:50"), stamp("13:00")],
        }
    )


def test_default_keeps_the_earliest_event_per_ticker_and_day0_and_lists_the_others():
    a, m = _prices()
    result = run_event_study(_three_on_one_day(), {"A": a}, m)
    assert EventStudyConfig().cluster == "same_ticker_day0"
    assert result.car["event_id"].tolist() == ["A-news", "A-later"]
    clustered = result.drops[result.drops["reason"] == "clustered"]
    assert clustered["event_id"].tolist() == ["A-note1", "A-note2"]
    assert all("kept event A-news" in d for d in clustered["detail"])
    assert set(result.drops["stage"]) == {"event_study"}
    n = result.tests.query("group_by == 'all' and test == 'bmp_t'")["n"]
    assert set(n) == {2}  # two observations, not four


def test_none_studies_every_event_and_the_three_have_identical_abnormal_returns():
    a, m = _prices()
    result = run_event_study(_three_on_one_day(), {"A": a}, m, EventStudyConfig(cluster="none"))
    assert len(result.car) == 4 and result.drops.empty
    ar = result.ar.pivot(index="day", columns="event_id", values="ar")
    assert (ar["A-news"] == ar["A-note1"]).all() and (ar["A-news"] == ar["A-note2"]).all()


def test_cluster_ties_break_on_event_id_and_other_tickers_are_untouched():
    day = pd.Timestamp("2026-01-13")
    ev = pd.DataFrame(
        {
            "event_id": ["b", "a", "c"],
            "ticker": ["X", "X", "Y"],
            "session": [day, day, day],
            "event_time": pd.Timestamp("2026-01-13 12:00", tz="UTC"),
        }
    )
    kept, drops = cluster_events(ev)
    assert kept["event_id"].tolist() == ["a", "c"]
    assert drops["event_id"].tolist() == ["b"] and drops["reason"].tolist() == ["clustered"]


def test_cluster_config_rejects_unknown_rules():
    with pytest.raises(ValueError, match="cluster"):
        EventStudyConfig(cluster="same_day")


# ---------------------------------------------------------------- Kolari-Pynnonen


def test_kp_with_zero_correlation_equals_bmp():
    sar = np.array([[1.0, 0.5], [-0.2, 0.8], [0.3, 0.4]])
    assert kp_adjusted_bmp_test(sar, 0.0) == bmp_test(sar)
    assert kp_adjust(2.5, 40, 0.0) == 2.5


def test_kp_by_hand():
    # t = 3.464102 (mean 2, sd 1, n 3); r = 0.2: sqrt(0.8 / (1 + 2 * 0.2)) = sqrt(0.8 / 1.4)
    sar = np.array([[1.0], [2.0], [3.0]])
    t = 2 / (1 / math.sqrt(3)) * math.sqrt(0.8 / 1.4)
    res = kp_adjusted_bmp_test(sar, 0.2)
    assert res.statistic == pytest.approx(t, rel=1e-12)
    # Student t with 2 df: p = 2 (1/2 - t / (2 sqrt(2 + t^2)))
    assert res.p_value == pytest.approx(2 * (0.5 - t / (2 * math.sqrt(2 + t * t))), rel=1e-10)
    # 1 + (n - 1) r <= 0 has no adjusted statistic
    assert math.isnan(kp_adjusted_bmp_test(sar, -0.6).statistic)


def test_mean_cross_correlation_matches_pandas_pairwise_corr():
    rng = np.random.default_rng(5)
    common = rng.normal(size=60)
    resid = 0.6 * common + rng.normal(size=(7, 60))
    resid[2, 5:9] = np.nan  # missing sessions: pairwise complete, like DataFrame.corr
    resid[4, 40] = np.nan
    corr = pd.DataFrame(resid.T).corr(min_periods=3).to_numpy()
    expected = corr[np.triu_indices(7, k=1)].mean()
    assert mean_cross_correlation(resid, block=3) == pytest.approx(expected, rel=1e-12)
    assert mean_cross_correlation(resid) == pytest.approx(expected, rel=1e-12)
    # Independent events: r-bar near 0; one event: no pair.
    assert abs(mean_cross_correlation(rng.normal(size=(30, 200)))) < 0.01
    assert math.isnan(mean_cross_correlation(resid[:1]))


def test_same_date_events_of_different_tickers_are_deflated():
    """Ten tickers driven by one common shock share day 0: r-bar is large, t_KP < t_BMP."""
    rng = np.random.default_rng(2)
    m = rng.normal(0.0003, 0.01, len(SESSIONS))
    common = rng.normal(0.0, 0.01, len(SESSIONS))
    common[280] += 0.03  # the shared event-day move
    prices, events = {}, []
    for k in range(10):
        r = 1.0 * m + common + rng.normal(0.0, 0.004, len(SESSIONS))
        prices[f"T{k}"] = geometric_prices(SESSIONS, growth=0.0, gap=0.0).assign(
            open=50 * np.cumprod(1 + r), close=50 * np.cumprod(1 + r)
        )
        events.append((f"T{k}-e", f"T{k}"))
    ev = pd.DataFrame(
        {
            "event_id": [e for e, _ in events],
            "ticker": [t for _, t in events],
            "event_type": "earnings",
            "timing": "bmo",
            "session": SESSIONS[280],
        }
    )
    bench = geometric_prices(SESSIONS, growth=0.0, gap=0.0).assign(
        open=100 * np.cumprod(1 + m), close=100 * np.cumprod(1 + m)
    )
    result = run_event_study(ev, prices, bench)
    t = result.tests.query("group_by == 'all' and window == '[0,0]'").set_index("test")
    bmp, kp = t.loc["bmp_t", "statistic"], t.loc["bmp_kp_t", "statistic"]
    # The residuals share the common shock: r-bar = var(common) / (var(common) + var(noise))
    # ~ 1e-4 / (1e-4 + 1.6e-5) ~ 0.86, so the adjustment divides t by about 3.
    rbar = (1 - (kp / bmp) ** 2) / (1 + 9 * (kp / bmp) ** 2)  # solve the KP formula for r
    assert 0.75 < rbar < 0.95
    assert abs(kp) < abs(bmp) / 2.5
    assert t.loc["bmp_kp_t", "p_value"] == pytest.approx(2 * stats.t.sf(abs(kp), 9), rel=1e-9)
