"""RELIABILITY.md entries that had no test feeding the bad input: one test each (issue 6.2).

Each test names its catalogue id. Errors are asserted with their exact class and
message; drops with their reason code. ``tests/CATALOGUE.md`` maps every id to
its test; ``tests/test_catalogue.py`` keeps that table honest.
"""

from __future__ import annotations

import copy
import logging
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backtest.config.model import config_hash, load_config
from backtest.core.errors import (
    DataIntegrityError,
    DataUnavailable,
    EventError,
    LookAheadError,
    StrategyError,
)
from backtest.core.sessions import session_instant
from backtest.data.files import FilePrices
from backtest.data.prices import apply_basis, load_prices
from backtest.data.synthetic import geometric_prices
from backtest.data.validate import validate_prices
from backtest.events.align import DATA_LOSS_REASONS, align_events
from backtest.events.table import make_event_table
from backtest.run import pipeline
from backtest.run.pipeline import run_strategy
from backtest.run.runner import backtest_inputs, load_inputs, run_loaded
from backtest.strategy.signals import MarketView, StrategyParams, check_signals, register
from tests.conftest import CAL, SESSIONS, base_config, write_config, write_prices
from tests.oracle_engine import oracle_run
from tests.test_invariants import SAME_DAY, events_st, make_events, random_walk
from tests.test_pipeline import EARNINGS, HOLD, MOMENTUM, NEWS
from tests.test_properties import simulated

NY = "America/New_York"
FAR = pd.Timestamp("2200-01-01", tz="UTC")
FIVE = SESSIONS[:5]  # 2026-01-02, 05, 06, 07, 08


def run_config(tmp_path, data: dict, now: pd.Timestamp = FAR):
    return run_loaded(load_config(write_config(tmp_path, data)), now)


def reasons(result) -> dict[str, str]:
    return result.drops.set_index("event_id")["reason"].to_dict()


# ---------------------------------------------------------------- 4.1 config


def test_c5_negative_fee_names_path_value_and_allowed_range(tmp_path, market):
    data = base_config(market, [NEWS], [MOMENTUM], fees_bps=-1)
    path = write_config(tmp_path, data)
    with pytest.raises(Exception) as info:
        load_config(path)
    assert type(info.value).__name__ == "ConfigError"
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "fees_bps" in t)
    assert str(info.value) == (
        f"{path}:{line}:3: engine.fees_bps: Input should be greater than or equal to 0, got -1"
    )


def test_c8_missing_event_file_is_reported_with_its_absolute_path(tmp_path, market):
    data = base_config(market, [NEWS], [MOMENTUM])
    data["events"]["sources"] = [{"type": "csv", "path": "events/missing.csv"}]
    with pytest.raises(EventError) as info:
        run_config(tmp_path, data)
    assert str(info.value) == f"event file not found: {tmp_path / 'events' / 'missing.csv'}"


# ---------------------------------------------------------------- 4.2 prices


def test_p3_all_nan_rows_are_dropped_and_counted():
    frame = geometric_prices(FIVE)
    frame.loc[FIVE[2], ["open", "high", "low", "close"]] = np.nan
    clean, report = validate_prices(frame, "A", CAL)
    assert list(clean.index) == [FIVE[0], FIVE[1], FIVE[3], FIVE[4]]
    assert report.dropped == {"all_nan_row": 1} and report.rows_out == 4


def test_p3_nan_inside_an_event_window_drops_the_event_as_price_nan_in_window(tmp_path, market):
    frame = pd.read_csv(market / "A.csv", index_col="date", parse_dates=True)
    frame.loc["2026-01-14", "close"] = np.nan  # inside the news trade's 3-session window
    write_prices(market, {"A": frame})
    result = run_config(tmp_path, base_config(market, [NEWS], [MOMENTUM]))
    assert result.trades.empty
    drop = result.drops.set_index("event_id").loc["A-news-2026-01-13T134204Z"]
    assert (drop["stage"], drop["reason"]) == ("signals", "price_nan_in_window")
    assert drop["detail"] == "a session of the holding window has a NaN or missing price"


def test_p4_the_bar_of_a_session_still_open_is_dropped(tmp_path):
    folder = write_prices(tmp_path / "p", {"A": geometric_prices(FIVE)})
    during = pd.Timestamp("2026-01-08 15:00", tz="UTC")  # 10:00 New York, the 8th is open
    prices, reports = load_prices(FilePrices(folder), ["A"], "raw", CAL, now=during)
    assert prices["A"].index[-1] == FIVE[3]
    assert reports[0].dropped == {"unfinished_bar": 1}
    closed = pd.Timestamp("2026-01-08 21:00", tz="UTC")  # the close itself: finished
    prices, reports = load_prices(FilePrices(folder), ["A"], "raw", CAL, now=closed)
    assert prices["A"].index[-1] == FIVE[4] and reports[0].dropped == {}


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("open", 0.0, "non-positive price"),
        ("low", 200.0, "high below low"),
        ("open", 150.0, "open outside [low, high]"),
        ("close", 50.0, "close outside [low, high]"),
    ],
)
def test_p5_impossible_bars_raise_naming_ticker_date_and_check(column, value, what):
    frame = geometric_prices(FIVE, start=100.0, growth=0.0, gap=0.0)  # every bar 100, 100.5, 99.5
    frame.loc[FIVE[2], column] = value
    row = frame.loc[FIVE[2], ["open", "high", "low", "close"]].to_dict()
    with pytest.raises(DataIntegrityError) as info:
        validate_prices(frame, "A", CAL)
    assert str(info.value) == f"A: {what} on 2026-01-06 ({row}); fix or remove that row"


def test_p6_identical_duplicates_are_dropped_and_counted():
    frame = geometric_prices(FIVE)
    doubled = pd.concat([frame, frame.iloc[[1]]]).sort_index(kind="stable")
    clean, report = validate_prices(doubled, "A", CAL)
    pd.testing.assert_frame_equal(clean, frame, check_freq=False)
    assert report.dropped == {"duplicate_row": 1}


def test_p6_conflicting_duplicates_raise():
    frame = geometric_prices(FIVE)
    other = frame.iloc[[1]].assign(close=frame["close"].iloc[1] * 1.001)
    doubled = pd.concat([frame, other]).sort_index(kind="stable")
    with pytest.raises(DataIntegrityError) as info:
        validate_prices(doubled, "A", CAL)
    assert str(info.value) == (
        "A: 2026-01-05 appears twice with different prices; "
        "fix the source file (which row is right cannot be guessed)"
    )


