"""Pull facts out of an article's sentences, each with the sentence it came from.

Rule-based and deliberately narrow: a fact is taken only from a sentence that
states it in one of the plain patterns financial news uses ("fell 4.2%",
"price target from $231 to $225", "reports results on February 19"). What is
not matched stays missing (NaN) rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "AnalystAction",
    "Found",
    "ReportDate",
    "find_analyst_actions",
    "find_consensus",
    "find_move",
    "find_report_dates",
]

_UP = (
    "rose rise rises rising risen jumped jump jumps jumping surged surge surges surging soared "
    "soar soars soaring climbed climb climbs climbing gained gain gains gaining rallied rally "
    "rallies rallying advanced advance advances added spiked leapt leaped rebounded up higher"
)
_DOWN = (
    "fell fall falls falling fallen dropped drop drops dropping slid slide slides sliding "
    "slumped slump slumps plunged plunge plunges tumbled tumble tumbles sank sink sinks lost "
    "lose loses declined decline declines declining shed sheds retreated slipped slips dived "
    "crashed down lower"
)
_SIGN = {**dict.fromkeys(_UP.split(), 1.0), **dict.fromkeys(_DOWN.split(), -1.0)}
_PCT = r"(?P<num>\d+(?:\.\d+)?)\s?(?:%|percent\b|per cent\b)"
_MOVE = re.compile(
    rf"\b(?P<verb>{'|'.join(_SIGN)})\b(?:\s+[\w'-]+){{0,4}}?\s+{_PCT}(?P<after>(?:\W+\w+){{0,6}})",
    re.IGNORECASE,
)
_STOCK = re.compile(r"\b(?:stock|shares?|share price|ADRs?|ADSs?)\b", re.IGNORECASE)
# A move measured over weeks or years is not the session's catalyst move.
_HORIZON = re.compile(
    r"\b(?:year|years|twelve-month|12-month|month|months|week|weeks|year-to-date|ytd|since)\b",
    re.IGNORECASE,
)
_MONEY = r"(?:US\$|HK\$|\$|€|£|EUR\s?|USD\s?)"
_AMOUNT = r"\s?(\d[\d,]*(?:\.\d+)?)"
_CONSENSUS = re.compile(
    rf"\b(?:consensus|average (?:analyst )?(?:price )?target|mean (?:price )?target)\b"
    rf".*?{_MONEY}\s?(?P<num>\d[\d,]*(?:\.\d+)?)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Found:
    """A value and the sentence that states it."""

    value: float
    sentence: str


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _session_move(sentence: str) -> float | None:
    if not _STOCK.search(sentence):
        return None
    for m in _MOVE.finditer(sentence):
        if not _HORIZON.search(m.group("after")):
            return _SIGN[m.group("verb").lower()] * _number(m.group("num"))
    return None


def find_move(sentences: Iterable[str]) -> Found | None:
    """The first stock move in percent the article reports, signed by its verb.

    "More than 10%" gives 10: the stated bound, with the sentence kept as
    evidence. Moves over a horizon ("87% over twelve months") and moves of
    other quantities ("revenue jumped 34%") are not the catalyst's move.

    Examples
    --------
    >>> find_move(["Cloud revenue jumped 34%.", "The shares fell 4.2% on Tuesday."]).value
    -4.2
    >>> find_move(["Its stock soared by more than 10% in a single session."]).value
    10.0
    >>> find_move(["The stock has gained 87% over the past twelve months."]) is None
    True
    """
    for sentence in sentences:
        move = _session_move(sentence)
        if move is not None:
            return Found(move, sentence)
    return None


def find_consensus(sentences: Iterable[str]) -> Found | None:
    """The analysts' consensus (average) price target, if the article gives one.

    Examples
    --------
    >>> find_consensus(["On average analysts see fair value at $195.12, the consensus."]) is None
    True
    >>> find_consensus(["The consensus target of the 40 analysts is $195.12."]).value
    195.12
    """
    for sentence in sentences:
        m = _CONSENSUS.search(sentence)
        if m:
            return Found(_number(m.group("num")), sentence)
    return None


# ---- analyst actions --------------------------------------------------------

_RAISE = "raised raises lifted lifts increased increases boosted boosts hiked upgraded upgrades"
_LOWER = (
    "lowered lowers cut cuts reduced reduces trimmed trims slashed slashes downgraded downgrades"
)
_KEEP = "reaffirmed reaffirms reiterated reiterates maintained maintains confirmed confirms"
_OTHER = "adjusted adjusts initiated initiates started starts set sets resumed resumes assigned"
_DIRECTION = {
    **dict.fromkeys(_RAISE.split(), "up"),
    **dict.fromkeys(_LOWER.split(), "down"),
    **dict.fromkeys(_KEEP.split(), "unchanged"),
}
_ACTION_VERBS = "|".join([*_DIRECTION, *_OTHER.split()])
_OBJECT = re.compile(
    r"\b(?:price target|target price|price objective|target|rating|recommendation|outlook)\b",
    re.IGNORECASE,
)
# A broker is the sentence's subject: a capitalised name followed by a lower-case word.
_FIRM = re.compile(
    r"(?<![\w&.'-])(?P<firm>[A-Z][\w&.'-]*(?:\s+(?:[A-Z][\w&.'-]*|&|of|and))*)\s+[a-z]"
)
_NOT_FIRMS = frozenset(
    "The This That These It Its He She They We In On At For While Although However Meanwhile "
    "Separately But And Also After Before According Analysts Analyst Brokers Shares Investors".split()
)
_RATINGS = (
    "Strong Buy|Strong Sell|Buy|Sell|Hold|Neutral|Overweight|Underweight|Equal[- ]?[Ww]eight|"
    "Outperform|Underperform|Market Perform|Sector Perform|Peer Perform|Accumulate"
)
_RATING = re.compile(
    rf"[\"“'](?P<q>{_RATINGS})[\"”']|\b(?P<r>{_RATINGS})\s+(?:rating|recommendation)\b"
    rf"|\b(?:to|at|with an?|as)\s+(?P<t>{_RATINGS})\b"
)
# Amounts need a currency sign on the first number, so "from 2025 to 2026" is no target.
_TARGET_FROM_TO = re.compile(rf"\bfrom\s+{_MONEY}{_AMOUNT}\s+to\s+{_MONEY}?{_AMOUNT}", re.I)
_TARGET_TO_FROM = re.compile(rf"\bto\s+{_MONEY}{_AMOUNT}\s+from\s+{_MONEY}?{_AMOUNT}", re.I)
_TARGET_NEW = re.compile(rf"\b(?:to|of|at)\s+{_MONEY}\s?(\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
# "upgraded the stock to Buy" is an analyst action without naming a target or rating.
_GRADE = re.compile(r"\b(?:up|down)grade[sd]?\b", re.IGNORECASE)
_ADJUSTED = re.compile(r"\b(?P<dir>upward|downward)s?\b", re.IGNORECASE)


@dataclass(frozen=True)
class AnalystAction:
    """One broker's action stated in one sentence; ``firm`` is None when no firm is named."""

    firm: str | None
    rating: str | None
    target_old: float
    target_new: float
    direction: str | None
    sentence: str


