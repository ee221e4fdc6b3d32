"""Information decay: the same events, each acted on one session later.

Not an error: a real edge usually fades when you are late, and the size of
the fall says how much the strategy depends on being first.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from backtest.audit.decisions import FAR_FUTURE
from backtest.config.model import LoadedConfig
from backtest.core.sessions import shift_session
from backtest.run.pipeline import align
from backtest.run.runner import RunInputs, backtest_inputs

__all__ = ["DECAY_COLUMNS", "decay_table", "delay_events"]

DECAY_COLUMNS = [
    "strategy",
    "n_trades",
    "total_return",
    "avg_trade_return",
    "delayed_n_trades",
    "delayed_total_return",
    "delayed_avg_trade_return",
]


def delay_events(events: pd.DataFrame, aligned: pd.DataFrame, cal, sessions: int = 1):
    """Move each aligned event's publication forward by the gap to its next session.

    The clock time is kept, so an after-close report stays after the close and
    its tradable session moves ``sessions`` sessions later (holidays included).
    """
    gap = {
        row.event_id: shift_session(cal, row.session, sessions) - row.session
        for row in aligned.itertuples(index=False)
    }
    shift = events["event_id"].map(gap).fillna(pd.Timedelta(0))
    delayed = events.assign(event_time=events["event_time"] + shift)
    return delayed.assign(known_at=delayed[["known_at", "event_time"]].min(axis=1))


def _summary(result) -> pd.DataFrame:
    cols = ["strategy", "n_trades", "total_return", "avg_trade_return"]
    return result.metrics[cols][~result.metrics["strategy"].str.startswith("benchmark:")]


def decay_table(loaded: LoadedConfig, inputs: RunInputs) -> pd.DataFrame:
    """Per strategy: trades and returns on time, and with every event one session late."""
    if not loaded.config.strategies:
        return pd.DataFrame(columns=DECAY_COLUMNS)
    aligned, _ = align(loaded, inputs.events, inputs.prices, inputs.cal, FAR_FUTURE)
    late = replace(inputs, events=delay_events(inputs.events, aligned, inputs.cal))
    on_time = _summary(backtest_inputs(loaded, inputs, FAR_FUTURE))
    delayed = _summary(backtest_inputs(loaded, late, FAR_FUTURE)).add_prefix("delayed_")
    table = on_time.merge(delayed, left_on="strategy", right_on="delayed_strategy")
    return table[DECAY_COLUMNS].reset_index(drop=True)
