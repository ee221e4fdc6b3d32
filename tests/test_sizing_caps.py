"""``vol_target`` sizing and ``engine.caps`` (issue 17, deliverable 3), by hand.

Volatility: closes alternating +1 % / -1 % make every 20-return window hold
ten of each, so the sample standard deviation is ``0.01 * sqrt(20 / 19)``
whatever the session. Caps: :func:`book_sizes` on flat or stepped marks, each
expected size worked out in the comments; then whole runs on geometric prices.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from backtest.config.model import config_hash, load_config
from backtest.core.errors import ConfigError
from backtest.data.synthetic import geometric_prices
from backtest.engine.rules.book import book_sizes
from backtest.engine.rules.caps import BookCaps
from backtest.run.runner import run_loaded
from backtest.sweep.runner import CAPS_NOTE, run_sweep
from tests.conftest import SESSIONS, base_config, write_config, write_prices
from tests.test_portfolio import bundled_sweep

SIGMA = 0.01 * math.sqrt(20 / 19)  # 20 returns, ten of +1 % and ten of -1 %, ddof 1
EARNINGS = {"ticker": "A", "event_type": "earnings", "time": "2026-02-19", "timing": "bmo"}
HOLD = {
    "name": "earnings_hold",
    "params": {"entry_offset": 1, "entry_at": "close", "exit_offset": 0, "exit_at": "close"},
}


def zigzag() -> pd.DataFrame:
    """Closes 100, 101, 99.99, 100.9899, ...: +1 % and -1 % in turn; opens at the last close."""
    close = 100 * np.cumprod(np.r_[1.0, np.resize([1.01, 0.99], len(SESSIONS) - 1)])
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": 1e6,
        },
        index=SESSIONS.rename("date"),
    )


@pytest.fixture
def zig(tmp_path):
    flat = geometric_prices(SESSIONS, growth=0.0, gap=0.0)
    return write_prices(tmp_path / "prices", {"A": zigzag(), "SPY": flat})


def vol_run(tmp_path, prices, events, strategies, **sizing):
    sizing = {"mode": "vol_target", "window": 20, **sizing}
    data = base_config(prices, events, strategies, sizing=sizing)
    return run_loaded(load_config(write_config(tmp_path, data)))


# --- vol_target ----------------------------------------------------------------------


@pytest.mark.parametrize(("target", "max_pct"), [(0.2, 25.0), (0.5, 25.0)])
def test_vol_target_weight_is_target_over_trailing_vol_capped(tmp_path, zig, target, max_pct):
    result = vol_run(tmp_path, zig, [EARNINGS], [HOLD], target_daily_vol_pct=target, max_pct=25)
    t = result.trades.iloc[0]
    weight = min(target / SIGMA, max_pct)  # % of equity: 19.49 % for 0.2, capped for 0.5
    assert t["sizing_vol"] == pytest.approx(SIGMA, rel=1e-9)
    assert t["size_pct"] == pytest.approx(weight, rel=1e-9)
    # No fees or slippage: the entry's value is the weight of the initial 100 000.
    assert t["size"] * t["entry_price"] == pytest.approx(weight / 100 * 100_000, rel=1e-9)
    assert t["size_pct"] * t["sizing_vol"] == pytest.approx(min(target, max_pct * SIGMA))


def test_a_ticker_without_enough_history_is_dropped_as_vol_history(tmp_path, zig):
    early = {"ticker": "A", "event_type": "news", "time": "2026-01-08T08:00:00",
             "timezone": "America/New_York"}  # fmt: skip
    news = {"name": "news_momentum", "params": {"hold_sessions": 1, "side": "long"}}
    result = vol_run(tmp_path, zig, [early, EARNINGS], [news, HOLD], target_daily_vol_pct=0.2)
    drops = result.drops[result.drops["reason"] == "vol_history"]
    assert drops[["event_id", "stage", "strategy"]].values.tolist() == [
        ["A-news-2026-01-08T130000Z", "sizing", "news_momentum"]
    ]
    assert "fewer than 20 daily returns of A before the decision session" in drops["detail"].iloc[0]
    assert result.trades["strategy"].tolist() == ["earnings_hold"]  # the later one trades


def test_vol_is_read_before_the_decision_session(tmp_path, zig):
    """Changing the decision session's own bar, and every later one, changes no size."""
    (tmp_path / "a").mkdir()
    first = vol_run(tmp_path / "a", zig, [EARNINGS], [HOLD], target_daily_vol_pct=0.2)
    frame = zigzag()
    day = first.trades["entry_time"].iloc[0].tz_convert("America/New_York").normalize()
    later = frame.index >= day.tz_localize(None)
    frame.loc[later, ["open", "high", "low", "close"]] *= 1.3
    moved = write_prices(tmp_path / "b" / "prices", {"A": frame, "SPY": geometric_prices(SESSIONS)})
    again = vol_run(tmp_path / "b", moved, [EARNINGS], [HOLD], target_daily_vol_pct=0.2)
    assert again.trades["size_pct"].iloc[0] == first.trades["size_pct"].iloc[0]


