"""Nothing lost (issue 6.4, RELIABILITY R2): a run killed mid-write publishes nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backtest.report.writer import INCOMPLETE, publish

REPO = Path(__file__).resolve().parents[1]


def start_sweep(out: Path) -> subprocess.Popen:
    """A sweep whose publish phase (top-N re-runs) lasts a few seconds."""
    args = ["sweep", str(REPO / "configs" / "earnings_sweep.yaml"), "--out", str(out)]
    return subprocess.Popen(
        [sys.executable, "-m", "backtest", *args, "--set", "sweep.top_n=5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_temp_folder(out: Path, proc: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(out.glob(".tmp-*/top"))
        if found and proc.poll() is None:
            return found[0].parent
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the sweep never reached its publish phase")


def published(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if not p.name.startswith(".")]


def test_a_terminated_sweep_removes_its_temp_folder_and_publishes_nothing(tmp_path):
    proc = start_sweep(tmp_path)
    wait_for_temp_folder(tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_inside_the_writer_removes_the_temp_folder(tmp_path):
    def interrupted(folder: Path) -> None:
        (folder / "half.csv").write_text("a,b\n1,")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish(tmp_path, "demo", "error", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_sweep_leaves_only_a_hidden_folder_marked_incomplete(tmp_path):
    proc = start_sweep(tmp_path)
    tmp = wait_for_temp_folder(tmp_path, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert published(tmp_path) == []
    assert (tmp / INCOMPLETE).is_file()


def test_a_published_folder_has_no_incomplete_marker(tmp_path):
    folder = publish(tmp_path, "demo", "error", lambda d: (d / "a.txt").write_text("x"))
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]
