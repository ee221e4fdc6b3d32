"""yfinance prices through the cache, fed recorded Yahoo payloads at the HTTP boundary (P1, P2, P11, K1)."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from yahoo_fake import FakeYahoo, load_chart

from backtest.core.errors import CacheCorrupt, DataUnavailable
from backtest.core.sessions import get_calendar
from backtest.data.bundled import BundledPrices
from backtest.data.cache import ParquetCache
from backtest.data.yahoo import YFinancePrices, yfinance_module

CAL = get_calendar("XNYS")
AFTER_CLOSE_0227 = pd.Timestamp("2026-02-27 22:00", tz="UTC")
AFTER_CLOSE_0220 = pd.Timestamp("2026-02-20 22:00", tz="UTC")
START = pd.Timestamp("2026-02-09")


@pytest.fixture(autouse=True)
def fresh_yfinance(tmp_path):
    """Each test gets yfinance's own caches in tmp and a new YfData bound to its fake."""
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


def source(tmp_path, fake, now=AFTER_CLOSE_0227, offline=False, sleeps=None, **kw):
    sleeps = sleeps if sleeps is not None else []
    return YFinancePrices(
        ParquetCache(tmp_path / "cache"),
        CAL,
        start=kw.pop("start", START),
        offline=offline,
        session=fake,
        sleep=sleeps.append,
        clock=now if callable(now) else Clock(now),
        **kw,
    )


def _history_calls(fake):
    return [c for c in fake.calls if "/v8/finance/chart/" in c[1] and "period1" in c[2]]


def test_fetch_parses_yahoo_chart_into_bundled_prices(tmp_path):
    fake = FakeYahoo()
    frame = source(tmp_path, fake).load("BABA")
    bundled = BundledPrices().load("BABA").loc["2026-02-09":"2026-02-27"]
    cols = ["open", "high", "low", "close", "volume"]
    pd.testing.assert_frame_equal(frame[cols], bundled[cols], check_freq=False)
    assert (frame["adj_close"] == frame["close"]).all()
    # P11: yfinance's end is exclusive, so the request runs to the day after the last session.
    (call,) = _history_calls(fake)
    assert pd.Timestamp(int(call[2]["period2"]), unit="s", tz="UTC").tz_convert(
        "America/New_York"
    ) == pd.Timestamp("2026-02-28", tz="America/New_York")


def test_cache_records_fetch_time_and_yfinance_version(tmp_path):
    from importlib.metadata import version

    src = source(tmp_path, FakeYahoo())
    src.load("BABA")
    entry = src.cache.read(src.key("BABA"))
    assert entry.fetched_at == AFTER_CLOSE_0227
    assert entry.yfinance_version == version("yfinance")


def test_top_up_fetches_only_sessions_after_the_cache(tmp_path):
    fake, clock = FakeYahoo(), Clock(AFTER_CLOSE_0220)
    src = source(tmp_path, fake, now=clock)
    assert src.load("BABA").index[-1] == pd.Timestamp("2026-02-20")
    clock.now = AFTER_CLOSE_0227
    frame = src.load("BABA")
    first, second = _history_calls(fake)
    asked_from = pd.Timestamp(int(second[2]["period1"]), unit="s", tz="UTC")
    # The top-up starts at the last cached session (kept to detect revisions), not at START.
    assert asked_from.tz_convert("America/New_York").date() == pd.Timestamp("2026-02-20").date()
    assert len(frame) == 14 and frame.index.is_unique
    assert frame.index[-1] == pd.Timestamp("2026-02-27")
    src.load("BABA")
    assert len(_history_calls(fake)) == 2  # covered: no third request


def test_revised_history_triggers_a_full_refetch(tmp_path):
    fake, clock = FakeYahoo(), Clock(AFTER_CLOSE_0220)
    src = source(tmp_path, fake, now=clock)
    src.load("BABA")
    # A dividend went ex after the 20th: Yahoo now scales every earlier Adj Close by 0.99.
    chart = copy.deepcopy(load_chart("BABA"))
    adj = chart["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"]
    chart["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"] = [
        round(v * 0.99, 6) for v in adj[:-1]
    ] + adj[-1:]
    fake.charts["BABA"] = chart
    clock.now = AFTER_CLOSE_0227
    frame = src.load("BABA")
    assert len(_history_calls(fake)) == 3  # first fill, top-up, full refetch
    ratio = frame["adj_close"] / frame["close"]
    assert ratio.iloc[0] == pytest.approx(0.99, rel=1e-4) and ratio.iloc[-1] == 1.0


