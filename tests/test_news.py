"""The news-folder loader: every article either gives events or a drop with its reason."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.core.errors import ConfigError, EventError
from backtest.core.sessions import get_calendar
from backtest.events.news import evidence_table, load_news_folder
from backtest.run.pipeline import align, load_events_and_drops, load_market
from backtest.run.runner import run_loaded
from tests.conftest import REPO

CAL = get_calendar("XNYS")
FIXTURES = REPO / "tests" / "fixtures"
ARTICLES = FIXTURES / "articles"
SEED = REPO.parent / "shared" / "seeds" / "alibaba_2026-01-13.txt"
UTC = "UTC"


@pytest.fixture(scope="module")
def load():
    return load_news_folder(ARTICLES, CAL)


def _event(load, event_id: str) -> pd.Series:
    rows = load.events[load.events["event_id"] == event_id]
    assert len(rows) == 1, load.events["event_id"].tolist()
    return rows.iloc[0]


def _reasons(load) -> dict[str, list[str]]:
    return load.drops.groupby("event_id")["reason"].apply(sorted).to_dict()


def test_every_file_that_gives_no_event_is_a_drop_with_its_reason(load):
    assert _reasons(load) == {
        "article:bad_isin.txt": ["invalid_isin"],
        "article:cp1252.txt": ["undecodable"],
        "article:dst_ambiguous.txt": ["ambiguous_time"],
        "article:dst_gap.txt": ["nonexistent_time"],
        "article:empty.txt": ["empty_article"],
        "article:falls_jd.txt": ["analyst_without_firm", "past_earnings_reference"],
        "article:no_isin.txt": ["no_isin"],
        "article:no_timestamp.txt": ["no_timestamp"],
        "article:notes.md": ["not_an_article"],
        "article:unknown_isin.txt": ["unknown_isin"],
    }
    assert set(load.drops["stage"]) == {"load"}


def test_conservation_every_folder_entry_is_an_article_event_or_a_drop(load):
    entries = {p.name for p in ARTICLES.iterdir()}
    news_from = set(
        load.events.loc[load.events["event_type"] == "news", "source"].str.split(":").str[-1]
    )
    fatal = load.drops[
        ~load.drops["reason"].isin(["analyst_without_firm", "past_earnings_reference"])
    ]
    dropped = set(fatal["event_id"].str.removeprefix("article:"))
    assert news_from.isdisjoint(dropped)
    assert news_from | dropped == entries


def test_seed_facts_article(load):
    ev = _event(load, "BABA-news-2026-01-13T134204Z")
    # 14:42:04 CET (UTC+1 in January) is 13:42:04 UTC, 08:42 in New York: before the open.
    assert ev["event_time"] == pd.Timestamp("2026-01-13 13:42:04", tz=UTC)
    assert (ev["ticker"], ev["isin"], ev["timing"]) == ("BABA", "US01609W1027", "bmo")
    assert ev["headline"] == "Alibaba Rallies After AI Milestone; Brokers Stay Measured"
    assert (ev["move_pct"], ev["consensus_target"]) == (10.0, 195.12)
    assert ev["known_at"] == ev["event_time"]
    jefferies = _event(load, "BABA-analyst-2026-01-13T134204Z-jefferies")
    assert jefferies[["firm", "rating", "target_old", "target_new", "direction"]].tolist() == [
        "Jefferies",
        "Buy",
        231.0,
        225.0,
        "down",
    ]
    ms = _event(load, "BABA-analyst-2026-01-13T134204Z-morgan-stanley")
    assert (ms["firm"], ms["direction"]) == ("Morgan Stanley", "down")
    assert pd.isna(ms["target_old"]) and pd.isna(ms["target_new"]) and pd.isna(ms["rating"])


def test_named_report_date_becomes_a_scheduled_earnings_event_known_at_publication(load):
    ev = _event(load, "BABA-earnings-2026-02-19")
    assert ev["event_time"] == pd.Timestamp("2026-02-19", tz="America/New_York")
    assert ev["known_at"] == pd.Timestamp("2026-01-13 13:42:04", tz=UTC)
    assert (ev["timing"], ev["known_at_basis"]) == ("unknown", "published")
    # Published 15.12.2025, "March 5, after the close": next year's March, amc.
    jd = _event(load, "JD-earnings-2026-03-05")
    assert (jd["timing"], jd["known_at"]) == ("amc", pd.Timestamp("2025-12-15 08:30", tz=UTC))


def test_negative_move_and_a_target_cut_without_numbers(load):
    news = _event(load, "JD-news-2025-12-15T083000Z")
    assert news["move_pct"] == -4.2
    firm = _event(load, "JD-analyst-2025-12-15T083000Z-harbor-lane-securities")
    assert (firm["firm"], firm["direction"]) == ("Harbor Lane Securities", "down")
    assert pd.isna(firm["target_new"])


def test_missing_facts_are_nan_payloads_not_drops(load):
    ev = _event(load, "BABA-news-2026-01-20T110500Z")
    assert ev["headline"] == "Alibaba Names New Head of Cloud Unit"
    assert pd.isna(ev["move_pct"]) and pd.isna(ev["consensus_target"]) and pd.isna(ev["sentiment"])
    from_article = load.events["source"].str.endswith(":no_move.txt")
    assert load.events.loc[from_article, "event_type"].tolist() == ["news"]


def test_isin_in_the_footer_is_used_when_the_header_has_none(load):
    ev = _event(load, "BIDU-news-2026-01-16T204500Z")
    assert (ev["isin"], ev["headline"], ev["move_pct"]) == (
        "US0567521085",
        "Baidu Climbs on Search Revamp",
        3.4,
    )


def test_drop_details_say_how_to_fix(load):
    detail = load.drops.set_index("event_id")["detail"]
    assert "US0378331005,<TICKER>" in detail["article:unknown_isin.txt"]
    assert "isin_table" in detail["article:unknown_isin.txt"]
    assert "check digit" in detail["article:bad_isin.txt"]
    assert "byte 34 (0xfc)" in detail["article:cp1252.txt"]
    assert "encoding" in detail["article:cp1252.txt"]
    assert "occurs twice" in detail["article:dst_ambiguous.txt"]
    assert "does not exist" in detail["article:dst_gap.txt"]


def test_user_isin_table_extends_the_bundled_one():
    load = load_news_folder(ARTICLES, CAL, isin_table=FIXTURES / "isin_extra.csv")
    ev = _event(load, "AAPL-news-2026-01-14T152000Z")
    assert (ev["isin"], ev["move_pct"]) == ("US0378331005", 1.2)
    assert "article:unknown_isin.txt" not in set(load.drops["event_id"])


def test_encoding_option_reads_windows_files(tmp_path):
    shutil.copy(ARTICLES / "cp1252.txt", tmp_path)
    load = load_news_folder(tmp_path, CAL, encoding="cp1252")
    ev = load.events.iloc[0]
    assert ev["headline"] == "Alibaba Gewinne für Anleger"
    assert ev["move_pct"] == 1.5
    assert load.drops.empty


def _one_article(tmp_path, stamp: str) -> pd.DataFrame:
    (tmp_path / "a.txt").write_text(
        f"X Up\n\n{stamp}\n\nAlibaba US01609W1027\n\nAlibaba shares rose 1%.\n"
    )
    return load_news_folder(tmp_path, CAL)


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [
        # Around the 2026 European changes (29 March 02:00 -> 03:00, 25 October 03:00 -> 02:00).
        ("29.03.2026 - 01:59:59", "2026-03-29 00:59:59"),  # CET, UTC+1
        ("29.03.2026 - 03:00:00", "2026-03-29 01:00:00"),  # CEST, UTC+2
        ("25.10.2026 - 01:59:59", "2026-10-24 23:59:59"),  # CEST
        ("25.10.2026 - 03:00:00", "2026-10-25 02:00:00"),  # CET
    ],
)
def test_stamps_beside_the_dst_hours_are_exact(tmp_path, stamp, utc):
    assert _one_article(tmp_path, stamp).events["event_time"].iloc[0] == pd.Timestamp(utc, tz=UTC)


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("25.10.2026 - 02:00:00", "ambiguous_time"),
        ("29.03.2026 - 02:59:59", "nonexistent_time"),
        ("31.02.2026 - 10:00:00", "bad_timestamp"),
        ("13.01.2026", "no_timestamp"),
    ],
)
def test_unusable_stamps_are_dropped(tmp_path, stamp, reason):
    load = _one_article(tmp_path, stamp)
    assert load.events.empty
    assert load.drops["reason"].tolist() == [reason]


def test_every_extracted_value_cites_a_sentence_that_states_it(load):
    table = evidence_table(load.events)
    numeric = table[
        table["field"].isin(["move_pct", "target_old", "target_new", "consensus_target"])
    ]
    assert len(numeric) >= 6
    for row in numeric.itertuples():
        assert f"{abs(row.value):g}" in row.sentence, row
    for row in table[table["field"].isin(["firm", "rating", "headline"])].itertuples():
        assert row.value in row.sentence
    # The sentiment evidence lists the LM words that were counted.
    sentiment = json.loads(_event(load, "JD-news-2025-12-15T083000Z")["evidence"])["sentiment"]
    assert "WEAK" in sentiment


def test_not_a_folder_is_an_error(tmp_path):
    with pytest.raises(EventError, match="not a folder"):
        load_news_folder(tmp_path / "missing", CAL)


@pytest.mark.skipif(not SEED.is_file(), reason="the project's seed article is not beside the repo")
def test_the_seed_article_itself(tmp_path):
    shutil.copy(SEED, tmp_path)
    load = load_news_folder(tmp_path, CAL)
    ev = _event(load, "BABA-news-2026-01-13T134204Z")
    assert (ev["move_pct"], ev["consensus_target"], ev["source"].split(":")[0]) == (
        10.0,
        195.12,
        "boerse-global.de",
    )
    jefferies = _event(load, "BABA-analyst-2026-01-13T134204Z-jefferies")
    assert (jefferies["target_old"], jefferies["target_new"]) == (231.0, 225.0)
    assert "BABA-earnings-2026-02-19" in set(load.events["event_id"])
    assert load.drops.empty


# ---- config and pipeline ----------------------------------------------------


def _aligned_news(config: str) -> pd.Series:
    loaded = load_config(REPO / "configs" / config)
    prices, _ = load_market(loaded, CAL)
    events, _ = load_events_and_drops(loaded, CAL)
    aligned, _ = align(loaded, events, prices, CAL, None)
    rows = aligned[aligned["event_id"] == "BABA-news-2026-01-13T134204Z"]
    assert len(rows) == 1
    return rows.iloc[0]


def test_article_news_event_aligns_exactly_like_the_inline_seed_event():
    cols = ["event_id", "event_time", "timing", "session", "fill_at", "actionable_at"]
    cols += ["session_price", "align_rule", "move_pct"]
    from_article, inline = _aligned_news("baba_news.yaml"), _aligned_news("baba_2026.yaml")
    assert from_article[cols].tolist() == inline[cols].tolist()
    # 08:42 New York is before the 09:30 open: that day's open is the first fill.
    assert (from_article["session"], from_article["fill_at"]) == (
        pd.Timestamp("2026-01-13"),
        "open",
    )


def test_baba_news_config_backtests_each_article(tmp_path):
    result = run_loaded(load_config(REPO / "configs" / "baba_news.yaml"))
    assert sorted(result.trades["event_id"]) == [
        "BABA-news-2026-01-13T134204Z",
        "BABA-news-2026-03-03T211500Z",
        "JD-news-2026-03-06T220510Z",
    ]
    # news_momentum follows the reported move: long on +10%, short on -4.9%.
    sides = result.trades.set_index("event_id")["side"]
    assert (sides["BABA-news-2026-01-13T134204Z"], sides["BABA-news-2026-03-03T211500Z"]) == (1, -1)


def test_loader_drops_reach_the_run_drops_table(tmp_path):
    text = (REPO / "configs" / "baba_news.yaml").read_text()
    text = text.replace("path: articles", f"path: {ARTICLES}")
    (tmp_path / "c.yaml").write_text(text)
    result = run_loaded(load_config(tmp_path / "c.yaml"))
    load_drops = result.drops[result.drops["stage"] == "load"]
    assert set(load_drops["event_id"]) >= {"article:notes.md", "article:no_isin.txt"}


def test_news_folder_config_rejects_unknown_keys(tmp_path):
    text = (REPO / "configs" / "baba_news.yaml").read_text()
    (tmp_path / "c.yaml").write_text(
        text.replace("timezone: Europe/Berlin", "timezon: Europe/Berlin")
    )
    with pytest.raises(ConfigError, match="timezon"):
        load_config(tmp_path / "c.yaml")
