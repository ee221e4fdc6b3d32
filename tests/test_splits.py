"""Known splits and the prices next to them (RELIABILITY P9; yfinance #1531, #2002, #134).

Yahoo's split events reach us through yfinance's own chart parsing (the recorded
NVDA 10:1 of 2024-06-10 in tests/fixtures/yahoo/chart_NVDA.json). Validation
checks only the sessions next to a known split, so a genuine -50% session is
never flagged.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from yahoo_fake import FakeYahoo, load_chart

from backtest.config.model import load_config
from backtest.core.errors import DataIntegrityError
from backtest.data.cache import CacheKey, ParquetCache
from backtest.data.prices import load_prices
from backtest.data.synthetic import geometric_prices
from backtest.data.validate import validate_prices
from backtest.data.yahoo import YFinancePrices
from backtest.run.runner import run_loaded
from tests.conftest import CAL, SESSIONS, base_config, write_config, write_prices
from tests.test_data_yahoo import fresh_yfinance  # noqa: F401  (autouse: yfinance caches in tmp)
from tests.test_pipeline import MOMENTUM, NEWS

OHLC = ["open", "high", "low", "close"]
AFTER_0611 = pd.Timestamp("2024-06-11 22:00", tz="UTC")
SPLIT_DAY = pd.Timestamp("2024-06-10")
# NVDA's last bar before the split as traded (not yet divided by 10).
RAW_0607 = {"open": 1197.7, "high": 1216.9, "low": 1180.22, "close": 1208.88, "volume": 41238600}
FAR = pd.Timestamp("2200-01-01", tz="UTC")


def nvda_source(tmp_path, chart: dict) -> YFinancePrices:
    return YFinancePrices(
        ParquetCache(tmp_path / "cache"),
        CAL,
        start=pd.Timestamp("2024-06-03"),
        end=SPLIT_DAY,
        session=FakeYahoo({"NVDA": chart}),
        sleep=[].append,
        clock=lambda: AFTER_0611,
    )


def unapplied(chart: dict) -> dict:
    """The NVDA chart with the 2024-06-07 bar as traded: Yahoo missed the split (#1531)."""
    out = copy.deepcopy(chart)
    result = out["chart"]["result"][0]
    for col, value in RAW_0607.items():
        result["indicators"]["quote"][0][col][0] = value
    result["indicators"]["adjclose"][0]["adjclose"][0] = RAW_0607["close"]
    return out


def test_p9_yahoo_split_events_are_cached_with_the_prices(tmp_path):
    src = nvda_source(tmp_path, load_chart("NVDA"))
    frame = src.load("NVDA")
    assert frame["split_ratio"].to_dict() == {pd.Timestamp("2024-06-07"): 0.0, SPLIT_DAY: 10.0}
    (call,) = [c for c in src.session.calls if "period1" in c[2]]
    assert "splits" in call[2]["events"]
    assert src.cache.read(src.key("NVDA")).frame["split_ratio"].iloc[-1] == 10.0
    clean, report = validate_prices(frame, "NVDA", CAL)
    assert "split_ratio" not in clean.columns
    assert report.splits == {"2024-06-10": 10.0} and report.suspect_splits == []


def test_p9_a_split_yahoo_did_not_apply_is_flagged_suspect_split(tmp_path):
    src = nvda_source(tmp_path, unapplied(load_chart("NVDA")))
    _, (report,) = load_prices(src, ["NVDA"], "raw", CAL, now=AFTER_0611)
    close = next(s for s in report.suspect_splits if s.column == "close")
    assert (close.session, close.kind, close.expected) == (SPLIT_DAY, "missing_adjustment", 0.1)
    assert close.seen == pytest.approx(121.79 / 1208.88)
    assert report.notes[0] == (
        "suspect_split: NVDA: close ratio 0.1007 on 2024-06-10 (10:1 split of 2024-06-10 "
        "looks not applied; expected ~0.1)"
    )


def _with_split(frame: pd.DataFrame, day: pd.Timestamp, ratio: float) -> pd.DataFrame:
    return frame.assign(split_ratio=np.where(frame.index == day, ratio, 0.0))


def test_p9_a_split_applied_twice_is_flagged_double_adjustment():
    day = SESSIONS[10]
    frame = geometric_prices(SESSIONS[:20])
    frame.loc[frame.index < day, OHLC] /= 2  # history divided by the 2:1 split once too often
    _, report = validate_prices(_with_split(frame, day, 2.0), "A", CAL)
    (suspect,) = report.suspect_splits
    assert (suspect.kind, suspect.session, suspect.expected) == ("double_adjustment", day, 2.0)
    assert suspect.seen == pytest.approx(2 * 1.01)


def test_p9_a_reverse_split_not_applied_is_flagged():
    day = SESSIONS[10]
    frame = geometric_prices(SESSIONS[:20])
    frame.loc[frame.index >= day, OHLC] *= 10  # a 1:10 reverse split left unadjusted
    _, report = validate_prices(_with_split(frame, day, 0.1), "A", CAL)
    assert [(s.kind, s.expected) for s in report.suspect_splits] == [("missing_adjustment", 10.0)]


def test_p9_a_genuine_half_price_session_is_not_flagged():
    """No split date, no flag: a crash and a missed 2:1 split look alike without one."""
    crash, split = SESSIONS[10], SESSIONS[30]
    frame = geometric_prices(SESSIONS[:40])
    frame.loc[frame.index >= crash, OHLC] /= 2
    _, report = validate_prices(frame, "A", CAL)
    assert report.suspect_splits == [] and report.notes == []
    _, report = validate_prices(_with_split(frame, split, 2.0), "A", CAL)  # a split elsewhere
    assert report.suspect_splits == [] and report.splits == {str(split.date()): 2.0}


def test_p9_a_split_yahoo_dated_a_session_late_is_still_checked():
    day = SESSIONS[10]
    frame = geometric_prices(SESSIONS[:20])
    frame.loc[frame.index >= day, OHLC] /= 2
    _, report = validate_prices(_with_split(frame, SESSIONS[11], 2.0), "A", CAL)
    (suspect,) = report.suspect_splits
    assert (suspect.session, suspect.split_session) == (day, SESSIONS[11])


def test_p9_a_split_on_a_row_without_prices_still_counts():
    """yfinance #134/#559: the split date's row has no prices; it is dropped, the split kept."""
    day = SESSIONS[10]
    frame = geometric_prices(SESSIONS[:20])
    frame.loc[frame.index >= day, OHLC] /= 2
    frame.loc[day, OHLC] = np.nan
    clean, report = validate_prices(_with_split(frame, day, 2.0), "A", CAL)
    assert day not in clean.index and report.dropped == {"all_nan_row": 1}
    assert [s.session for s in report.suspect_splits] == [SESSIONS[11]]


def test_p9_a_negative_split_ratio_raises_naming_ticker_and_day():
    frame = _with_split(geometric_prices(SESSIONS[:5]), SESSIONS[2], -2.0)
    with pytest.raises(DataIntegrityError) as info:
        validate_prices(frame, "A", CAL)
    assert str(info.value).startswith("A: split_ratio on 2026-01-06 is -2.0; a split ratio is")


def _news_run(tmp_path, market, frame: pd.DataFrame):
    """Run the 3-session news trade of 2026-01-13 on ``frame`` as A's prices file."""
    write_prices(market, {"A": frame})
    return run_loaded(load_config(write_config(tmp_path, base_config(market, [NEWS], [MOMENTUM]))))


def _halved_from(market, day: str) -> pd.DataFrame:
    frame = pd.read_csv(market / "A.csv", index_col="date", parse_dates=True)
    frame.loc[frame.index >= day, OHLC] /= 2
    return frame


def test_p9_an_unapplied_split_in_a_window_drops_the_event_as_suspect_split(tmp_path, market):
    frame = _halved_from(market, "2026-01-15")
    # A prices file exported from yfinance: its "Stock Splits" column is read too.
    frame["Stock Splits"] = np.where(frame.index == "2026-01-15", 2.0, 0.0)
    result = _news_run(tmp_path, market, frame)
    assert result.trades.empty
    drop = result.drops.set_index("event_id").loc["A-news-2026-01-13T134204Z"]
    assert (drop["stage"], drop["reason"]) == ("signals", "suspect_split")
    assert drop["detail"] == (
        "A: close ratio 0.505 on 2026-01-15 (2:1 split of 2026-01-15 looks not applied; "
        "expected ~0.5)"
    )
    (report,) = [r for r in result.validation if r.ticker == "A"]
    assert report.suspect_splits[0].as_dict()["ratio_seen"] == pytest.approx(0.505)


def test_p9_the_same_fall_without_a_split_date_is_traded_as_a_loss(tmp_path, market):
    result = _news_run(tmp_path, market, _halved_from(market, "2026-01-15"))
    (trade,) = result.trades.itertuples()
    assert trade.gross_return == pytest.approx(0.5 * 1.01**3 / 1.002 - 1)


def test_k4_prices_cached_without_split_ratio_are_refetched(tmp_path):
    src = nvda_source(tmp_path, load_chart("NVDA"))
    src.load("NVDA")
    manifest = src.cache.manifest_path(src.key("NVDA"))
    old = json.loads(manifest.read_text()) | {"schema_version": 1}
    manifest.write_text(json.dumps(old))
    assert src.cache.read(src.key("NVDA")) is None
    calls = len(src.session.data_calls)
    assert src.load("NVDA")["split_ratio"].iloc[-1] == 10.0
    assert len(src.session.data_calls) > calls


def test_k4_the_prices_version_leaves_earnings_vintages_readable(tmp_path):
    cache = ParquetCache(tmp_path)
    key = CacheKey("earnings", "BABA", "events", "vintages")
    cache.write(key, pd.DataFrame({"eps": [1.0]}), FAR)
    assert json.loads(cache.manifest_path(key).read_text())["schema_version"] == 1
    assert cache.read(key).frame["eps"].tolist() == [1.0]