def test_p7_unsorted_index_is_sorted_with_a_warning():
    frame = geometric_prices(FIVE)
    shuffled = frame.iloc[[3, 0, 4, 1, 2]]
    with pytest.warns(UserWarning, match=r"^A: price index was not sorted; sorted it$"):
        clean, report = validate_prices(shuffled, "A", CAL)
    pd.testing.assert_frame_equal(clean, frame, check_freq=False)
    assert report.notes == ["index sorted"] and report.dropped == {}


def test_p8_an_exchange_tz_aware_index_becomes_the_same_session_dates():
    frame = geometric_prices(FIVE)
    aware = frame.tz_localize(NY)
    clean, _ = validate_prices(aware, "A", CAL)
    pd.testing.assert_frame_equal(clean, frame, check_freq=False)
    assert clean.index.tz is None


def test_p8_mixed_utc_offsets_in_a_price_file_raise(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "A.csv").write_text(
        "date,open,high,low,close,volume\n"
        "2026-01-05T00:00:00-05:00,100,101,99,100,1\n"
        "2026-01-06T00:00:00+00:00,100,101,99,100,1\n"
    )
    with pytest.raises(DataIntegrityError) as info:
        validate_prices(FilePrices(folder).load("A"), "A", CAL)
    assert "A.csv" in str(info.value) and "one UTC offset" in str(info.value)


def test_p10_adjusted_basis_without_adj_close_is_refused():
    with pytest.raises(DataUnavailable) as info:
        apply_basis(geometric_prices(FIVE), "adjusted", "A")
    assert str(info.value) == (
        "no data for A: adjusted prices requested but adj_close is missing for "
        "some sessions; use data.price_basis: raw"
    )


def test_p12_prices_ending_inside_the_window_drop_the_event(tmp_path, market):
    late = {**NEWS, "time": "2026-03-30 08:00", "timezone": NY}  # 3 sessions from 03-30: no 04-01
    result = run_config(tmp_path, base_config(market, [late], [MOMENTUM]))
    assert result.trades.empty
    drop = result.drops.set_index("event_id").loc["A-news-2026-03-30T120000Z"]
    assert (drop["stage"], drop["reason"]) == ("signals", "window_incomplete")


def test_p13_a_missing_ticker_stops_the_run_by_default(tmp_path, market):
    data = base_config(market, [NEWS], [MOMENTUM])
    data["data"]["tickers"] = ["A", "GONE"]
    with pytest.raises(DataUnavailable) as info:
        run_config(tmp_path, data)
    assert str(info.value) == f"no data for GONE: no GONE.csv or GONE.parquet in {market}"


def test_p13_on_missing_ticker_skip_runs_on_and_records_survivorship(tmp_path, market):
    data = base_config(market, [NEWS, {**NEWS, "ticker": "GONE"}], [MOMENTUM])
    data["data"].update(tickers=["A", "GONE"], on_missing_ticker="skip")
    result = run_config(tmp_path, data)
    assert result.trades["ticker"].tolist() == ["A"]
    assert reasons(result) == {"GONE-news-2026-01-13T134204Z": "ticker_missing"}
    (skipped,) = [r for r in result.validation if r.ticker == "GONE"]
    assert skipped.notes == [
        f"skipped: no data for GONE: no GONE.csv or GONE.parquet in {market}; results have "
        "survivorship bias (a delisted or renamed ticker's events are missing, see drops "
        "ticker_missing)"
    ]


def test_p13_skip_never_skips_a_benchmark(tmp_path, market):
    data = base_config(market, [NEWS], [MOMENTUM])
    data["data"]["on_missing_ticker"] = "skip"
    data["benchmarks"] = ["NOBENCH"]
    with pytest.raises(DataUnavailable, match=r"^no data for NOBENCH: "):
        run_config(tmp_path, data)


# ---------------------------------------------------------------- 4.3 events


def _aligned(rows: list[dict], prices: pd.DataFrame, now=FAR, fill="next_open"):
    events = make_event_table(rows, CAL)
    return align_events(events, {"A": prices}, CAL, fill, now=now)


def _report(day: str, source: str, timing: str | None = None, ticker: str = "A") -> dict:
    row = {"ticker": ticker, "event_type": "earnings", "source": source}
    row["event_time"] = pd.Timestamp(day, tz=NY)
    return {**row, "timing": timing} if timing else row


def _dups(drops: pd.DataFrame) -> dict[str, tuple[str, str]]:
    mine = drops[drops["reason"].str.startswith("duplicate")]
    return {e: (r, d) for e, r, d in mine[["event_id", "reason", "detail"]].itertuples(False)}


def test_e3_two_sources_timing_one_report_differently_raise():
    rows = [_report("2026-02-19 08:00", "a"), _report("2026-02-19 16:30", "b")]
    with pytest.raises(EventError) as info:
        _aligned(rows, geometric_prices(SESSIONS))
    assert str(info.value) == (
        "A: earnings events A-earnings-2026-02-19T130000Z (source a, tradable at "
        "2026-02-19 open) and A-earnings-2026-02-19T213000Z (source b, tradable at "
        "2026-02-20 open) are copies of one report (dated within events.dedupe_days = 5 "
        "days) but disagree on when it became tradable; remove one of them from your event "
        "sources, or set events.dedupe: earliest to trade the earliest copy"
    )


def test_e3_same_session_different_fill_points_raise():
    rows = [_report("2026-02-19", "a", "bmo"), _report("2026-02-19 12:00", "b")]
    with pytest.raises(EventError, match=r"^A: earnings events A-earnings-2026-02-19 \(source a"):
        _aligned(rows, geometric_prices(SESSIONS), fill="same_close")


