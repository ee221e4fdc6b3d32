"""`backtest check`: the look-ahead audit catches a peeking strategy and clears the built-ins."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from backtest.audit import run_audit
from backtest.audit.decay import delay_events
from backtest.audit.timing import hour_only_flags, publish_late
from backtest.cli.commands import app
from backtest.config.model import load_config
from backtest.events.align import align_events
from backtest.events.loaders import load_inline_events
from backtest.strategy import signals
from backtest.strategy.signals import StrategyParams, register
from tests.conftest import CAL, base_config, write_config

FAR = pd.Timestamp("2200-01-01", tz="UTC")
DAYS = ["2026-01-08", "2026-01-15", "2026-01-22", "2026-01-29", "2026-02-05", "2026-02-12"]
NEWS = [
    {
        "ticker": "A",
        "event_type": "news",
        "time": f"{d}T{h}",
        "timezone": "America/New_York",
        "move_pct": 5,
    }
    for d, h in zip(DAYS, ["08:00:00", "12:15:00", "17:30:00"] * 2, strict=True)
]
EARNINGS = [
    {"ticker": "A", "event_type": "earnings", "time": d, "timing": t}
    for d, t in [("2026-02-19", "bmo"), ("2026-03-05", "amc")]
]
BUILT_INS = [
    {"name": "earnings_hold", "params": {"entry_offset": 1, "exit_offset": 1}},
    {"name": "news_momentum", "params": {"hold_sessions": 2}},
]


class NoParams(StrategyParams):
    pass


def tomorrow_peeker(events, market, params):
    """Takes its side from the next session's return: close.shift(-1), the classic peek."""
    rows = []
    for ev in events.itertuples(index=False):
        bars = market.closed_bars(ev.ticker, FAR)  # every bar, future included
        ahead = (bars["close"].shift(-1) / bars["close"] - 1).get(ev.session, 0.0)
        rows.append(
            {
                "strategy": "peeker",
                "event_id": ev.event_id,
                "ticker": ev.ticker,
                "side": 1 if ahead > 0 else -1,
                "decision_time": ev.actionable_at,
                "info_time": ev.event_time,
                "entry_session": ev.session,
                "entry_at": ev.fill_at,
                "exit_session": market.shift(ev.session, 1),
                "exit_at": "close",
            }
        )
    drops = pd.DataFrame(columns=["event_id", "ticker", "stage", "reason", "detail"])
    return pd.DataFrame(rows), drops


@pytest.fixture
def with_peeker(monkeypatch):
    monkeypatch.setattr(signals, "_REGISTRY", dict(signals.registered_strategies()))
    register("peeker", NoParams, ("news",))(tomorrow_peeker)


def config(tmp_path, market, strategies):
    return load_config(write_config(tmp_path, base_config(market, NEWS + EARNINGS, strategies)))


def test_built_in_strategies_pass_the_audit(tmp_path, market):
    report = run_audit(config(tmp_path, market, BUILT_INS), cuts=10)
    assert report.clean, report.findings
    assert len(report.cuts) == 8  # one decision per event: 6 news + 2 earnings
    assert report.summary.set_index("strategy")["decisions"].to_dict() == {
        "earnings_hold": 2,
        "news_momentum": 6,
    }


def test_a_strategy_peeking_with_shift_minus_one_is_caught(tmp_path, market, with_peeker):
    report = run_audit(config(tmp_path, market, [*BUILT_INS, {"name": "peeker"}]), cuts=10)
    assert not report.clean
    assert set(report.findings["strategy"]) == {"peeker"}
    assert "future_prices_perturbed" in set(report.findings["check"])
    assert report.findings["event_id"].str.startswith("A-news-").all()


def test_check_command_exits_1_on_look_ahead_and_0_when_clean(tmp_path, market, with_peeker):
    runner = CliRunner()
    peeking = write_config(tmp_path, base_config(market, NEWS, [{"name": "peeker"}]))
    result = runner.invoke(app, ["check", str(peeking), "--cuts", "6"])
    assert result.exit_code == 1, result.output
    assert "LOOK-AHEAD" in result.output
    clean = tmp_path / "clean"
    clean.mkdir()
    ok = write_config(clean, base_config(market, NEWS + EARNINGS, BUILT_INS))
    result = runner.invoke(app, ["check", str(ok), "--cuts", "4"])
    assert result.exit_code == 0, result.output
    assert "no look-ahead found" in result.output


def test_a_decision_before_its_information_is_a_finding(tmp_path, market, monkeypatch):
    """A strategy that enters at the open before a 12:15 article is reported, not raised."""
    monkeypatch.setattr(signals, "_REGISTRY", dict(signals.registered_strategies()))

    def early(events, market, params):
        frame, drops = tomorrow_peeker(events, market, params)
        return frame.assign(decision_time=frame["info_time"] - pd.Timedelta(hours=4)), drops

    register("early", NoParams, ("news",))(early)
    report = run_audit(config(tmp_path, market, [{"name": "early"}]), cuts=3)
    assert report.findings["check"].tolist() == ["signal_timing"]
    assert "uses information from" in report.findings["after"].iloc[0]


def test_late_publication_keeps_every_event_in_its_session():
    events = load_inline_events(NEWS + EARNINGS, CAL, 10)
    prices = {
        "A": pd.DataFrame(
            {"open": 1.0, "close": 1.0}, index=CAL.sessions_in_range("2026-01-02", "2026-03-31")
        )
    }
    aligned, _ = align_events(events, prices, CAL, now=FAR)
    moved = publish_late(events, aligned, CAL)
    again, _ = align_events(moved, prices, CAL, now=FAR)
    cols = ["event_id", "session", "fill_at"]
    pd.testing.assert_frame_equal(again[cols], aligned[cols], check_dtype=False)
    gap = (again["actionable_at"] - again["event_time"]).unique()
    assert list(gap) == [pd.Timedelta(seconds=1)]


def test_delayed_events_trade_exactly_one_session_later():
    events = load_inline_events(NEWS + EARNINGS, CAL, 10)
    prices = {
        "A": pd.DataFrame(
            {"open": 1.0, "close": 1.0}, index=CAL.sessions_in_range("2026-01-02", "2026-03-31")
        )
    }
    aligned, _ = align_events(events, prices, CAL, now=FAR)
    later, _ = align_events(delay_events(events, aligned, CAL), prices, CAL, now=FAR)
    pos = CAL.sessions.get_indexer(pd.DatetimeIndex(aligned["session"]))
    pos_later = CAL.sessions.get_indexer(pd.DatetimeIndex(later["session"]))
    assert (pos_later - pos).tolist() == [1] * len(aligned)
    assert later["fill_at"].tolist() == aligned["fill_at"].tolist()


@pytest.mark.parametrize(
    ("local", "flagged"),
    [
        ("08:00", False),
        ("09:00", True),
        ("10:00", True),
        ("12:00", False),
        ("15:00", True),
        ("16:00", True),
        ("17:00", True),
        ("18:00", False),
        ("09:15", False),
    ],
)
def test_whole_hour_stamps_near_the_open_or_close_are_flagged(local, flagged):
    stamp = pd.Timestamp(f"2026-02-19 {local}", tz="America/New_York").tz_convert("UTC")
    ev = pd.DataFrame({"event_id": ["e"], "ticker": ["A"], "event_time": [stamp]})
    assert len(hour_only_flags(ev, CAL)) == int(flagged)