def _targets(sentence: str) -> tuple[float, float]:
    at = _OBJECT.search(sentence)
    tail = sentence[at.start() :] if at else sentence
    m = _TARGET_FROM_TO.search(tail)
    if m:
        return _number(m.group(1)), _number(m.group(2))
    m = _TARGET_TO_FROM.search(tail)
    if m:
        return _number(m.group(2)), _number(m.group(1))
    m = _TARGET_NEW.search(tail)
    return float("nan"), _number(m.group(1)) if m else float("nan")


def _direction(sentence: str, old: float, new: float) -> str | None:
    if not (pd.isna(old) or pd.isna(new)):
        return "up" if new > old else "down" if new < old else "unchanged"
    words = re.findall(r"[a-z]+", sentence.lower())
    found = {_DIRECTION[w] for w in words if w in _DIRECTION}
    adjusted = _ADJUSTED.search(sentence)
    if adjusted:
        found.add("up" if adjusted.group("dir").lower() == "upward" else "down")
    moves = found - {"unchanged"}
    if len(moves) == 1:
        return moves.pop()
    return "unchanged" if found == {"unchanged"} else None


def _rating(sentence: str) -> str | None:
    m = _RATING.search(sentence)
    return next((g for g in m.groups() if g), None) if m else None


def _firm(sentence: str, company: str | None) -> str | None:
    """The first subject-like name; "" when it is the company itself (guidance, not a broker)."""
    for m in _FIRM.finditer(sentence):
        firm = m.group("firm").strip()
        if firm in _NOT_FIRMS or re.fullmatch(_RATINGS, firm):
            continue
        if company and company.lower() in firm.lower():
            return ""
        return firm
    return None


def _action(sentence: str, company: str | None) -> AnalystAction | None:
    has_verb = re.search(rf"\b(?:{_ACTION_VERBS})\b", sentence)
    if not (_GRADE.search(sentence) or (has_verb and _OBJECT.search(sentence))):
        return None
    firm = _firm(sentence, company)
    if firm == "":
        return None
    old, new = _targets(sentence)
    direction = _direction(sentence, old, new)
    return AnalystAction(firm, _rating(sentence), old, new, direction, sentence)


