"""The price panel of sweeps against pandas' own reindex, on frames with every kind of hole.

:func:`backtest.core.timeline.session_bars` and :func:`~backtest.core.timeline.session_ticks`
place each frame's bars with numpy instead of ``frame.reindex(sessions)`` (for speed);
these properties check them against that reindex, written here independently, for
frames that start late, end early, have holes, NaN prices, bars off the calendar,
duplicate stamps and no bars at all, and for the usual frame, an unbroken run of
sessions, which ``session_ticks`` places in a compiled pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.core.timeline import OHLC, session_bars, session_ticks

SESSIONS = pd.bdate_range("2026-01-05", periods=12)
# Stamps a frame may hold: every session, plus two weekend days that are no session.
STAMPS = list(SESSIONS) + [pd.Timestamp("2026-01-10"), pd.Timestamp("2026-01-17")]


@st.composite
def price_frames(draw) -> pd.DataFrame:
    picked = draw(st.lists(st.sampled_from(STAMPS), max_size=len(STAMPS)))
    if draw(st.booleans()):
        picked = sorted(set(picked))  # sorted, unique
    if draw(st.booleans()):  # the usual frame: an unbroken run of sessions (the compiled path)
        first = draw(st.integers(0, len(SESSIONS)))
        picked = list(SESSIONS[first : draw(st.integers(first, len(SESSIONS)))])
    values = draw(
        st.lists(
            st.lists(
                st.one_of(st.floats(1.0, 100.0), st.just(float("nan"))),
                min_size=len(OHLC) + 1,
                max_size=len(OHLC) + 1,
            ),
            min_size=len(picked),
            max_size=len(picked),
        )
    )
    columns = [*OHLC, "volume"]
    if draw(st.booleans()):
        columns = columns[::-1]  # column order is not fixed
    frame = pd.DataFrame(values, columns=columns, index=pd.DatetimeIndex(picked))
    return frame.astype(float)


def reindexed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame on SESSIONS the way pandas does it (a later duplicate wins, as documented)."""
    frame = frame[~frame.index.duplicated(keep="last")]
    return frame.reindex(SESSIONS)[list(OHLC)]


@settings(max_examples=300, deadline=None)
@given(st.lists(price_frames(), max_size=4))
def test_session_bars_equal_a_pandas_reindex(frames):
    bars = session_bars(frames, SESSIONS)
    assert bars.shape == (len(OHLC), len(frames), len(SESSIONS))
    for i, frame in enumerate(frames):
        expected = reindexed(frame).to_numpy().T
        np.testing.assert_array_equal(bars[:, i], expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(price_frames(), max_size=4))
def test_session_ticks_are_open_close_ticks_and_complete_bars(frames):
    price, ok = session_ticks(frames, SESSIONS)
    assert price.shape == (len(frames), 2 * len(SESSIONS))
    assert ok.shape == (len(frames), len(SESSIONS)) and ok.dtype == bool
    for i, frame in enumerate(frames):
        bars = reindexed(frame)
        np.testing.assert_array_equal(price[i, 0::2], bars["open"].to_numpy())
        np.testing.assert_array_equal(price[i, 1::2], bars["close"].to_numpy())
        np.testing.assert_array_equal(ok[i], bars.notna().all(axis=1).to_numpy())


def test_no_sessions_and_no_frames_give_empty_arrays():
    frame = pd.DataFrame({k: [1.0] for k in OHLC}, index=SESSIONS[:1])
    price, ok = session_ticks([frame], SESSIONS[:0])
    assert price.shape == (1, 0) and ok.shape == (1, 0)
    price, ok = session_ticks([], SESSIONS)
    assert price.shape == (0, 2 * len(SESSIONS)) and ok.shape == (0, len(SESSIONS))
    assert session_bars([frame], SESSIONS[:0]).shape == (len(OHLC), 1, 0)
