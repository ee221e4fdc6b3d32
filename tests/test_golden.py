"""Golden test on the bundled real data: the seed config's trades, computed by hand.

Expected values were read off backtest/sample_data/prices/BABA.csv by hand,
not produced by this code (RELIABILITY I21):

    2025-11-24 close 160.73   2025-11-25 close 157.01   (BABA reported 2025-11-25 08:30 ET, bmo)
    2026-01-13 open 165.50    2026-01-15 close 170.93   (article 13.01.2026 14:42:04 CET = 08:42 ET)
    2026-02-18 close 155.77   2026-02-19 close 154.27   (BABA reported 2026-02-19 08:30 ET, bmo)
    2025-10-01 close 182.78   2026-03-31 close 125.46   (buy-and-hold period)
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtest.config.model import load_config
from backtest.data.bundled import BundledPrices
from backtest.run.runner import run_loaded
from tests import regen_golden
from tests.conftest import REPO

EXPECTED = [  # strategy, event id, entry UTC, entry price, exit UTC, exit price
    (
        "earnings_hold",
        "BABA-earnings-2025-11-25T133000Z",
        "2025-11-24 21:00",
        160.73,
        "2025-11-25 21:00",
        157.01,
    ),
    (
        "earnings_hold",
        "BABA-earnings-2026-02-19T133000Z",
        "2026-02-18 21:00",
        155.77,
        "2026-02-19 21:00",
        154.27,
    ),
    (
        "news_momentum",
        "BABA-news-2026-01-13T134204Z",
        "2026-01-13 14:30",
        165.50,
        "2026-01-15 21:00",
        170.93,
    ),
]


@pytest.fixture(scope="module")
def seed_run():
    loaded = load_config(
        REPO / "configs" / "baba_2026.yaml", ["engine.fees_bps=0", "engine.slippage_bps=0"]
    )
    return run_loaded(loaded, now=pd.Timestamp("2026-11-25", tz="UTC"))


def test_seed_trades_are_at_the_hand_computed_sessions_and_prices(seed_run):
    trades = seed_run.trades.sort_values(["strategy", "entry_time"]).reset_index(drop=True)
    assert len(trades) == len(EXPECTED)
    for row, (strategy, event_id, t_in, p_in, t_out, p_out) in zip(
        trades.itertuples(), EXPECTED, strict=True
    ):
        assert (row.strategy, row.event_id) == (strategy, event_id)
        assert row.entry_time == pd.Timestamp(t_in, tz="UTC")
        assert row.exit_time == pd.Timestamp(t_out, tz="UTC")
        assert row.entry_price == pytest.approx(p_in, abs=1e-6)
        assert row.exit_price == pytest.approx(p_out, abs=1e-6)
        assert row.net_return == pytest.approx(p_out / p_in - 1, rel=1e-9)


def test_seed_news_event_is_aligned_from_central_european_time(seed_run):
    news = seed_run.events.set_index("event_id").loc["BABA-news-2026-01-13T134204Z"]
    assert news["event_time"] == pd.Timestamp("2026-01-13 13:42:04", tz="UTC")
    assert (news["timing"], news["session"], news["fill_at"]) == (
        "bmo",
        pd.Timestamp("2026-01-13"),
        "open",
    )
    assert news["session_price"] == pytest.approx(165.5)


def test_seed_benchmark_is_buy_and_hold_baba(seed_run):
    # BABA's bundled adj_close stops in 2024-03: total return unavailable, price only, said so.
    row = seed_run.metrics.set_index("strategy").loc["benchmark:BABA"]
    assert row["total_return"] == pytest.approx(125.46 / 182.78 - 1, rel=1e-9)
    assert seed_run.benchmark_basis["BABA"].startswith("price only (close): adj_close missing")


def test_benchmarks_are_total_return_and_each_row_shows_its_own_return(seed_run):
    sessions = seed_run.equity.index
    spy = BundledPrices().load("SPY").reindex(sessions)
    first, last = spy["close"].first_valid_index(), spy["close"].last_valid_index()
    total = spy.loc[last, "adj_close"] / spy.loc[first, "adj_close"] - 1
    rows = seed_run.metrics.set_index("strategy")
    assert seed_run.benchmark_basis["SPY"] == "total return (adj_close)"
    assert rows.loc["benchmark:SPY", "total_return"] == pytest.approx(total, rel=1e-9)
    for name in ("benchmark:SPY", "benchmark:BABA"):  # its own return, not the first benchmark's
        assert rows.loc[name, "benchmark_return"] == rows.loc[name, "total_return"]
        assert rows.loc[name, "beta"] == pytest.approx(1.0, rel=1e-12)
    # Strategies are measured against the first benchmark (BABA here).
    assert (
        rows.loc["earnings_hold", "benchmark_return"] == rows.loc["benchmark:BABA", "total_return"]
    )
    price = load_config(REPO / "configs" / "baba_2026.yaml", ["benchmark_basis=price"])
    by_close = run_loaded(price, now=pd.Timestamp("2026-11-25", tz="UTC"))
    ret = spy.loc[last, "close"] / spy.loc[first, "close"] - 1
    spy_row = by_close.metrics.set_index("strategy").loc["benchmark:SPY"]
    assert spy_row["total_return"] == pytest.approx(ret, rel=1e-9) and ret < total


def test_events_outside_the_period_are_recorded_not_lost(seed_run):
    drops = seed_run.drops[seed_run.drops["stage"] == "align"]
    assert set(drops["reason"]) == {"outside_period"}
    assert len(drops) + len(seed_run.events) == 39 + 1  # 39 BABA reports + 1 article


# Reviewed goldens of whole bundled configs (tests/golden/*.json, RELIABILITY I21):
# metrics, trade key fields and data-volume counts, rewritten only by
# `python -m tests.regen_golden --accept` after reading its diff.


@pytest.fixture(scope="module")
def fresh():
    """Each golden config run again now (the same offline build the regen script does)."""
    return {name: regen_golden.build(name) for name in regen_golden.CONFIGS}


def _stored(name: str) -> dict:
    return regen_golden.read(regen_golden.GOLDEN_DIR / f"{name}.json")


def _moved_message(name: str, moved: list[str], shown: int = 40) -> str:
    """What a failing golden comparison prints: the fields that moved, and how to accept."""
    lines = moved[:shown] + ([f"... {len(moved) - shown} more"] if len(moved) > shown else [])
    return (
        f"tests/golden/{name}.json: {len(moved)} fields moved beyond rtol={regen_golden.RTOL} "
        "(counts and ids exactly; golden -> this run):\n  " + "\n  ".join(lines) + "\n"
        "If intended: python -m tests.regen_golden, read the diff, rerun with --accept "
        "and say why in the commit."
    )


@pytest.mark.parametrize("name", regen_golden.CONFIGS)
def test_real_data_runs_match_their_reviewed_goldens(fresh, name):
    moved = regen_golden.diff(_stored(name), fresh[name])
    assert not moved, _moved_message(name, moved)


@pytest.mark.parametrize("name", regen_golden.CONFIGS)
def test_golden_counts_account_for_every_event_and_trade(name):
    golden = _stored(name)
    events, per_strategy = golden["counts"]["events"], golden["counts"]["strategies"]
    assert events["loaded"] == events["aligned"] + sum(events["align_dropped"].values())
    assert events["aligned"] == sum(events["aligned_by_type"].values())
    for label, c in per_strategy.items():
        assert c["eligible"] == c["traded"] + sum(c["dropped"].values()), label
        assert c["traded"] == len(golden["trades"].get(label, {})), label
        assert c["traded"] == golden["metrics"][label]["n_trades"], label
    for ticker, c in golden["counts"]["prices"].items():
        assert c["rows_out"] == c["rows_in"] - sum(c["dropped"].values()), ticker


def test_golden_diff_names_each_moved_field_and_ignores_rounding():
    old = _stored("baba_2026")
    new = copy.deepcopy(old)
    new["metrics"]["earnings_hold"]["sharpe"] += 1e-6  # moved
    new["metrics"]["earnings_hold"]["cagr"] *= 1 + 1e-12  # rounding: inside rtol
    new["counts"]["events"]["aligned"] += 1  # a count: exact
    del new["trades"]["news_momentum"]["BABA-news-2026-01-13T134204Z"]
    moved = regen_golden.diff(old, new)
    assert [line.split(":")[0] for line in moved] == [
        "counts.events.aligned",
        "metrics.earnings_hold.sharpe",
        "trades.news_momentum.BABA-news-2026-01-13T134204Z",
    ]
    assert moved[-1].endswith("-> (missing)")


def _tampered_copy(folder: Path) -> Path:
    """tests/golden/baba_2026.json copied into ``folder`` with one Sharpe changed."""
    golden = _stored("baba_2026")
    golden["metrics"]["earnings_hold"]["sharpe"] = 9.0
    path = folder / "baba_2026.json"
    path.write_text(regen_golden.render(golden))
    return path


def test_regen_without_accept_prints_the_diff_exits_1_and_writes_nothing(fresh, tmp_path, capsys):
    path = _tampered_copy(tmp_path)
    before = path.read_bytes()
    argv = ["--golden-dir", str(tmp_path), "baba_2026"]
    assert regen_golden.main(argv, make=fresh.__getitem__) == 1
    out = capsys.readouterr().out
    assert "metrics.earnings_hold.sharpe: 9.0 -> -2.04662447841" in out
    assert "rerun with --accept" in out
    assert path.read_bytes() == before


def test_regen_with_accept_writes_the_fresh_golden(fresh, tmp_path):
    path = _tampered_copy(tmp_path)
    argv = ["--accept", "--golden-dir", str(tmp_path), "baba_2026"]
    assert regen_golden.main(argv, make=fresh.__getitem__) == 0
    checked_in = regen_golden.GOLDEN_DIR / "baba_2026.json"
    assert path.read_text() == checked_in.read_text() == regen_golden.render(fresh["baba_2026"])


def test_regen_module_exits_0_and_leaves_the_file_when_nothing_moved(tmp_path):
    path = tmp_path / "baba_2026.json"
    shutil.copy(regen_golden.GOLDEN_DIR / "baba_2026.json", path)
    before = path.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "tests.regen_golden", "--golden-dir", str(tmp_path), "baba_2026"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "baba_2026.json: no change\n"), done.stderr
    assert path.read_bytes() == before
