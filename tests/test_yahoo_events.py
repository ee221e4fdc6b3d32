"""yfinance earnings (with vintages) and analyst actions, fed recorded Yahoo payloads (E3, E4, E5, E7)."""

from __future__ import annotations

import pandas as pd
import pytest
from yahoo_fake import FIXTURES, FakeYahoo

from backtest.core.errors import DataUnavailable
from backtest.core.sessions import align_to_session, get_calendar
from backtest.data.cache import ParquetCache
from backtest.data.yahoo import yfinance_module
from backtest.events.loaders import load_bundled_earnings
from backtest.events.yahoo_analyst import YFinanceAnalyst
from backtest.events.yahoo_earnings import YFinanceEarnings

CAL = get_calendar("XNYS")
NOW = pd.Timestamp("2026-02-27 22:00", tz="UTC")
HTML = (FIXTURES / "earnings_BABA.html").read_text()


@pytest.fixture(autouse=True)
def fresh_yfinance(tmp_path):
    yf = yfinance_module(tmp_path / "cache")
    yf.data.YfData._instances.clear()
    yf.data.YfData.cache_get.cache_clear()
    yield
    yf.data.YfData._instances.clear()


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def earnings(tmp_path, fake, now=NOW, offline=False, sleeps=None, refresh=False):
    return YFinanceEarnings(
        ParquetCache(tmp_path / "cache"),
        CAL,
        offline=offline,
        refresh=refresh,
        session=fake,
        sleep=(sleeps if sleeps is not None else []).append,
        clock=now if callable(now) else Clock(now),
    )


def test_earnings_calendar_rows_become_classified_events(tmp_path):
    events = earnings(tmp_path, FakeYahoo()).load(["BABA"]).set_index("event_id")
    # Hand-derived from the fixture: "8 AM EST" -> 08:59:59 EST = 13:59:59 UTC (bmo);
    # "8 PM EDT" on Aug 28 is 00:00 UTC Aug 29 (the #2365 signature) -> date only, unknown;
    # "12 AM" -> date only, unknown. The duplicate Feb 19 row is gone.
    expected = {
        "BABA-earnings-2026-05-14T125959Z": "bmo",
        "BABA-earnings-2026-02-19T135959Z": "bmo",
        "BABA-earnings-2025-11-25T135959Z": "bmo",
        "BABA-earnings-2025-08-29": "unknown",
        "BABA-earnings-2025-05-15": "unknown",
        "BABA-earnings-2025-02-20T115959Z": "bmo",
    }
    assert events["timing"].to_dict() == expected
    assert "[suspect_utc_midnight]" in events.at["BABA-earnings-2025-08-29", "source"]
    assert "[hour_precision]" in events.at["BABA-earnings-2026-02-19T135959Z", "source"]
    feb = events.loc["BABA-earnings-2026-02-19T135959Z"]
    assert (feb["eps_estimate"], feb["eps_actual"], feb["surprise_pct"]) == (2.40, 2.52, 5.00)
    assert pd.isna(events.at["BABA-earnings-2026-05-14T125959Z", "eps_actual"])


def test_suspect_shift_is_traded_on_the_later_reading():
    # 20:00 EDT Aug 28 read literally would be "amc -> Aug 29 open"; the flagged reading
    # (date only, Aug 29) trades at the next session's open: Tue Sep 2 (Mon Sep 1 is Labor Day).
    t = pd.Timestamp("2025-08-29", tz="America/New_York")
    assert align_to_session(t, "unknown", CAL, "next_open").session == pd.Timestamp("2025-09-02")


def test_yahoo_sessions_match_the_bundled_table(tmp_path):
    yahoo = earnings(tmp_path, FakeYahoo()).load(["BABA"])
    bundled = load_bundled_earnings(["BABA"], CAL)
    for day in ("2025-11-25", "2026-02-19"):
        y = yahoo[yahoo["event_time"].dt.tz_convert(CAL.tz).dt.strftime("%Y-%m-%d") == day].iloc[0]
        b = bundled[
            bundled["event_time"].dt.tz_convert(CAL.tz).dt.strftime("%Y-%m-%d") == day
        ].iloc[0]
        ya = align_to_session(y["event_time"], y["timing"], CAL, "next_open")
        ba = align_to_session(b["event_time"], b["timing"], CAL, "next_open")
        assert (ya.session, ya.fill_at) == (ba.session, ba.fill_at)


def test_no_earnings_table_is_data_unavailable(tmp_path):
    with pytest.raises(DataUnavailable, match="NOSUCH earnings"):
        earnings(tmp_path, FakeYahoo()).load(["NOSUCH"])