def test_signals_ahead_size_by_the_vol_known_at_as_of(tmp_path, zig):
    from backtest.run.ahead import upcoming_orders

    sizing = {"mode": "vol_target", "target_daily_vol_pct": 0.2, "window": 20}
    loaded = load_config(
        write_config(tmp_path, base_config(zig, [EARNINGS], [HOLD], sizing=sizing))
    )
    ahead = upcoming_orders(loaded, pd.Timestamp("2026-02-13"), 5, equity=50_000)
    # Every 20-return window has the same vol: the weight is 0.2 / SIGMA % of 50 000.
    assert ahead.orders["notional"].tolist() == pytest.approx([0.2 / SIGMA / 100 * 50_000] * 2)


# --- caps, by hand on the book ----------------------------------------------------------


def book(mark, entry, exit_, side, caps, size=40.0, names=None, ref=None):
    mark = np.asarray(mark, dtype=float)
    n = len(entry)
    ref = mark[np.arange(n), entry] if ref is None else np.asarray(ref, dtype=float)
    return book_sizes(
        mark,
        np.asarray(entry),
        np.asarray(exit_),
        np.asarray(side),
        ref,
        ref,
        mark[np.arange(n), exit_],
        100_000.0,
        "percent",
        size,
        caps=caps,
        names=np.asarray(names if names is not None else ["A"] * n, dtype=object),
    )


def test_max_positions_drops_an_entry_until_an_exit_frees_room():
    # Three 20 % longs at ticks 0, 1, 2 held to tick 4; max 2: the third is dropped.
    # A fourth at tick 4 enters after two exits at that very tick.
    b = book(np.full((4, 6), 100.0), [0, 1, 2, 4], [4, 4, 4, 5], [1, 1, 1, 1],
             BookCaps(max_positions=2), size=20.0, names=list("ABCD"))  # fmt: skip
    assert b.reason == ["", "", "max_positions", ""]
    assert b.shares.tolist() == [200.0, 200.0, 0.0, pytest.approx(200.0)]


def test_name_cap_measures_the_open_position_at_the_mark_before_the_entry():
    # A long of 30 % of 100 000 at 100 (300 shares); A is 120 on tick 1. At tick 2 equity is
    # 70 000 cash + 300 x 120 = 106 000 and the name holds 36 000 (33.96 %); a cap of 50 %
    # leaves 53 000 - 36 000 = 17 000 for the second entry (target 31 800), at 120.
    mark = np.tile([100.0, 120.0, 120.0, 120.0], (2, 1))
    b = book(mark, [0, 2], [3, 3], [1, 1], BookCaps(max_name_pct=50), size=30.0)
    assert b.equity.tolist() == [100_000.0, 106_000.0]
    assert b.reason == ["", "name_cap"]
    assert b.shares[1] == pytest.approx(17_000 / 120, rel=1e-12)


