"""Estimates, costs and sizes: changing only the future after a cut changes no entry made by then.

The decision checks (:mod:`~backtest.audit.future`) compare signals; this one
runs the whole backtest (:func:`backtest.run.runner.backtest_inputs`: hedge
ratios, ``vol_target`` weights, the book's sizes and caps, the ``costs:``
section) on the prices as given and on prices changed after a cut, and
compares what the engine recorded per entry (``RunResult.entries``). Cuts are
entry instants and the closes of entry sessions, spread evenly over all
entries (:func:`entry_cuts`): the sharpest tests, since the bar that closes
next is the first one an entry's estimates, or its fill, must not see.

What must not change, per check:

``sizes_perturbed`` (every bar closing after the cut scaled, prices and volume):
  for each entry at or before the cut, its estimates (:data:`ESTIMATE_FIELDS`:
  hedge ratio, ``size_pct``, the spread, sigma and ADV its entry costs read) and
  its budget (:data:`BUDGET_FIELDS`: the equity it was sized from and its target);
  once its entry bar has closed, its fill (:data:`FILL_FIELDS`: shares, fill
  price, the impact and half spread it paid, the hedge leg's size and fill,
  and any cut or drop reason); once its exit bar has closed, its exit fill
  (:data:`EXIT_FIELDS`). An entry at or before the cut that is missing is a finding.
``sizes_truncated`` (every bar closing after the cut removed):
  for each entry whose planned window closed by the cut, its estimates. Equity
  and fills are left out: positions still open at the cut are gone from the
  truncated run, so the equity they were marked in legitimately differs, and an
  entry the truncated run does not make (its window no longer fits the data,
  or a bookkeeping rule such as ``overlap: skip`` now keeps an earlier one) is
  not compared; the perturbation covers both.

Floats are compared to a relative 1e-12 (the book sums open positions in an
order that may follow their exit ticks), text exactly, NaN equal to NaN.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from backtest.audit.decisions import FAR_FUTURE
from backtest.audit.future import perturb_after
from backtest.config.model import LoadedConfig
from backtest.core.errors import BacktestError
from backtest.core.progress import report
from backtest.data.knowledge import closes_after
from backtest.run.runner import RunInputs, backtest_inputs

__all__ = [
    "BUDGET_FIELDS",
    "ESTIMATE_FIELDS",
    "EXIT_FIELDS",
    "FILL_FIELDS",
    "SIZE_CHECKS",
    "diff_entries",
    "entry_cuts",
    "run_entries",
    "size_findings",
]

SIZE_CHECKS = ("sizes_perturbed", "sizes_truncated")
KEY = ["strategy", "event_id"]
ESTIMATE_FIELDS = ("hedge_ratio", "size_pct", "half_spread_in", "sigma_in", "adv_in")
BUDGET_FIELDS = ("entry_equity", "target_spend")
FILL_FIELDS = (
    "shares",
    "entry_fill",
    "impact_in",
    "hedge_size",
    "hedge_entry_price",
    "reason",
)
EXIT_FIELDS = ("exit_fill", "exit_cost")
TEXT_FIELDS = {"reason"}
RTOL = 1e-12


def entry_cuts(entries: pd.DataFrame, n: int, cal=None) -> list[pd.Timestamp]:
    """Up to ``n`` cut instants spread evenly over every strategy's entries.

    The candidates are each entry's instant (its estimates and budget must not
    see the bar that closes next) and, given the calendar, the close of its
    entry session (the first instant its fill is known: nothing after it may
    change the shares or costs of the fill, while the bars its exit costs read
    still can change).

    Examples
    --------
    >>> t = pd.to_datetime(["2026-01-02 21:00", "2026-01-05 14:30", "2026-01-05 14:30"], utc=True)
    >>> [str(c) for c in entry_cuts(pd.DataFrame({"entry_time": t}), 5)]
    ['2026-01-02 21:00:00+00:00', '2026-01-05 14:30:00+00:00']
    >>> from backtest.core.sessions import get_calendar
    >>> len(entry_cuts(pd.DataFrame({"entry_time": t}), 5, get_calendar("XNYS")))
    3
    """
    if entries.empty or n <= 0:
        return []
    instants = pd.Series(pd.DatetimeIndex(entries["entry_time"]))
    if cal is not None:
        instants = pd.concat([instants, _bar_close(instants, cal)], ignore_index=True)
    stamps = pd.Series(pd.DatetimeIndex(instants).unique()).sort_values(ignore_index=True)
    picks = np.unique(np.linspace(0, len(stamps) - 1, min(n, len(stamps))).round().astype(int))
    return [stamps.iloc[i] for i in picks]


def _same(field: str, a, b) -> bool:
    """Equal text (:data:`TEXT_FIELDS`), or floats within :data:`RTOL` (NaN equal to NaN)."""
    if field in TEXT_FIELDS:
        return _text(a) == _text(b)
    return bool(np.isclose(float(a), float(b), rtol=RTOL, atol=0.0, equal_nan=True))


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _show(field: str, value) -> str:
    return f"{field}={_text(value)}" if field in TEXT_FIELDS else f"{field}={float(value):.12g}"


def diff_entries(
    before: pd.DataFrame, after: pd.DataFrame, fields: dict[str, list[str]], missing: bool
) -> pd.DataFrame:
    """Rows of ``before`` whose ``fields[event]`` differ in ``after``: ``event_id, before, after``.

    ``fields`` maps ``strategy|event_id`` to the fields compared for that entry;
    with ``missing``, an entry absent from ``after`` is a difference too.

    Examples
    --------
    >>> a = pd.DataFrame({"strategy": ["s", "s"], "event_id": ["e1", "e2"],
    ...                   "shares": [10.0, 5.0], "reason": ["", ""]})
    >>> b = a.assign(shares=[10.0, 6.0])
    >>> f = {"s|e1": ["shares"], "s|e2": ["shares", "reason"]}
    >>> diff_entries(a, b, f, missing=True).values.tolist()
    [['s', 'e2', 'shares=5', 'shares=6']]
    >>> diff_entries(a, b.iloc[:1], f, missing=True)["after"].tolist()
    ['-']
    """
    out = []
    merged = before.merge(after, on=KEY, how="left", suffixes=("", "_b"), indicator=True)
    for _, row in merged.iterrows():
        names = fields.get(f"{row['strategy']}|{row['event_id']}", [])
        if not names:
            continue
        if row["_merge"] != "both":
            if missing:
                out.append([row["strategy"], row["event_id"], "entered", "-"])
            continue
        moved = [f for f in names if not _same(f, row[f], row[f"{f}_b"])]
        if moved:
            was = "; ".join(_show(f, row[f]) for f in moved)
            now = "; ".join(_show(f, row[f"{f}_b"]) for f in moved)
            out.append([row["strategy"], row["event_id"], was, now])
    return pd.DataFrame(out, columns=["strategy", "event_id", "before", "after"])


def _bar_close(instants: pd.Series, cal) -> pd.Series:
    """The close of the session each instant falls in (exchange time), in UTC."""
    day = pd.DatetimeIndex(instants).tz_convert(str(cal.tz)).normalize().tz_localize(None)
    closes = pd.DatetimeIndex(cal.closes.reindex(day).to_numpy())
    closes = closes.tz_localize("UTC") if closes.tz is None else closes.tz_convert("UTC")
    return pd.Series(closes, index=instants.index)


def _fields_perturbed(base: pd.DataFrame, cut: pd.Timestamp, cal) -> dict[str, list[str]]:
    """Per entry at or before ``cut``: the fields known by then."""
    out = {}
    entered = pd.DatetimeIndex(base["entry_time"]) <= cut
    filled = (_bar_close(base["entry_time"], cal) <= cut).to_numpy()
    exited = (_bar_close(base["exit_time"], cal) <= cut).to_numpy()
    keys = (base["strategy"] + "|" + base["event_id"]).to_numpy()
    for k, e, f, x in zip(keys, entered, filled, exited, strict=True):
        if e:
            out[k] = [
                *ESTIMATE_FIELDS,
                *BUDGET_FIELDS,
                *(FILL_FIELDS if f else ()),
                *(EXIT_FIELDS if x and f else ()),
            ]
    return out


def _fields_truncated(base: pd.DataFrame, cut: pd.Timestamp) -> dict[str, list[str]]:
    """Per entry whose planned window closed by ``cut``: its estimates."""
    closed = pd.DatetimeIndex(base["exit_planned"]) <= cut
    keys = (base["strategy"] + "|" + base["event_id"]).to_numpy()
    return {k: list(ESTIMATE_FIELDS) for k, c in zip(keys, closed, strict=True) if c}


def _relaxed(loaded: LoadedConfig) -> LoadedConfig:
    """The config with no event loss budget: a cut drops every event after it, by design."""
    events = loaded.config.events.model_copy(update={"max_drop_pct": 100.0})
    return replace(loaded, config=loaded.config.model_copy(update={"events": events}))


def run_entries(loaded: LoadedConfig, inputs: RunInputs) -> pd.DataFrame:
    """Every strategy's entries (``RunResult.entries``) on ``inputs``, decided with a far clock."""
    return backtest_inputs(_relaxed(loaded), inputs, FAR_FUTURE).entries