def test_rate_limited_calendar_is_retried(tmp_path):
    sleeps = []
    fake = FakeYahoo(faults=[("calendar/earnings", "429")] * 2)
    assert len(earnings(tmp_path, fake, sleeps=sleeps).load(["BABA"])) == 6
    assert sleeps == [1.0]


def test_offline_earnings_never_touch_the_network(tmp_path):
    fake = FakeYahoo()
    with pytest.raises(DataUnavailable, match="offline"):
        earnings(tmp_path, fake, offline=True).load(["BABA"])
    earnings(tmp_path, FakeYahoo()).load(["BABA"])
    fresh = FakeYahoo()
    assert (
        len(earnings(tmp_path, fresh, offline=True, now=NOW + pd.Timedelta(days=9)).load(["BABA"]))
        == 6
    )
    assert fake.calls == [] and fresh.calls == []


def _moved_fake(day_text: str) -> FakeYahoo:
    fake = FakeYahoo()
    fake.earnings_html["BABA"] = HTML.replace("February 19, 2026 at 8 AM EST", day_text)
    return fake


def test_moved_date_is_a_new_vintage_and_point_in_time_selects_it(tmp_path):
    clock = Clock(pd.Timestamp("2026-02-01 12:00", tz="UTC"))
    early = earnings(tmp_path, _moved_fake("February 26, 2026 at 8 AM EST"), now=clock)
    early.load(["BABA"])
    clock.now = pd.Timestamp("2026-02-10 12:00", tz="UTC")
    source = earnings(tmp_path, FakeYahoo(), now=clock)
    latest = source.load(["BABA"]).set_index("event_id")
    store = source.vintages("BABA")
    key = store[store["event_key"] == "BABA-2026-02-26"]
    # Both readings kept, each with its fetch time: nothing overwritten.
    assert key["event_time"].dt.strftime("%m-%d").tolist() == ["02-26", "02-19"]
    assert key["fetched_at"].tolist() == [
        pd.Timestamp("2026-02-01 12:00", tz="UTC"),
        pd.Timestamp("2026-02-10 12:00", tz="UTC"),
    ]
    feb = latest.loc["BABA-earnings-2026-02-19T135959Z"]
    assert feb["known_at"] == pd.Timestamp("2026-02-10 12:00", tz="UTC")
    assert feb["known_at_basis"] == "fetched"
    then = source.load(["BABA"], as_of=pd.Timestamp("2026-02-05", tz="UTC"))
    assert "BABA-earnings-2026-02-26T135959Z" in set(then["event_id"])
    assert "BABA-earnings-2026-02-19T135959Z" not in set(then["event_id"])


def test_date_seen_only_after_the_event_is_known_no_earlier_than_the_event(tmp_path):
    clock = Clock(pd.Timestamp("2026-02-01 12:00", tz="UTC"))
    earnings(tmp_path, _moved_fake("February 26, 2026 at 8 AM EST"), now=clock).load(["BABA"])
    clock.now = NOW
    events = earnings(tmp_path, FakeYahoo(), now=clock).load(["BABA"]).set_index("event_id")
    feb = events.loc["BABA-earnings-2026-02-19T135959Z"]
    assert feb["known_at_basis"] == "moved_after_fetch"
    assert feb["known_at"] == feb["event_time"]


def test_unchanged_refetch_adds_no_vintage(tmp_path):
    clock = Clock(pd.Timestamp("2026-02-01 12:00", tz="UTC"))
    source = earnings(tmp_path, FakeYahoo(), now=clock)
    first = len(source.vintages("BABA"))
    clock.now = NOW
    source.session = FakeYahoo()
    assert len(source.vintages("BABA")) == first == 6
    assert source.session.data_calls  # it did ask Yahoo again (stale after 24 h)


def analyst(tmp_path, fake, offline=False, refresh=False):
    return YFinanceAnalyst(
        ParquetCache(tmp_path / "cache"),
        CAL,
        offline=offline,
        refresh=refresh,
        session=fake,
        sleep=[].append,
        clock=Clock(NOW),
    )


