"""run_event_study end to end: drops with reasons, conservation, no mutation, metamorphic
checks, speed on the bundled earnings, config validation, and the files it writes."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from backtest.core.errors import DataIntegrityError
from backtest.core.sessions import get_calendar
from backtest.data.bundled import BundledPrices
from backtest.data.synthetic import geometric_prices
from backtest.events.align import align_events
from backtest.events.loaders import load_bundled_earnings
from backtest.eventstudy import EventStudyConfig, run_event_study
from backtest.report.eventstudy_writer import write_event_study

TICKERS = ["BABA", "BIDU", "JD", "PDD", "NTES", "AMZN", "NFLX", "TSLA"]
NOW = pd.Timestamp("2026-07-24", tz="UTC")
CAL = get_calendar("XNYS")


@pytest.fixture(scope="module")
def bundled():
    source = BundledPrices()
    prices = {t: source.load(t) for t in TICKERS}
    aligned, _ = align_events(load_bundled_earnings(TICKERS, CAL), prices, CAL, now=NOW)
    return aligned, prices, source.load("SPY")


def _synthetic(n_sessions: int = 320, seed: int = 3):
    """Market with noisy returns; stock A = 0.0002 + 1.5 * market + noise (known model)."""
    sessions = CAL.sessions_in_range("2024-01-02", "2026-06-30")[:n_sessions]
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0004, 0.01, n_sessions)
    r = 0.0002 + 1.5 * m + rng.normal(0.0, 0.004, n_sessions)
    frame = lambda ret: pd.DataFrame(  # noqa: E731
        {
            "open": 100 * np.cumprod(1 + ret),
            "high": 0.0,
            "low": 0.0,
            "close": 100 * np.cumprod(1 + ret),
        },
        index=sessions,
    )
    return sessions, frame(r), frame(m)


def _events(sessions, positions, ticker="A", **extra):
    return pd.DataFrame(
        {
            "event_id": [f"{ticker}-{p}" for p in positions],
            "ticker": ticker,
            "event_type": "earnings",
            "timing": "bmo",
            "session": sessions[positions],
            **extra,
        }
    )


def test_conservation_and_reasons():
    sessions, a, spy = _synthetic()
    # 300: fine. 100: only 89 estimation sessions. 310: event window runs past the data.
    events = pd.concat(
        [_events(sessions, [300 - 20, 100, 310]), _events(sessions, [290], ticker="ZZZ")]
    )
    cfg = EventStudyConfig(min_estimation_obs=120)
    result = run_event_study(events, {"A": a}, spy, cfg)
    assert len(result.car) + len(result.drops) == len(events)
    reasons = dict(zip(result.drops["event_id"], result.drops["reason"], strict=True))
    assert reasons == {
        "A-100": "estimation_too_short",
        "A-310": "event_window_incomplete",
        "ZZZ-290": "ticker_without_prices",
    }
    assert set(result.drops["stage"]) == {"event_study"}
    assert result.car["event_id"].tolist() == ["A-280"]


def test_known_model_is_recovered():
    sessions, a, spy = _synthetic()
    result = run_event_study(_events(sessions, [280]), {"A": a}, spy)
    row = result.car.iloc[0]
    assert row["beta"] == pytest.approx(1.5, abs=0.1) and row["n_estimation"] == 240
    assert row["sigma"] == pytest.approx(0.004, rel=0.15)


def test_flat_benchmark_is_dropped_with_reason():
    sessions, a, _ = _synthetic()
    flat = geometric_prices(sessions, growth=0.0, gap=0.0)
    result = run_event_study(_events(sessions, [280]), {"A": a}, flat)
    assert result.drops["reason"].tolist() == ["degenerate_estimation"]
    assert result.car.empty and result.tests.empty and result.caar.empty


def test_day0_shock_moves_only_day0_ar():
    """Raising every close from day 0 on by 5% raises AR_0 by 0.05 (1 + R_0), nothing else."""
    sessions, a, spy = _synthetic()
    events = _events(sessions, [280])
    base = run_event_study(events, {"A": a}, spy).ar
    shocked = a.copy()
    shocked.loc[sessions[280] :, "close"] *= 1.05
    moved = run_event_study(events, {"A": shocked}, spy).ar
    diff = (moved["ar"] - base["ar"]).to_numpy()
    day0 = (base["day"] == 0).to_numpy()
    r0 = base.loc[day0, "stock_return"].iloc[0]
    assert diff[day0][0] == pytest.approx(0.05 * (1 + r0), rel=1e-12)
    assert np.abs(diff[~day0]).max() < 1e-15


def test_bundled_run_is_fast_conserves_and_does_not_mutate(bundled):
    aligned, prices, spy = bundled
    before = (aligned.copy(), {t: p.copy() for t, p in prices.items()}, spy.copy())
    run_event_study(aligned, prices, spy)  # warm-up: imports, calendars
    elapsed = float("inf")
    for _ in range(3):  # best of 3: the test machine is shared
        start = time.perf_counter()
        result = run_event_study(aligned, prices, spy)
        elapsed = min(elapsed, time.perf_counter() - start)
    assert elapsed < 1.0, f"event study of {len(aligned)} events took {elapsed:.2f}s"
    assert len(result.car) + len(result.drops) == len(aligned) >= 300
    pd.testing.assert_frame_equal(aligned, before[0])
    for t in prices:
        pd.testing.assert_frame_equal(prices[t], before[1][t])
    pd.testing.assert_frame_equal(spy, before[2])
    assert len(result.ar) == len(result.car) * 31


def test_groups_and_results_are_order_invariant(bundled):
    aligned, prices, spy = bundled
    a = run_event_study(aligned, prices, spy)
    b = run_event_study(aligned.sample(frac=1.0, random_state=1), prices, spy)
    key = ["group_by", "group", "window", "test"]
    pd.testing.assert_frame_equal(
        a.tests.sort_values(key).reset_index(drop=True),
        b.tests.sort_values(key).reset_index(drop=True),
    )
    counts = a.tests[a.tests["test"] == "bootstrap"].groupby("group_by")["n"].sum()
    n = len(a.car)
    assert (
        counts["all"] == counts["timing"] == counts["event_type"] == n * len(a.settings.car_windows)
    )
    surprise = a.car["surprise_bucket"].value_counts()
    assert set(surprise.index) == {"low", "mid", "high"} and surprise.max() - surprise.min() <= 1


def test_surprise_thresholds(bundled):
    aligned, prices, spy = bundled
    cfg = EventStudyConfig(surprise_thresholds=(-5.0, 5.0))
    car = run_event_study(aligned, prices, spy, cfg).car
    known = car.dropna(subset=["surprise_pct"])
    expected = np.where(
        known["surprise_pct"] < -5, "<-5%", np.where(known["surprise_pct"] >= 5, ">=5%", "-5%..5%")
    )
    assert known["surprise_bucket"].tolist() == expected.tolist()


def test_missing_columns_raise():
    with pytest.raises(DataIntegrityError, match="aligned events is missing column"):
        run_event_study(pd.DataFrame({"event_id": ["x"]}), {}, pd.DataFrame({"close": [1.0]}))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimation_window": (-100, -5)}, "must end before event_window"),
        ({"event_window": (5, -5)}, "starts after it ends"),
        ({"car_windows": ((0, 30),)}, "inside event_window"),
        ({"surprise_thresholds": (5.0, -5.0)}, "strictly ascending"),
        ({"estimation_windw": (-250, -11)}, "Extra inputs are not permitted"),
        ({"min_estimation_obs": 500}, "fewer sessions than min_estimation_obs"),
    ],
)
def test_config_rejects(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        EventStudyConfig(**kwargs)


def test_config_is_frozen():
    cfg = EventStudyConfig()
    with pytest.raises(ValidationError):
        cfg.benchmark = "QQQ"


def test_write_event_study(tmp_path, bundled):
    aligned, prices, spy = bundled
    result = run_event_study(aligned[aligned["ticker"].isin(["BABA", "BIDU"])], prices, spy)
    files = write_event_study(result, tmp_path / "es")
    names = {p.name for p in files}
    for table in ("ar", "car", "caar", "tests", "attribution", "drops"):
        assert f"{table}.csv" in names
        assert (tmp_path / "es" / f"{table}.csv").is_file()
    assert "best_worst_events.csv" in names
    tests = pd.read_csv(tmp_path / "es" / "tests.csv")
    assert len(tests) == len(result.tests) and set(tests["test"]) == {
        "cross_sectional_t",
        "patell_z",
        "bmp_t",
        "bmp_kp_t",
        "corrado_rank_z",
        "generalized_sign_z",
        "bootstrap",
    }
    pngs = sorted((tmp_path / "es" / "charts").glob("*.png"))
    sizes = result.caar.groupby(["group_by", "group"])["n"].first()
    assert (sizes >= 2).all() and sizes["event_type"].index.tolist() == ["earnings"]
    # Every group has 2+ events, so each gets a chart, and each grouping with 2+ groups a
    # comparison; event_type's only group (all bundled events are earnings) repeats "all".
    want = {f"car_{by}_{name}.png" for by, name in sizes.index if by != "event_type"}
    want |= {"caar_by_timing.png", "caar_by_surprise.png"}
    assert {p.name for p in pngs} == want
    assert all(
        p.stat().st_size > 10_000 and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs
    )


def test_the_caar_comparison_legend_names_the_band_and_its_level(tmp_path, monkeypatch):
    from backtest.report import eventstudy_charts as charts

    drawn = []
    monkeypatch.setattr(charts, "_save", lambda fig, path: drawn.append(fig) or path)
    caar = pd.DataFrame(
        {
            "group": ["bmo"] * 3 + ["amc"] * 3,
            "day": [-1, 0, 1] * 2,
            "n": [2] * 3 + [1] * 3,
            "caar": [0.0, 0.01, 0.02, 0.0, -0.01, -0.02],
            "caar_low": [-0.01, 0.0, 0.01] + [float("nan")] * 3,
            "caar_high": [0.01, 0.02, 0.03] + [float("nan")] * 3,
        }
    )
    charts.plot_caar_comparison(caar, tmp_path / "c.png", "CAAR by timing", 0.9)
    (fig,) = drawn
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["bmo (n=2)", "amc (n=1)", "90% band, per group"]
