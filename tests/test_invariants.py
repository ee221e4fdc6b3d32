"""Property tests of the core promise: no look-ahead (RELIABILITY I1, I2, I3, I7).

For every registered strategy: perturbing or truncating prices strictly after
an instant t changes no decision made at or before t, and publishing an event
later never makes its trade earlier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backtest.core.sessions import session_instant
from backtest.engine.rules.overlap import overlap_signals, truncate_signals
from backtest.events.align import align_events
from backtest.events.table import make_event_table
from backtest.strategy.signals import (
    MarketView,
    check_signals,
    registered_strategies,
    window_drops,
)
from tests.conftest import CAL, SESSIONS

PARAMS = {
    "earnings_hold": {},
    "news_momentum": {"hold_sessions": 2},
    "news_reversal": {"hold_sessions": 2},
    "pre_earnings_runup": {"entry_sessions": 3},
    "post_earnings_drift": {"hold_sessions": 3},
    "gap_follow": {"hold_sessions": 2},
    "gap_fade": {"entry_at": "next_open"},
    "analyst_revision_drift": {"hold_sessions": 2},
}
STRATEGIES = sorted(registered_strategies())
# Strategies that may enter before an event is published (they use only its known date).
PRE_EVENT = {"earnings_hold", "pre_earnings_runup"}
PRE_EVENT |= {f"{name}_per_event" for name in PRE_EVENT}  # their per-event twins
KINDS = ("news", "earnings", "analyst")
# Random event streams put one ticker's earnings days apart, which events.dedupe_days
# (default 5) would merge as copies of one report: these invariants are about fills and
# look-ahead, not deduplication (tests E3), so they align with the same-day rule.
SAME_DAY = 0


def random_walk(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(SESSIONS))))
    open_ = np.r_[100, close[:-1]] * np.exp(rng.normal(0, 0.01, len(SESSIONS)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.01,
            "low": np.minimum(open_, close) * 0.99,
            "close": close,
            "volume": 1e6,
        },
        index=pd.DatetimeIndex(SESSIONS, name="session"),
    )


def payload(kind: str, n: int) -> dict:
    """Content an event's strategies read: an EPS surprise or a price-target change of +-20%."""
    up = (n // len(KINDS)) % 2 == 0
    if kind == "earnings":
        return {"eps_estimate": 1.0, "eps_actual": 1.2 if up else 0.8}
    if kind == "analyst":
        return {"target_old": 100.0, "target_new": 120.0 if up else 80.0}
    return {}  # news without move_pct: direction from the last closed session (price path)


def make_events(day_offsets: list[int], hours: list[int], first_kind: int = 0) -> pd.DataFrame:
    """Events of ticker A, of kinds cycling news, earnings, analyst from ``first_kind``."""
    rows = []
    for n, (day, hour) in enumerate(zip(day_offsets, hours, strict=True)):
        when = (SESSIONS[0] + pd.Timedelta(days=day, hours=hour)).tz_localize("America/New_York")
        kind = KINDS[(n + first_kind) % len(KINDS)]
        row = {"ticker": "A", "event_type": kind, "event_time": when, "source": f"s{n}"}
        if kind == "earnings":
            row["known_at"] = when - pd.Timedelta(days=20)
        rows.append({**row, **payload(kind, n)})
    return make_event_table(rows, CAL)


def decisions(prices: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    aligned, _ = align_events(
        events, {"A": prices}, CAL, now=pd.Timestamp("2030-01-01", tz="UTC"), dedupe_days=SAME_DAY
    )
    market = MarketView({"A": prices}, CAL)
    out = []
    for name, spec in sorted(registered_strategies().items()):
        mine = aligned[aligned["event_type"].isin(spec.event_types)].reset_index(drop=True)
        if mine.empty:
            continue
        signals, _ = spec.fn(mine, market, spec.params(**PARAMS.get(name, {})))
        out.append(check_signals(signals, name, CAL))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def perturb_after(prices: pd.DataFrame, cut: pd.Timestamp, seed: int, nan: bool) -> pd.DataFrame:
    """Scale every bar that closes after ``cut`` (and NaN some of them)."""
    rng = np.random.default_rng(seed)
    closes = CAL.closes.reindex(prices.index)
    after = (closes > cut).to_numpy()
    out = prices.copy()
    out.loc[after, ["open", "high", "low", "close"]] *= rng.uniform(0.5, 1.5, (after.sum(), 1))
    if nan and after.sum() > 1:
        out.loc[out.index[after][::3], "close"] = np.nan
    return out


def at_or_before(signals: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    if signals.empty:
        return signals
    keep = signals[signals["decision_time"] <= cut]
    return keep.sort_values(["strategy", "event_id"]).reset_index(drop=True)


events_st = st.lists(
    st.tuples(st.integers(5, 70), st.sampled_from([0, 7, 9, 12, 16, 18])),
    min_size=1,
    max_size=6,
    unique_by=lambda t: t[0],
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    evs=events_st,
    cut_pos=st.integers(3, len(SESSIONS) - 3),
    cut_at=st.sampled_from(["open", "close"]),
    nan=st.booleans(),
)
@example(seed=1, evs=[(11, 7), (48, 18)], cut_pos=7, cut_at="open", nan=True)
def test_future_prices_never_change_past_decisions(seed, evs, cut_pos, cut_at, nan):
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    cut = session_instant(CAL, SESSIONS[cut_pos], cut_at)
    before = at_or_before(decisions(prices, events), cut)
    after = at_or_before(decisions(perturb_after(prices, cut, seed, nan), events), cut)
    pd.testing.assert_frame_equal(before, after, check_dtype=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    evs=events_st,
    first_kind=st.integers(0, len(KINDS) - 1),
    pick=st.integers(0, 10_000),
    nan=st.booleans(),
)
def test_a_decision_survives_perturbing_every_price_after_it(seed, evs, first_kind, pick, nan):
    """I1 aimed at a real decision: cut at one signal's own decision time.

    A random cut rarely lands between a decision and the next price it could peek at;
    cutting exactly at a decision makes the next bar after it always perturbed.
    """
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs], first_kind)
    signals = decisions(prices, events)
    if signals.empty:
        return
    times = sorted(set(signals["decision_time"]))
    cut = times[pick % len(times)]
    after = at_or_before(decisions(perturb_after(prices, cut, seed, nan), events), cut)
    pd.testing.assert_frame_equal(at_or_before(signals, cut), after, check_dtype=False)


def alignable(events: pd.DataFrame, prices: pd.DataFrame) -> set[str]:
    aligned, _ = align_events(
        events, {"A": prices}, CAL, now=pd.Timestamp("2030-01-01", tz="UTC"), dedupe_days=SAME_DAY
    )
    return set(aligned["event_id"])


def completed_by(signals: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    if signals.empty:
        return signals
    exits = [
        session_instant(CAL, s, a)
        for s, a in zip(signals["exit_session"], signals["exit_at"], strict=True)
    ]
    keep = signals[pd.Series(exits, index=signals.index) <= cut]
    return keep.sort_values(["strategy", "event_id"]).reset_index(drop=True)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), evs=events_st, cut_pos=st.integers(3, len(SESSIONS) - 3))