def test_analyst_actions_become_events(tmp_path):
    events = analyst(tmp_path, FakeYahoo()).load(["BABA"]).set_index("event_id")
    assert events["timing"].to_dict() == {
        "BABA-analyst-2025-10-31": "unknown",  # 00:00 UTC: a date without a time
        "BABA-analyst-2025-12-02": "unknown",
        "BABA-analyst-2026-01-13T164500Z": "intraday",  # 11:45 New York
        "BABA-analyst-2026-02-17": "unknown",
    }
    arete = events.loc["BABA-analyst-2026-01-13T164500Z"]
    assert (arete["firm"], arete["rating"]) == ("Arete Research", "Buy")
    assert (arete["target_old"], arete["target_new"]) == (160.0, 215.0)
    assert arete["headline"] == "Arete Research upgrade: Neutral -> Buy, target 160 -> 215"
    init = events.loc["BABA-analyst-2025-12-02"]
    assert pd.isna(init["target_old"]) and init["target_new"] == 195.0  # prior target 0 = none
    ms = events.loc["BABA-analyst-2025-10-31"]
    assert (
        pd.isna(ms["target_new"])
        and ms["headline"] == "Morgan Stanley downgrade: Overweight -> Equal-Weight"
    )


def test_analyst_unknown_ticker_and_offline(tmp_path):
    with pytest.raises(DataUnavailable, match="NOSUCH analyst actions"):
        analyst(tmp_path, FakeYahoo()).load(["NOSUCH"])
    with pytest.raises(DataUnavailable, match="offline"):
        analyst(tmp_path, FakeYahoo(), offline=True).load(["BABA"])
    analyst(tmp_path, FakeYahoo()).load(["BABA"])
    fake = FakeYahoo()
    assert len(analyst(tmp_path, fake, offline=True).load(["BABA"])) == 4 and fake.calls == []


def _calendar_calls(fake):
    return [c for c in fake.calls if "calendar/earnings" in c[1]]


def test_refresh_refetches_earnings_within_max_age(tmp_path):
    """K3: the 24 h freshness window does not apply to --refresh."""
    fake = FakeYahoo()
    earnings(tmp_path, fake).load(["BABA"])
    soon = NOW + pd.Timedelta(hours=1)
    earnings(tmp_path, fake, now=soon).load(["BABA"])
    assert len(_calendar_calls(fake)) == 1  # fresh: served from the cache
    assert len(earnings(tmp_path, fake, now=soon, refresh=True).load(["BABA"])) == 6
    assert len(_calendar_calls(fake)) == 2


def test_refresh_records_the_new_earnings_payload_and_keeps_older_vintages(tmp_path):
    """K3: a refreshed estimate wins; the vintage it replaces stays (rows are only appended)."""
    earnings(tmp_path, FakeYahoo()).load(["BABA"])
    revised = FakeYahoo()
    revised.earnings_html["BABA"] = HTML.replace("2.40", "2.45")
    soon = NOW + pd.Timedelta(hours=1)
    source = earnings(tmp_path, revised, now=soon, refresh=True)
    events = source.load(["BABA"]).set_index("event_id")
    assert events.at["BABA-earnings-2026-02-19T135959Z", "eps_estimate"] == 2.45
    entry = source.cache.read(source.key("BABA"))
    assert entry.fetched_at == soon
    feb = entry.frame[entry.frame["event_time"] == pd.Timestamp("2026-02-19 13:59:59", tz="UTC")]
    assert feb["eps_estimate"].tolist() == [2.40, 2.45]
    assert feb["fetched_at"].tolist() == [NOW, soon]


def test_refresh_with_network_down_keeps_the_earnings_entry_byte_identical(tmp_path):
    """K3: a failed --refresh of earnings leaves the cache as it was and says so."""
    source = earnings(tmp_path, FakeYahoo())
    source.load(["BABA"])
    folder = source.cache.manifest_path(source.key("BABA")).parent
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    down = FakeYahoo(faults=[("yahoo.com", "down")] * 100)
    with pytest.raises(DataUnavailable) as info:
        earnings(tmp_path, down, refresh=True).load(["BABA"])
    message = str(info.value)
    assert message.startswith("no data for BABA earnings: Yahoo failed")
    assert message.endswith(
        "--refresh kept the cached entry unchanged: run without --refresh (or with --offline) "
        "to use it"
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert len(earnings(tmp_path, FakeYahoo(), offline=True).load(["BABA"])) == 6


def test_refresh_refetches_fresh_analyst_actions(tmp_path):
    fake = FakeYahoo()
    analyst(tmp_path, fake).load(["BABA"])
    analyst(tmp_path, fake).load(["BABA"])
    summaries = [c for c in fake.calls if "quoteSummary" in c[1]]
    assert len(summaries) == 1
    assert len(analyst(tmp_path, fake, refresh=True).load(["BABA"])) == 4
    assert len([c for c in fake.calls if "quoteSummary" in c[1]]) == 2