def test_e3_copies_days_apart_from_two_sources_are_one_report():
    # Thursday date-only (after the close: Friday open) and Friday before the open: one point.
    rows = [
        _report("2026-02-19", "csv"),
        _report("2026-02-20 08:00", "yahoo"),
        _report("2026-02-23", "bundled", "bmo"),  # Monday open: 4 days later, a conflict
    ]
    events = make_event_table(rows, CAL)
    aligned, drops = align_events(
        events, {"A": geometric_prices(SESSIONS)}, CAL, now=FAR, dedupe="earliest"
    )
    assert aligned["event_id"].tolist() == ["A-earnings-2026-02-20T130000Z"]
    assert _dups(drops) == {
        "A-earnings-2026-02-19": (
            "duplicate",
            "same report as A-earnings-2026-02-20T130000Z (source yahoo), tradable at the "
            "same 2026-02-20 open",
        ),
        "A-earnings-2026-02-23": (
            "duplicate_conflict",
            "same report as A-earnings-2026-02-20T130000Z (source yahoo), tradable at "
            "2026-02-20 open; this copy (source bundled) was tradable at 2026-02-23 open; "
            "events.dedupe: earliest kept the earlier",
        ),
    }


def test_e3_identical_copies_keep_the_timed_one_whatever_the_row_order():
    rows = [_report("2026-02-19", "vague"), _report("2026-02-19 16:30", "timed")]
    for order in (rows, rows[::-1]):
        aligned, drops = _aligned(order, geometric_prices(SESSIONS))
        assert aligned["event_id"].tolist() == ["A-earnings-2026-02-19T213000Z"]
        assert _dups(drops) == {
            "A-earnings-2026-02-19": (
                "duplicate",
                "same report as A-earnings-2026-02-19T213000Z (source timed), which gives "
                "its time of day",
            )
        }


def test_e3_reports_further_apart_than_the_window_are_both_kept():
    rows = [_report("2026-02-12", "a", "bmo"), _report("2026-02-18", "b", "bmo")]  # 6 days
    aligned, drops = _aligned(rows, geometric_prices(SESSIONS))
    assert len(aligned) == 2 and _dups(drops) == {}
    events = make_event_table(rows, CAL)
    with pytest.raises(EventError, match="dedupe_days = 6 days"):
        align_events(events, {"A": geometric_prices(SESSIONS)}, CAL, now=FAR, dedupe_days=6)


def test_e3_window_zero_is_the_same_day_rule():
    rows = [_report("2026-02-19", "a", "bmo"), _report("2026-02-20", "b", "bmo")]
    events = make_event_table(rows, CAL)
    aligned, _ = align_events(
        events, {"A": geometric_prices(SESSIONS)}, CAL, now=FAR, dedupe_days=0
    )
    assert len(aligned) == 2
    with pytest.raises(EventError, match="A-earnings-2026-02-19 .* A-earnings-2026-02-20"):
        _aligned(rows, geometric_prices(SESSIONS))


def test_e3_earliest_keeps_the_earliest_point_not_the_first_row():
    rows = [_report("2026-02-19 16:30", "late"), _report("2026-02-19 08:00", "early")]
    events = make_event_table(rows, CAL)
    aligned, drops = align_events(
        events, {"A": geometric_prices(SESSIONS)}, CAL, now=FAR, dedupe="earliest"
    )
    assert aligned["source"].tolist() == ["early"]
    assert {r for r, _ in _dups(drops).values()} == {"duplicate_conflict"}
    assert "duplicate_conflict" not in DATA_LOSS_REASONS  # a policy, not lost data


def test_e3_news_and_analyst_events_are_never_merged():
    rows = [
        {"ticker": "A", "event_type": kind, "event_time": pd.Timestamp(day, tz=NY)}
        for kind in ("news", "analyst")
        for day in ("2026-02-19 08:00", "2026-02-19 16:30", "2026-02-20 10:00")
    ]
    aligned, drops = _aligned(rows, geometric_prices(SESSIONS))
    assert len(aligned) == 6 and drops.empty


def test_e3_new_keys_change_the_run_id_only_when_set(tmp_path, market):
    def run_id(*sets: str) -> str:
        path = write_config(tmp_path, base_config(market, [EARNINGS], [HOLD]))
        return run_loaded(load_config(path, list(sets)), FAR).run_id

    plain = run_id()
    assert run_id("events.dedupe=error", "events.dedupe_days=5") == plain
    assert run_id("events.dedupe=earliest") != plain
    assert run_id("events.dedupe_days=0") != plain


def test_e3_bundled_configs_keep_their_config_hashes():
    # Computed before events.dedupe and events.dedupe_days existed. The run id hashes the
    # config without output: (plus data fingerprints), so that part is pinned: `backtest run`
    # gave the same ids and trades before/after. (The full hash in manifest.json also hashes
    # output:, and moved when output.if_exists's default became replace, issue 19; these
    # values are main's before that change, recomputed with output left out.)
    hashes = {
        "baba_2026": "33a5f884e4cb",
        "compare_six": "52ea42a40558",
        "earnings_season": "5eb4cf043aac",
        "events_check": "2dce1ac0bd62",
    }
    found = {
        name: config_hash(load_config(f"configs/{name}.yaml").config, exclude={"output"})
        for name in hashes
    }
    assert found == hashes


E3_MIX_CSV = "ticker,report_date,timing,source\nBABA,2026-02-20,bmo,my_notes\n"


def _e3_mix(tmp_path, dedupe: str | None) -> dict:
    (tmp_path / "mine.csv").write_text(E3_MIX_CSV)
    inline = {"ticker": "BABA", "event_type": "earnings", "time": "2025-11-24", "source": "inline"}
    events: dict = {
        "sources": [
            {"type": "bundled_earnings", "tickers": ["BABA"]},
            {"type": "csv", "path": "mine.csv", "timezone": NY, "event_type": "earnings"},
            {"type": "inline", "events": [inline]},
        ],
        **({"dedupe": dedupe} if dedupe else {}),
    }
    return {
        "name": "e3_mix",
        "data": {"source": "bundled", "tickers": ["BABA"], "start": "2025-10-01"},
        "events": {**events, "max_drop_pct": 100},
        "strategies": [HOLD],
        "engine": {"fees_bps": 0, "slippage_bps": 0},
        "benchmarks": ["BABA"],
        "output": {"charts": False},
    }