def find_analyst_actions(sentences: Iterable[str], company: str | None) -> list[AnalystAction]:
    """Every sentence stating a broker's rating or price-target action.

    A sentence qualifies when it has an action verb (raised, cut, reaffirmed,
    adjusted ...) and an object (price target, rating, outlook). The firm is
    the capitalised name acting as the verb's subject; the direction comes from
    old -> new targets when both are given, else from the verb ("lowered its
    target" -> down). ``company`` (the article's own name) acting on its own
    outlook is guidance, not an analyst action.

    Examples
    --------
    >>> a = find_analyst_actions(['Jefferies kept its "Buy" rating but cut its price target '
    ...                           'from $231 to $225.'], "Alibaba")[0]
    >>> a.firm, a.rating, a.target_old, a.target_new, a.direction
    ('Jefferies', 'Buy', 231.0, 225.0, 'down')
    >>> b = find_analyst_actions(["Morgan Stanley also lowered its target."], "Alibaba")[0]
    >>> b.firm, b.direction, b.target_new
    ('Morgan Stanley', 'down', nan)
    >>> find_analyst_actions(["Alibaba raised its outlook for cloud revenue."], "Alibaba")
    []
    """
    found = (_action(s, company) for s in sentences)
    return [a for a in found if a is not None]


# ---- referenced report dates -------------------------------------------------

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            "january jan",
            "february feb",
            "march mar",
            "april apr",
            "may",
            "june jun",
            "july jul",
            "august aug",
            "september sept sep",
            "october oct",
            "november nov",
            "december dec",
        ],
        start=1,
    )
    for m in names.split()
}
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    rf"\b(?:(?P<mon>{_MON})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?"
    rf"|(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?P<mon2>{_MON})\.?(?:\s+(?P<year2>\d{{4}}))?)\b",
    re.IGNORECASE,
)
_REPORT = re.compile(
    r"\b(?:earnings|results|quarterly (?:report|figures|numbers)|annual report)\b", re.IGNORECASE
)
_BMO = re.compile(r"\bbefore the (?:market|bell|open|opening)|\bpre-market\b", re.IGNORECASE)
_AMC = re.compile(r"\bafter the (?:market|close|closing|bell)|\bafter-hours\b", re.IGNORECASE)


@dataclass(frozen=True)
class ReportDate:
    """An earnings date named in a sentence: the calendar date and any stated timing."""

    date: pd.Timestamp
    year_given: bool
    timing: str | None
    sentence: str


def _nearest_year(month: int, day: int, published: pd.Timestamp) -> pd.Timestamp:
    """The date's occurrence nearest to publication (Feb 19 seen in December is next year's)."""
    base = published.tz_localize(None).normalize()
    options = [pd.Timestamp(base.year + k, month, day) for k in (-1, 0, 1)]
    return min(options, key=lambda d: abs(d - base))


def _report_date(m: re.Match[str], published: pd.Timestamp) -> tuple[pd.Timestamp, bool] | None:
    mon = _MONTHS[(m.group("mon") or m.group("mon2")).lower()]
    day = int(m.group("day") or m.group("day2"))
    year = m.group("year") or m.group("year2")
    try:
        if year:
            return pd.Timestamp(int(year), mon, day), True
        return _nearest_year(mon, day, published), False
    except ValueError:  # "February 30": not a date
        return None


def find_report_dates(sentences: Iterable[str], published: pd.Timestamp) -> list[ReportDate]:
    """Every earnings date named in a sentence about results or earnings.

    Without a year, the occurrence nearest to ``published`` is meant (an
    article of 15 December naming "February 19" means next February; one of
    13 January naming "November 25" means last November). The loader decides
    whether the date is still ahead.

    Examples
    --------
    >>> pub = pd.Timestamp("2025-12-15 09:00", tz="Europe/Berlin")
    >>> r = find_report_dates(["It reports results on February 19, before the bell."], pub)[0]
    >>> str(r.date.date()), r.year_given, r.timing
    ('2026-02-19', False, 'bmo')
    """
    out = []
    for sentence in sentences:
        if not _REPORT.search(sentence):
            continue
        for m in _DATE.finditer(sentence):
            found = _report_date(m, published)
            if found:
                timing = (
                    "bmo" if _BMO.search(sentence) else "amc" if _AMC.search(sentence) else None
                )
                out.append(ReportDate(found[0], found[1], timing, sentence))
    return out
