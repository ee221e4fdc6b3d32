"""Change only the future of a cut instant; no decision at or before it may change.

RELIABILITY I1 (perturbation) and I2 (truncation). Perturbation scales every
bar that closes after the cut by a random factor; truncation removes those
bars. Truncation also removes the exit prices of windows still open at the
cut, and the price of an event's own session when that comes after the cut
(the event then cannot be aligned, e.g. a pre-earnings trade that closes before
its report), so it compares only decisions whose whole window closed by the cut
and whose event was tradable by then; perturbation covers the rest.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from backtest.audit.decisions import FAR_FUTURE, Decisions, decide, diff_decisions
from backtest.config.model import LoadedConfig
from backtest.core.progress import report
from backtest.core.sessions import session_instant
from backtest.data.knowledge import closes_after, truncate_after
from backtest.run.pipeline import align
from backtest.run.runner import RunInputs

__all__ = ["FINDING_COLUMNS", "choose_cuts", "future_findings", "perturb_after", "truncate_after"]

FINDING_COLUMNS = ["strategy", "check", "cut", "event_id", "before", "after"]


def choose_cuts(decisions: Decisions, n: int) -> list[pd.Timestamp]:
    """Up to ``n`` decision instants spread evenly over all strategies' decisions.

    Cutting exactly at a decision instant is the sharpest test: the bar that
    closes next is the first one the decision must not see.

    Examples
    --------
    >>> t = pd.to_datetime(["2026-01-02", "2026-01-05", "2026-01-06"], utc=True)
    >>> len(choose_cuts(Decisions(a=pd.DataFrame({"decision_time": t})), 2))
    2
    """
    times = [d["decision_time"] for d in decisions.values() if isinstance(d, pd.DataFrame)]
    stamps = pd.concat(times).drop_duplicates().sort_values() if times else pd.Series([])
    if stamps.empty:
        return []
    picks = np.unique(np.linspace(0, len(stamps) - 1, min(n, len(stamps))).round().astype(int))
    return [stamps.iloc[i] for i in picks]


def perturb_after(
    prices: dict[str, pd.DataFrame], cut: pd.Timestamp, cal, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Scale each bar closing after ``cut`` by a random factor in [0.5, 1.5], its volume too.

    One factor per bar keeps every bar internally consistent (low <= open, close <= high);
    scaling the volume by it too catches an estimate (ADV) that reads future volume.
    """
    out = {}
    for ticker, frame in prices.items():
        after = closes_after(frame, cut, cal)
        scaled = frame.copy()
        factor = rng.uniform(0.5, 1.5, (after.sum(), 1))
        ohlc = ["open", "high", "low", "close"]
        scaled.loc[after, ohlc] = frame.loc[after, ohlc] * factor
        if "volume" in scaled:
            scaled["volume"] = scaled["volume"].astype(float)
            scaled.loc[after, "volume"] = scaled.loc[after, "volume"] * factor[:, 0]
        out[ticker] = scaled
    return out


def _decided_by(signals: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    return signals[signals["decision_time"] <= cut]


def _closed_by(signals: pd.DataFrame, cut: pd.Timestamp, cal) -> pd.DataFrame:
    exits = [
        session_instant(cal, s, a)
        for s, a in zip(signals["exit_session"], signals["exit_at"], strict=True)
    ]
    return signals[pd.Series(exits, index=signals.index, dtype=object) <= cut]


def _compare(base: Decisions, other: Decisions, check: str, cut, keep) -> list[pd.DataFrame]:
    out = []
    for label, before in base.items():
        after = other.get(label)
        if isinstance(before, Exception):
            continue
        if isinstance(after, Exception):
            row = {"event_id": "-", "before": "ran", "after": f"raised: {after}"}
            out.append(pd.DataFrame([row]).assign(strategy=label, check=check, cut=cut))
            continue
        changed = diff_decisions(keep(before), keep(after))
        out.append(changed.assign(strategy=label, check=check, cut=cut))
    return out


def _tradable_by(signals: pd.DataFrame, actionable: pd.Series, cut: pd.Timestamp) -> pd.DataFrame:
    return signals[signals["event_id"].map(actionable) <= cut]


def future_findings(
    loaded: LoadedConfig, inputs: RunInputs, base: Decisions, cuts: list, seed: int
) -> pd.DataFrame:
    """Every decision that changed when only prices after its cut changed."""
    rng, cal, found = np.random.default_rng(seed), inputs.cal, []
    aligned, _ = align(loaded, inputs.events, inputs.prices, cal, FAR_FUTURE)
    actionable = aligned.set_index("event_id")["actionable_at"]
    for i, cut in enumerate(cuts):
        report("future prices changed after each cut", i, len(cuts))
        noisy = replace(inputs, prices=perturb_after(inputs.prices, cut, cal, rng))
        found += _compare(
            base,
            decide(loaded, noisy),
            "future_prices_perturbed",
            cut,
            lambda s, c=cut: _decided_by(s, c),
        )
        short = replace(inputs, prices=truncate_after(inputs.prices, cut, cal))
        found += _compare(
            base,
            decide(loaded, short),
            "future_prices_truncated",
            cut,
            lambda s, c=cut: _tradable_by(_closed_by(_decided_by(s, c), c, cal), actionable, c),
        )
    frame = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    return frame.reindex(columns=FINDING_COLUMNS)
