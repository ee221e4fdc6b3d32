"""The command line: exit codes and one-line errors (issue: walking skeleton, CLI)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, base_config, write_config
from tests.test_pipeline import HOLD, NEWS


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backtest", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=120,
        check=False,
    )


def test_bad_config_exits_2_with_one_located_line_and_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        (REPO / "configs" / "baba_2026.yaml")
        .read_text()
        .replace("hold_sessions: 3", "hold_sesions: 3")
    )
    out = cli("run", str(path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{path}:" in out.stderr and "hold_sesions" in out.stderr


def test_debug_shows_the_traceback(tmp_path):
    out = cli("--debug", "run", str(tmp_path / "missing.yaml"))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_events_command_prints_aligned_sessions(tmp_path, market):
    path = write_config(tmp_path, base_config(market, [NEWS], [HOLD]))
    out = cli("events", str(path))
    assert out.returncode == 0, out.stderr
    assert "A-news-2026-01-13T134204Z" in out.stdout and "2026-01-13 open" in out.stdout


def test_every_command_has_help_with_an_example():
    for command in ("run", "events", "strategies"):
        out = cli(command, "--help")
        assert out.returncode == 0 and "Example: backtest" in out.stdout, command


def test_a_usage_error_exits_2_with_clicks_message():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "backtest", "run", "--bogus"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "No such option: --bogus" in done.stderr
    assert "Traceback" not in done.stderr
