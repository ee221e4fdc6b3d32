"""Load a folder of plain-text news articles as events, with every skipped file explained.

Each ``*.txt`` file in the folder is one article in the seed's format
(:mod:`backtest.events.article`). An article becomes:

- one ``news`` event at its publication time: ``headline``, ``isin``,
  ``move_pct`` (signed, NaN when no move is reported), ``sentiment`` (LM tone,
  :mod:`backtest.events.sentiment`), ``consensus_target``;
- one ``analyst`` event per broker action stated in a sentence: ``firm``,
  ``rating``, ``target_old``, ``target_new``, ``direction``; published with the
  article (its id ends with the firm, so two brokers in one article stay apart);
- one scheduled ``earnings`` event per upcoming report date it names, dated
  that day (timing ``bmo``/``amc`` when the sentence says so, else unknown),
  with ``known_at`` the publication time.

Every value comes with the sentence it was read from, in the ``evidence``
column (:func:`evidence_table` lays it out long). An article that cannot
give events (no or unreadable stamp, two different stamps, a stamp that does not exist or occurs
twice at a daylight-saving change, no, invalid or unknown ISIN, empty,
undecodable) and every non-article file in the folder become drop rows
(stage ``load``, ``event_id`` ``article:<file name>``); so do analyst
sentences naming no firm and report dates already past. Nothing is skipped
silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd

from backtest.core.errors import EventError
from backtest.core.schema import DROP_COLUMNS, empty_drops
from backtest.events.article import Article, parse_article
from backtest.events.extract import (
    AnalystAction,
    ReportDate,
    find_analyst_actions,
    find_consensus,
    find_move,
    find_report_dates,
)
from backtest.events.isin import read_isin_table, ticker_for_isin
from backtest.events.sentiment import LmLists, lm_lists, tone
from backtest.events.table import make_event_table
from backtest.events.times import parse_event_time

__all__ = ["ARTICLE_SUFFIX", "NewsLoad", "evidence_table", "load_news_folder"]

ARTICLE_SUFFIX = ".txt"
STAGE = "load"


@dataclass(frozen=True)
class NewsLoad:
    """Events read from the articles and the drops table of everything left out."""

    events: pd.DataFrame
    drops: pd.DataFrame


@dataclass(frozen=True)
class _Settings:
    cal: xcals.ExchangeCalendar
    timezone: str
    encoding: str
    isins: dict[str, str] = field(default_factory=dict)
    lists: LmLists | None = None


class _Dropped(Exception):  # noqa: N818 - control flow inside this module only, never raised out
    """An article (or one of its facts) left out, with a drop reason and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _drop(name: str, ticker: str | None, reason: str, detail: str) -> dict[str, object]:
    return dict(zip(DROP_COLUMNS, [f"article:{name}", ticker, STAGE, reason, detail], strict=True))


# ---- reading ----------------------------------------------------------------


