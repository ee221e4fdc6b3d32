"""Article tone from the Loughran-McDonald (LM) finance sentiment word lists.

Loughran and McDonald (2011, Journal of Finance 66:1) built word lists for
financial text because general-purpose lists misread it ("liability",
"tax" and "cost" are not negative in a filing). The full master dictionary is
free for academic use only, so the package bundles a documented subset
(``sample_data/lm_sentiment_subset.csv``: the 120 positive and 300 negative
LM words most frequent in the LM 10-K corpus; see ``sample_data/DATA.md``).
A user with the full dictionary passes its CSV (the official
``Loughran-McDonald_MasterDictionary_*.csv``, columns ``Word, Positive,
Negative``) as ``lm_dictionary``.

Score: ``(positive - negative) / (positive + negative)`` over word counts, in
[-1, 1], NaN when the text has no LM word at all. As in Loughran and McDonald
(2011), a positive word within three words after a negation (no, not, none,
neither, never, nobody) is not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from backtest.core.errors import EventError
from backtest.data.bundled import bundled_file

__all__ = ["LmLists", "Tone", "lm_lists", "tone"]

_WORD = re.compile(r"[A-Za-z]+")
_NEGATIONS = frozenset({"NO", "NOT", "NONE", "NEITHER", "NEVER", "NOBODY"})
_NEGATION_REACH = 3


@dataclass(frozen=True)
class LmLists:
    """Upper-case LM positive and negative words and where they were read from."""

    positive: frozenset[str]
    negative: frozenset[str]
    source: str


@dataclass(frozen=True)
class Tone:
    """A text's LM tone and the words that made it (the score's evidence)."""

    score: float
    positive: tuple[str, ...]
    negative: tuple[str, ...]

    def evidence(self) -> str:
        """The counted words, e.g. ``LM positive: GAINS, STRONG; negative: LOSS``."""
        return f"LM positive: {', '.join(self.positive)}; negative: {', '.join(self.negative)}"


def _from_master(path: Path) -> LmLists:
    frame = pd.read_csv(path, usecols=lambda c: c in {"Word", "Positive", "Negative"})
    if set(frame.columns) != {"Word", "Positive", "Negative"}:
        raise EventError(
            f"{path}: not an LM master dictionary; it needs columns Word, Positive, Negative"
        )
    words = frame["Word"].astype(str).str.upper()
    return LmLists(
        frozenset(words[frame["Positive"] > 0]), frozenset(words[frame["Negative"] > 0]), str(path)
    )


@lru_cache(maxsize=4)
def lm_lists(path: Path | None = None) -> LmLists:
    """Return the LM lists: the bundled subset, or the master dictionary at ``path``.

    Examples
    --------
    >>> lists = lm_lists()
    >>> len(lists.positive), len(lists.negative), "LOSS" in lists.negative
    (120, 300, True)
    """
    if path is not None:
        if not path.is_file():
            raise EventError(f"LM dictionary not found: {path.resolve()}")
        return _from_master(path)
    frame = pd.read_csv(bundled_file("lm_sentiment_subset.csv"), dtype=str)
    by = frame.groupby("sentiment")["word"]
    return LmLists(
        frozenset(by.get_group("positive")), frozenset(by.get_group("negative")), "bundled subset"
    )


def _negated(words: list[str], i: int) -> bool:
    return any(w in _NEGATIONS for w in words[max(0, i - _NEGATION_REACH) : i])


def tone(text: str, lists: LmLists) -> Tone:
    """Return the LM tone of ``text``.

    Examples
    --------
    >>> lists = LmLists(frozenset({"GAINS", "STRONG"}), frozenset({"LOSS"}), "demo")
    >>> t = tone("Strong gains offset a small loss; margins were not strong.", lists)
    >>> round(t.score, 4), t.positive, t.negative
    (0.3333, ('STRONG', 'GAINS'), ('LOSS',))
    >>> import math; math.isnan(tone("Nothing to see.", lists).score)
    True
    """
    words = [w.upper() for w in _WORD.findall(text)]
    pos = [w for i, w in enumerate(words) if w in lists.positive and not _negated(words, i)]
    neg = [w for w in words if w in lists.negative]
    total = len(pos) + len(neg)
    score = (len(pos) - len(neg)) / total if total else float("nan")
    return Tone(score, tuple(pos), tuple(neg))
