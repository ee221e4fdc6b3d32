"""The us100 universe wired into configs and runs: data.source: us100, type: us100_earnings,
the timing rule on every bundled report, accept_et times, the survivorship note."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from backtest.cli.commands import app
from backtest.config.model import load_config
from backtest.core.errors import ConfigError, EventError
from backtest.core.sessions import get_calendar
from backtest.data.bundled import bundled_file
from backtest.data.universe import BundledUniverse, load_us100, us100_tickers
from backtest.events.align import align_events
from backtest.events.loaders import load_event_csv, load_us100_earnings
from backtest.run.pipeline import load_events_by_source, make_source
from backtest.run.runner import run

CAL = get_calendar("XNYS")


def _config(tmp_path, data: dict, sources: list[dict], **extra) -> str:
    body = {
        "data": data,
        "events": {"sources": sources, "max_drop_pct": 100},
        "strategies": [{"name": "earnings_hold"}],
        **extra,
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def aligned_universe():
    """Every bundled us100 report aligned on the bundled us100 prices (default rules)."""
    events = load_us100_earnings(None, CAL)
    aligned, drops = align_events(events, load_us100(), CAL)
    table = pd.read_csv(bundled_file("us100", "earnings.csv"), dtype=str, keep_default_na=False)
    return aligned, drops, table


def test_us100_source_defaults_to_all_100_names_and_reads_benchmarks_from_bundled(tmp_path):
    loaded = load_config(_config(tmp_path, {"source": "us100"}, [{"type": "us100_earnings"}]))
    assert loaded.config.data.tickers == us100_tickers() and len(us100_tickers()) == 100
    source = make_source(loaded)
    assert isinstance(source, BundledUniverse)
    assert source.load("NVDA").index[-1] == pd.Timestamp("2024-03-08")
    assert source.load("SPY").index[0] == pd.Timestamp("2010-01-04")  # not in the panel


def test_us100_source_rejects_an_unknown_ticker_and_a_path_on_their_lines(tmp_path):
    bad = _config(tmp_path, {"source": "us100", "tickers": ["AAPL", "ZZZZ"]}, [])
    with pytest.raises(ConfigError, match=r"c\.yaml:\d+:\d+: data: .*us100 has no ZZZZ"):
        load_config(bad)
    with_path = _config(tmp_path, {"source": "us100", "path": "x"}, [{"type": "us100_earnings"}])
    with pytest.raises(ConfigError, match="takes no path"):
        load_config(with_path)


def test_files_source_without_path_names_both_layouts(tmp_path):
    bad = _config(tmp_path, {"source": "files", "tickers": ["A"]}, [{"type": "us100_earnings"}])
    with pytest.raises(ConfigError, match=r"<TICKER>\.csv/\.parquet, or one long-form panel"):
        load_config(bad)


def test_us100_earnings_source_takes_data_tickers_and_is_listed_by_events_check(tmp_path):
    path = _config(
        tmp_path,
        {"source": "us100", "tickers": ["AAPL", "MSFT"]},
        [{"type": "us100_earnings"}, {"type": "us100_earnings", "tickers": ["AAPL"]}],
    )
    by_source = load_events_by_source(load_config(path), CAL)
    assert list(by_source) == ["us100", "us100#2"]
    assert set(by_source["us100"]["ticker"]) == {"AAPL", "MSFT"}
    assert set(by_source["us100#2"]["ticker"]) == {"AAPL"}
    out = CliRunner().invoke(app, ["events", str(path), "--check"])
    assert out.exit_code == 0, out.output
    assert "(us100 " in out.output and "us100#2 " in out.output


def test_every_bundled_report_follows_the_timing_rule_for_its_timing_source(aligned_universe):
    aligned, drops, table = aligned_universe
    assert len(aligned) + len(drops) == len(table) == 4939
    merged = aligned.merge(
        table.assign(event_id=load_us100_earnings(None, CAL)["event_id"].to_numpy()),
        on="event_id",
        suffixes=("", "_csv"),
    )
    assert len(merged) == len(aligned)
    sessions = CAL.sessions
    day = pd.to_datetime(merged["report_date"])
    next_session = sessions[sessions.searchsorted(day, side="right")]
    same_or_next = sessions[sessions.searchsorted(day, side="left")]
    before_open = merged["time_et"].str.len().gt(0) & (merged["time_et"] < "09:30")
    bmo = (merged["timing_source"] == "zacks") & (merged["timing_csv"] == "bmo") | (
        (merged["timing_source"] == "sec_8k") & before_open
    )
    expected = pd.Series(next_session, index=merged.index).where(~bmo, same_or_next)
    assert (merged["session"].to_numpy() == expected.to_numpy()).all()
    assert (merged["fill_at"] == "open").all()  # intraday fills at the next open by default
    for source in ("sec_8k", "zacks", "none"):
        rows = merged[merged["timing_source"] == source]
        assert len(rows) > 400, source  # each timing source is really exercised
    assert (merged.loc[merged["timing_source"] == "none", "timing"] == "unknown").all()


@pytest.mark.parametrize(
    ("ticker", "report", "session"),
    [
        ("ADBE", "2022-09-15", "2022-09-15"),  # 8-K accepted 08:03 ET: bmo, that day's open
        ("AMAT", "2018-11-15", "2018-11-16"),  # 8-K accepted 16:05 ET: amc, next open
        ("AAPL", "2010-01-25", "2010-01-26"),  # date only: next open
    ],
)
def test_hand_checked_reports_fill_where_the_rule_says(aligned_universe, ticker, report, session):
    aligned = aligned_universe[0]
    local_day = aligned["event_time"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d")
    row = aligned[(aligned["ticker"] == ticker) & (local_day == report)]
    assert len(row) == 1
    assert str(row["session"].iloc[0].date()) == session and row["fill_at"].iloc[0] == "open"


def test_accept_et_column_gives_the_instant_and_the_timing(tmp_path):
    path = tmp_path / "edgar.csv"
    path.write_text(
        "ticker,report_date,filing_date,accept_et,timing\n"
        "AAA,2018-02-01,2018-02-01,2018-02-01 07:00 ET,bmo\n"
        "AAA,2018-05-01,2018-05-02,2018-05-01 16:05 ET,\n"
        "AAA,2018-08-01,2018-08-01,2018-08-01 11:04,\n"
        "AAA,2018-11-01,2018-11-01,,\n"
    )
    events = load_event_csv(path, CAL)
    assert events["timing"].tolist() == ["bmo", "amc", "intraday", "unknown"]
    assert str(events["event_time"].iloc[1]) == "2018-05-01 20:05:00+00:00"  # EDT
    assert str(events["event_time"].iloc[3]) == "2018-11-01 04:00:00+00:00"  # the date, midnight
    prices = {"AAA": load_us100(["AAPL"], "2018-01-01", "2018-12-31")["AAPL"]}
    aligned, _ = align_events(events, prices, CAL)
    got = [(str(s.date()), f) for s, f in zip(aligned["session"], aligned["fill_at"], strict=True)]
    assert got == [
        ("2018-02-01", "open"),
        ("2018-05-02", "open"),
        ("2018-08-02", "open"),
        ("2018-11-02", "open"),
    ]


def test_accept_et_contradicting_a_timing_column_names_file_and_line(tmp_path):
    path = tmp_path / "edgar.csv"
    path.write_text(
        "ticker,accept_et,timing\nAAA,2018-02-01 07:00 ET,bmo\nAAA,2018-05-01 16:05,bmo\n"
    )
    with pytest.raises(EventError, match=r"edgar\.csv:3: .*'amc' by the clock .* 'bmo'"):
        load_event_csv(path, CAL)


def test_a_us100_run_states_survivorship_with_the_number_of_names(tmp_path):
    path = _config(
        tmp_path,
        {"source": "us100", "tickers": ["AAPL", "MSFT", "NVDA"], "start": "2023-01-01"},
        [{"type": "us100_earnings"}],
        event_study={"enabled": False},
        output={"charts": False},
    )
    result = run(path, out_dir=tmp_path / "results")
    manifest = json.loads((result.folder / "manifest.json").read_text())
    universe = manifest["data"]["universe"]
    assert universe["name"] == "us100" and universe["names"] == 3
    assert "survivors" in universe["note"] and "survivorship bias" in universe["note"]
    html = (result.folder / "report.html").read_text()
    assert "us100: 3 names" in html and "survivorship bias" in html