def test_e3_csv_bundled_and_inline_copies_of_reports(tmp_path):
    with pytest.raises(EventError) as info:
        run_config(tmp_path, _e3_mix(tmp_path, None))
    assert str(info.value).startswith(
        "BABA: earnings events BABA-earnings-2026-02-19T133000Z (source "
        "bundled:earniac:asof2026-02-08:0830EST, tradable at 2026-02-19 open) and "
        "BABA-earnings-2026-02-20 (source my_notes, tradable at 2026-02-20 open) are copies"
    )
    result = run_config(tmp_path, _e3_mix(tmp_path, "earliest"))
    found = {e: r for e, (r, _) in _dups(result.drops).items()}
    assert found == {
        "BABA-earnings-2025-11-24": "duplicate",  # date-only: the 11-25 open, like bundled's bmo
        "BABA-earnings-2026-02-20": "duplicate_conflict",
    }
    assert set(result.trades["event_id"]) >= {
        "BABA-earnings-2025-11-25T133000Z",
        "BABA-earnings-2026-02-19T133000Z",
    }


def test_e5_an_event_after_the_runs_clock_is_dropped_as_future():
    rows = [
        {"ticker": "A", "event_type": "news", "event_time": pd.Timestamp("2026-03-02 08:00", tz=NY)}
    ]
    aligned, drops = _aligned(
        rows, geometric_prices(SESSIONS), now=pd.Timestamp("2026-03-01", tz="UTC")
    )
    assert aligned.empty
    assert drops[["event_id", "stage", "reason", "detail"]].values.tolist() == [
        [
            "A-news-2026-03-02T130000Z",
            "align",
            "future_event",
            "published after the run's clock; not yet known",
        ]
    ]


DATE_ONLY = {"ticker": "A", "event_type": "earnings", "time": "2026-02-19"}  # no timing: unknown
DAY_TRADE = {  # enter at the reaction session's open, exit at its close
    "name": "earnings_hold",
    "params": {"entry_offset": 0, "entry_at": "open", "exit_offset": 0, "exit_at": "close"},
}


@pytest.mark.parametrize(
    ("unknown_timing", "session", "rule"),
    [
        (None, "2026-02-20", "unknown -> next open"),
        ("after_close", "2026-02-20", "unknown -> next open"),
        ("before_open", "2026-02-19", "unknown as before_open -> same open"),
    ],
)
def test_e4_unknown_time_of_day_trades_after_close_unless_configured(
    tmp_path, market, unknown_timing, session, rule
):
    data = base_config(market, [DATE_ONLY], [DAY_TRADE])
    if unknown_timing:
        data["events"]["unknown_timing"] = unknown_timing
    result = run_config(tmp_path, data)
    event = result.events.iloc[0]
    assert (event["timing"], str(event["session"].date()), event["align_rule"]) == (
        "unknown",
        session,
        rule,
    )
    trade = result.trades.iloc[0]
    assert trade["entry_time"] == session_instant(CAL, pd.Timestamp(session), "open")
    assert trade["exit_time"] == session_instant(CAL, pd.Timestamp(session), "close")


def test_e4_before_open_changes_the_run_id_and_the_default_keeps_it(tmp_path, market):
    def run_id(*sets: str) -> str:
        path = write_config(tmp_path, base_config(market, [DATE_ONLY], [DAY_TRADE]))
        return run_loaded(load_config(path, list(sets)), FAR).run_id

    plain = run_id()
    assert run_id("events.unknown_timing=after_close") == plain
    assert run_id("events.unknown_timing=before_open") != plain


def test_e4_before_open_is_not_reported_as_look_ahead_by_the_audit(tmp_path, market):
    """The audit checks decisions against the alignment rule in force and the stamps it
    has; a date-only stamp cannot show that a report came out after the open, so the
    optimistic option passes `backtest check` (documented in configs/example.yaml)."""
    from backtest.audit import run_audit

    data = base_config(market, [DATE_ONLY, {**DATE_ONLY, "time": "2026-03-05"}], [DAY_TRADE])
    data["events"]["unknown_timing"] = "before_open"
    report = run_audit(load_config(write_config(tmp_path, data)), cuts=4)
    assert report.clean, report.findings
    assert report.summary.set_index("strategy")["decisions"].to_dict() == {"earnings_hold": 2}


def test_e6_naive_clock_times_in_a_user_csv_are_rejected(tmp_path, market):
    (tmp_path / "events.csv").write_text("ticker,event_time\nA,2026-01-13 14:42\n")
    data = base_config(market, [NEWS], [MOMENTUM])
    data["events"]["sources"] = [{"type": "csv", "path": "events.csv"}]
    with pytest.raises(EventError) as info:
        run_config(tmp_path, data)
    assert str(info.value) == (
        f"{tmp_path / 'events.csv'}:2: event_time: event time '2026-01-13 14:42' has a clock "
        "time but no "
        "time zone; add timezone: (e.g. America/New_York) or a UTC offset"
    )


def test_e6_a_declared_timezone_makes_the_same_csv_valid(tmp_path, market):
    (tmp_path / "events.csv").write_text("ticker,event_time\nA,2026-01-13 14:42\n")
    data = base_config(market, [NEWS], [MOMENTUM])
    data["events"]["sources"] = [
        {"type": "csv", "path": "events.csv", "timezone": "Europe/Berlin", "event_type": "news"}
    ]
    result = run_config(tmp_path, data)
    assert result.events["event_time"].tolist() == [pd.Timestamp("2026-01-13 13:42", tz="UTC")]


def test_e8_overlapping_windows_skip_the_later_event_or_allow_both(tmp_path, market):
    second = {**NEWS, "time": "14.01.2026 14:42:04"}  # next day: inside the first 3-session hold
    skipped = run_config(tmp_path, base_config(market, [NEWS, second], [MOMENTUM]))
    assert skipped.trades["event_id"].tolist() == ["A-news-2026-01-13T134204Z"]
    drop = skipped.drops.set_index("event_id").loc["A-news-2026-01-14T134204Z"]
    assert (drop["reason"], drop["detail"]) == (
        "overlap",
        "window overlaps an earlier trade in the same ticker",
    )
    data = base_config(market, [NEWS, second], [MOMENTUM])
    data["events"]["overlap"] = "allow"
    assert len(run_config(tmp_path, data).trades) == 2


def _open(i: int) -> float:
    """Open of session i of the fixture market: close[i - 1] * 1.002, close[i] = 100 * 1.01**i."""
    return 100 * 1.01 ** (i - 1) * 1.002


