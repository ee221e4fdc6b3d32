"""Charts drawn across a forked child are the same files, and every failure surfaces here."""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.report.charts import plot_drawdown, plot_equity, plot_trade_returns
from backtest.report.drawing import Chart, can_fork, draw_charts

forks = pytest.mark.skipif(not can_fork(), reason="charts are split only on Linux with 2+ CPUs")


def _equity() -> pd.DataFrame:
    sessions = pd.bdate_range("2024-01-02", periods=40, name="session")
    growth = 1.01 ** np.arange(40)
    return pd.DataFrame({"s": 1e5 * growth, "benchmark:SPY": 1e5 / growth}, index=sessions)


def _real_charts(folder: Path) -> list[Chart]:
    equity = _equity()
    trades = pd.DataFrame({"strategy": ["s", "s", "s"], "net_return": [0.02, -0.01, 0.03]})
    paths = [folder / n for n in ("equity.png", "drawdown.png", "returns.png")]
    return [
        Chart(paths[0], partial(plot_equity, equity, paths[0], "equity")),
        Chart(paths[1], partial(plot_drawdown, equity, paths[1], "drawdown")),
        Chart(paths[2], partial(plot_trade_returns, trades, paths[2], "returns")),
    ]


def _record_pid(path: Path) -> None:
    path.write_text(str(os.getpid()))


def _fail(message: str) -> None:
    raise ValueError(message)


def _reaped(pid: int) -> bool:
    """``pid`` is gone and was waited for (other tests' children are left alone)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _child_pid(path: Path) -> int:
    pid = int(path.read_text())
    assert pid != os.getpid()
    return pid


@forks
def test_forked_and_serial_drawing_write_the_same_bytes(tmp_path):
    serial, forked = tmp_path / "serial", tmp_path / "forked"
    serial.mkdir()
    forked.mkdir()
    draw_charts(_real_charts(serial), parallel=False)
    pid_file = tmp_path / "pid.txt"
    charts = [*_real_charts(forked), Chart(pid_file, partial(_record_pid, pid_file))]
    written = draw_charts(charts, parallel=True)
    assert [p.name for p in written] == ["equity.png", "drawdown.png", "returns.png", "pid.txt"]
    for name in ("equity.png", "drawdown.png", "returns.png"):
        assert (forked / name).read_bytes() == (serial / name).read_bytes()
    assert _reaped(_child_pid(pid_file))


@forks
def test_the_work_is_split_between_two_processes(tmp_path):
    paths = [tmp_path / f"{i}.txt" for i in range(4)]
    draw_charts([Chart(p, partial(_record_pid, p)) for p in paths], parallel=True)
    pids = [int(p.read_text()) for p in paths]
    assert pids[0] == pids[2] == os.getpid()
    assert pids[1] == pids[3] != os.getpid()


@forks
def test_a_chart_failing_in_the_child_raises_here_with_its_own_error(tmp_path):
    done, pid_file = tmp_path / "done.txt", tmp_path / "pid.txt"
    charts = [
        Chart(done, partial(_record_pid, done)),
        Chart(pid_file, partial(_record_pid, pid_file)),
        Chart(tmp_path / "unused", lambda: None),
        Chart(tmp_path / "x", partial(_fail, "bad axis")),
    ]
    with pytest.raises(ValueError, match="bad axis"):
        draw_charts(charts, parallel=True)
    assert int(done.read_text()) == os.getpid()
    # the child wrote pid.txt, then failed; the parent drew its whole share again
    assert int(pid_file.read_text()) == os.getpid()


def _die_unless(parent: int, path: Path, pid_file: Path) -> None:
    if os.getpid() != parent:
        _record_pid(pid_file)
        os.kill(os.getpid(), signal.SIGKILL)
    path.write_text("drawn by the parent")


@forks
def test_a_killed_child_s_charts_are_drawn_by_the_parent(tmp_path):
    first, second, pid_file = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "pid.txt"
    charts = [
        Chart(first, partial(_record_pid, first)),
        Chart(second, partial(_die_unless, os.getpid(), second, pid_file)),
    ]
    draw_charts(charts, parallel=True)
    assert second.read_text() == "drawn by the parent"
    assert _reaped(_child_pid(pid_file))


@forks
def test_a_failure_in_the_parent_kills_and_reaps_the_child(tmp_path):
    slow, pid_file = tmp_path / "never.txt", tmp_path / "pid.txt"

    def child_job() -> None:
        import time

        _record_pid(pid_file)
        time.sleep(30)
        slow.write_text("too late")

    def parent_job() -> None:
        import time

        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # fail only once the child is surely running
        _fail("parent broke")

    charts = [Chart(tmp_path / "x", parent_job), Chart(slow, child_job)]
    with pytest.raises(ValueError, match="parent broke"):
        draw_charts(charts, parallel=True)
    assert _reaped(_child_pid(pid_file))
    assert not slow.exists()


def test_serial_drawing_keeps_the_order_and_draws_everything(tmp_path):
    paths = [tmp_path / f"{i}.txt" for i in range(3)]
    written = draw_charts([Chart(p, partial(_record_pid, p)) for p in paths], parallel=False)
    assert written == paths
    assert {int(p.read_text()) for p in paths} == {os.getpid()}
