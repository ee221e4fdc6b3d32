"""Facts read from article sentences, checked against values written by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from backtest.core.errors import EventError
from backtest.events.article import parse_article
from backtest.events.extract import (
    find_analyst_actions,
    find_consensus,
    find_move,
    find_report_dates,
)
from backtest.events.isin import read_isin_table
from backtest.events.sentiment import LmLists, lm_lists, tone


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("JD.com shares fell 4.2% on Friday.", -4.2),
        ("The stock dropped 3 percent in early trading.", -3.0),
        ("Shares rose 2.5% on Monday.", 2.5),
        ("Its share price soared by more than 10% in one session.", 10.0),
        ("Shares were down 1.1% at midday.", -1.1),
        ("Cloud revenue jumped 34% year over year.", None),  # not the stock
        ("The stock has gained 87% over the past twelve months.", None),  # a horizon, not a session
        ("Shares ended flat.", None),
    ],
)
def test_move_is_the_stock_move_signed_by_its_verb(sentence, expected):
    found = find_move([sentence])
    assert (found.value if found else None) == expected
    if found:
        assert found.sentence == sentence


def test_move_takes_the_first_stock_move_and_its_sentence():
    sentences = ["Revenue rose 20%.", "Shares slid 2% on Tuesday.", "Shares rose 5% later."]
    found = find_move(sentences)
    assert (found.value, found.sentence) == (-2.0, sentences[1])


def test_consensus_needs_the_word_and_a_currency_amount():
    assert find_consensus(["The consensus view is cautious."]) is None
    found = find_consensus(["The average price target of 31 analysts is US$1,250.50."])
    assert found.value == 1250.5


@pytest.mark.parametrize(
    ("sentence", "firm", "rating", "old", "new", "direction"),
    [
        (
            "Goldman Sachs raised its price target to $250 from $230.",
            "Goldman Sachs",
            None,
            230,
            250,
            "up",
        ),
        (
            'Jefferies kept a "Buy" rating but cut its target from $231 to $225.',
            "Jefferies",
            "Buy",
            231,
            225,
            "down",
        ),
        ("In a note, UBS upgraded the stock to Buy.", "UBS", "Buy", None, None, "up"),
        ("Harbor Lane lowered its target on the shares.", "Harbor Lane", None, None, None, "down"),
        (
            "Bank of America reiterated its Neutral rating.",
            "Bank of America",
            "Neutral",
            None,
            None,
            "unchanged",
        ),
        ("Citi set a target price of €48.", "Citi", None, None, 48, None),
        ("The price target was cut to $30 by one house.", None, None, None, 30, "down"),
    ],
)
def test_analyst_actions(sentence, firm, rating, old, new, direction):
    [action] = find_analyst_actions([sentence], "Alibaba")
    nan_or = lambda v: math.nan if v is None else float(v)  # noqa: E731
    assert (action.firm, action.rating, action.direction) == (firm, rating, direction)
    for got, want in ((action.target_old, nan_or(old)), (action.target_new, nan_or(new))):
        assert got == want or (math.isnan(got) and math.isnan(want))


@pytest.mark.parametrize(
    "sentence",
    [
        "Alibaba raised its outlook for cloud revenue.",  # the company's own guidance
        "The consensus price target stands at $195.12.",  # no action
        "Analysts expect a strong quarter.",
    ],
)
def test_not_analyst_actions(sentence):
    assert find_analyst_actions([sentence], "Alibaba") == []


@pytest.mark.parametrize(
    ("published", "sentence", "date", "timing"),
    [
        # Nearest occurrence: Feb 19 seen on Jan 13 is this year; Nov 25 is last year.
        ("2026-01-13 14:42", "It reports results on February 19.", "2026-02-19", None),
        ("2026-01-13 14:42", "It reported results on November 25.", "2025-11-25", None),
        # Feb 19 seen in December is next year's.
        ("2025-12-15 09:30", "Earnings are due Feb. 19, before the bell.", "2026-02-19", "bmo"),
        (
            "2026-01-13 14:42",
            "Results follow on 19 February 2027, after the close.",
            "2027-02-19",
            "amc",
        ),
    ],
)
def test_report_dates_and_their_year(published, sentence, date, timing):
    [found] = find_report_dates([sentence], pd.Timestamp(published, tz="Europe/Berlin"))
    assert (found.date, found.timing) == (pd.Timestamp(date), timing)


def test_dates_outside_earnings_sentences_are_ignored():
    pub = pd.Timestamp("2026-01-13", tz="Europe/Berlin")
    assert find_report_dates(["The chip order could land on February 19."], pub) == []


def test_tone_counts_lm_words_and_ignores_negated_positives():
    lists = LmLists(frozenset({"GAIN", "STRONG"}), frozenset({"LOSS", "WEAK"}), "test")
    # STRONG and GAIN count, "not strong" does not; LOSS and WEAK: (2 - 2) / 4.
    t = tone("A strong gain, then a weak loss; results were not strong.", lists)
    assert (t.positive, t.negative, t.score) == (("STRONG", "GAIN"), ("WEAK", "LOSS"), 0.0)


def test_bundled_lm_subset_is_a_subset_of_the_lm_categories():
    lists = lm_lists()
    assert lists.positive.isdisjoint(lists.negative)
    # Words the LM lists classify in these categories (Loughran and McDonald 2011).
    assert {"GAIN", "STRONG", "IMPROVEMENT"} <= lists.positive
    assert {"LOSS", "DECLINE", "WEAK"} <= lists.negative


def test_lm_master_dictionary_format_is_read(tmp_path):
    path = tmp_path / "LM.csv"
    path.write_text(
        "Word,Negative,Positive,Uncertainty\nSURGE,0,2009,0\nSLUMP,2009,0,0\nTABLE,0,0,0\n"
    )
    lists = lm_lists(path)
    assert (lists.positive, lists.negative) == (frozenset({"SURGE"}), frozenset({"SLUMP"}))
    assert tone("A surge, a surge, a slump.", lists).score == pytest.approx(1 / 3)


def test_lm_file_without_the_columns_is_an_error(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text("word,polarity\nGAIN,positive\n")
    with pytest.raises(EventError, match="Word, Positive, Negative"):
        lm_lists(path)


def test_user_isin_table_rows_are_validated_with_their_line(tmp_path):
    path = tmp_path / "isins.csv"
    path.write_text("isin,ticker\nUS0378331005,AAPL\nUS0378331006,XXX\n")
    with pytest.raises(EventError, match=r"isins.csv:3: 'US0378331006'"):
        read_isin_table(path)


def test_article_header_parts():
    text = (
        "Kicker, Tags\n\nA Title Of Six Words Here\n\n01.02.2026 - 10:00:00\n\n"
        "Foo Corp US0378331005\n\nFirst sentence. Second one!\n* A bullet\n\nAd\n\nBuy now!\n\n"
        "@ example.test | US0378331005 FOO\n"
    )
    a = parse_article(text)
    assert (a.title, a.stamp, a.isin, a.company, a.publisher) == (
        "A Title Of Six Words Here",
        "01.02.2026 - 10:00:00",
        "US0378331005",
        "Foo Corp",
        "example.test",
    )
    # The advertisement after "Ad" is not part of the article.
    assert a.sentences == (
        "A Title Of Six Words Here",
        "First sentence.",
        "Second one!",
        "A bullet",
    )