@pytest.mark.parametrize("engine", ["vectorbt", "oracle"])
def test_e8_truncate_closes_the_earlier_trade_at_the_later_entry(
    tmp_path, market, engine, monkeypatch
):
    # Both articles are pre-market (08:42 New York): entries at the opens of Jan 13
    # (session 7) and Jan 14 (session 8); each planned to hold to the close of its
    # third session (Jan 15, session 9; Jan 16, session 10).
    second = {**NEWS, "time": "14.01.2026 14:42:04"}
    data = base_config(market, [NEWS, second], [MOMENTUM])
    if engine == "oracle":  # the hand-checkable loop of tests/oracle_engine.py
        monkeypatch.setattr(pipeline, "simulate", oracle_run)
    data["events"]["overlap"] = "truncate"
    result = run_config(tmp_path, data)
    trades = result.trades.set_index("event_id")
    first, later = trades.loc["A-news-2026-01-13T134204Z"], trades.loc["A-news-2026-01-14T134204Z"]
    # The earlier exits at the later's entry fill: Jan 14 open, same price.
    assert first["exit_time"] == later["entry_time"] == pd.Timestamp("2026-01-14 14:30", tz="UTC")
    assert first["exit_price"] == pytest.approx(_open(8), rel=1e-12)
    assert first["exit_price"] == pytest.approx(later["entry_price"], rel=1e-12)
    assert first["gross_return"] == pytest.approx(0.01, rel=1e-9)  # open 7 -> open 8
    assert first["exit_reason"] == "truncated"
    # The later keeps its own plan: Jan 16 close.
    assert later["exit_time"] == pd.Timestamp("2026-01-16 21:00", tz="UTC")
    assert later["exit_price"] == pytest.approx(100 * 1.01**10, rel=1e-12)
    assert later["gross_return"] == pytest.approx(1.01**3 / 1.002 - 1, rel=1e-9)
    assert later["exit_reason"] == "time"
    assert result.drops.empty or "overlap" not in set(result.drops["reason"])


def test_e8_truncate_drops_a_later_trade_entering_at_the_same_fill(tmp_path, market):
    # 07:00 and 08:42 New York on Jan 13: both enter at that day's open, so cutting
    # the first at the second's entry would leave an empty trade.
    early = {**NEWS, "time": "13.01.2026 13:00:00"}
    data = base_config(market, [NEWS, early], [MOMENTUM])
    data["events"]["overlap"] = "truncate"
    result = run_config(tmp_path, data)
    assert result.trades["event_id"].tolist() == ["A-news-2026-01-13T120000Z"]
    assert result.trades["exit_reason"].tolist() == ["time"]
    drop = result.drops.set_index("event_id").loc["A-news-2026-01-13T134204Z"]
    assert (drop["stage"], drop["reason"]) == ("signals", "overlap")
    assert drop["detail"].startswith("enters at the same fill as an earlier trade")


def test_e8_truncate_only_cuts_a_trade_for_one_the_portfolio_took(tmp_path, market):
    """A name cap refuses the later trade, so the earlier keeps its planned exit."""
    second = {**NEWS, "time": "14.01.2026 14:42:04"}
    data = base_config(market, [NEWS, second], [MOMENTUM])
    data["engine"].pop("sizing")
    data["events"]["overlap"] = "truncate"
    data["portfolio"] = {"position_pct": 5, "max_name_pct": 5}
    result = run_config(tmp_path, data)
    assert result.trades["event_id"].tolist() == ["A-news-2026-01-13T134204Z"]
    assert result.trades["exit_reason"].tolist() == ["time"]
    assert result.trades["exit_time"].tolist() == [pd.Timestamp("2026-01-15 21:00", tz="UTC")]
    assert reasons(result) == {"A-news-2026-01-14T134204Z": "portfolio_name_cap"}
    data["portfolio"]["max_name_pct"] = 10  # room for both: the earlier is cut at the later
    kept = run_config(tmp_path, data).trades
    assert kept["exit_reason"].tolist() == ["truncated", "time"]


@pytest.mark.parametrize(("entry_sessions", "traded"), [(10, True), (11, False)])
def test_e9_entries_before_the_assumed_notice_are_dropped(tmp_path, market, entry_sessions, traded):
    """The report date is assumed public 10 sessions ahead (events.assumed_notice_sessions)."""
    runup = {"name": "pre_earnings_runup", "params": {"entry_sessions": entry_sessions}}
    result = run_config(tmp_path, base_config(market, [EARNINGS], [runup]))
    assert len(result.trades) == int(traded)
    if not traded:
        assert reasons(result) == {"A-earnings-2026-02-19": "entry_before_known_at"}


def test_e10_loss_budget_is_an_event_error_with_the_breakdown(tmp_path, market):
    late = {**NEWS, "time": "2026-03-30 08:00", "timezone": NY}
    data = base_config(market, [late, NEWS], [MOMENTUM])
    data["events"]["max_drop_pct"] = 25
    with pytest.raises(EventError) as info:
        run_config(tmp_path, data)
    assert str(info.value) == (
        "dropped 1 of 2 events (50.0%) for missing or unusable data, more than "
        "events.max_drop_pct = 25.0%: {'window_incomplete': 1}"
    )


# ---------------------------------------------------------------- 4.5 strategies


class NoParams(StrategyParams):
    pass


@pytest.fixture
def registry(monkeypatch):
    from backtest.strategy import signals

    monkeypatch.setattr(signals, "_REGISTRY", dict(signals.registered_strategies()))
    return register


def test_r3_a_strategy_that_raises_is_a_strategy_error_with_the_cause_chained(
    tmp_path, market, registry
):
    def boom(events, market, params):
        raise ZeroDivisionError("division by zero")

    registry("boom", NoParams, ("news",))(boom)
    with pytest.raises(StrategyError) as info:
        run_config(tmp_path, base_config(market, [NEWS], [{"name": "boom"}]))
    assert str(info.value).startswith("strategy 'boom' raised ZeroDivisionError: division by zero")
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_r3_the_error_names_the_first_event_that_makes_the_strategy_raise(
    tmp_path, market, registry
):
    """The strategy sees all events at once; the message still names ticker and event."""
    second = {**NEWS, "time": "20.01.2026 14:42:04"}

    def picky(events, market, params):
        if len(events) > 1:
            raise KeyError("prior_close")
        return pd.DataFrame(), pd.DataFrame()

    registry("picky", NoParams, ("news",))(picky)
    with pytest.raises(StrategyError) as info:
        run_config(tmp_path, base_config(market, [NEWS, second], [{"name": "picky"}]))
    message = str(info.value)
    assert message.startswith(
        "strategy 'picky' raised KeyError: 'prior_close' (first failing event "
    )
    assert message.endswith(", ticker A)")
    assert "A-news-2026-01-20" in message
    assert isinstance(info.value.__cause__, KeyError)


