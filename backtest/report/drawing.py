"""Draw a run's charts on two cores: half in a forked child, half in this process.

Matplotlib renders in one thread, and a run's 8-20 PNGs are about a fifth of a
cold ``backtest run``. On Linux the charts are split between this process and
one child forked from it: the child shares every table by copy-on-write (nothing
is pickled, nothing imported again), draws its half and exits without running
any of the parent's cleanup. The parent owns the outcome: if the child fails or
is killed, the parent draws the child's share itself, so a chart's exception
surfaces here with its own traceback, and if the parent is interrupted the child
is killed before the results folder is removed. Elsewhere (macOS, Windows, one
CPU) the charts are drawn one after another; the files are the same either way.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["Chart", "can_fork", "draw_charts"]


class Chart(NamedTuple):
    """One PNG to draw: its path and a call with no arguments that writes it."""

    path: Path
    draw: Callable[[], object]


def can_fork() -> bool:
    """Whether charts may be split across a forked child.

    Linux only: forking a process that has loaded macOS system frameworks can crash.
    """
    return hasattr(os, "fork") and sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


def _draw_all(charts: Sequence[Chart]) -> None:
    for chart in charts:
        chart.draw()


def _child(charts: Sequence[Chart]) -> None:
    """Draw ``charts`` and leave at once: never return into the parent's code path."""
    code = 1
    try:
        _draw_all(charts)
        code = 0
    finally:
        os._exit(code)  # skips atexit and the parent's finally blocks, by design


def _succeeded(pid: int) -> bool:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass  # already gone and reaped


def draw_charts(charts: Sequence[Chart], parallel: bool | None = None) -> list[Path]:
    """Write every chart; return their paths in the order given.

    Parameters
    ----------
    charts : sequence of Chart
        The PNGs to write; their folders must exist.
    parallel : bool, optional
        Split the work with a forked child; default :func:`can_fork`.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> charts = [Chart(folder / n, (folder / n).touch) for n in ("a.png", "b.png")]
    >>> [p.name for p in draw_charts(charts)]
    ['a.png', 'b.png']
    >>> sorted(p.name for p in folder.iterdir())
    ['a.png', 'b.png']
    """
    charts = list(charts)
    if parallel is None:
        parallel = can_fork()
    if not parallel or len(charts) < 2:
        _draw_all(charts)
        return [c.path for c in charts]
    mine, theirs = charts[0::2], charts[1::2]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:  # process limit or no memory: draw them here
        _draw_all(charts)
        return [c.path for c in charts]
    if pid == 0:
        _child(theirs)
    try:
        _draw_all(mine)
        child_ok = _succeeded(pid)
    except BaseException:
        _kill(pid)
        raise
    if not child_ok:
        _draw_all(theirs)
    return [c.path for c in charts]
