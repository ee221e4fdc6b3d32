"""Timing diagnostics of date-only earnings reports, on hand-made geometric prices, and the
BABA figures on the bundled data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.core.sessions import get_calendar
from backtest.data.bundled import BundledPrices
from backtest.data.synthetic import geometric_prices
from backtest.events.loaders import load_bundled_earnings
from backtest.events.timing_check import MIN_REPORTS, report_day_moves, timing_diagnostics

CAL = get_calendar("XNYS")
TZ = "America/New_York"
SESSIONS = CAL.sessions_in_range("2025-01-02", "2025-12-31")


def _reports(positions, ticker="X", timing="unknown"):
    days = SESSIONS[positions]
    return pd.DataFrame(
        {
            "event_id": [f"{ticker}-{p}" for p in positions],
            "ticker": ticker,
            "event_type": "earnings",
            "timing": timing,
            "event_time": [pd.Timestamp(d, tz=TZ).tz_convert("UTC") for d in days],
        }
    )


def _jumps(at: list[int], size: float) -> pd.DataFrame:
    """Geometric prices growing 0.1 % a session, times (1 + size) from each session in ``at``."""
    prices = geometric_prices(SESSIONS, growth=0.001, gap=0.0)
    factor = np.ones(len(SESSIONS))
    for p in at:
        factor[p:] *= 1 + size
    return prices.assign(close=prices["close"] * factor)


def test_moves_by_hand():
    # close(D) / close(D-1) = 1.001 * 1.05; close(D+1) / close(D) = 1.001
    prices = {"X": _jumps([100], 0.05)}
    moves = report_day_moves(_reports([100]), prices, TZ)
    assert moves["r_report"].iloc[0] == pytest.approx(1.001 * 1.05 - 1, rel=1e-9)
    assert moves["r_next"].iloc[0] == pytest.approx(0.001, rel=1e-9)


def test_pre_market_reports_are_seen_and_the_rule_is_not_changed():
    at = list(range(20, 20 + 12 * 15, 15))  # 12 reports, each moving the price 5 % on its date
    table = timing_diagnostics({"csv:x.csv": _reports(at)}, {"X": _jumps(at, 0.05)}, TZ)
    row = table.iloc[0]
    assert (row["n"], row["larger_on_report_day"], row["suggests"]) == (12, 12, "before_open")
    assert row["mean_abs_report_day"] == pytest.approx(1.001 * 1.05 - 1, rel=1e-9)
    assert row["mean_abs_next_day"] == pytest.approx(0.001, rel=1e-9)
    diff = np.full(12, 1.001 * 1.05 - 1 - 0.001)
    assert row["p_value"] == pytest.approx(stats.wilcoxon(diff).pvalue, rel=1e-12)
    assert (
        "suggest pre-market" in row["verdict"]
        and "unknown_timing: before_open on this source (events.sources)" in row["verdict"]
        and "(events.unknown_timing)" in row["verdict"]
    )
    assert "12 of 12 larger on report day" in row["verdict"]


def test_after_close_reports_move_the_next_session():
    at = list(range(20, 20 + 12 * 15, 15))
    table = timing_diagnostics({"s": _reports(at)}, {"X": _jumps([p + 1 for p in at], -0.04)}, TZ)
    assert table.iloc[0]["suggests"] == "after_close"
    assert table.iloc[0]["larger_on_report_day"] == 0


def test_too_few_reports_get_no_verdict_and_timed_reports_are_left_out():
    at = list(range(20, 20 + (MIN_REPORTS - 1) * 15, 15))
    events = pd.concat([_reports(at), _reports([5], timing="bmo")])
    table = timing_diagnostics({"s": events}, {"X": _jumps(at, 0.05)}, TZ)
    row = table.iloc[0]
    assert row["n"] == MIN_REPORTS - 1 and row["suggests"] == "too_few"
    assert math.isnan(row["p_value"]) and f"needs {MIN_REPORTS}" in row["verdict"]


def test_reports_without_prices_around_them_are_counted_not_lost():
    table = timing_diagnostics(
        {"s": _reports([0, len(SESSIONS) - 1, 50])}, {"X": _jumps([50], 0.05)}, TZ
    )
    assert (table.iloc[0]["n"], table.iloc[0]["n_skipped"]) == (1, 2)


def test_baba_bundled_date_only_reports_move_on_the_report_date():
    """The issue's figures: 4.33 % on the report date vs 2.46 % the next session."""
    events = load_bundled_earnings(["BABA"], CAL)
    table = timing_diagnostics({"bundled": events}, {"BABA": BundledPrices().load("BABA")}, TZ)
    row = table.iloc[0]
    assert row["n"] == (events["timing"] == "unknown").sum() == 27
    assert round(row["mean_abs_report_day"], 4) == 0.0433
    assert round(row["mean_abs_next_day"], 4) == 0.0246
    assert row["larger_on_report_day"] == 17 and row["suggests"] == "before_open"


def test_a_sources_own_unknown_timing_aligns_its_date_only_reports(tmp_path):
    """events.sources[i].unknown_timing: that source's date-only reports trade from the
    report date's open; another source's keep events.unknown_timing; run ids of configs
    that do not set it stay (tests/test_catalogue_gaps.py pins the bundled ones)."""
    from backtest.config.model import load_config
    from backtest.run.runner import run_loaded
    from tests.conftest import write_config

    config = {
        "name": "per_source",
        "data": {
            "source": "bundled",
            "tickers": ["BABA"],
            "start": "2025-01-01",
            "end": "2025-12-31",
        },
        "events": {
            "sources": [
                {
                    "type": "inline",
                    "unknown_timing": "before_open",
                    "events": [{"ticker": "BABA", "event_type": "news", "time": "2025-05-15"}],
                },
                {
                    "type": "inline",
                    "events": [{"ticker": "BABA", "event_type": "news", "time": "2025-06-16"}],
                },
            ]
        },
        "strategies": [{"name": "news_momentum"}],
        "output": {"charts": False},
    }
    path = write_config(tmp_path, config)
    events = run_loaded(load_config(path)).events.set_index("event_time")
    own = events.loc[events.index.normalize() == pd.Timestamp("2025-05-15", tz="UTC")].iloc[0]
    other = events.loc[events.index.normalize() == pd.Timestamp("2025-06-16", tz="UTC")].iloc[0]
    assert (str(own["session"].date()), own["fill_at"]) == ("2025-05-15", "open")
    assert (str(other["session"].date()), other["fill_at"]) == ("2025-06-17", "open")
    (tmp_path / "plain").mkdir()
    plain = load_config(
        write_config(
            tmp_path / "plain",
            {
                **config,
                "events": {
                    "sources": [
                        {k: v for k, v in src.items() if k != "unknown_timing"}
                        for src in config["events"]["sources"]
                    ]
                },
            },
        )
    )
    from backtest.config.model import config_hash

    # The rule changes results, so the config hash (and the run id) changes; unset, the
    # key is left out of the hash, so a config without it keeps its old id.
    assert config_hash(load_config(path).config) != config_hash(plain.config)
    dumped = plain.config.model_dump(mode="json")
    assert all("unknown_timing" in src for src in dumped["events"]["sources"])  # as None