def test_gross_cap_counts_shorts_and_net_cap_only_limits_what_adds_to_it():
    flat = np.full((3, 4), 100.0)
    # Gross: a 40 % short, then a 40 % long; 60 % gross leaves 20 000 for the long.
    b = book(flat[:2], [0, 1], [3, 3], [-1, 1], BookCaps(max_gross_pct=60), names=["B", "A"])
    assert b.reason == ["", "gross_cap"] and b.shares.tolist() == [400.0, 200.0]
    # Net: 40 % long A, then 40 % long B cut to the 60 % net cap (20 000), then a 40 % short
    # C: it lowers the net exposure, so the net cap never cuts it.
    b = book(flat, [0, 1, 2], [3, 3, 3], [1, 1, -1], BookCaps(max_net_pct=60), names=list("ABC"))
    assert b.reason == ["", "net_cap", ""]
    assert b.shares.tolist() == [400.0, 200.0, 400.0]


def test_no_room_left_drops_the_entry_with_the_numbers_in_the_detail():
    b = book(np.full((2, 3), 100.0), [0, 1], [2, 2], [1, 1], BookCaps(max_gross_pct=40))
    assert b.reason == ["", "gross_cap"] and b.shares[1] == 0.0
    assert b.detail[1] == (
        "gross 40.00% of equity 100000.00 + a long of 40.00% > max_gross_pct 40: no room, dropped"
    )


def test_caps_off_change_nothing():
    mark = np.tile([100.0, 120.0, 90.0, 110.0], (3, 1))
    args = (mark, [0, 1, 2], [3, 3, 3], [1, -1, 1])
    plain, off = book(*args, None), book(*args, BookCaps())
    assert plain.shares.tolist() == off.shares.tolist() and plain.reason == off.reason


# --- caps in a run -------------------------------------------------------------------


def test_caps_in_a_run_record_each_cut_in_drops(tmp_path):
    tickers = ["A", "B", "C"]
    frames = {t: geometric_prices(SESSIONS, start=50.0 + 25 * i) for i, t in enumerate(tickers)}
    frames["SPY"] = geometric_prices(SESSIONS, growth=0.0, gap=0.0)
    prices = write_prices(tmp_path / "prices", frames)
    events = [{**EARNINGS, "ticker": t} for t in tickers]
    data = base_config(
        prices,
        events,
        [HOLD],
        sizing={"mode": "percent", "value": 40},
        caps={"max_positions": 2, "max_gross_pct": 70},
    )
    data["data"]["tickers"] = tickers
    result = run_loaded(load_config(write_config(tmp_path, data)))
    trades = result.trades.set_index("ticker")
    # All enter at the close of 02-18 (by event id: A, B, C) from equity 100 000. A spends
    # 40 000; at the mark before (the open of 02-18: the close of 02-17 x 1.002) it is worth
    # 40 000 x open/close, so B gets 70 000 minus that; C finds two positions open.
    a = frames["A"].loc["2026-02-18"]
    b_value = 70_000 - 40_000 * a["open"] / a["close"]
    assert trades.loc["A", "size"] * a["close"] == pytest.approx(40_000, rel=1e-12)
    assert trades.loc["B", "size"] * frames["B"].loc["2026-02-18", "close"] == pytest.approx(
        b_value, rel=1e-12
    )
    caps = result.drops[result.drops["stage"] == "caps"]
    assert caps[["ticker", "reason"]].values.tolist() == [
        ["B", "gross_cap"],
        ["C", "max_positions"],
    ]
    assert "C" not in trades.index


# --- config ---------------------------------------------------------------------------


def config_error(tmp_path, zig, **engine) -> str:
    data = base_config(zig, [EARNINGS], [HOLD], **engine)
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data))
    return str(info.value)


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ({"sizing": {"mode": "vol_target"}}, "vol_target needs target_daily_vol_pct"),
        ({"sizing": {"mode": "vol_target", "value": 20, "target_daily_vol_pct": 1}},
         "vol_target sizes from target_daily_vol_pct and does not read value"),
        ({"sizing": {"mode": "percent", "value": 20, "window": 60}},
         "only mode: vol_target reads window (mode is percent)"),
        ({"sizing": {"mode": "vol_target", "target_daily_vol_pct": -0.5}},
         "engine.sizing.target_daily_vol_pct: Input should be greater than 0"),
        ({"sizing": {"mode": "vol_target", "target_daily_vol_pct": 50}},
         "engine.sizing.target_daily_vol_pct: Input should be less than or equal to 10"),
        ({"sizing": {"mode": "vol_target", "target_daily_vol_pct": 1, "window": 1}},
         "engine.sizing.window: Input should be greater than or equal to 2"),
        ({"sizing": {"mode": "kelly"}}, "engine.sizing.mode: got 'kelly'"),
        ({"caps": {"max_gross_pct": 150}}, "engine.caps.max_gross_pct: Input should be less"),
        ({"caps": {"max_net_pct": -5}}, "engine.caps.max_net_pct: Input should be greater"),
        ({"caps": {"max_positions": 0}}, "engine.caps.max_positions: Input should be greater"),
        ({"caps": {"max_positons": 3}}, "did you mean 'max_positions'"),
    ],
)  # fmt: skip
def test_bad_sizing_and_caps_are_one_located_line(tmp_path, zig, engine, message):
    msg = config_error(tmp_path, zig, **engine)
    assert message in msg and "config.yaml:" in msg and "\n" not in msg


