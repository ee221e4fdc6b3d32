"""Each strategy on one hand-checkable event: exact entry and exit sessions and prices.

Market (tests/conftest.py ``market``): ticker A closes at 100 * 1.01**i on the i-th
XNYS session from 2026-01-02 and opens 0.2% above the previous close. Sessions used
below (XNYS 2026; holidays 2026-01-19 Martin Luther King Jr. Day, 2026-02-16
Washington's Birthday): i = 6 2026-01-12, 7 01-13, 8 01-14, 9 01-15, 10 01-16,
11 01-20; 29 02-13, 30 02-17, 31 02-18, 32 02-19, 33 02-20, 34 02-23, 35 02-24
(20 sessions in January, 02-02 is i = 20). New York is UTC-5 until 2026-03-08, so opens are 14:30 UTC and closes
21:00 UTC. A short's gross return is 1 - exit / entry.
"""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from backtest.core.errors import ConfigError
from backtest.data.synthetic import geometric_prices
from tests.conftest import SESSIONS, base_config, write_prices
from tests.test_pipeline import EARNINGS, NEWS, only_trade, run_config

G, GAP = 0.01, 0.002
IDX = {
    "01-12": 6,
    "01-13": 7,
    "01-14": 8,
    "01-15": 9,
    "01-20": 11,
    "02-13": 29,
    "02-17": 30,
    "02-18": 31,
}
IDX |= {"02-19": 32, "02-20": 33, "02-24": 35}


def close(day: str) -> float:
    """Close of 2026-``day`` on the geometric market, from the index table above."""
    return 100 * (1 + G) ** IDX[day]


def open_(day: str, prev: str) -> float:
    """Open of 2026-``day``: 0.2% above the close of the previous session ``prev``."""
    return close(prev) * (1 + GAP)


def utc(stamp: str) -> pd.Timestamp:
    return pd.Timestamp(stamp, tz="UTC")


def test_the_index_table_matches_the_exchange_calendar():
    for day, i in IDX.items():
        assert SESSIONS[i] == pd.Timestamp(f"2026-{day}")


def assert_trade(trade, side, entry: tuple[str, float], exit_: tuple[str, float]):
    assert trade["side"] == side
    assert (trade["entry_time"], trade["exit_time"]) == (utc(entry[0]), utc(exit_[0]))
    assert trade["entry_price"] == pytest.approx(entry[1], rel=1e-12)
    assert trade["exit_price"] == pytest.approx(exit_[1], rel=1e-12)
    ratio = exit_[1] / entry[1]
    assert trade["gross_return"] == pytest.approx(ratio - 1 if side == 1 else 1 - ratio, rel=1e-9)


# --------------------------------------------------------------------- pre_earnings_runup


def test_runup_enters_three_sessions_before_a_bmo_report_and_exits_the_prior_close(
    tmp_path, market
):
    # bmo 2026-02-19: R = 02-19; R - 3 = 02-13 (02-16 is a holiday); exit close of R - 1 = 02-18.
    strategy = {"name": "pre_earnings_runup", "params": {"entry_sessions": 3}}
    trade = only_trade(
        run_config(tmp_path, base_config(market, [EARNINGS], [strategy])), "pre_earnings_runup"
    )
    assert_trade(
        trade, 1, ("2026-02-13 21:00", close("02-13")), ("2026-02-18 21:00", close("02-18"))
    )


def test_runup_of_an_amc_report_exits_at_the_reaction_open(tmp_path, market):
    # amc 2026-02-18: R = 02-19; entry open of R - 2 = 02-17 (after 02-13), exit open of 02-19.
    amc = {**EARNINGS, "time": "2026-02-18", "timing": "amc"}
    params = {"entry_sessions": 2, "entry_at": "open", "exit_at": "reaction_open", "side": "short"}
    strategy = {"name": "pre_earnings_runup", "params": params}
    trade = only_trade(
        run_config(tmp_path, base_config(market, [amc], [strategy])), "pre_earnings_runup"
    )
    entry = ("2026-02-17 14:30", open_("02-17", "02-13"))
    assert_trade(trade, -1, entry, ("2026-02-19 14:30", open_("02-19", "02-18")))


def test_runup_entering_at_its_own_exit_is_rejected(tmp_path, market):
    strategy = {"name": "pre_earnings_runup", "params": {"entry_sessions": 1, "entry_at": "close"}}
    with pytest.raises(ConfigError, match="strategies\\[0\\].params.*entry_sessions >= 2"):
        run_config(tmp_path, base_config(market, [EARNINGS], [strategy]))


# --------------------------------------------------------------------- post_earnings_drift

DRIFT = {"name": "post_earnings_drift", "params": {"hold_sessions": 3}}


