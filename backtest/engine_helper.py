"""The vectorbt engine, imported ahead of time in a forked helper process.

``import vectorbt`` costs about two seconds of one CPU (it brings Numba, SciPy,
scikit-learn and Plotly), and a cold ``backtest run`` spends its first second on
other things: the CLI, config, prices, calendar, alignment and signals, then the
modules it needs after the simulations. On a machine with a second core, the
console commands that simulate (``run``, ``compare``) fork a helper before
anything else (:mod:`backtest.console`), which imports vectorbt while this process
carries on. Each simulation of the run is then sent to the helper: the engine
takes and returns plain pandas objects, pickled through a pipe in about a
millisecond for the bundled data.

The helper is only ever a shortcut, never a second code path. It runs
:func:`backtest.engine_vbt.run_vectorbt`, the function this process would run.
If the helper cannot start, has died, is silent for :data:`REPLY_TIMEOUT_S`, or
fails a call, that call is simulated here instead, in-process, so the results
are the same and an engine error surfaces from this process with its own
traceback. The helper ignores Ctrl-C (this process decides what an interrupt
means), writes no files, and is stopped when the command ends, however it ends.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from backtest.report.drawing import can_fork

if TYPE_CHECKING:  # not imported at run time: the fork should come before pandas is loaded
    import pandas as pd

    from backtest.engine import EngineResult, EngineSettings
    from backtest.timeline import Timeline

__all__ = ["EngineHelper", "active_helper", "simulate_in_helper", "start_helper"]

#: Longest wait for one reply, import included, before simulating in-process.
#: Only a hung helper reaches it: the import takes 2-4 s on a loaded 2-core machine.
REPLY_TIMEOUT_S = 120.0

_ACTIVE: ContextVar[EngineHelper | None] = ContextVar("engine_helper", default=None)


def _serve(conn, parent_end) -> None:
    """Helper process: import the engine, then answer simulation requests until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: it holds no files
    parent_end.close()  # else the helper keeps its own pipe open and never sees EOF
    import vectorbt  # noqa: F401 - the point of the helper: imported before it is needed

    from backtest.engine_vbt import run_vectorbt

    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        try:
            reply = ("ok", run_vectorbt(*request))
        except Exception as exc:  # noqa: BLE001 - reported; the parent re-runs it in-process
            reply = ("failed", f"{type(exc).__name__}: {exc}")
        conn.send(reply)


class EngineHelper:
    """A forked process with vectorbt imported, simulating on request.

    Use :func:`start_helper` to make one and :func:`active_helper` to use it.
    """

    def __init__(self, process, conn) -> None:
        self._process, self._conn = process, conn
        self.usable, self._ready = True, False

    @property
    def pid(self) -> int:
        """The helper's process id."""
        return self._process.pid

    def simulate(
        self,
        signals: pd.DataFrame,
        prices: dict[str, pd.DataFrame],
        timeline: Timeline,
        settings: EngineSettings,
    ) -> EngineResult | None:
        """The helper's :func:`~backtest.engine_vbt.run_vectorbt`, or None if it gave no answer.

        A helper that died, hung or sent something unreadable is stopped and never
        asked again; one that raised stays in use (the caller re-runs the call here).
        """
        if not self.usable or not self._await_ready():
            return None
        try:
            self._conn.send((signals, prices, timeline, settings))
        except OSError:  # the helper is gone
            self.close()
            return None
        except Exception:  # noqa: BLE001 - the request does not pickle: nothing was sent
            return None
        reply = self._reply()
        return reply[1] if reply is not None and reply[0] == "ok" else None

    def _reply(self) -> tuple[str, object] | None:
        """The helper's next message; None (and the helper stopped) if it gives none in time."""
        try:
            if not self._conn.poll(REPLY_TIMEOUT_S):
                raise TimeoutError(f"no reply from the engine helper in {REPLY_TIMEOUT_S} s")
            return self._conn.recv()
        except Exception:  # noqa: BLE001 - died, hung or garbled: simulate here from now on
            self.close()
            return None

    def _await_ready(self) -> bool:
        """Wait for the helper's import to finish; only then is a request read at once.

        A request larger than the pipe's buffer blocks its sender until the helper
        reads it, so none is sent to a helper that might still hang in its import.
        """
        if not self._ready:
            self._ready = self._reply() is not None
        return self._ready

    def close(self) -> None:
        """Stop the helper at once, even mid-import or stopped, and reap it."""
        self.usable = False
        self._conn.close()
        if self._process.is_alive():
            self._process.kill()  # SIGKILL: it holds no files, and a stopped process obeys it
        self._process.join()


def start_helper() -> EngineHelper | None:
    """Fork a helper that imports vectorbt; None where forking is not safe or fails.

    Call it early, before the process starts threads (forking a threaded process
    can deadlock the child).
    """
    if not can_fork():
        return None
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    process = ctx.Process(
        target=_serve, args=(child_end, parent_end), name="vectorbt-engine", daemon=True
    )
    sys.stdout.flush()  # else buffered output would be written twice, once by each process
    sys.stderr.flush()
    try:
        process.start()
    except OSError:  # process limit or no memory: simulate in-process
        return None
    finally:
        child_end.close()
    return EngineHelper(process, parent_end)


@contextmanager
def active_helper(helper: EngineHelper | None) -> Iterator[EngineHelper | None]:
    """Within the block, vectorbt simulations go to ``helper``; it is stopped at the end.

    Examples
    --------
    >>> with active_helper(None) as helper:  # no helper: simulations run in-process
    ...     helper is None
    True
    """
    token = _ACTIVE.set(helper)
    try:
        yield helper
    finally:
        _ACTIVE.reset(token)
        if helper is not None:
            helper.close()


def simulate_in_helper(
    signals: pd.DataFrame,
    prices: dict[str, pd.DataFrame],
    timeline: Timeline,
    settings: EngineSettings,
) -> EngineResult | None:
    """The active helper's result, or None: no helper, or it gave no answer."""
    helper = _ACTIVE.get()
    return None if helper is None else helper.simulate(signals, prices, timeline, settings)
