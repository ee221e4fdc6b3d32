"""The per-event strategy API: twins equal their planners, own drop reasons, sweeps, the audit.

Real data: configs/compare_six.yaml (BABA and four peers, bundled, 2015-2026) for
the twins; configs/my_strategy.yaml (the README's gap-down short) for sweep and
audit. Synthetic market (tests/conftest.py) for the hand-checked cases.
"""

from __future__ import annotations

import shutil
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtest.audit import run_audit
from backtest.audit.decisions import FAR_FUTURE
from backtest.config.model import load_config
from backtest.core.errors import LookAheadError, StrategyError
from backtest.run.pipeline import align, run_strategy
from backtest.run.runner import load_inputs, run_loaded
from backtest.strategy import StrategyParams, register_event_strategy
from backtest.strategy.signals import MarketView, get_strategy
from tests.conftest import REPO, base_config
from tests.test_pipeline import EARNINGS, run_config


@pytest.fixture
def registry(monkeypatch):
    """Restore the strategy registry and forget plugin modules after a test."""
    from backtest.strategy import signals

    monkeypatch.setattr(signals, "_REGISTRY", dict(signals.registered_strategies()))
    yield
    for name in ("my_strategy", "peeking_plugin"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def six():
    """Aligned events and the market of configs/compare_six.yaml."""
    loaded = load_config(REPO / "configs" / "compare_six.yaml")
    inputs = load_inputs(loaded)
    aligned, _ = align(loaded, inputs.events, inputs.prices, inputs.cal, FAR_FUTURE)
    return aligned, MarketView(inputs.prices, inputs.cal, events=aligned)


def _decide(name: str, params: dict, aligned, market) -> tuple[pd.DataFrame, pd.DataFrame]:
    spec = get_strategy(name)
    cfg = SimpleNamespace(name=name, label="s", params=spec.params(**params))
    run = run_strategy(cfg, aligned, market, "skip")
    drops = run.drops.replace({"stage": {name: "strategy"}})
    drops = drops.sort_values(["event_id", "reason"]).reset_index(drop=True)
    return run.signals, drops


TWINS = [
    ("earnings_hold", {}),
    ("earnings_hold", {"side": "surprise", "entry_offset": 0, "entry_at": "open"}),
    (
        "earnings_hold",
        {"side": "surprise", "entry_offset": -1, "exit_offset": 2, "min_abs_surprise_pct": 3},
    ),
    ("earnings_hold", {"hold_sessions": 3, "entry_offset": -1, "entry_at": "open"}),
    ("earnings_hold", {"entry_offset": 3, "exit_offset": -1, "side": "short"}),
    ("pre_earnings_runup", {}),
    ("pre_earnings_runup", {"entry_sessions": 30, "entry_at": "open", "exit_at": "reaction_open"}),
    ("gap_follow", {"min_abs_gap_pct": 2, "hold_sessions": 5}),
    ("gap_follow", {"min_abs_gap_pct": 4, "entry_at": "next_open", "exit_at": "open"}),
]


@pytest.mark.parametrize(("name", "params"), TWINS)
def test_a_per_event_twin_decides_exactly_as_its_planner(six, name, params):
    aligned, market = six
    signals, drops = _decide(name, params, aligned, market)
    twin_signals, twin_drops = _decide(f"{name}_per_event", params, aligned, market)
    assert len(signals) > 0 or len(drops) > 0
    pd.testing.assert_frame_equal(signals, twin_signals)
    pd.testing.assert_frame_equal(drops, twin_drops)


def test_the_twins_cover_trades_and_every_kind_of_drop(six):
    """The parametrization above is not vacuous: it sees trades and each planner's drops."""
    aligned, market = six
    reasons = set()
    for name, params in TWINS:
        signals, drops = _decide(name, params, aligned, market)
        reasons |= set(drops["reason"])
        assert len(signals) + len(drops) >= 70
    assert {"no_surprise", "no_direction", "below_threshold", "entry_before_known_at"} <= reasons


# --------------------------------------------------------------------- the README strategy


def _copy_my_strategy(tmp_path):
    for name in ("my_strategy.py", "my_strategy.yaml"):
        shutil.copy(REPO / "configs" / name, tmp_path / name)
    return tmp_path / "my_strategy.yaml"


def test_the_gap_down_short_trades_only_gaps_below_its_threshold_and_says_why(tmp_path, registry):
    result = run_loaded(load_config(_copy_my_strategy(tmp_path)))
    trades, drops = result.trades, result.drops
    own = drops[drops["reason"] == "no_gap_down"]
    assert len(trades) > 10 and len(own) > 50
    assert (trades["side"] == -1).all()
    assert own["detail"].str.match(r"opening gap [+-]\d+\.\d% is not below -5\.0%$").all()
    # Every traded event gapped down by more than 5%: recompute the gap from the prices.
    for row in trades.itertuples(index=False):
        event = result.events.set_index("event_id").loc[row.event_id]
        bars = result.prices[row.ticker]
        pos = bars.index.get_loc(event["session"])
        gap = 100 * (bars["open"].iloc[pos] / bars["close"].iloc[pos - 1] - 1)
        assert gap < -5, (row.event_id, gap)


def test_the_gap_down_short_sweeps_to_the_same_trades_as_its_runs(tmp_path, registry):
    from backtest.sweep.runner import run_sweep

    path = _copy_my_strategy(tmp_path)
    table = run_sweep(load_config(path)).table.set_index(["min_gap_pct", "hold"])
    assert len(table) == 12
    for gap, hold in [(3, 1), (5, 3), (8, 10)]:
        one = run_loaded(
            load_config(
                path, [f"strategies.0.params.min_gap_pct={gap}", f"strategies.0.params.hold={hold}"]
            )
        )
        assert table.loc[(gap, hold), "n_trades"] == len(one.trades), (gap, hold)
        net = one.trades["net_return"].astype(float)
        assert table.loc[(gap, hold), "mean_trade_return"] == pytest.approx(net.mean(), rel=1e-9)


def test_the_gap_down_short_is_audited_clean(tmp_path, registry):
    report = run_audit(load_config(_copy_my_strategy(tmp_path)), cuts=6)
    assert report.clean, report.findings
    assert report.summary.loc[0, "decisions"] > 10


# --------------------------------------------------------------------- look-ahead is caught

PEEKING = '''
from backtest.strategy import StrategyParams, Trade, at_close, register_event_strategy


class P(StrategyParams):
    pass


@register_event_strategy("peeking", P, ("earnings",))
def decide(event, market, p):
    """Go long when the price two sessions after the entry is higher (reads the future)."""
    bars = market._view._prices[event.ticker]  # a back door around the recorded reads
    later = market.session(at_close(2))
    now = market.session(at_close(0))
    up = bars["close"].get(later, 0) > bars["close"].get(now, 0)
    return Trade("long" if up else "short", enter=at_close(0), exit=at_close(1))
'''


def test_a_strategy_peeking_through_a_back_door_is_caught_by_the_audit(tmp_path, registry):
    (tmp_path / "peeking_plugin.py").write_text(PEEKING)
    config = (_copy_my_strategy(tmp_path)).read_text()
    config = config.replace("plugins: [my_strategy]", "plugins: [peeking_plugin]")
    config = config.replace(
        "name: gap_down_short\n    params: {min_gap_pct: 5, hold: 3}", "name: peeking"
    )
    config = config.split("\nsweep:")[0]
    (tmp_path / "peek.yaml").write_text(config)
    report = run_audit(load_config(tmp_path / "peek.yaml"), cuts=6)
    assert not report.clean
    assert set(report.findings["check"]) >= {"future_prices_perturbed"}
    assert set(report.findings["strategy"]) == {"peeking"}


def test_reading_a_price_after_the_entry_through_market_is_a_lookahead_error(
    tmp_path, market, registry
):
    class P(StrategyParams):
        pass

    from backtest.strategy import Trade, at_close, at_open

    @register_event_strategy("reads_its_exit", P, ("earnings",))
    def decide(event, m, p):
        """Long if the close after the entry is higher than the open (reads the future)."""
        up = m.price(at_close(0)) > m.price(at_open(0))
        return Trade("long" if up else "short", enter=at_open(0), exit=at_close(1))

    data = base_config(market, [EARNINGS], [{"name": "reads_its_exit"}])
    with pytest.raises(LookAheadError, match=r"read the close of session R\+0"):
        run_config(tmp_path, data)


# --------------------------------------------------------------------- reasons


def test_a_skip_reason_the_strategy_did_not_declare_is_an_error(tmp_path, market, registry):
    from backtest.strategy import Skip

    class P(StrategyParams):
        pass

    @register_event_strategy("undeclared", P, ("earnings",), {"quiet": "too quiet"})
    def decide(event, m, p):
        """Skips with a reason it never declared."""
        return Skip("loud")

    with pytest.raises(StrategyError, match="Skip reason 'loud' is not declared .declared: quiet"):
        run_config(tmp_path, base_config(market, [EARNINGS], [{"name": "undeclared"}]))


@pytest.mark.parametrize(
    ("reason", "why"),
    [("Bad Name", "lower_snake_case"), ("overlap", "built-in"), ("no_direction", "built-in")],
)
def test_declared_reasons_are_validated(registry, reason, why):
    class P(StrategyParams):
        pass

    with pytest.raises(StrategyError, match=why):
        register_event_strategy("x", P, ("earnings",), {reason: "meaning"})


def test_a_declared_reason_without_detail_records_its_meaning(tmp_path, market, registry):
    from backtest.strategy import Skip

    class P(StrategyParams):
        pass

    @register_event_strategy("always_quiet", P, ("earnings",), {"quiet": "nothing happened"})
    def decide(event, m, p):
        """Never trades."""
        return Skip("quiet")

    result = run_config(tmp_path, base_config(market, [EARNINGS], [{"name": "always_quiet"}]))
    own = result.drops[result.drops["reason"] == "quiet"]
    assert own["detail"].tolist() == ["nothing happened"]


# --------------------------------------------------------------------- helpers


def test_helpers_read_the_synthetic_market_exactly(tmp_path, market, registry):
    """gap_pct, move_pct, price and surprise_pct on the geometric market (1% a session, +0.2% gaps)."""
    from backtest.strategy import Skip, at_close, at_open, surprise_pct

    seen = {}

    class P(StrategyParams):
        pass

    @register_event_strategy("looks", P, ("earnings",))
    def decide(event, m, p):
        """Records what the helpers return."""
        seen.update(
            gap=m.gap_pct(),
            move=m.move_pct(3),
            open=m.price(at_open(0)),
            close=m.price(at_close(-1)),
            surprise=surprise_pct(event),
            analyst=m.last_analyst_action(),
        )
        return Skip("no_direction")

    beat = {**EARNINGS, "eps_estimate": 2.0, "eps_actual": 2.2}
    run_config(tmp_path, base_config(market, [beat], [{"name": "looks"}]))
    # R = 2026-02-19 (i = 32): open = close[31] * 1.002; move over 3 sessions to close[31].
    assert seen["gap"] == pytest.approx(0.2, rel=1e-9)
    assert seen["move"] == pytest.approx(100 * (1.01**3 - 1), rel=1e-9)
    assert seen["open"] == pytest.approx(100 * 1.01**31 * 1.002, rel=1e-12)
    assert seen["close"] == pytest.approx(100 * 1.01**31, rel=1e-12)
    assert seen["surprise"] == pytest.approx(10.0)
    assert seen["analyst"] is None


def test_last_analyst_action_is_the_latest_one_published_before_the_reaction_open(
    tmp_path, market, registry
):
    from backtest.strategy import Skip

    seen = []

    class P(StrategyParams):
        pass

    @register_event_strategy("after_analysts", P, ("earnings",))
    def decide(event, m, p):
        """Records the last analyst action."""
        action = m.last_analyst_action()
        seen.append(None if action is None else action.target_new)
        return Skip("no_direction")

    def note(day: str, target: float) -> dict:
        return {
            "ticker": "A",
            "event_type": "analyst",
            "time": f"{day} 12:00",
            "timezone": "America/New_York",
            "target_old": 100.0,
            "target_new": target,
        }

    events = [
        EARNINGS,
        note("2026-02-10", 120.0),
        note("2026-02-12", 90.0),
        note("2026-02-19", 150.0),
    ]  # the last one comes after R's open: not seen
    run_config(tmp_path, base_config(market, events, [{"name": "after_analysts"}]))
    assert seen == [90.0]


def test_a_sweep_of_a_per_event_strategy_plans_each_combination(six):
    """The adapter's planner over a (combinations, 1) grid equals one planning per combination."""
    from backtest.strategy.plan import event_arrays

    aligned, market = six
    spec = get_strategy("gap_follow_per_event")
    ev = event_arrays(
        aligned[aligned["event_type"] == "earnings"].reset_index(drop=True), market.cal
    )
    grid = {
        "min_abs_gap_pct": np.array([[0.0], [3.0]]),
        "entry_at": np.array([["close"]]),
        "hold_sessions": np.array([[1], [4]]),
        "exit_at": np.array([["close"]]),
    }
    both = spec.planner(ev, market, grid)
    for row in (0, 1):
        one = spec.planner(ev, market, {k: v[min(row, len(v) - 1)][None] for k, v in grid.items()})
        assert (both.entry_tick[row] == one.entry_tick[0]).all()
        assert [both.reasons[c] for c in both.drop[row]] == [one.reasons[c] for c in one.drop[0]]
    assert both.keep()[0].sum() > both.keep()[1].sum() > 0


def test_the_readme_shows_configs_my_strategy_py_as_it_is():
    """The README's strategy block is the file users run (docs kept in sync by a test)."""
    import re

    readme = (REPO / "README.md").read_text().split("## Write your own strategy", 1)[1]
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert block.strip() in (REPO / "configs" / "my_strategy.py").read_text()
