"""`backtest events --check`: earnings reports compared across sources (issue 4.3, 4.6).

Expected rows are derived by hand from the rules in :mod:`backtest.events.crosscheck`
and the XNYS calendar of February 2026: Thu 19, Fri 20, Mon 23, Tue 24; Fri 13,
then Presidents' Day Mon 16 (closed), Tue 17.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner
from yahoo_fake import FakeYahoo

from backtest.cli.commands import app
from backtest.config.model import config_hash, load_config
from backtest.core.errors import ConfigError, EventError
from backtest.data.cache import CACHE_ENV, ParquetCache
from backtest.data.yahoo import yfinance_module
from backtest.events.crosscheck import (
    CONFLICT,
    LESS_PRECISE,
    MISSING,
    TOLERATED,
    CheckSettings,
    compare_numbers,
    cross_check,
)
from backtest.events.table import make_event_table
from backtest.events.yahoo_earnings import YFinanceEarnings
from backtest.run.pipeline import align, load_events_and_drops, load_events_by_source, load_market
from tests.conftest import CAL, REPO, write_config

NY = "America/New_York"
NOW = pd.Timestamp("2026-02-27 22:00", tz="UTC")
CHECK_YAML = REPO / "configs" / "events_check.yaml"


def report(day: str, timing: str | None = None, ticker: str = "X", **payload) -> dict:
    """One earnings row: a bare date (with a timing) or a date and clock time."""
    return {
        "ticker": ticker,
        "event_type": "earnings",
        "event_time": pd.Timestamp(day, tz=NY),
        "timing": timing,
        **payload,
    }


def table(*rows: dict) -> pd.DataFrame:
    return make_event_table(rows, CAL)


def check(sources: dict[str, list[dict]], **settings) -> pd.DataFrame:
    by_source = {name: table(*rows) for name, rows in sources.items()}
    return cross_check(by_source, CAL, CheckSettings(**settings)).conflicts


def kinds(conflicts: pd.DataFrame) -> list[tuple[str, str, str]]:
    return list(zip(conflicts["report"], conflicts["field"], conflicts["kind"], strict=True))


# --- matching --------------------------------------------------------------------------------


def test_dates_within_the_window_are_one_report_and_beyond_it_two():
    # Feb 19 -> Feb 24 is 5 calendar days: one report, dated 3 sessions apart (20, 23, 24).
    inside = check({"a": [report("2026-02-19", "bmo")], "b": [report("2026-02-24", "bmo")]})
    assert kinds(inside) == [("2026-02-19", "date", CONFLICT)]
    assert inside.iloc[0]["values"] == {"a": "2026-02-19", "b": "2026-02-24"}
    # Feb 25 is 6 days after the anchor: two reports, each seen by one source.
    apart = check({"a": [report("2026-02-19", "bmo")], "b": [report("2026-02-25", "bmo")]})
    assert kinds(apart) == [
        ("2026-02-19", "report", "only in a"),
        ("2026-02-25", "report", "only in b"),
    ]


def test_reports_are_anchored_at_their_earliest_date_not_chained():
    # b is 4 days after a, c 4 days after b but 8 after the anchor: c starts a new report.
    out = check(
        {
            "a": [report("2026-02-19", "bmo")],
            "b": [report("2026-02-23", "bmo")],
            "c": [report("2026-02-27", "bmo")],
        }
    )
    assert kinds(out) == [("2026-02-19", "date", CONFLICT), ("2026-02-27", "report", "only in c")]


def test_a_match_window_of_zero_days_needs_the_same_date():
    out = check(
        {"a": [report("2026-02-19", "bmo")], "b": [report("2026-02-20", "bmo")]},
        match_window_days=0,
    )
    assert [k for _, _, k in kinds(out)] == ["only in a", "only in b"]


def test_tickers_are_never_matched_with_each_other():
    out = check({"a": [report("2026-02-19", "bmo", "X")], "b": [report("2026-02-19", "bmo", "Y")]})
    assert list(zip(out["ticker"], out["kind"], strict=True)) == [
        ("X", "only in a"),
        ("Y", "only in b"),
    ]


def test_identical_reports_list_nothing():
    same = [report("2026-02-19 08:30", eps_actual=2.0, eps_estimate=1.9, surprise_pct=5.26)]
    result = cross_check({"a": table(*same), "b": table(*same)}, CAL)
    assert result.conflicts.empty and result.summary.empty
    assert result.n_reports == 1 and result.reports == {"a": 1, "b": 1}


def test_a_source_repeating_a_report_is_listed_and_its_timed_copy_compared():
    out = check(
        {
            "a": [report("2026-02-19", "unknown"), report("2026-02-20 08:00")],
            "b": [report("2026-02-20 07:00")],
        }
    )
    # a's timed Feb 20 copy stands for it; it agrees with b; the vague Feb 19 row is listed.
    assert kinds(out) == [("2026-02-19", "report", "repeated in a")]
    assert out.iloc[0]["values"] == {"a": "2026-02-19"}


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day_a", "day_b", "tolerance", "kind"),
    [
        ("2026-02-19", "2026-02-20", 0, CONFLICT),  # one session apart
        ("2026-02-19", "2026-02-20", 1, TOLERATED),
        ("2026-02-19", "2026-02-23", 1, CONFLICT),  # Thu -> Mon: two sessions
        ("2026-02-13", "2026-02-17", 1, TOLERATED),  # Fri -> Tue over the holiday: one session
        ("2026-02-14", "2026-02-17", 0, TOLERATED),  # Saturday -> next session Tue: zero
    ],
)
def test_date_tolerance_is_counted_in_sessions(day_a, day_b, tolerance, kind):
    out = check(
        {"a": [report(day_a, "unknown")], "b": [report(day_b, "unknown")]},
        date_tolerance_sessions=tolerance,
    )
    assert kinds(out) == [(day_a, "date", kind)]
    assert out.iloc[0]["dates"] == {"a": day_a, "b": day_b}


# --- timing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timings", "kind"),
    [
        (("bmo", "amc"), CONFLICT),
        (("amc", "intraday"), CONFLICT),
        (("bmo", "unknown"), LESS_PRECISE),
        (("bmo", "bmo", "unknown"), LESS_PRECISE),
        (("bmo", "amc", "unknown"), CONFLICT),
    ],
)
def test_timings_conflict_only_when_two_known_ones_differ(timings, kind):
    sources = {f"s{i}": [report("2026-02-19", t)] for i, t in enumerate(timings)}
    out = check(sources)
    assert kinds(out) == [("2026-02-19", "timing", kind)]
    assert out.iloc[0]["values"] == {f"s{i}": t for i, t in enumerate(timings)}


def test_timing_from_the_clock_is_compared_like_a_stated_one():
    # 08:30 is bmo by the clock; 16:05 is amc: a conflict on one day.
    out = check({"a": [report("2026-02-19 08:30")], "b": [report("2026-02-19 16:05")]})
    assert kinds(out) == [("2026-02-19", "timing", CONFLICT)]


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "tolerance", "kind"),
    [
        ((99.0, 100.0), 1.0, TOLERATED),  # |diff| 1 = 1% of 100: the edge is inside
        ((98.9, 100.0), 1.0, CONFLICT),  # 1.1 > 1.0
        ((2.40, 2.45), 1.0, CONFLICT),  # 0.05 > 0.0245
        ((2.40, 2.45), 2.5, TOLERATED),  # 0.05 <= 0.06125
        ((2.40, 2.40), 0.0, None),
        ((2.40, 2.41), 0.0, CONFLICT),
        ((-0.05, 0.05), 100.0, CONFLICT),  # opposite signs: 0.1 > 0.05
        ((0.0, 0.0), 1.0, None),
        ((2.0, float("nan")), 1.0, MISSING),
        ((2.0, None), 1.0, MISSING),
        ((float("nan"), None), 1.0, None),
        ((2.0, 2.0, float("nan")), 1.0, MISSING),
        ((2.0, 3.0, float("nan")), 1.0, CONFLICT),  # a conflict outranks a missing value
    ],
)
def test_number_rule(values, tolerance, kind):
    assert compare_numbers(dict(enumerate(values)), tolerance) == kind


def test_eps_fields_are_compared_with_the_configured_tolerance():
    a = [report("2026-02-19 08:30", eps_actual=2.40, eps_estimate=1.97)]
    b = [report("2026-02-19 08:30", eps_actual=2.45, eps_estimate=1.97, surprise_pct=24.4)]
    out = check({"a": a, "b": b})
    assert kinds(out) == [
        ("2026-02-19", "eps_actual", CONFLICT),
        ("2026-02-19", "surprise_pct", MISSING),
    ]
    assert out.iloc[0]["values"] == {"a": 2.40, "b": 2.45}
    assert out.iloc[1]["values"] == {"a": None, "b": 24.4}
    looser = check({"a": a, "b": b}, eps_tolerance_pct=2.5)
    assert kinds(looser)[0] == ("2026-02-19", "eps_actual", TOLERATED)


def test_a_source_without_eps_columns_is_missing_not_conflicting():
    out = check(
        {"a": [report("2026-02-19", "bmo")], "b": [report("2026-02-19", "bmo", eps_actual=1.0)]}
    )
    assert kinds(out) == [("2026-02-19", "eps_actual", MISSING)]


# --- summary, period, inputs ------------------------------------------------------------------


def test_summary_counts_rows_per_field_and_kind():
    result = cross_check(
        {
            "a": table(report("2026-01-15", "bmo"), report("2026-02-19", "bmo")),
            "b": table(report("2026-01-16", "amc"), report("2026-02-19", "unknown")),
            "c": table(report("2026-03-20", "bmo")),
        },
        CAL,
    )
    counts = {(f, k): n for f, k, n in result.summary.itertuples(index=False)}
    assert counts == {
        ("date", CONFLICT): 1,
        ("timing", CONFLICT): 1,
        ("timing", LESS_PRECISE): 1,
        ("report", "only in c"): 1,
    }
    assert result.n_conflicts == 2 and result.n_reports == 3
    assert result.reports == {"a": 2, "b": 2, "c": 1}


def test_period_keeps_reports_by_their_earliest_date():
    by_source = {
        "a": table(report("2026-01-30", "bmo"), report("2026-02-19", "bmo")),
        "b": table(report("2026-02-02", "bmo")),  # same report as a's Jan 30 (3 days later)
    }
    result = cross_check(by_source, CAL, start=pd.Timestamp("2026-02-01").date())
    # The Jan 30 / Feb 2 report starts before the period: left out whole, not split.
    assert kinds(result.conflicts) == [("2026-02-19", "report", "only in a")]
    assert result.reports == {"a": 1, "b": 0}


def test_news_rows_and_empty_sources_are_ignored_and_inputs_unchanged():
    news = make_event_table(
        [{"ticker": "X", "event_type": "news", "event_time": pd.Timestamp("2026-02-19", tz=NY)}],
        CAL,
    )
    earnings = table(report("2026-02-19", "bmo"))
    before = (news.copy(), earnings.copy())
    result = cross_check({"news": news, "none": earnings.iloc[:0], "e": earnings}, CAL)
    assert kinds(result.conflicts) == [("2026-02-19", "report", "only in e")]
    pd.testing.assert_frame_equal(news, before[0])
    pd.testing.assert_frame_equal(earnings, before[1])
    nothing = cross_check({"news": news}, CAL)
    assert nothing.conflicts.empty and nothing.n_reports == 0


# --- config -----------------------------------------------------------------------------------


def test_check_block_defaults_validation_and_run_id(tmp_path):
    loaded = load_config(CHECK_YAML)
    assert loaded.config.events.check.eps_tolerance_pct == 1.0
    baseline = load_config(CHECK_YAML, ["events.check.date_tolerance_sessions=0"])
    changed = load_config(CHECK_YAML, ["events.check.date_tolerance_sessions=3"])
    assert changed.config.events.check.date_tolerance_sessions == 3
    # Tolerances change no backtest result, so they leave the run id alone.
    assert config_hash(baseline.config) == config_hash(changed.config)
    with pytest.raises(ConfigError, match="events.check.eps_tolerance_pct"):
        load_config(CHECK_YAML, ["events.check.eps_tolerance_pct=-1"])
    with pytest.raises(ConfigError, match="match_windw_days.*match_window_days"):
        load_config(CHECK_YAML, ["events.check.match_windw_days=3"])


# --- the realistic example and the CLI --------------------------------------------------------


def test_example_config_lists_the_planted_disagreements_and_a_run_would_raise():
    loaded = load_config(CHECK_YAML)
    by_source = load_events_by_source(loaded, CAL)
    assert list(by_source) == ["bundled", "csv:my_earnings.csv"]
    start, end = loaded.config.data.start, loaded.config.data.end
    result = cross_check(by_source, CAL, CheckSettings(), start, end)
    # The planted rows of configs/my_earnings.csv (see configs/events_check.yaml) against
    # the bundled BABA rows 2023-02-23, 05-18, 08-10 (EPS 1.97/2.40, surprise 21.83),
    # 2025-05-15, 2025-11-25, 2026-02-19 (all bmo from 2023-08-10 on).
    assert kinds(result.conflicts) == [
        ("2023-02-23", "report", "only in bundled"),
        ("2023-05-18", "report", "only in bundled"),
        ("2023-08-10", "eps_actual", CONFLICT),
        ("2023-08-10", "surprise_pct", MISSING),
        ("2024-05-14", "report", "only in csv:my_earnings.csv"),
        ("2025-05-14", "date", CONFLICT),
        ("2025-11-25", "timing", CONFLICT),
    ]
    # A run (and plain `backtest events`) stops at the alignment on the first conflict:
    # the date one session off is one report within events.dedupe_days.
    events, _ = load_events_and_drops(loaded, CAL)
    prices, _ = load_market(loaded, CAL)
    with pytest.raises(EventError, match=r"^BABA: earnings events BABA-earnings-2025-05-14 "):
        align(loaded, events, prices, CAL, NOW)
    # With events.dedupe: earliest it runs, keeping the copy of each report tradable first.
    earliest = load_config(CHECK_YAML, ["events.dedupe=earliest"])
    _, drops = align(earliest, events, prices, CAL, NOW)
    conflicts = drops[drops["reason"] == "duplicate_conflict"]["event_id"].tolist()
    assert conflicts == ["BABA-earnings-2025-05-15T123000Z", "BABA-earnings-2025-11-25"]


def test_cli_check_prints_counts_and_table_and_exits_0():
    result = CliRunner().invoke(app, ["events", str(CHECK_YAML), "--check"])
    assert result.exit_code == 0, result.output
    assert "Cross-check: counts" in result.output
    assert "3 conflict(s), 4 other difference(s)" in result.output
    # --date-tolerance 1 turns the one-session date difference into a tolerated one.
    looser = CliRunner().invoke(
        app, ["events", str(CHECK_YAML), "--check", "--date-tolerance", "1"]
    )
    assert looser.exit_code == 0 and "2 conflict(s), 5 other difference(s)" in looser.output
    assert "within tolerance" in looser.output
    looser = CliRunner().invoke(app, ["events", str(CHECK_YAML), "--check", "--eps-tolerance", "3"])
    assert "2 conflict(s), 5 other difference(s)" in looser.output
    # The same config without --check stops where a run would.
    plain = CliRunner().invoke(app, ["events", str(CHECK_YAML)])
    assert isinstance(plain.exception, EventError)


def test_cli_check_rejects_a_non_earnings_type_and_bad_tolerances():
    bad_type = CliRunner().invoke(app, ["events", str(CHECK_YAML), "--check", "--type", "news"])
    assert bad_type.exit_code == 2 and "earnings" in bad_type.output
    negative = CliRunner().invoke(
        app, ["events", str(CHECK_YAML), "--check", "--eps-tolerance", "-1"]
    )
    assert negative.exit_code == 2


def test_cli_check_process_output_names_every_source_and_period():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "backtest",
            "events",
            str(CHECK_YAML),
            "--check",
            "--end",
            "2024-12-31",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert (
        "earnings reports 2023-01-01 to 2024-12-31: 4 (bundled 3, csv:my_earnings.csv 2)"
        in out.stdout
    )
    assert "2025-05-14" not in out.stdout  # after --end


def test_cli_events_filters_by_date_and_shows_the_source():
    args = ["events", str(REPO / "configs" / "baba_2026.yaml"), "--start", "2026-02-01"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "BABA-earnings-2026-02-19T133000Z" in out.output
    assert "BABA-news-2026-01-13" not in out.output  # tradable 2026-01-13, before --start
    assert "source" in out.output and "bundled:" in out.output
    early = CliRunner().invoke(app, [*args[:2], "--end", "2026-01-31", "--type", "news"])
    assert "BABA-news-2026-01-13T134204Z" in early.output
    assert "BABA-earnings-2026-02-19" not in early.output


# --- bundled + Yahoo (recorded payloads) + CSV ------------------------------------------------


@pytest.fixture
def yahoo_cache(tmp_path, monkeypatch):
    """BABA's Yahoo earnings vintages in a fresh cache, fetched from the fake Yahoo."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    yf = yfinance_module(tmp_path / "cache")
    yf.data.YfData._instances.clear()
    yf.data.YfData.cache_get.cache_clear()
    source = YFinanceEarnings(
        ParquetCache(tmp_path / "cache"),
        CAL,
        session=FakeYahoo(),
        sleep=[].append,
        clock=lambda: NOW,
    )
    source.vintages("BABA")
    yield tmp_path / "cache"
    yf.data.YfData._instances.clear()


