"""A source's date_format: reads slashed dates as the user states them; without it they are refused."""

from __future__ import annotations

import pytest

from backtest.config.model import load_config
from backtest.core.errors import ConfigError, EventError
from backtest.events.loaders import load_event_csv, load_inline_events
from backtest.run.runner import run_loaded
from tests.conftest import CAL, base_config, write_config

HOLD = {"name": "news_momentum", "params": {"hold_sessions": 1, "side": "long"}}


def _event(time: str) -> dict:
    return {"ticker": "A", "event_type": "news", "time": time, "move_pct": 5}


def test_a_slashed_date_is_refused_without_a_format_and_names_the_key():
    with pytest.raises(EventError, match="date_format"):
        load_inline_events([_event("01/02/2026")], CAL)


@pytest.mark.parametrize(("fmt", "day"), [("%d/%m/%Y", "2026-02-01"), ("%m/%d/%Y", "2026-01-02")])
def test_the_stated_format_decides_day_and_month(fmt, day):
    events = load_inline_events([_event("01/02/2026")], CAL, date_format=fmt)
    stamp = events.loc[0, "event_time"].tz_convert("America/New_York")
    assert str(stamp.date()) == day and events.loc[0, "timing"] == "unknown"


def test_a_format_with_a_clock_time_needs_a_zone_and_then_keeps_the_time():
    with pytest.raises(EventError, match="no time zone"):
        load_inline_events([_event("13/01/2026 14:42")], CAL, date_format="%d/%m/%Y %H:%M")
    item = {**_event("13/01/2026 14:42"), "timezone": "Europe/Berlin"}
    events = load_inline_events([item], CAL, date_format="%d/%m/%Y %H:%M")
    assert str(events.loc[0, "event_time"]) == "2026-01-13 13:42:00+00:00"


def test_a_value_that_does_not_match_the_format_names_file_line_and_format(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("ticker,event_time\nA,01/02/2026\nA,2026-02-03\n")
    with pytest.raises(EventError, match=r"events.csv:3: event_time: .*does not match date_format"):
        load_event_csv(path, CAL, date_format="%d/%m/%Y")


def test_a_csv_source_with_date_format_runs(tmp_path, market):
    path = tmp_path / "events.csv"
    path.write_text("ticker,event_type,event_time,move_pct\nA,news,02/03/2026,5\n")
    data = base_config(market, [_event("2026-01-13")], [HOLD])
    data["events"]["sources"] = [
        {"type": "csv", "path": str(path), "event_type": "news", "date_format": "%m/%d/%Y"}
    ]
    result = run_loaded(load_config(write_config(tmp_path, data)))
    assert result.trades["event_id"].str.contains("2026-02-03").all() and len(result.trades) == 1


def test_a_format_without_day_month_and_year_is_a_config_error(tmp_path, market):
    data = base_config(market, [_event("2026-01-13")], [HOLD])
    data["events"]["sources"][0]["date_format"] = "%H:%M"
    with pytest.raises(ConfigError, match=r"config.yaml:\d+:\d+: events.sources\[0\].*date_format"):
        load_config(write_config(tmp_path, data))
