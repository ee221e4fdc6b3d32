"""Split a plain-text news article into header fields and body sentences.

The format is the one of the project's seed article (``shared/seeds/``)::

    Alibaba, Shares                         <- optional kicker (topic tags)
    Alibaba Shares Surge on ...             <- title
    13.01.2026 - 14:42:04                   <- publication stamp (local time)
    Alibaba US01609W1027                    <- company name and ISIN
    body paragraphs, "* " bullet lines ...
    Ad                                      <- publisher advertisement from here on
    @ boerse-global.de | US01609W1027 ...   <- footer: publisher and ISIN

Blank lines separate the parts, and any of them may be missing. Nothing here
validates: the ISIN is the raw token and the stamp the raw text, so the loader
can say exactly what was wrong (:mod:`backtest.events.news`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Article", "parse_article", "split_sentences"]

STAMP = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}\s*-?\s*\d{1,2}:\d{2}(?::\d{2})?$")
_DATE_ONLY = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")
# Shape only (country code, 9 alphanumerics, check digit); stdnum validates later.
_ISIN = re.compile(r"\b([A-Z]{2}[A-Z0-9]{9}[0-9])\b")
_FOOTER = re.compile(r"^@\s*(?P<publisher>[^|\s]+)")
# The publisher's advertisement starts at a line reading just "Ad"; its promotional
# text ("urgent action needed") would otherwise count as the article's sentiment.
_AD_MARKERS = frozenset({"ad", "advertisement", "anzeige"})
_HEADER_MAX_LINES = 6
_ISIN_LINE_MAX_WORDS = 6
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9$€])")
_BULLET = re.compile(r"^[*•\-–]\s+")


@dataclass(frozen=True)
class Article:
    """The parts of one article, raw.

    Attributes
    ----------
    title : str or None
        The longest header line that is neither the stamp nor the ISIN line.
    stamp : str or None
        The publication stamp line as written (``13.01.2026 - 14:42:04``).
    date_only : str or None
        A header line holding a date without a time, when there is no stamp.
    isin : str or None
        The ISIN-shaped token of the header's ISIN line, or else of the footer.
    isin_line : str or None
        The line the ISIN came from.
    company : str or None
        The ISIN line without its ISIN (the company's short name).
    publisher : str or None
        From the ``@ publisher | ...`` footer.
    sentences : tuple of str
        The title, then the body's sentences in order (advertisement excluded).
    stamps : tuple of str
        Every distinct stamp-shaped line of the whole text; more than one makes
        the publication time ambiguous (the loader drops the article).
    """

    title: str | None
    stamp: str | None
    date_only: str | None
    isin: str | None
    isin_line: str | None
    company: str | None
    publisher: str | None
    sentences: tuple[str, ...]
    stamps: tuple[str, ...] = ()


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph at sentence ends; a bullet line is one sentence.

    Examples
    --------
    >>> split_sentences("Shares fell 4.2% to $25.10. Volume was high.")
    ['Shares fell 4.2% to $25.10.', 'Volume was high.']
    >>> split_sentences("* Cloud revenue grew 34%")
    ['Cloud revenue grew 34%']
    """
    text = _BULLET.sub("", paragraph.strip())
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _isin_line(line: str) -> str | None:
    match = _ISIN.search(line)
    if match and len(line.split()) <= _ISIN_LINE_MAX_WORDS:
        return match.group(1)
    return None


def _header_end(lines: list[str]) -> int:
    """Index of the first body line: after the stamp or ISIN line, else after heading lines."""
    marks = [
        i
        for i, line in enumerate(lines[:_HEADER_MAX_LINES])
        if not _FOOTER.match(line)
        and (STAMP.match(line) or _DATE_ONLY.match(line) or _isin_line(line))
    ]
    if marks:
        return max(marks) + 1
    n = 0
    # Without stamp and ISIN, heading lines are the short leading ones without a full stop.
    while n < min(len(lines), 3) and len(lines[n].split()) <= 15 and lines[n][-1] not in ".!?:":
        n += 1
    return n


def _title(header: list[str]) -> str | None:
    plain = [h for h in header if not (STAMP.match(h) or _DATE_ONLY.match(h) or _isin_line(h))]
    return max(plain, key=lambda h: len(h.split()), default=None)


def _body(lines: list[str]) -> list[str]:
    body = []
    for line in lines:
        if line.lower() in _AD_MARKERS or _FOOTER.match(line):
            break
        body.append(line)
    return body


def _first(lines: list[str], pattern: re.Pattern[str]) -> str | None:
    return next((line for line in lines if pattern.match(line)), None)


def _isin_source(header: list[str], footer: str | None) -> tuple[str | None, str | None]:
    for line in header:
        code = _isin_line(line)
        if code:
            return code, line
    match = _ISIN.search(footer) if footer else None
    return (match.group(1), footer) if match else (None, None)


def parse_article(text: str) -> Article:
    r"""Parse an article's text into its raw parts.

    Examples
    --------
    >>> a = parse_article("Shares\n\nX Corp Slips\n\n02.03.2026 - 22:15:00\n\n"
    ...                   "X Corp US0378331005\n\nShares fell 3%. More later.\n")
    >>> a.title, a.stamp, a.isin, a.company
    ('X Corp Slips', '02.03.2026 - 22:15:00', 'US0378331005', 'X Corp')
    >>> a.sentences
    ('X Corp Slips', 'Shares fell 3%.', 'More later.')
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    end = _header_end(lines)
    header = lines[:end]
    footer = next((line for line in reversed(lines) if _FOOTER.match(line)), None)
    isin, isin_line = _isin_source(header, footer)
    title = _title(header)
    body = [s for line in _body(lines[end:]) for s in split_sentences(line)]
    company = _ISIN.sub("", isin_line).strip(" |@") if isin_line and isin_line in header else None
    publisher = _FOOTER.match(footer).group("publisher") if footer else None
    return Article(
        title=title,
        stamp=_first(header, STAMP),
        date_only=_first(header, _DATE_ONLY),
        isin=isin,
        isin_line=isin_line,
        company=company or None,
        publisher=publisher,
        sentences=tuple(([title] if title else []) + body),
        stamps=tuple(dict.fromkeys(line for line in lines if STAMP.match(line))),
    )