def test_drift_goes_long_a_top_bucket_surprise_at_the_reaction_close(tmp_path, market):
    # (1.10 - 1.00) / 1.00 = +10% >= 5%: long from the close of R = 02-19 to the close of
    # R + 3 = 02-24 (02-20, 02-23, 02-24).
    beat = {**EARNINGS, "eps_estimate": 1.00, "eps_actual": 1.10}
    trade = only_trade(
        run_config(tmp_path, base_config(market, [beat], [DRIFT])), "post_earnings_drift"
    )
    assert_trade(
        trade, 1, ("2026-02-19 21:00", close("02-19")), ("2026-02-24 21:00", close("02-24"))
    )
    assert trade["gross_return"] == pytest.approx((1 + G) ** 3 - 1, rel=1e-9)


@pytest.mark.parametrize(
    ("payload", "side", "reason"),
    [
        ({"eps_estimate": 2.00, "eps_actual": 1.80}, -1, None),  # -10%: bottom bucket
        ({"eps_estimate": -0.50, "eps_actual": -0.40}, 1, None),  # +0.10 / |-0.50| = +20%
        ({"eps_estimate": 1.00, "eps_actual": 1.02}, None, "middle_bucket"),  # +2%
        ({"eps_estimate": 1.00, "eps_actual": 1.02, "surprise_pct": -7.5}, -1, None),  # given wins
        ({}, None, "no_surprise"),
    ],
)
def test_drift_buckets_by_surprise(tmp_path, market, payload, side, reason):
    result = run_config(tmp_path, base_config(market, [{**EARNINGS, **payload}], [DRIFT]))
    if side is None:
        assert result.trades.empty
        assert result.drops["reason"].tolist() == [reason]
    else:
        assert only_trade(result, "post_earnings_drift")["side"] == side


def test_drift_entering_at_the_reaction_open_is_rejected_as_look_ahead(tmp_path, market):
    early = {"name": "post_earnings_drift", "params": {"entry_at": "open"}}
    with pytest.raises(ConfigError, match="look-ahead"):
        run_config(tmp_path, base_config(market, [EARNINGS], [early]))


# --------------------------------------------------------------------- gap_follow / gap_fade


@pytest.fixture
def gapped(tmp_path):
    """The geometric market with a -5% opening gap on 2026-02-19 (open = 0.95 * close of 02-18)."""
    frame = geometric_prices(SESSIONS, growth=G, gap=GAP)
    frame.loc["2026-02-19", "open"] = 0.95 * close("02-18")
    frame.loc["2026-02-19", "low"] = 0.95 * close("02-18") * 0.995
    return write_prices(tmp_path / "gapped", {"A": frame, "SPY": frame})


@pytest.mark.parametrize(("name", "side"), [("gap_follow", -1), ("gap_fade", 1)])
def test_gap_strategies_enter_the_gap_session_close(tmp_path, gapped, name, side):
    # bmo 2026-02-19: G = 02-19, gap -5%; entry close of 02-19, exit close of 02-20.
    trade = only_trade(
        run_config(tmp_path, base_config(gapped, [EARNINGS], [{"name": name}])), name
    )
    assert_trade(
        trade, side, ("2026-02-19 21:00", close("02-19")), ("2026-02-20 21:00", close("02-20"))
    )


def test_gap_of_an_amc_report_is_the_next_open_and_next_open_entry(tmp_path, gapped):
    # amc 2026-02-18: G = 02-19 again; entry_at next_open: open of 02-20, exit its close.
    amc = {**EARNINGS, "time": "2026-02-18", "timing": "amc"}
    strategy = {"name": "gap_follow", "params": {"entry_at": "next_open", "min_abs_gap_pct": 5}}
    trade = only_trade(run_config(tmp_path, base_config(gapped, [amc], [strategy])), "gap_follow")
    entry = ("2026-02-20 14:30", open_("02-20", "02-19"))
    assert_trade(trade, -1, entry, ("2026-02-20 21:00", close("02-20")))


def test_gap_of_an_intraday_report_filled_at_the_close_is_the_next_session(tmp_path, gapped):
    # 12:00 New York on 02-18, same_close: aligned to the close of 02-18; G = 02-19.
    noon = {**EARNINGS, "time": "2026-02-18 12:00", "timezone": "America/New_York"}
    noon.pop("timing")
    data = base_config(gapped, [noon], [{"name": "gap_fade"}])
    data["events"]["intraday_fill"] = "same_close"
    trade = only_trade(run_config(tmp_path, data), "gap_fade")
    assert_trade(
        trade, 1, ("2026-02-19 21:00", close("02-19")), ("2026-02-20 21:00", close("02-20"))
    )