def _decode(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise _Dropped(
            "undecodable",
            f"byte {exc.start} (0x{raw[exc.start]:02x}) is not valid {encoding}; re-save the "
            "file as UTF-8 or set encoding: (e.g. cp1252) on the news_folder source",
        ) from None
    if not text.strip():
        raise _Dropped("empty_article", "the file is empty (or only whitespace)")
    return text


# ---- header fields ----------------------------------------------------------


def _dst_problem(stamp: str, tz: str, cal: xcals.ExchangeCalendar) -> str | None:
    wall = parse_event_time(stamp, "UTC", cal).tz_localize(None)
    if pd.isna(wall.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")):
        return "ambiguous_time"
    if pd.isna(wall.tz_localize(tz, ambiguous=True, nonexistent="NaT")):
        return "nonexistent_time"
    return None


_DST_DETAIL = {
    "ambiguous_time": "occurs twice in {tz} (clocks go back that night); the article cannot "
    "say which, so give the stamp in UTC-offset form or fix it by hand",
    "nonexistent_time": "does not exist in {tz} (clocks skip that hour); the stamp is wrong",
}


def _published(article: Article, s: _Settings) -> pd.Timestamp:
    """Publication instant; daylight-saving gaps and repeats are drops, never guesses."""
    if article.stamp is None:
        found = f"only a date ({article.date_only!r})" if article.date_only else "no stamp"
        raise _Dropped("no_timestamp", f"{found}; the header needs 'DD.MM.YYYY - HH:MM:SS'")
    if len(article.stamps) > 1:
        raise _Dropped(
            "two_stamps",
            f"{len(article.stamps)} stamps ({', '.join(map(repr, article.stamps))}); which one "
            "is the publication time cannot be told: keep one stamp line",
        )
    try:
        problem = _dst_problem(article.stamp, s.timezone, s.cal)
        if problem:
            detail = _DST_DETAIL[problem].format(tz=s.timezone)
            raise _Dropped(problem, f"stamp {article.stamp!r} {detail}")
        return parse_event_time(article.stamp, s.timezone, s.cal)
    except EventError as exc:
        raise _Dropped("bad_timestamp", f"stamp {article.stamp!r}: {exc}") from None


def _ticker(article: Article, s: _Settings) -> str:
    if article.isin is None:
        raise _Dropped(
            "no_isin", "no ISIN line (company name and ISIN, e.g. 'Alibaba US01609W1027')"
        )
    try:
        ticker = ticker_for_isin(article.isin, required=False, extra=s.isins)
    except EventError as exc:
        raise _Dropped("invalid_isin", f"{exc}; fix the ISIN line") from None
    if ticker is None:
        raise _Dropped(
            "unknown_isin",
            f"ISIN {article.isin} is not in the ISIN->ticker table; add the line "
            f"'{article.isin},<TICKER>' to a CSV with header isin,ticker and set isin_table: "
            "on the news_folder source",
        )
    return ticker


# ---- events of one article ----------------------------------------------------


def _evidence(pairs: dict[str, str | None]) -> str:
    return json.dumps({k: v for k, v in pairs.items() if v}, ensure_ascii=False)


def _news_row(article: Article, ticker: str, base: dict, s: _Settings) -> dict:
    move, consensus = find_move(article.sentences), find_consensus(article.sentences)
    mood = tone(" ".join(article.sentences), s.lists or lm_lists())
    evidence = {
        "event_time": article.stamp,
        "isin": article.isin_line,
        "headline": article.title,
        "move_pct": move and move.sentence,
        "consensus_target": consensus and consensus.sentence,
        "sentiment": mood.evidence() if not pd.isna(mood.score) else None,
    }
    return {
        **base,
        "event_type": "news",
        "headline": article.title,
        "isin": article.isin,
        "move_pct": move.value if move else float("nan"),
        "sentiment": mood.score,
        "consensus_target": consensus.value if consensus else float("nan"),
        "evidence": _evidence(evidence),
    }


def _analyst_row(action: AnalystAction, base: dict) -> dict:
    fields = ("firm", "rating", "target_old", "target_new", "direction")
    values = {f: getattr(action, f) for f in fields}
    stated = {f: action.sentence for f, v in values.items() if v is not None and not pd.isna(v)}
    return {**base, "event_type": "analyst", **values, "evidence": _evidence(stated)}


def _report_row(report: ReportDate, published: pd.Timestamp, base: dict, s: _Settings) -> dict:
    local_pub = published.tz_convert(s.cal.tz).tz_localize(None).normalize()
    if report.date <= local_pub:
        year = "" if report.year_given else " (year inferred: the nearest such date)"
        raise _Dropped(
            "past_earnings_reference",
            f"report date {report.date:%Y-%m-%d}{year} is not after the publication day: "
            f"{report.sentence!r}",
        )
    return {
        **base,
        "event_type": "earnings",
        "event_time": report.date.tz_localize(s.cal.tz),
        "timing": report.timing,
        "known_at": published,
        "known_at_basis": "published",
        "evidence": _evidence({"event_time": report.sentence}),
    }


def _fact_rows(article: Article, ticker: str, base: dict, s: _Settings, name: str) -> tuple:
    rows, drops = [], []
    for action in find_analyst_actions(article.sentences, article.company):
        if action.firm is None:
            detail = f"analyst action names no firm: {action.sentence!r}"
            drops.append(_drop(name, ticker, "analyst_without_firm", detail))
        else:
            rows.append(_analyst_row(action, base))
    seen: set[pd.Timestamp] = set()
    for report in find_report_dates(article.sentences, base["event_time"]):
        try:
            if report.date not in seen:
                rows.append(_report_row(report, base["event_time"], base, s))
            seen.add(report.date)
        except _Dropped as d:
            drops.append(_drop(name, ticker, d.reason, d.detail))
    return rows, drops


def _article_events(path: Path, s: _Settings) -> tuple[list[dict], list[dict]]:
    """Rows of the events of one article file, and its drop rows."""
    ticker = None
    try:
        article = parse_article(_decode(path, s.encoding))
        ticker = _ticker(article, s)
        published = _published(article, s)
    except _Dropped as d:
        return [], [_drop(path.name, ticker, d.reason, d.detail)]
    base = {
        "ticker": ticker,
        "event_time": published,
        "source": f"{article.publisher or 'article'}:{path.name}",
        "known_at_basis": "published",
    }
    facts, drops = _fact_rows(article, ticker, base, s, path.name)
    return [_news_row(article, ticker, base, s), *facts], drops


# ---- the folder ---------------------------------------------------------------


def _is_article(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ARTICLE_SUFFIX


def _firm_suffix(events: pd.DataFrame) -> pd.DataFrame:
    """Analyst ids end with the firm: two brokers in one article are two events."""
    if "firm" not in events.columns:
        return events
    mask = events["event_type"] == "analyst"
    slug = events.loc[mask, "firm"].map(lambda f: re.sub(r"[^a-z0-9]+", "-", f.lower()).strip("-"))
    events.loc[mask, "event_id"] = events.loc[mask, "event_id"] + "-" + slug
    return events


def load_news_folder(
    folder: Path,
    cal: xcals.ExchangeCalendar,
    isin_table: Path | None = None,
    timezone: str = "Europe/Berlin",
    encoding: str = "utf-8",
    lm_dictionary: Path | None = None,
) -> NewsLoad:
    r"""Read every article in ``folder`` into events; report every file left out.

    Parameters
    ----------
    folder : Path
        A folder of ``*.txt`` articles; other entries are reported as
        ``not_an_article`` drops. Sub-folders are not searched.
    cal : exchange_calendars.ExchangeCalendar
        Calendar of the listings (timing and report dates are in its zone).
    isin_table : Path, optional
        CSV ``isin,ticker`` extending the bundled ISIN -> ticker table.
    timezone : str
        Zone of the articles' stamps; the seed's publisher writes Central
        European time, hence ``Europe/Berlin`` (CET/CEST with its DST days).
    encoding : str
        Text encoding of the files.
    lm_dictionary : Path, optional
        The full Loughran-McDonald master dictionary CSV; default: the bundled subset.

    Returns
    -------
    NewsLoad
        ``events`` (schema in :mod:`backtest.core.schema`) and ``drops``.

    Raises
    ------
    EventError
        If ``folder`` is not a folder, or a given table or dictionary is unusable.

    Examples
    --------
    >>> import tempfile
    >>> from backtest.core.sessions import get_calendar
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("JD Slips\n\n02.03.2026 - 22:15:00\n\n"
    ...     "JD.com US47215P1066\n\nJD.com shares fell 3% on Monday.\n")
    >>> _ = (folder / "readme.md").write_text("not an article")
    >>> load = load_news_folder(folder, get_calendar("XNYS"))
    >>> load.events[["event_id", "timing", "move_pct"]].values.tolist()
    [['JD-news-2026-03-02T211500Z', 'amc', -3.0]]
    >>> load.drops[["event_id", "reason"]].values.tolist()
    [['article:readme.md', 'not_an_article']]
    """
    if not folder.is_dir():
        raise EventError(f"news_folder: {folder.resolve()} is not a folder of .txt articles")
    s = _Settings(
        cal,
        timezone,
        encoding,
        read_isin_table(isin_table) if isin_table else {},
        lm_lists(lm_dictionary),
    )
    rows, drops = [], []
    for path in sorted(folder.iterdir()):
        if not _is_article(path):
            detail = (
                f"not a {ARTICLE_SUFFIX} file; only *{ARTICLE_SUFFIX} files are read as articles"
            )
            drops.append(_drop(path.name, None, "not_an_article", detail))
            continue
        found, dropped = _article_events(path, s)
        rows += found
        drops += dropped
    events = _firm_suffix(make_event_table(rows, cal))
    table = pd.DataFrame(drops, columns=list(DROP_COLUMNS)) if drops else empty_drops()
    return NewsLoad(events, table)


def evidence_table(events: pd.DataFrame) -> pd.DataFrame:
    """The extractions side by side: one row per event and field, with its sentence.

    Examples
    --------
    >>> ev = pd.DataFrame({"event_id": ["e1"], "move_pct": [-4.2],
    ...                    "evidence": ['{"move_pct": "Shares fell 4.2%."}']})
    >>> evidence_table(ev).to_dict("records")
    [{'event_id': 'e1', 'field': 'move_pct', 'value': -4.2, 'sentence': 'Shares fell 4.2%.'}]
    """
    out = []
    for rec in events.to_dict("records"):
        stated = rec.get("evidence")
        if not isinstance(stated, str):  # events from other sources carry no evidence
            continue
        for name, sentence in json.loads(stated).items():
            value = rec.get(name)
            out.append(
                {"event_id": rec["event_id"], "field": name, "value": value, "sentence": sentence}
            )
    return pd.DataFrame(out, columns=["event_id", "field", "value", "sentence"])