@example(seed=0, evs=[(6, 0), (5, 0)], cut_pos=3)
def test_truncated_history_gives_the_same_completed_trades(seed, evs, cut_pos):
    """I2. A trade still open at the cut cannot exist on truncated data (its exit price
    is missing: dropped as incomplete), so the property covers trades closed by the cut;
    decisions on still-open windows are covered by the perturbation test above.

    A pre-event trade can close (at the close of R - 1) before its reaction session R,
    whose bar the truncated data lacks; alignment drops such an event as
    outside_price_range (it needs R's price). That is data availability, not a changed
    decision, so the comparison covers events that align on the truncated data."""
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    cut = session_instant(CAL, SESSIONS[cut_pos], "close")
    truncated = prices.iloc[: cut_pos + 1]
    full = completed_by(decisions(prices, events), cut)
    if not full.empty:
        full = full[full["event_id"].isin(alignable(events, truncated))].reset_index(drop=True)
    short = completed_by(decisions(truncated, events), cut)
    if full.empty:
        assert short.empty
    else:
        pd.testing.assert_frame_equal(full, short, check_dtype=False)


def _clock(day: int, hours: int) -> tuple[int, int]:
    """Day and hour ``hours`` after ``day`` 00:00, avoiding exact midnight.

    Exact midnight means "date only, time unknown" (RELIABILITY E4) and aligns like
    an after-close report, i.e. as late as anything on that date can; it is a
    different precision, so the monotonicity property is stated for clock times.
    """
    day, hour = day + hours // 24, hours % 24
    return (day, hour) if hour else (day - 1, 23)


@settings(max_examples=40, deadline=None)
@given(
    day=st.integers(5, 60),
    hour=st.integers(1, 23),
    delay_hours=st.integers(1, 200),
    kind=st.integers(0, len(KINDS) - 1),
)
def test_publishing_later_never_trades_earlier(day, hour, delay_hours, kind):
    prices = random_walk(7)
    first = decisions(prices, make_events([day], [hour], kind))
    later_time = _clock(day, hour + delay_hours)
    if later_time <= (day, hour):
        return
    later = decisions(prices, make_events([later_time[0]], [later_time[1]], kind))
    if not first.empty and not later.empty:
        assert (later["entry_session"].min(), later["decision_time"].min()) >= (
            first["entry_session"].min(),
            first["decision_time"].min(),
        )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), evs=events_st)
