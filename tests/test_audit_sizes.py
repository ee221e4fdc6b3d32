"""`backtest check` covers estimates, costs and sizes (issue 17, deliverable 4).

A random-walk market with volume, a hedge instrument, ``vol_target`` sizing,
caps and every estimated cost on. The honest engine passes the audit; each
deliberately cheating estimator (one that reads the bar after the session it
is read at, as ``shift(-1)`` of the honest estimate does) is caught, in the
field it feeds: the hedge ratio, the weight, the spread or the ADV.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from backtest.audit import run_audit
from backtest.audit.sizes import SIZE_CHECKS, diff_entries, entry_cuts
from backtest.config.model import load_config
from backtest.engine import vectorbt
from backtest.engine.rules import hedge, sizing, trade_costs
from backtest.engine.rules.arrays import at
from backtest.engine.rules.trade_costs import COST_REASONS, participation_limit
from tests.conftest import CAL, base_config, write_config, write_prices
from tests.test_audit import BUILT_INS, EARNINGS, NEWS

DAYS = CAL.sessions_in_range("2025-10-01", "2026-03-31")


def walk(seed: int, start: float, vol: float, beta: float = 0.0) -> pd.DataFrame:
    """Daily bars of a random walk (``beta`` times H's returns plus noise): open at the
    previous close, a 0.1-1 % range beyond them, random volume."""
    rng = np.random.default_rng(seed)
    market = np.random.default_rng(2).normal(0, 0.01, len(DAYS))
    close = start * np.cumprod(1 + beta * market + rng.normal(0, vol, len(DAYS)))
    open_ = np.r_[start, close[:-1]]
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + rng.uniform(0.001, 0.01, len(DAYS))),
            "low": np.minimum(open_, close) * (1 - rng.uniform(0.001, 0.01, len(DAYS))),
            "close": close,
            "volume": rng.uniform(2e5, 2e6, len(DAYS)).round(),
        },
        index=DAYS.rename("date"),
    )


def sized_config(tmp_path) -> object:
    prices = write_prices(
        tmp_path / "prices",
        {
            "A": walk(1, 100.0, 0.015, beta=1.3),
            "H": walk(2, 50.0, 0.0, beta=1.0),
            "SPY": walk(3, 400.0, 0.01),
        },
    )
    # Held three sessions, a news trade's exit costs read a bar after its entry session.
    strategies = [BUILT_INS[0], {"name": "news_momentum", "params": {"hold_sessions": 3}}]
    hedged = [{**s, "hedge": {"instrument": "H", "window": 30, "min_obs": 20}} for s in strategies]
    data = base_config(
        prices,
        NEWS + EARNINGS,
        hedged,
        fees_bps=1,
        sizing={"mode": "vol_target", "target_daily_vol_pct": 0.5, "window": 20, "max_pct": 30},
        caps={"max_positions": 3, "max_gross_pct": 60, "max_net_pct": 25},
    )
    # Sized near 30 % of 100 000 at ~100, an entry is ~300 shares: the 0.025 % participation
    # cap (of an ADV near 1 000 000) and the 25 % net cap both bind, so the audit checks them.
    data["costs"] = {
        "spread": {"estimator": "corwin_schultz", "window": 10},
        "impact": {"k": 0.5, "window": 10},
        "participation": {"max_pct": 0.025},
    }
    return load_config(write_config(tmp_path, data))


def test_the_honest_engine_passes_and_every_entry_is_checked(tmp_path):
    report = run_audit(sized_config(tmp_path), cuts=6)
    assert report.clean, report.findings.to_string()
    assert len(report.size_cuts) == 6  # of 14 candidates: 8 entry instants, 6 other closes
    assert set(SIZE_CHECKS) <= set(report.summary.columns)
    assert report.summary.set_index("strategy")["entries"].to_dict() == {
        "earnings_hold": 2,
        "news_momentum": 6,
    }


def test_the_market_makes_every_checked_rule_bind(tmp_path):
    """Not vacuous: hedge ratios near the true 1.3, weights from vol, caps and participation cut."""
    from backtest.run.runner import run_loaded

    result = run_loaded(sized_config(tmp_path))
    e = result.entries
    assert e["hedge_ratio"].between(0.8, 1.8).all(), e["hedge_ratio"]
    assert (e["size_pct"] < 30).any() and (e["half_spread_in"] > 0).all()
    assert {"net_cap", "participation_cap"} <= set(e["reason"])
    assert set(result.drops.loc[result.drops["stage"] == "caps", "reason"]) == {"net_cap"}


def peeking(honest):
    """``honest`` moved one session earlier: the value at s then uses the bar of s itself."""

    def estimate(*args, **kwargs):
        out = honest(*args, **kwargs)
        if isinstance(out, pd.Series | pd.DataFrame):
            return out.shift(-1)
        moved = np.full_like(out, np.nan)  # an array, rows are sessions
        moved[:-1] = out[1:]
        return moved

    return estimate


@pytest.mark.parametrize(
    ("module", "name", "field"),
    [
        (hedge, "trailing_beta", "hedge_ratio"),
        (sizing, "trailing_vol", "size_pct"),
        (trade_costs, "corwin_schultz", "half_spread_in"),
        (trade_costs, "trailing_adv", "adv_in"),
    ],
)
def test_a_cheating_estimator_is_caught_in_the_field_it_feeds(
    tmp_path, monkeypatch, module, name, field
):
    monkeypatch.setattr(module, name, peeking(getattr(module, name)))
    report = run_audit(sized_config(tmp_path), cuts=6)
    found = report.findings
    assert not report.clean
    assert set(found["check"]) <= set(SIZE_CHECKS)  # the decisions themselves did not change
    assert "sizes_perturbed" in set(found["check"])
    assert found["before"].str.contains(f"{field}=").any(), found.to_string()


def participation_at_exit(honest):
    """The participation cap as it was before this change: also capped by the exit's ADV.

    The exit's ADV uses bars after the entry, so the entry's shares depended on them.
    """

    def terms(panel, row, entry_tick, exit_tick, side, costs, shares=None):
        out = honest(panel, row, entry_tick, exit_tick, side, costs, shares)
        if shares is None or costs.participation_pct is None:
            return out
        cap = participation_limit(at(panel.adv, row, np.asarray(exit_tick) // 2), 0.025)
        over = (np.abs(shares) > cap) & (out.limit > 0)
        return replace(
            out,
            limit=np.where(over, np.minimum(out.limit, cap), out.limit),
            reason_code=np.where(
                over, COST_REASONS.index("participation_cap") + 1, out.reason_code
            ).astype(np.int8),
        )

    return terms


def test_a_participation_cap_read_at_the_exit_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(vectorbt, "cost_terms", participation_at_exit(vectorbt.cost_terms))
    report = run_audit(sized_config(tmp_path), cuts=8)
    found = report.findings
    assert set(found["check"]) == {"sizes_perturbed"}, found.to_string()
    assert found["before"].str.contains("shares=").all()


def test_entry_cuts_are_spread_over_the_entry_instants():
    t = pd.date_range("2026-01-05 14:30", periods=9, freq="D", tz="UTC")
    cuts = entry_cuts(pd.DataFrame({"entry_time": t.repeat(2)}), 3)
    assert cuts == [t[0], t[4], t[8]]
    assert entry_cuts(pd.DataFrame({"entry_time": t}), 0) == []


def test_an_entry_missing_after_the_change_is_a_finding_only_where_asked():
    before = pd.DataFrame(
        {"strategy": ["s"], "event_id": ["e"], "size_pct": [20.0], "reason": [""]}
    )
    empty = before.iloc[:0]
    fields = {"s|e": ["size_pct"]}
    assert diff_entries(before, empty, fields, missing=True).values.tolist() == [
        ["s", "e", "entered", "-"]
    ]
    assert diff_entries(before, empty, fields, missing=False).empty
    close = before.assign(size_pct=20.0 * (1 + 1e-14))  # float order, not a change
    assert diff_entries(before, close, fields, missing=True).empty