def _signal(**changes) -> pd.DataFrame:
    row = {
        "strategy": "s",
        "event_id": "A-news-1",
        "ticker": "A",
        "side": 1,
        "decision_time": pd.Timestamp("2026-01-13 14:30", tz="UTC"),
        "info_time": pd.Timestamp("2026-01-13 13:42", tz="UTC"),
        "entry_session": pd.Timestamp("2026-01-13"),
        "entry_at": "open",
        "exit_session": pd.Timestamp("2026-01-15"),
        "exit_at": "close",
    }
    return pd.DataFrame([{**row, **changes}])


def test_r4_a_nan_field_in_a_signal_is_a_strategy_error():
    with pytest.raises(StrategyError) as info:
        check_signals(_signal(side=np.nan), "s", CAL)
    assert str(info.value) == "strategy 's' returned a NaN field for event A-news-1"


def test_r4_a_signal_table_without_a_column_is_a_strategy_error():
    with pytest.raises(StrategyError) as info:
        check_signals(_signal().drop(columns=["info_time"]), "s", CAL)
    assert str(info.value) == "strategy 's' returned signals without column(s) ['info_time']"


def test_r4_a_decision_after_its_fill_is_look_ahead():
    late = pd.Timestamp("2026-01-13 15:00", tz="UTC")  # after the 14:30 open it fills at
    with pytest.raises(LookAheadError) as info:
        check_signals(_signal(decision_time=late), "s", CAL)
    assert str(info.value) == (
        "strategy 's', event A-news-1: decision at 2026-01-13 15:00:00+00:00 uses information "
        "from 2026-01-13 13:42:00+00:00 and fills at 2026-01-13 14:30:00+00:00; a decision "
        "must come after its information and before its fill"
    )


def test_r4_an_exit_before_its_entry_is_a_strategy_error():
    with pytest.raises(StrategyError, match=r"exit 2026-01-12 21:00:00\+00:00 is not after entry"):
        check_signals(_signal(exit_session=pd.Timestamp("2026-01-12")), "s", CAL)


# ---------------------------------------------------------------- 5. invariants


def _run_trades(tmp_path, data: dict) -> pd.DataFrame:
    cols = [
        "strategy",
        "ticker",
        "event_id",
        "side",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "gross_return",
        "net_return",
    ]
    trades = run_config(tmp_path, data).trades[cols]
    return trades.sort_values(cols[:3]).reset_index(drop=True)


@pytest.mark.parametrize(
    ("local", "session", "at"),
    [
        ("2026-03-09 15:59", "2026-03-10", "open"),  # DST Monday: intraday -> next open
        ("2026-03-09 16:00", "2026-03-10", "open"),  # at the close is after close
        ("2026-03-09 16:01", "2026-03-10", "open"),
        ("2026-03-09 09:29", "2026-03-09", "open"),  # bmo on the first EDT Monday
    ],
)
def test_i5_events_around_the_close_on_a_dst_day_map_to_the_expected_session(local, session, at):
    rows = [{"ticker": "A", "event_type": "news", "event_time": pd.Timestamp(local, tz=NY)}]
    aligned, _ = _aligned(rows, geometric_prices(SESSIONS))
    assert (aligned.at[0, "session"], aligned.at[0, "fill_at"]) == (pd.Timestamp(session), at)


def test_i5_the_same_instants_in_utc_or_new_york_give_identical_results(tmp_path, market):
    ny = [
        {**NEWS, "time": "2026-03-09T09:45:00", "timezone": NY},  # first EDT session
        {**EARNINGS, "time": "2026-03-06T17:00:00", "timezone": NY, "timing": "amc"},
    ]
    utc = [
        {**NEWS, "time": "2026-03-09T13:45:00", "timezone": "UTC"},
        {**EARNINGS, "time": "2026-03-06T22:00:00", "timezone": "UTC", "timing": "amc"},
    ]
    (tmp_path / "ny").mkdir()
    (tmp_path / "utc").mkdir()
    a = _run_trades(tmp_path / "ny", base_config(market, ny, [HOLD, MOMENTUM]))
    b = _run_trades(tmp_path / "utc", base_config(market, utc, [HOLD, MOMENTUM]))
    assert len(a) == 2
    pd.testing.assert_frame_equal(a, b)


def _bar_point(instant: pd.Timestamp) -> tuple[pd.Timestamp, str]:
    session = instant.tz_convert(NY).normalize().tz_localize(None)
    return session, "open" if instant == CAL.session_open(session) else "close"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), evs=events_st)
def test_i6_every_fill_is_the_configured_bar_price_inside_the_bar(seed, evs):
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    for name, res in simulated(prices, events, fees_bps=0, slippage_bps=0).items():
        for row in res.trades.itertuples():
            for instant, price in (
                (row.entry_time, row.entry_price),
                (row.exit_time, row.exit_price),
            ):
                session, at = _bar_point(instant)
                bar = prices.loc[session]
                assert price == pytest.approx(bar[at], rel=1e-12), (name, row.event_id)
                assert bar["low"] <= price <= bar["high"], (name, row.event_id)


def _trade_key(results: dict) -> pd.DataFrame:
    frames = [r.trades.assign(strategy=name) for name, r in results.items()]
    cols = ["strategy", "event_id", "side", "entry_time", "exit_time", "gross_return", "net_return"]
    out = pd.concat(frames, ignore_index=True)[cols]
    return out.sort_values(cols[:2]).reset_index(drop=True)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), evs=events_st, order=st.randoms(use_true_random=False))