def test_caps_with_a_portfolio_section_are_refused(tmp_path, zig):
    data = base_config(zig, [EARNINGS], [HOLD], caps={"max_net_pct": 50})
    data["engine"].pop("sizing")
    data["portfolio"] = {"max_positions": 2}
    with pytest.raises(ConfigError, match=re.escape("portfolio: caps its book itself")):
        load_config(write_config(tmp_path, data))


def test_new_keys_change_the_config_hash_only_when_set(tmp_path, zig):
    def hashed(**engine):
        return config_hash(
            load_config(
                write_config(tmp_path, base_config(zig, [EARNINGS], [HOLD], **engine))
            ).config
        )

    plain = hashed()
    assert hashed(caps={"max_positions": None}) == plain
    fixed = {"mode": "fixed", "value": 1000}
    assert hashed(sizing={**fixed, "window": 20, "max_pct": 100}) == plain  # the defaults
    assert hashed(caps={"max_positions": 5}) != plain
    vol = {"mode": "vol_target", "target_daily_vol_pct": 0.5}
    assert hashed(sizing=vol) != hashed(sizing={**vol, "window": 40}) != plain


def test_the_sweep_says_engine_caps_are_not_applied(tmp_path):
    data = bundled_sweep({"hold_sessions": [1, 5]})
    data.pop("portfolio")
    data["engine"] = {"caps": {"max_positions": 1}}
    assert run_sweep(load_config(write_config(tmp_path, data))).summary["caps"] == CAPS_NOTE


def test_the_vol_sized_config_sizes_every_entry_at_its_weight_or_records_the_cut():
    """configs/vol_sized.yaml on the bundled ADRs: sigma recomputed here from the prices,
    the equity of every entry rebuilt from the trades (tests/test_book.py's rebuild)."""
    from tests.conftest import REPO
    from tests.test_book import _rebuild

    result = run_loaded(load_config(REPO / "configs" / "vol_sized.yaml"))
    engine = result.config.config.engine
    fee = engine.fees_bps * 1e-4
    drops = result.drops[result.drops["stage"].isin(["caps", "sizing"])]
    assert set(drops["reason"]) == {"net_cap"}  # of the caps, only the net cap binds here
    checked = 0
    for label, trades in result.trades.groupby("strategy"):
        cut = set(drops.loc[drops["strategy"] == label, "event_id"])
        trades = trades.sort_values(["entry_time", "event_id"]).reset_index(drop=True)
        for t in trades.itertuples():
            day = t.entry_time.tz_convert("America/New_York").tz_localize(None).normalize()
            close = result.prices[t.ticker]["close"]
            before = close[close.index < day].to_numpy()[-21:]  # 20 returns before the session
            sigma = np.std(before[1:] / before[:-1] - 1, ddof=1)
            assert t.sizing_vol == pytest.approx(sigma, rel=1e-9)
            assert t.size_pct == pytest.approx(min(0.5 / sigma, 25.0), rel=1e-9)
        book = _rebuild(trades, result.prices, engine.init_cash, fee)
        spend = trades["size"] * trades["entry_price"] * (1 + fee)
        off = (spend / (trades["size_pct"] / 100 * book["equity"]) - 1).abs() > 0.005
        assert set(trades.loc[off, "event_id"]) <= cut
        checked += len(trades)
    assert checked == len(result.trades) > 90