MY_CSV = """ticker,report_date,timing,eps_estimate,eps_actual
BABA,2025-02-20,amc,,
BABA,2025-08-28,amc,,
BABA,2025-11-25,bmo,2.05,2.10
"""


def test_bundled_yahoo_and_csv_in_one_check(tmp_path, yahoo_cache):
    (tmp_path / "mine.csv").write_text(MY_CSV)
    config = {
        "data": {
            "tickers": ["BABA"],
            "start": "2025-01-01",
            "cache_dir": str(yahoo_cache),
            "offline": True,
        },
        "events": {
            "sources": [
                {"type": "bundled_earnings"},
                {"type": "yfinance_earnings"},
                {"type": "csv", "path": "mine.csv", "timezone": NY},
            ]
        },
        "strategies": [{"name": "earnings_hold"}],
        "benchmarks": ["BABA"],
    }
    loaded = load_config(write_config(tmp_path, config))
    by_source = load_events_by_source(loaded, CAL)
    result = cross_check(by_source, CAL, CheckSettings(), loaded.config.data.start)
    # Yahoo's rows (tests/fixtures/yahoo): 2025-02-20 "6 AM" bmo (2.50/2.80/+12),
    # 2025-05-15 "12 AM" unknown, 2025-08-28 "8 PM EDT" read as date-only 2025-08-29,
    # 2025-11-25 "8 AM" bmo (2.00/2.10/+5), 2026-02-19 bmo, 2026-05-14 bmo (future, estimate
    # only). Bundled: 2025-05-15, 2025-11-25, 2026-02-19, all 08:30 bmo, no EPS.
    conflicts = result.conflicts.set_index(["report", "field"])
    assert conflicts.loc[("2025-02-20", "timing"), "values"] == {
        "yfinance": "bmo",
        "csv:mine.csv": "amc",
    }
    assert conflicts.loc[("2025-05-15", "timing"), "kind"] == LESS_PRECISE
    assert conflicts.loc[("2025-08-28", "date"), "values"] == {
        "yfinance": "2025-08-29",
        "csv:mine.csv": "2025-08-28",
    }  # the yfinance #2365 one-day shift, one session apart
    assert conflicts.loc[("2025-08-28", "timing"), "kind"] == LESS_PRECISE
    assert conflicts.loc[("2025-11-25", "eps_estimate"), "values"] == {
        "bundled": None,
        "yfinance": 2.00,
        "csv:mine.csv": 2.05,
    }  # 2.5% apart: a conflict, which outranks bundled's missing value
    assert conflicts.loc[("2026-05-14", "report"), "kind"] == "only in yfinance"
    counts = {(f, k): n for f, k, n in result.summary.itertuples(index=False)}
    assert counts == {
        ("date", CONFLICT): 1,
        ("timing", CONFLICT): 1,
        ("timing", LESS_PRECISE): 2,
        ("eps_estimate", CONFLICT): 1,
        ("eps_estimate", MISSING): 4,  # 02-20, 05-15, 08-28, 02-19 (05-14 has one source)
        ("eps_actual", MISSING): 5,  # the five matched reports
        ("surprise_pct", MISSING): 5,
        ("report", "only in yfinance"): 1,
    }
    assert result.reports == {"bundled": 3, "yfinance": 6, "csv:mine.csv": 3}
    # The normal path stops on the 2025-02-20 timing conflict; the check above did not.
    events, _ = load_events_and_drops(loaded, CAL)
    prices, _ = load_market(loaded, CAL)
    with pytest.raises(
        EventError, match=r"tradable at 2025-02-20 open\) and .* tradable at 2025-02-21 open"
    ):
        align(loaded, events, prices, CAL, NOW)