def test_offline_without_cache_names_ticker_and_fix(tmp_path):
    fake = FakeYahoo()
    with pytest.raises(DataUnavailable, match=r"BABA.*backtest fetch BABA"):
        source(tmp_path, fake, offline=True).load("BABA")
    assert fake.calls == []


def test_offline_serves_the_cache_without_network(tmp_path):
    source(tmp_path, FakeYahoo(), now=AFTER_CLOSE_0220).load("BABA")
    fake = FakeYahoo()
    frame = source(tmp_path, fake, offline=True).load("BABA")
    assert frame.index[-1] == pd.Timestamp("2026-02-20") and fake.calls == []


def test_network_down_without_cache_retries_then_one_line_error(tmp_path):
    fake, sleeps = FakeYahoo(faults=[("yahoo.com", "down")] * 100), []
    with pytest.raises(DataUnavailable) as info:
        source(tmp_path, fake, sleeps=sleeps).load("BABA")
    message = str(info.value)
    assert message.startswith("no data for BABA") and "\n" not in message
    assert "ConnectionError" in message
    assert sleeps == [1.0, 2.0, 4.0]


def test_network_down_with_cache_leaves_it_unchanged_and_points_to_offline(tmp_path):
    src = source(tmp_path, FakeYahoo(), now=AFTER_CLOSE_0220)
    src.load("BABA")
    manifest = src.cache.manifest_path(src.key("BABA")).read_bytes()
    down = FakeYahoo(faults=[("yahoo.com", "down")] * 100)
    with pytest.raises(DataUnavailable, match=r"ends 2026-02-20: rerun with --offline"):
        source(tmp_path, down, now=AFTER_CLOSE_0227).load("BABA")
    assert src.cache.manifest_path(src.key("BABA")).read_bytes() == manifest


def test_rate_limit_then_success_after_one_backoff(tmp_path):
    # Two 429s: yfinance retries once with its other cookie strategy, then raises YFRateLimitError.
    fake, sleeps = FakeYahoo(faults=[("/v8/finance/chart/", "429")] * 2), []
    frame = source(tmp_path, fake, sleeps=sleeps).load("BABA")
    assert sleeps == [1.0] and len(frame) == 14


def test_empty_frame_is_retried_then_succeeds(tmp_path):
    src = source(tmp_path, FakeYahoo(), sleeps=[])
    yfinance_module(src.cache.root).Ticker("BABA", session=src.session).history(period="1d")
    src.session.faults = [("/v8/finance/chart/", "empty")]
    sleeps = []
    src.sleep = sleeps.append
    assert len(src.load("BABA")) == 14 and sleeps == [1.0]


def test_always_empty_gives_data_unavailable(tmp_path):
    fake, sleeps = FakeYahoo(faults=[("/v8/finance/chart/", "empty")] * 100), []
    with pytest.raises(DataUnavailable, match="BABA"):
        source(tmp_path, fake, sleeps=sleeps).load("BABA")
    assert sleeps == [1.0, 2.0, 4.0]


def test_unknown_ticker_fails_at_once(tmp_path):
    sleeps = []
    with pytest.raises(DataUnavailable, match=r"no data for NOSUCH: Yahoo does not know it"):
        source(tmp_path, FakeYahoo(), sleeps=sleeps).load("NOSUCH")
    assert sleeps == []


def test_corrupt_cache_online_is_quarantined_and_refetched(tmp_path):
    src = source(tmp_path, FakeYahoo())
    src.load("BABA")
    data = src.cache.read(src.key("BABA")).path
    data.write_bytes(data.read_bytes()[:100])
    assert len(src.load("BABA")) == 14
    assert list(data.parent.glob("*.corrupt-*"))


def test_corrupt_cache_offline_is_a_clear_error(tmp_path):
    src = source(tmp_path, FakeYahoo())
    src.load("BABA")
    data = src.cache.read(src.key("BABA")).path
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(CacheCorrupt, match=r"Run again online to refetch"):
        source(tmp_path, FakeYahoo(), offline=True).load("BABA")


def _entry_bytes(src, ticker="BABA"):
    """The bytes of every file of ``ticker``'s cache entry (manifest and data), by name."""
    folder = src.cache.manifest_path(src.key(ticker)).parent
    return {p.name: p.read_bytes() for p in sorted(folder.glob(f"{ticker}_*")) if p.is_file()}