def test_every_fill_is_after_publication_and_entry_before_exit(seed, evs):
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    signals = decisions(prices, events)
    signals, _ = window_drops(signals, MarketView({"A": prices}, CAL))
    published = events.set_index("event_id")["event_time"]
    known = events.set_index("event_id")["known_at"]
    for row in signals.itertuples():
        entry = session_instant(CAL, row.entry_session, row.entry_at)
        exit_ = session_instant(CAL, row.exit_session, row.exit_at)
        assert entry < exit_
        assert entry >= known[row.event_id]
        if row.strategy not in PRE_EVENT:  # they read the event's content
            assert entry > published[row.event_id]


def test_every_strategy_trades_on_the_property_test_events():
    """The properties above are not vacuous: each registered strategy decides something."""
    days = [5, 6, 7, 12, 13, 14, 19, 20, 21, 26, 27, 28]
    events = make_events(days, [8, 18, 7, 12, 9, 16, 8, 18, 7, 12, 9, 16])
    traded = decisions(random_walk(3), events)
    assert set(traded["strategy"]) == set(STRATEGIES)


def truncated_per_strategy(signals: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """``overlap: truncate`` applied to each strategy's signals on their own, as runs do."""
    market, out = MarketView({"A": prices}, CAL), []
    for _, mine in signals.groupby("strategy"):
        kept, _ = window_drops(mine.reset_index(drop=True), market)
        kept, _ = overlap_signals(kept, "truncate")
        out.append(truncate_signals(kept))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def instant(row, side: str) -> pd.Timestamp:
    return session_instant(CAL, getattr(row, f"{side}_session"), getattr(row, f"{side}_at"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), evs=events_st)
def test_truncation_exits_earlier_at_a_fill_already_decided(seed, evs):
    """E8 truncate adds no look-ahead: an exit only moves earlier, to the entry fill of a
    later trade of the same strategy and ticker that was decided (and whose information
    was public) by then; and no two kept windows of one strategy overlap any more."""
    prices = random_walk(seed)
    signals = decisions(prices, make_events([d for d, _ in evs], [h for _, h in evs]))
    if signals.empty:
        return
    planned = signals.set_index(["strategy", "event_id"])
    cut = truncated_per_strategy(signals, prices)
    by_id = cut.set_index(["strategy", "event_id"])
    for row in cut.itertuples():
        entry, exit_ = instant(row, "entry"), instant(row, "exit")
        assert entry < exit_ <= instant(planned.loc[(row.strategy, row.event_id)], "exit")
        if row.truncated_by:
            later = by_id.loc[(row.strategy, row.truncated_by)]
            assert exit_ == instant(later, "entry")
            assert later["info_time"] <= later["decision_time"] <= exit_
        else:
            assert exit_ == instant(planned.loc[(row.strategy, row.event_id)], "exit")
    for _, mine in cut.groupby("strategy"):
        windows = sorted((instant(r, "entry"), instant(r, "exit")) for r in mine.itertuples())
        assert all(x <= e for (_, x), (e, _) in zip(windows[:-1], windows[1:], strict=True))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), evs=events_st, pick=st.integers(0, 10_000))
def test_truncated_trades_survive_perturbing_every_price_after_their_decisions(seed, evs, pick):
    """I1 under ``overlap: truncate``: a kept trade whose decisions (its own and, when cut
    short, the later trade's) were all made by the cut is unchanged, exit included, when
    every price after the cut changes. (Without NaNs: a NaN dropping a later window is
    data availability, as for ``skip``.)"""
    prices = random_walk(seed)
    events = make_events([d for d, _ in evs], [h for _, h in evs])
    signals = decisions(prices, events)
    if signals.empty:
        return
    times = sorted(set(signals["decision_time"]))
    cut = times[pick % len(times)]

    before = truncated_per_strategy(signals, prices)
    moved = perturb_after(prices, cut, seed, nan=False)
    after = truncated_per_strategy(decisions(moved, events), moved)
    keys = ["strategy", "event_id"]
    assert at_or_before(before, cut)[keys].equals(at_or_before(after, cut)[keys])
    # A trade cut short (in either case) by one decided after the cut may differ in its exit.
    both = settled(before, cut) & settled(after, cut)
    pd.testing.assert_frame_equal(only(before, both), only(after, both), check_dtype=False)


def only(frame: pd.DataFrame, keys: set) -> pd.DataFrame:
    picked = frame[frame.set_index(["strategy", "event_id"]).index.isin(keys)]
    return picked.sort_values(["strategy", "event_id"]).reset_index(drop=True)


def settled(frame: pd.DataFrame, cut: pd.Timestamp) -> set:
    """Keys of trades whose own decision and, if cut short, the cutting trade's are <= cut."""
    decided = frame.set_index(["strategy", "event_id"])["decision_time"]
    out = set()
    for row in frame.itertuples():
        by = decided[(row.strategy, row.truncated_by)] if row.truncated_by else row.decision_time
        if max(row.decision_time, by) <= cut:
            out.add((row.strategy, row.event_id))
    return out