def _cut_off(prices: dict, cut: pd.Timestamp, cal, traded: list[str]) -> dict:
    """Bars that closed at or before ``cut``.

    A traded ticker without any is left out (as :func:`~backtest.data.knowledge.truncate_after`
    does: its events cannot align); a benchmark or hedge instrument keeps an empty frame,
    so the run still finds it (its hedge ratios are then missing, which is compared).
    """
    kept = {t: f[~closes_after(f, cut, cal)] for t, f in prices.items()}
    return {t: f for t, f in kept.items() if len(f) or t not in traded}


def size_findings(
    loaded: LoadedConfig, inputs: RunInputs, base: pd.DataFrame, cuts: list, seed: int
) -> pd.DataFrame:
    """Every entry whose estimates, costs or size changed when only the future changed."""
    rng, cal, found = np.random.default_rng(seed), inputs.cal, []
    traded = list(loaded.config.data.tickers)
    for i, cut in enumerate(cuts):
        report("entries re-sized after each cut", i, len(cuts))
        noisy = perturb_after(inputs.prices, cut, cal, rng)
        found.append(_check(loaded, inputs, base, noisy, "sizes_perturbed", cut))
        short = _cut_off(inputs.prices, cut, cal, traded)
        found.append(_check(loaded, inputs, base, short, "sizes_truncated", cut))
    kept = [f for f in found if len(f)]
    frame = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
    return frame.reindex(columns=["strategy", "check", "cut", "event_id", "before", "after"])


def _check(loaded, inputs, base, prices, check: str, cut) -> pd.DataFrame:
    """The findings of one check at one cut (nothing to compare: no run)."""
    if check == "sizes_perturbed":
        fields, missing = _fields_perturbed(base, cut, inputs.cal), True
    else:
        fields, missing = _fields_truncated(base, cut), False
    if not fields:  # nothing known by this cut to compare
        return pd.DataFrame()
    try:
        other = run_entries(loaded, replace(inputs, prices=prices))
    except BacktestError as exc:
        row = {"strategy": "-", "event_id": "-", "before": "ran", "after": f"raised: {exc}"}
        return pd.DataFrame([row]).assign(check=check, cut=cut)
    return diff_entries(base, other, fields, missing).assign(check=check, cut=cut)