def test_refresh_refetches_prices_even_when_the_cache_is_fresh(tmp_path):
    """K3: --refresh does not read the cache; a fresh entry is still asked for again."""
    fake = FakeYahoo()
    source(tmp_path, fake).load("BABA")
    source(tmp_path, fake).load("BABA")
    assert len(_history_calls(fake)) == 1  # covered and fresh: no second request
    frame = source(tmp_path, fake, refresh=True).load("BABA")
    assert len(_history_calls(fake)) == 2 and len(frame) == 14
    asked_from = pd.Timestamp(int(_history_calls(fake)[-1][2]["period1"]), unit="s", tz="UTC")
    assert asked_from.tz_convert("America/New_York").date() == START.date()  # all, not a top-up


def test_refresh_replaces_the_price_entry_with_the_new_payload(tmp_path):
    """K3: Yahoo revised every Adj Close before the last bar; only --refresh sees it."""
    fake, clock = FakeYahoo(), Clock(AFTER_CLOSE_0227)
    src = source(tmp_path, fake, now=clock)
    old = src.load("BABA")
    old_file = src.cache.read(src.key("BABA")).path
    chart = copy.deepcopy(load_chart("BABA"))
    adj = chart["chart"]["result"][0]["indicators"]["adjclose"][0]
    adj["adjclose"] = [round(v * 0.99, 6) for v in adj["adjclose"][:-1]] + adj["adjclose"][-1:]
    fake.charts["BABA"] = chart
    pd.testing.assert_frame_equal(src.load("BABA"), old)  # fresh cache: the revision unseen
    clock.now = AFTER_CLOSE_0227 + pd.Timedelta(hours=1)
    fresh = source(tmp_path, fake, now=clock, refresh=True).load("BABA")
    entry = src.cache.read(src.key("BABA"))
    pd.testing.assert_frame_equal(entry.frame, fresh, check_freq=False)
    assert (entry.frame["adj_close"] / entry.frame["close"]).iloc[0] == pytest.approx(0.99, 1e-4)
    assert entry.fetched_at == clock.now and not old_file.exists()  # replaced, old data gone
    assert entry.extra == {"requested_start": "2026-02-09"}


def test_refresh_with_network_down_keeps_the_price_entry_byte_identical(tmp_path):
    """K3 / P2: a failed --refresh leaves the cache as it was and says how to use it."""
    src = source(tmp_path, FakeYahoo())
    cached = src.load("BABA")
    before = _entry_bytes(src)
    down, sleeps = FakeYahoo(faults=[("yahoo.com", "down")] * 100), []
    with pytest.raises(DataUnavailable) as info:
        source(tmp_path, down, sleeps=sleeps, refresh=True).load("BABA")
    message = str(info.value)
    assert message.startswith("no data for BABA: Yahoo failed 4 times") and "\n" not in message
    assert message.endswith(
        "--refresh kept the cached entry unchanged: run without --refresh (or with --offline) "
        "to use it"
    )
    assert _entry_bytes(src) == before and sleeps == [1.0, 2.0, 4.0]
    pd.testing.assert_frame_equal(source(tmp_path, FakeYahoo(), offline=True).load("BABA"), cached)


def test_refresh_without_a_cache_and_network_down_is_the_plain_error(tmp_path):
    down = FakeYahoo(faults=[("yahoo.com", "down")] * 100)
    with pytest.raises(DataUnavailable) as info:
        source(tmp_path, down, refresh=True).load("BABA")
    assert "kept" not in str(info.value) and "Yahoo failed 4 times" in str(info.value)


def test_refresh_with_offline_is_a_config_error_in_every_yahoo_source(tmp_path):
    from backtest.core.errors import ConfigError
    from backtest.events.yahoo_analyst import YFinanceAnalyst
    from backtest.events.yahoo_earnings import YFinanceEarnings
    from backtest.run.fetch import fetch_tickers

    cache, fake = ParquetCache(tmp_path / "cache"), FakeYahoo()
    match = r"^--refresh and --offline cannot be used together: .*; drop one$"
    with pytest.raises(ConfigError, match=match):
        source(tmp_path, fake, offline=True, refresh=True)
    for make in (YFinanceEarnings, YFinanceAnalyst):
        with pytest.raises(ConfigError, match=match):
            make(cache, CAL, offline=True, refresh=True, session=fake)
    with pytest.raises(ConfigError, match=match):
        fetch_tickers(["BABA"], cache_dir=cache.root, offline=True, refresh=True, session=fake)
    assert fake.calls == []
