"""Helpers shared by the built-in strategies to build signal and drop tables."""

from __future__ import annotations

import pandas as pd

from backtest.events.align import drop_rows
from backtest.schema import SIGNAL_COLUMNS, empty_drops

__all__ = ["collect", "signal_row"]


def signal_row(
    strategy: str,
    event: pd.Series,
    side: int,
    decision_time: pd.Timestamp,
    info_time: pd.Timestamp,
    entry: tuple,
    exit_: tuple,
) -> dict:
    """Return one signal row; ``entry`` and ``exit_`` are ``(session, "open"|"close")``."""
    return {
        "strategy": strategy,
        "event_id": event["event_id"],
        "ticker": event["ticker"],
        "side": int(side),
        "decision_time": decision_time,
        "info_time": info_time,
        "entry_session": entry[0],
        "entry_at": entry[1],
        "exit_session": exit_[0],
        "exit_at": exit_[1],
    }


def collect(
    rows: list[dict],
    dropped: list[tuple[pd.Series, str, str]],
    stage: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn signal dicts and ``(event, reason, detail)`` drops into the two tables."""
    signals = pd.DataFrame(rows, columns=list(SIGNAL_COLUMNS))
    parts = [empty_drops()] + [
        drop_rows(ev.to_frame().T, stage, reason, detail) for ev, reason, detail in dropped
    ]
    return signals, pd.concat(parts, ignore_index=True)