# A Sunday date-only report and a Tuesday 09:00 report (Monday 2026-02-16 a holiday)
# are tradable at the same open: one of them is a duplicate before any row is doubled.
@example(seed=0, evs=[(25, 0), (44, 0), (70, 0), (5, 0), (46, 9)], order=random.Random(0))
def test_i13_shuffled_or_duplicated_event_rows_change_nothing(seed, evs, order):
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    rows = list(range(len(events)))
    order.shuffle(rows)
    shuffled = events.iloc[rows].reset_index(drop=True)
    doubled = pd.concat([shuffled, shuffled.iloc[[0]]], ignore_index=True)
    base = _trade_key(simulated(prices, events, fees_bps=5, slippage_bps=2))
    pd.testing.assert_frame_equal(
        base, _trade_key(simulated(prices, shuffled, fees_bps=5, slippage_bps=2))
    )
    pd.testing.assert_frame_equal(
        base, _trade_key(simulated(prices, doubled, fees_bps=5, slippage_bps=2))
    )
    # Distinct events can be duplicates already (a date-only report and a timed one
    # tradable at the same open); the doubled row adds exactly one more drop.
    _, before = align_events(shuffled, {"A": prices}, CAL, now=FAR, dedupe_days=SAME_DAY)
    _, after = align_events(doubled, {"A": prices}, CAL, now=FAR, dedupe_days=SAME_DAY)

    def duplicates(drops: pd.DataFrame) -> list[str]:
        return drops.loc[drops["reason"] == "duplicate", "event_id"].tolist()

    assert sorted(duplicates(after)) == sorted(duplicates(before) + [shuffled.at[0, "event_id"]])


def two_ticker_market(folder) -> object:
    sessions = SESSIONS
    return write_prices(
        folder,
        {
            "A": geometric_prices(sessions, growth=0.01, gap=0.002),
            "B": geometric_prices(sessions, start=50.0, growth=-0.005, gap=-0.001),
            "SPY": geometric_prices(sessions, growth=0.0, gap=0.0),
        },
    )


B_NEWS = {**NEWS, "ticker": "B", "time": "20.01.2026 14:42:04", "move_pct": -4}
B_EARNINGS = {**EARNINGS, "ticker": "B", "time": "2026-02-26"}


def test_i13_ticker_event_and_strategy_order_in_the_config_change_nothing(tmp_path):
    prices = two_ticker_market(tmp_path / "prices")
    events = [EARNINGS, NEWS, B_NEWS, B_EARNINGS]
    one = base_config(prices, events, [HOLD, MOMENTUM])
    one["data"]["tickers"] = ["A", "B"]
    two = base_config(prices, events[::-1], [MOMENTUM, HOLD])
    two["data"]["tickers"] = ["B", "A"]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a, b = _run_trades(tmp_path / "one", one), _run_trades(tmp_path / "two", two)
    assert len(a) == 4
    pd.testing.assert_frame_equal(a, b)


def test_i14_adding_ticker_b_leaves_ticker_a_results_unchanged(tmp_path):
    prices = two_ticker_market(tmp_path / "prices")
    alone = base_config(prices, [EARNINGS, NEWS], [HOLD, MOMENTUM])
    both = base_config(prices, [EARNINGS, NEWS, B_NEWS, B_EARNINGS], [HOLD, MOMENTUM])
    both["data"]["tickers"] = ["A", "B"]
    (tmp_path / "alone").mkdir()
    (tmp_path / "both").mkdir()
    a = _run_trades(tmp_path / "alone", alone)
    ab = _run_trades(tmp_path / "both", both)
    assert set(ab["ticker"]) == {"A", "B"} and len(a) == 2
    pd.testing.assert_frame_equal(a, ab[ab["ticker"] == "A"].reset_index(drop=True))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), evs=events_st, k=st.sampled_from([0.01, 0.37, 3.0, 250.0]))
def test_i15_scaling_every_price_leaves_every_return_unchanged(seed, evs, k):
    prices = random_walk(seed)
    scaled = prices.copy()
    scaled[["open", "high", "low", "close"]] *= k
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    base = _trade_key(simulated(prices, events, fees_bps=7, slippage_bps=3))
    other = _trade_key(simulated(scaled, events, fees_bps=7, slippage_bps=3))
    pd.testing.assert_frame_equal(base, other, rtol=1e-9)


def _split_2_for_1(prices: pd.DataFrame, day: int, adjusted: bool) -> pd.DataFrame:
    """``prices`` with a 2:1 split on session ``day``: all history divided by 2 (adjusted)
    or only the bars from ``day`` on (the split left unadjusted, yfinance #1531)."""
    out = prices.copy()
    rows = np.ones(len(out), bool) if adjusted else np.arange(len(out)) >= day
    out.loc[rows, ["open", "high", "low", "close"]] /= 2
    return out.assign(split_ratio=np.where(np.arange(len(out)) == day, 2.0, 0.0))


def _validated_trades(frame: pd.DataFrame, events: pd.DataFrame) -> tuple:
    from backtest.data.validate import suspect_splits_by_ticker

    clean, report = validate_prices(frame, "A", CAL)
    suspect = suspect_splits_by_ticker([report])
    runs = simulated(clean, events, suspect, "allow", fees_bps=7, slippage_bps=3)
    return _trade_key(runs), report


def _with_and_without_split(seed: int, evs, day: int, adjusted: bool) -> tuple:
    """Trades on a random walk, trades with a 2:1 split on ``day``, and that run's report."""
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    base, _ = _validated_trades(prices, events)
    split, report = _validated_trades(_split_2_for_1(prices, day, adjusted), events)
    return base, split, report


def _span_holds(trades: pd.DataFrame, day: int) -> pd.Series:
    """Whether session ``day``'s jump is in a trade's guarded span (session before entry..exit)."""
    days = [
        pd.DatetimeIndex(pd.to_datetime(trades[c], utc=True)) for c in ("entry_time", "exit_time")
    ]
    pos = [SESSIONS.get_indexer(d.tz_convert(NY).normalize().tz_localize(None)) for d in days]
    return pd.Series((pos[0] - 1 <= day) & (day <= pos[1]), index=trades.index, dtype=bool)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), evs=events_st, day=st.integers(1, len(SESSIONS) - 1))
def test_i15_a_properly_adjusted_split_changes_no_trade(seed, evs, day):
    base, split, report = _with_and_without_split(seed, evs, day, adjusted=True)
    assert report.splits == {str(SESSIONS[day].date()): 2.0} and report.suspect_splits == []
    pd.testing.assert_frame_equal(base, split, rtol=1e-9)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), evs=events_st, day=st.integers(1, len(SESSIONS) - 1))