def test_gap_below_the_threshold_is_dropped_not_traded(tmp_path, market):
    # The plain market gaps +0.2% every session, below a 1% minimum.
    strategy = {"name": "gap_follow", "params": {"min_abs_gap_pct": 1}}
    result = run_config(tmp_path, base_config(market, [EARNINGS], [strategy]))
    assert result.trades.empty
    assert result.drops["reason"].tolist() == ["below_threshold"]


# --------------------------------------------------------------------- news_reversal


def test_news_reversal_shorts_a_rise_from_the_first_open_after_the_article(tmp_path, market):
    # Article 08:42 New York on 01-13 reporting +10%: short from the open of 01-13 for 3
    # sessions, out at the close of 01-15.
    strategy = {"name": "news_reversal", "params": {"hold_sessions": 3}}
    trade = only_trade(
        run_config(tmp_path, base_config(market, [NEWS], [strategy])), "news_reversal"
    )
    entry = ("2026-01-13 14:30", open_("01-13", "01-12"))
    assert_trade(trade, -1, entry, ("2026-01-15 21:00", close("01-15")))
    assert trade["gross_return"] == pytest.approx(1 - (1 + G) ** 3 / (1 + GAP), rel=1e-9)


# --------------------------------------------------------------------- analyst_revision_drift

NOTE = {
    "ticker": "A",
    "event_type": "analyst",
    "time": "2026-01-13 08:00",
    "timezone": "America/New_York",
    "firm": "Example Securities",
}


def test_analyst_target_cut_is_shorted_for_five_sessions(tmp_path, market):
    # Target 100 -> 90 (-10%) before the open of 01-13: short from that open; 5 sessions
    # are 01-13, 01-14, 01-15, 01-16, 01-20 (01-19 is a holiday): out at the close of 01-20.
    cut = {**NOTE, "target_old": 100, "target_new": 90}
    strategy = {"name": "analyst_revision_drift", "params": {"hold_sessions": 5}}
    trade = only_trade(
        run_config(tmp_path, base_config(market, [cut], [strategy])), "analyst_revision_drift"
    )
    entry = ("2026-01-13 14:30", open_("01-13", "01-12"))
    assert_trade(trade, -1, entry, ("2026-01-20 21:00", close("01-20")))


@pytest.mark.parametrize(
    ("payload", "params", "side", "reason"),
    [
        ({"rating": "Upgrade to Buy"}, {}, 1, None),
        ({"rating": "Downgrade to Sell"}, {}, -1, None),
        ({"rating": "Upgrade to Buy"}, {"use_stated": False}, None, "no_direction"),
        (
            {"target_old": 100, "target_new": 103},
            {"min_abs_change_pct": 5},
            None,
            "below_threshold",
        ),
        ({"rating": "Hold"}, {}, None, "no_direction"),
    ],
)
def test_analyst_direction_from_rating_and_threshold(
    tmp_path, market, payload, params, side, reason
):
    strategy = {"name": "analyst_revision_drift", "params": params}
    result = run_config(tmp_path, base_config(market, [{**NOTE, **payload}], [strategy]))
    if side is None:
        assert result.trades.empty
        assert result.drops["reason"].tolist() == [reason]
    else:
        assert only_trade(result, "analyst_revision_drift")["side"] == side


def test_analyst_stated_direction_from_an_event_csv(tmp_path, market):
    # "lowered its target" without numbers: direction down, read from a user CSV; short
    # from the open of 01-13 to the close of 01-14 (2 sessions).
    csv = tmp_path / "analyst.csv"
    csv.write_text("ticker,event_time,firm,direction\nA,2026-01-13 08:00,Example Securities,down\n")
    data = base_config(
        market, [NOTE], [{"name": "analyst_revision_drift", "params": {"hold_sessions": 2}}]
    )
    data["events"]["sources"] = [
        {"type": "csv", "path": str(csv), "timezone": "America/New_York", "event_type": "analyst"}
    ]
    trade = only_trade(run_config(tmp_path, data), "analyst_revision_drift")
    entry = ("2026-01-13 14:30", open_("01-13", "01-12"))
    assert_trade(trade, -1, entry, ("2026-01-14 21:00", close("01-14")))


# --------------------------------------------------------------------- user plugins

PLUGIN = '''
import numpy as np
from backtest.strategy.plan import KEEP, Plan, hold_exit_tick
from backtest.strategy.signals import StrategyParams, register_planner


class P(StrategyParams):
    pass


@register_planner("{name}", P, event_types=("news",))
def plan(ev, market, g):
    """Long for one session from the first tradable point."""
    entry = ev.actionable_tick[None, :]
    exit_ = hold_exit_tick(entry, np.array(1), np.array("close"))
    n = entry.shape
    return Plan(entry, exit_, np.ones(n, int), ev.published_ns[None, :], np.full(n, KEEP))
'''


