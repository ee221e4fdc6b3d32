"""``backtest signals --as-of``: what a config would trade next, from the code ``run`` uses.

Against ``run`` on the bundled data: every trade of configs/baba_2026.yaml is listed
by ``signals`` as of the session before its entry when its event was known by then
(the scheduled earnings reports), and as of its publication when it was not (the
news article, which nobody could know the day before).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import ConfigError
from backtest.run.ahead import known_events, upcoming_orders
from backtest.run.runner import load_inputs, run_loaded
from tests.conftest import CAL, REPO

BABA = REPO / "configs" / "baba_2026.yaml"


@pytest.fixture(scope="module")
def baba():
    loaded = load_config(BABA)
    return loaded, load_inputs(loaded), run_loaded(loaded)


def _entries(ahead) -> pd.DataFrame:
    return ahead.orders[ahead.orders["action"].str.startswith("enter")]


def test_every_trade_of_the_run_is_listed_the_session_before_its_entry(baba):
    loaded, inputs, result = baba
    assert len(result.trades) == 3
    checked = 0
    for trade in result.trades.itertuples(index=False):
        event = result.events.set_index("event_id").loc[trade.event_id]
        entry_session = CAL.minute_to_session(trade.entry_time, "previous")
        before = CAL.previous_session(entry_session)
        if event["known_at"] > CAL.session_close(before):
            continue  # the news article: published the morning of its entry, see below
        ahead = upcoming_orders(loaded, before, 5, inputs=inputs)
        listed = _entries(ahead).set_index("event_id")
        assert trade.event_id in listed.index, ahead.orders
        order = listed.loc[trade.event_id]
        assert order["strategy"] == trade.strategy
        assert order["fill_time"] == trade.entry_time
        assert order["side"] == ("long" if trade.side == 1 else "short")
        checked += 1
    assert checked == 2  # both earnings trades


def test_the_news_trade_is_listed_once_its_article_is_published(baba):
    loaded, inputs, result = baba
    trade = result.trades[result.trades["strategy"] == "news_momentum"].iloc[0]
    published = result.events.set_index("event_id").loc[trade["event_id"], "event_time"]
    day_before = CAL.previous_session(CAL.minute_to_session(trade["entry_time"], "previous"))
    assert trade["event_id"] not in set(
        upcoming_orders(loaded, day_before, 5, inputs=inputs).orders["event_id"]
    )
    as_of = published.tz_convert(CAL.tz).tz_localize(None) + pd.Timedelta(minutes=1)
    listed = _entries(upcoming_orders(loaded, as_of, 5, inputs=inputs))
    row = listed.set_index("event_id").loc[trade["event_id"]]
    assert row["fill_time"] == trade["entry_time"] and row["side"] == "long"


def test_orders_are_sized_by_the_config_on_the_stated_equity(baba):
    loaded, inputs, _ = baba
    ahead = upcoming_orders(loaded, pd.Timestamp("2026-02-13"), 5, equity=50_000, inputs=inputs)
    # baba_2026 sizes 100% of equity; the reference price is the last close known (02-13).
    close = inputs.prices["BABA"].loc["2026-02-13", "close"]
    assert ahead.orders["notional"].tolist() == [50_000.0, 50_000.0]
    assert ahead.orders["shares"].tolist() == pytest.approx([50_000 / close] * 2)
    assert ahead.orders["action"].tolist() == ["enter long: buy", "exit long: sell"]


def test_a_report_not_yet_published_is_planned_on_its_schedule_only():
    """Its EPS is unknown on the as-of date: the content columns are blanked, not used."""
    when = pd.Timestamp("2026-02-10", tz="UTC")
    events = pd.DataFrame(
        {
            "event_id": ["old", "next", "unknown"],
            "known_at": pd.to_datetime(["2025-11-01", "2026-02-01", "2026-02-15"], utc=True),
            "event_time": pd.to_datetime(["2025-11-25", "2026-02-19", "2026-05-01"], utc=True),
            "eps_actual": [1.0, 2.0, 3.0],
        }
    )
    known = known_events(events, when)
    assert known["event_id"].tolist() == ["old", "next"]
    assert known["eps_actual"].tolist() == [1.0, None]


def test_as_of_outside_the_data_is_a_one_line_error(baba):
    loaded, inputs, _ = baba
    with pytest.raises(ConfigError, match=r"--as-of 2030-01-02 is outside the data \(prices "):
        upcoming_orders(loaded, pd.Timestamp("2030-01-02"), inputs=inputs)
    out = subprocess.run(
        [sys.executable, "-m", "backtest", "signals", str(BABA), "--as-of", "1990-01-02"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "is outside the data" in out.stderr


def test_no_future_events_gives_an_empty_explained_answer(baba):
    loaded, inputs, _ = baba
    ahead = upcoming_orders(loaded, pd.Timestamp("2026-03-20"), 5, inputs=inputs)
    assert ahead.orders.empty
    assert any("nothing scheduled ahead" in n for n in ahead.notes)


def test_csv_and_json_output_carry_the_same_orders():
    args = [sys.executable, "-m", "backtest", "signals", str(BABA), "--as-of", "2026-02-17"]
    csv = subprocess.run([*args, "--format", "csv"], capture_output=True, text=True, timeout=300)
    js = subprocess.run([*args, "--format", "json"], capture_output=True, text=True, timeout=300)
    assert csv.returncode == js.returncode == 0, csv.stderr + js.stderr
    lines = csv.stdout.strip().splitlines()
    assert lines[0].startswith("strategy,ticker,event_id,action,side,session,at,fill_time")
    records = json.loads(js.stdout)
    assert len(lines) - 1 == len(records) == 2
    assert {r["event_id"] for r in records} == {"BABA-earnings-2026-02-19T133000Z"}