def test_i15_an_unadjusted_split_drops_the_windows_across_it_and_changes_no_other(seed, evs, day):
    """No fake -50% trade: windows across the jump are dropped, every other trade is as before."""
    base, split, report = _with_and_without_split(seed, evs, day, adjusted=False)
    assert [(s.session, s.kind) for s in report.suspect_splits] == [
        (SESSIONS[day], "missing_adjustment")
    ]
    expected = base[~_span_holds(base, day)].reset_index(drop=True)
    assert len(expected) == len(split)  # empty tables differ only in their dtypes
    if len(split):
        # Same rows and values; event_id may come back as object or str dtype depending
        # on which rows survive the filter, which is not what this test is about.
        pd.testing.assert_frame_equal(expected, split, rtol=1e-9, check_dtype=False)


# Sessions 2026-01-20 .. 2026-02-13 hold no holiday, so a one-week shift of events that
# look back at most 3 sessions from 01-27 and hold at most 3 sessions past 02-02 crosses none.
QUIET_DAYS = ["2026-01-27", "2026-01-28", "2026-01-29", "2026-01-30", "2026-02-02"]


def _week_events(picks: list[tuple[int, int]], weeks: int) -> pd.DataFrame:
    rows = []
    for n, (day, hour) in enumerate(picks):
        when = pd.Timestamp(QUIET_DAYS[day], tz=NY) + pd.Timedelta(hours=hour, weeks=weeks)
        kind = ("news", "earnings", "analyst")[n % 3]
        row = {"ticker": "A", "event_type": kind, "event_time": when, "source": f"s{n}"}
        if kind == "earnings":
            row.update(known_at=when - pd.Timedelta(days=20), eps_estimate=1.0, eps_actual=1.2)
        if kind == "analyst":
            row.update(target_old=100.0, target_new=80.0)
        rows.append(row)
    return make_event_table(rows, CAL)


def _shift_prices(prices: pd.DataFrame, weeks: int) -> pd.DataFrame:
    moved = prices.copy()
    moved.index = moved.index + pd.Timedelta(weeks=weeks)
    return moved[moved.index.isin(CAL.sessions)]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    picks=st.lists(
        st.tuples(st.integers(0, len(QUIET_DAYS) - 1), st.sampled_from([7, 12, 18])),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    ),
)
def test_i16_shifting_prices_and_events_by_a_week_leaves_every_return_unchanged(seed, picks):
    prices = random_walk(seed)
    base = _trade_key(simulated(prices, _week_events(picks, 0), fees_bps=5, slippage_bps=2))
    moved = simulated(_shift_prices(prices, 1), _week_events(picks, 1), fees_bps=5, slippage_bps=2)
    moved = _trade_key(moved)
    assert len(base) > 0
    week = pd.Timedelta(weeks=1)
    assert (moved["entry_time"] - week).tolist() == base["entry_time"].tolist()
    assert (moved["exit_time"] - week).tolist() == base["exit_time"].tolist()
    cols = ["strategy", "side", "gross_return", "net_return"]
    pd.testing.assert_frame_equal(base[cols], moved[cols], rtol=1e-12)


def test_i18_a_run_mutates_neither_prices_nor_events_nor_config(tmp_path, market):
    loaded = load_config(
        write_config(tmp_path, base_config(market, [EARNINGS, NEWS], [HOLD, MOMENTUM]))
    )
    inputs = load_inputs(loaded)
    prices = copy.deepcopy(inputs.prices)
    events = inputs.events.copy(deep=True)
    dumped = loaded.config.model_dump()
    result = backtest_inputs(loaded, inputs, FAR)
    assert len(result.trades) == 2
    for ticker, frame in prices.items():
        pd.testing.assert_frame_equal(inputs.prices[ticker], frame)
    pd.testing.assert_frame_equal(inputs.events, events)
    assert loaded.config.model_dump() == dumped


def test_i18_a_strategy_cannot_mutate_the_events_it_is_given(market):
    prices = random_walk(1)
    events = make_events([10, 20, 30], [8, 12, 18])
    aligned, _ = align_events(events, {"A": prices}, CAL, now=FAR)
    before = aligned.copy(deep=True)
    from types import SimpleNamespace

    from backtest.strategy.signals import registered_strategies

    for name, spec in sorted(registered_strategies().items()):
        run_strategy(
            SimpleNamespace(name=name, label=None, params=spec.params()),
            aligned,
            MarketView({"A": prices}, CAL),
            "skip",
        )
    pd.testing.assert_frame_equal(aligned, before)


@pytest.mark.parametrize(("limit", "warned"), [(7, True), (8, False)])
def test_e7_exactly_the_row_cap_logs_a_truncation_warning(tmp_path, caplog, limit, warned):
    """The recorded Yahoo page has 7 rows: asking for 7 may have cut history off, 8 did not."""
    from yahoo_fake import FakeYahoo

    from backtest.data.cache import ParquetCache
    from backtest.data.yahoo import yfinance_module
    from backtest.events.yahoo_earnings import YFinanceEarnings

    yf = yfinance_module(tmp_path / "cache")
    yf.data.YfData._instances.clear()
    yf.data.YfData.cache_get.cache_clear()
    source = YFinanceEarnings(
        ParquetCache(tmp_path / "cache"),
        CAL,
        session=FakeYahoo(),
        limit=limit,
        sleep=[].append,
        clock=lambda: pd.Timestamp("2026-02-27 22:00", tz="UTC"),
    )
    try:
        with caplog.at_level(logging.WARNING, logger="backtest.events.yahoo_earnings"):
            assert len(source.fetch("BABA")) == 7
    finally:
        yf.data.YfData._instances.clear()
    expected = ["BABA: got 7 earnings rows = the limit; older history may be cut off"]
    assert [r.getMessage() for r in caplog.records] == (expected if warned else [])


def test_k7_yfinance_sqlite_caches_live_in_the_runs_cache_folder(tmp_path):
    from yfinance.cache import _TzDBManager

    from backtest.data.yahoo import yfinance_module

    yfinance_module(tmp_path / "run-cache")
    assert _TzDBManager.get_location() == str(tmp_path / "run-cache" / "yfinance")