@pytest.fixture
def registry(monkeypatch):
    """Restore the strategy registry and forget the plugin modules after a plugin test."""
    from backtest.strategy import signals

    monkeypatch.setattr(signals, "_REGISTRY", dict(signals.registered_strategies()))
    yield
    for name in ("my_plugin_strategy", "broken_plugin"):
        sys.modules.pop(name, None)


def test_a_plugin_next_to_the_config_registers_a_strategy(tmp_path, market, registry):
    (tmp_path / "my_plugin_strategy.py").write_text(PLUGIN.replace("{name}", "one_day_long"))
    data = base_config(market, [NEWS], [{"name": "one_day_long"}])
    data = {"plugins": ["my_plugin_strategy"], **data}
    trade = only_trade(run_config(tmp_path, data), "one_day_long")
    # open of 01-13 to the close of 01-13 (one session from an open entry)
    assert_trade(
        trade,
        1,
        ("2026-01-13 14:30", open_("01-13", "01-12")),
        ("2026-01-13 21:00", close("01-13")),
    )


def test_a_plugin_that_cannot_be_imported_is_a_located_config_error(tmp_path, market, registry):
    data = {"plugins": ["no_such_module_xyz"], **base_config(market, [NEWS], [{"name": "x"}])}
    with pytest.raises(ConfigError) as info:
        run_config(tmp_path, data)
    msg = str(info.value)
    assert "config.yaml:2:" in msg and "plugins[0]: cannot import 'no_such_module_xyz'" in msg
    assert "ModuleNotFoundError" in msg


def test_a_plugin_that_fails_on_import_names_the_error(tmp_path, market, registry):
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    data = {"plugins": ["broken_plugin"], **base_config(market, [NEWS], [{"name": "x"}])}
    with pytest.raises(
        ConfigError, match=r"plugins\[0\]: cannot import 'broken_plugin' \(RuntimeError: boom\)"
    ):
        run_config(tmp_path, data)


# --------------------------------------------------------------------- regressions


@pytest.mark.parametrize("name", ["news_momentum", "news_reversal"])
def test_news_with_move_pct_on_some_events_only(tmp_path, market, name):
    """Found by the parity test: with pandas 3 a float payload column comes back as a
    read-only array, and filling the missing moves in place raised ValueError."""
    quiet = {**NEWS, "time": "2026-02-10 08:00", "timezone": "America/New_York"}
    quiet.pop("move_pct")  # direction from the last closed session: +1% (growth), so +1
    result = run_config(tmp_path, base_config(market, [NEWS, quiet], [{"name": name}]))
    sides = result.trades.set_index("event_id")["side"].to_dict()
    expected = 1 if name == "news_momentum" else -1
    assert sides == {"A-news-2026-01-13T134204Z": expected, "A-news-2026-02-10T130000Z": expected}


# --------------------------------------------------------------------- documentation


def test_every_strategy_and_parameter_is_documented_and_listed():
    """configs/example.yaml names every strategy and parameter; `backtest strategies` lists them."""
    import subprocess

    from backtest.strategy.signals import registered_strategies
    from tests.conftest import REPO

    example = (REPO / "configs" / "example.yaml").read_text()
    listed = subprocess.run(
        [sys.executable, "-m", "backtest", "strategies"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for name, spec in registered_strategies().items():
        assert f"name: {name}" in example, name
        assert f"{name} (" in listed, name
        for field in spec.params.model_fields:
            assert f"{field}:" in example, (name, field)
            assert f"    {field} = " in listed, (name, field)
        assert spec.summary, f"{name}: its function needs a one-line docstring"


def test_a_plan_with_string_reasons_reports_them_as_given():
    """Plugins may still write drop reasons as strings (KEEP = trade), including their own."""
    import numpy as np

    from backtest.strategy.plan import KEEP, Drop, EventArrays, Plan, plan_to_signals, tick_instants
    from tests.conftest import CAL

    events = pd.DataFrame({"event_id": ["a", "b", "c"], "ticker": ["X", "X", "Y"]})
    ev = EventArrays(events, CAL, tick_instants(CAL), None, None, None, None)
    ticks = np.zeros((1, 3), dtype=int)
    drop = np.array([["too_quiet", "outside_calendar", "too_quiet"]])
    plan = Plan(ticks, ticks + 1, np.ones((1, 3), int), ticks, drop)
    assert plan.drop[0, 1] == Drop.OUTSIDE_CALENDAR and not plan.keep().any()
    signals, drops = plan_to_signals(ev, plan, "mine")
    assert signals.empty
    assert drops["reason"].tolist() == ["outside_calendar", "too_quiet", "too_quiet"]
    assert drops.set_index("event_id")["reason"].to_dict() == {
        "a": "too_quiet",
        "b": "outside_calendar",
        "c": "too_quiet",
    }
    assert Plan(ticks, ticks, ticks, ticks, np.full((1, 3), KEEP)).keep().all()
