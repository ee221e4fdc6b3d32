"""Progress of long commands, reported by the stages and shown (or not) by the caller.

Stages call :func:`report` with what they are doing and, when they know it,
how far along they are. Nothing happens unless a caller listens
(:func:`listening`): the CLI draws a rich progress bar on a terminal and stays
quiet when piped; notebooks and tests see nothing. A context variable, not a
parameter threaded through every stage, so stages keep their signatures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Listener", "listening", "report"]

Listener = Callable[[str, "int | None", "int | None"], None]
_LISTENER: ContextVar[Listener | None] = ContextVar("backtest_progress", default=None)


def report(stage: str, done: int | None = None, total: int | None = None) -> None:
    """Tell the listener (if any) the current stage and, optionally, ``done`` of ``total``.

    Examples
    --------
    >>> seen = []
    >>> with listening(lambda *a: seen.append(a)):
    ...     report("loading prices")
    ...     report("cuts", 1, 25)
    >>> report("nobody listens")
    >>> seen
    [('loading prices', None, None), ('cuts', 1, 25)]
    """
    listener = _LISTENER.get()
    if listener is not None:
        listener(stage, done, total)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send every :func:`report` inside the block to ``listener``."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)
