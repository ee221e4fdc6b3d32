"""Decisions of every configured strategy on given prices and events.

A decision is a signal row (schema in :mod:`backtest.core.schema`). The audit
compares decision tables made on different inputs, so this module also knows
which columns identify a decision and how to compare two tables.
"""

from __future__ import annotations

import pandas as pd

from backtest.config.model import LoadedConfig
from backtest.core.errors import LookAheadError
from backtest.run.pipeline import align, run_strategy
from backtest.run.runner import RunInputs
from backtest.strategy.signals import MarketView

__all__ = ["DECISION_FIELDS", "DECISION_KEY", "Decisions", "decide", "diff_decisions"]

DECISION_KEY = ["strategy", "event_id"]
# What was decided. info_time and decision_time say when; check_signals polices them.
DECISION_FIELDS = ["side", "entry_session", "entry_at", "exit_session", "exit_at"]
FAR_FUTURE = pd.Timestamp("2200-01-01", tz="UTC")


class Decisions(dict):
    """Strategy label -> signals table, or the LookAheadError the strategy raised."""


def decide(loaded: LoadedConfig, inputs: RunInputs) -> Decisions:
    """Align events and run every configured strategy up to its checked signals.

    The run's clock is far in the future: the audit asks what the strategy
    would decide on the data given, not what was known today. Overlapping
    windows are all kept: skipping one depends on whether an earlier window
    was complete, which is bookkeeping, not information.
    """
    aligned, _ = align(loaded, inputs.events, inputs.prices, inputs.cal, FAR_FUTURE)
    market = MarketView(inputs.prices, inputs.cal, events=aligned)
    out = Decisions()
    for s in loaded.config.strategies:
        label = s.label or s.name
        try:
            out[label] = run_strategy(s, aligned, market, "allow").signals
        except LookAheadError as exc:
            out[label] = exc
    return out


def _rows(signals: pd.DataFrame) -> pd.DataFrame:
    cols = DECISION_KEY + DECISION_FIELDS
    return signals[cols].sort_values(DECISION_KEY).reset_index(drop=True).astype(str)


def diff_decisions(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Decisions present in one table and not identical in the other.

    Returns one row per changed event: ``event_id, before, after`` where each
    side is the decision as text (``"-"`` when absent).

    Examples
    --------
    >>> from backtest.core.schema import SIGNAL_COLUMNS
    >>> a = pd.DataFrame([{c: "x" for c in SIGNAL_COLUMNS} | {"event_id": "e1", "side": 1}])
    >>> diff_decisions(a, a.assign(side=-1))[["event_id"]].to_dict("list")
    {'event_id': ['e1']}
    >>> diff_decisions(a, a).empty
    True
    """
    a, b = _rows(before), _rows(after)
    merged = a.merge(b, on=DECISION_KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    fields = DECISION_FIELDS
    same = merged["_merge"].eq("both")
    for f in fields:
        same &= merged[f"{f}_a"] == merged[f"{f}_b"]
    changed = merged[~same]
    return pd.DataFrame(
        {
            "event_id": changed["event_id"],
            "before": _describe(changed, "_a"),
            "after": _describe(changed, "_b"),
        }
    ).reset_index(drop=True)


def _describe(frame: pd.DataFrame, suffix: str) -> pd.Series:
    side = frame[f"side{suffix}"]
    text = (
        "side "
        + side.astype(str)
        + " entry "
        + frame[f"entry_session{suffix}"].astype(str).str[:10]
        + " "
        + frame[f"entry_at{suffix}"].astype(str)
        + " exit "
        + frame[f"exit_session{suffix}"].astype(str).str[:10]
        + " "
        + frame[f"exit_at{suffix}"].astype(str)
    )
    return text.where(side.notna(), "-")
