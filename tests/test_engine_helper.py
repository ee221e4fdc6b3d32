"""The engine helper: a forked process with vectorbt imported gives exactly the in-process
results, and any failure of it (dead, hung, raising, unpicklable input) falls back to
simulating here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from backtest import engine_helper
from backtest.config import load_config
from backtest.console import wants_helper
from backtest.engine import simulate
from backtest.engine_helper import active_helper, simulate_in_helper, start_helper
from backtest.report.drawing import can_fork
from backtest.run import backtest_inputs, load_inputs, run

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "configs" / "baba_2026.yaml"

pytestmark = pytest.mark.skipif(not can_fork(), reason="the helper needs fork and two CPUs")


@pytest.fixture(scope="module")
def seed():
    loaded = load_config(SEED)
    return loaded, load_inputs(loaded)


@pytest.fixture
def engine_calls(monkeypatch):
    """Every request the helper answered (True) or did not (False)."""
    answered: list[bool] = []
    original = engine_helper.EngineHelper.simulate

    def spy(self, *args):
        result = original(self, *args)
        answered.append(result is not None)
        return result

    monkeypatch.setattr(engine_helper.EngineHelper, "simulate", spy)
    return answered


def assert_same_run(a, b) -> None:
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)


def a_request(seed):
    """The first strategy's engine inputs on the seed config, captured in-process."""
    loaded, inputs = seed
    captured = []
    import backtest.pipeline as pipeline

    original = pipeline.simulate

    def capture(*args):
        captured.append(args)
        return original(*args)

    pipeline.simulate = capture
    try:
        backtest_inputs(loaded, inputs)
    finally:
        pipeline.simulate = original
    return captured[0]


def test_the_helper_simulates_exactly_what_this_process_would(seed, engine_calls):
    loaded, inputs = seed
    alone = backtest_inputs(loaded, inputs)
    with active_helper(start_helper()) as helper:
        assert helper is not None
        helped = backtest_inputs(loaded, inputs)
    assert engine_calls == [True, True]  # both strategies went to the helper and came back
    assert len(helped.trades) == 3
    assert_same_run(alone, helped)


def test_a_dead_helper_is_never_asked_again_and_the_run_is_unchanged(seed, engine_calls):
    loaded, inputs = seed
    alone = backtest_inputs(loaded, inputs)
    with active_helper(start_helper()) as helper:
        os.kill(helper.pid, signal.SIGKILL)
        helped = backtest_inputs(loaded, inputs)
        assert not helper.usable
    assert engine_calls == [False, False]  # the first found it dead and closed it
    assert_same_run(alone, helped)


def test_a_helper_hung_in_its_import_times_out_and_the_run_is_unchanged(
    seed, monkeypatch, engine_calls
):
    loaded, inputs = seed
    alone = backtest_inputs(loaded, inputs)
    monkeypatch.setattr(engine_helper, "REPLY_TIMEOUT_S", 0.5)
    monkeypatch.setattr(engine_helper, "_serve", lambda *ends: time.sleep(3600))  # never ready
    with active_helper(start_helper()) as helper:
        helped = backtest_inputs(loaded, inputs)
        assert not helper.usable
    assert engine_calls == [False, False]  # the first timed out and killed it
    assert_same_run(alone, helped)


def test_a_helper_hung_in_a_simulation_times_out_and_the_call_runs_here(seed, monkeypatch):
    signals, prices, timeline, settings = a_request(seed)
    with active_helper(start_helper()) as helper:
        assert helper.simulate(signals, prices, timeline, settings) is not None  # ready, used
        monkeypatch.setattr(engine_helper, "REPLY_TIMEOUT_S", 0.5)
        os.kill(helper.pid, signal.SIGSTOP)  # it reads nothing more: only a small request
        small = signals.iloc[:0]  # fits the pipe's buffer, so sending it cannot block
        assert helper.simulate(small, {}, timeline, settings) is None
        assert not helper.usable
        pid = helper.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # a stopped helper is killed and reaped too


def test_an_engine_error_in_the_helper_is_raised_here_with_its_own_type(seed):
    signals, prices, timeline, settings = a_request(seed)
    broken = signals.assign(ticker="NOPE")  # no prices: run_vectorbt raises KeyError
    with active_helper(start_helper()) as helper:
        assert helper.simulate(broken, prices, timeline, settings) is None
        with pytest.raises(KeyError, match="NOPE"):
            simulate(broken, prices, timeline, settings)
        assert helper.usable  # an error is the engine's, not the helper's: it keeps serving
        assert helper.simulate(signals, prices, timeline, settings) is not None


def test_a_request_that_does_not_pickle_runs_here(seed):
    signals, prices, timeline, settings = a_request(seed)
    odd = signals.assign(note=[lambda: None] * len(signals))  # lambdas do not pickle
    with active_helper(start_helper()) as helper:
        assert helper.simulate(odd, prices, timeline, settings) is None
        assert helper.usable
        expected = simulate(signals, prices, timeline, settings)
        got = helper.simulate(signals, prices, timeline, settings)
    pd.testing.assert_frame_equal(got.trades, expected.trades)


def test_ctrl_c_does_not_reach_the_helper(seed):
    signals, prices, timeline, settings = a_request(seed)
    with active_helper(start_helper()) as helper:
        os.kill(helper.pid, signal.SIGINT)
        assert helper.simulate(signals, prices, timeline, settings) is not None


def test_the_helper_is_stopped_when_the_block_ends_even_on_error():
    with pytest.raises(RuntimeError), active_helper(start_helper()) as helper:
        pid = helper.pid
        raise RuntimeError("boom")
    assert not helper.usable
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: no such process any more
    assert simulate_in_helper(None, {}, None, None) is None  # no helper active outside


def test_only_simulating_commands_start_a_helper():
    assert wants_helper(["run", "configs/baba_2026.yaml"])
    assert wants_helper(["--offline", "compare", "configs/compare_six.yaml"])
    assert not wants_helper(["run", "--help"])
    assert not wants_helper(["events", "configs/baba_2026.yaml"])
    assert not wants_helper([])


def test_the_console_command_writes_the_same_trades_as_an_in_process_run(tmp_path):
    # The console entry point forks the helper; run() called here does not.
    console_out, direct_out = tmp_path / "console", tmp_path / "direct"
    proc = subprocess.run(
        [sys.executable, "-m", "backtest", "run", str(SEED), "--out", str(console_out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    direct = run(SEED, out_dir=direct_out)
    (console_folder,) = console_out.iterdir()
    for name in ("trades.csv", "metrics.json", "equity.csv"):
        assert (console_folder / name).read_bytes() == (direct.folder / name).read_bytes(), name
