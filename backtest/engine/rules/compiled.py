"""Compiling the per-trade rules and the loops that run them (numba, on first use).

The rules that price one trade (:mod:`~backtest.engine.rules.trade_costs`,
:mod:`~backtest.engine.rules.hedge`, the fill of :mod:`~backtest.engine.rules.costs`
and the commission of :mod:`~backtest.engine.rules.book`) are plain Python
functions of numbers, most of which take numpy arrays too. A module's loops over
trades call them compiled: :func:`compile_loops` registers each rule with numba
(``register_jitable``: the loop compiles the very function the numpy path calls,
so a rule is written once) and compiles the loops.

numba caches compiled code on disk, but checks only the file of the compiled
function itself: a loop compiled from ``hedge.py`` would keep a stale copy of a
rule edited in ``trade_costs.py``. So each module's cached loops are deleted
whenever any file they compile from changes (:func:`_clear_stale_cache`).
numba is vectorbt's own dependency; it is imported on first use, so a run
without costs never imports or compiles anything here.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from backtest.core.jit import jit
from backtest.engine.rules.arrays import choose

__all__ = ["compile_loops"]

_registered: set[Callable] = set()


def _register(rules: Iterable[Callable], inline: Iterable[Callable] = ()) -> None:
    """Make ``rules`` callable from compiled code, each once; ``inline`` ones are inlined."""
    from numba.extending import overload, register_jitable

    if not _registered:

        @overload(choose)
        def _choose(condition, if_true, if_false):  # pragma: no cover - numba typing
            # numba's numpy.where on numbers would allocate a 0-d array per call.
            return lambda condition, if_true, if_false: if_true if condition else if_false

        _registered.add(choose)
    inline = set(inline)
    for rule in rules:
        if rule not in _registered:
            register_jitable(inline="always" if rule in inline else "never")(rule)
            _registered.add(rule)


def compile_loops(
    module_file: str,
    loops: dict[Callable, Callable[[], list]],
    rules: Iterable[Callable],
    sources: Iterable[str],
    inline: Iterable[Callable] = (),
) -> tuple[Callable, ...]:
    """The ``loops`` of ``module_file``, compiled, calling the registered ``rules``.

    ``loops`` maps each loop to a function giving its numba signatures: each
    loop is compiled for those types only (read-only "A" arrays take any
    layout), once, so a first run or a fresh test suite does not compile one
    version per array layout and integer width that reaches it (numba would).
    Callers cast to those types. ``sources`` names the files (in this folder)
    the loops compile from; a change to any of them clears the module's cached
    loops. The ``inline`` rules are inlined into their callers (a third faster
    for the per-trade pricing, whose call passes seventeen numbers).
    """
    import numba
    from numba.core.errors import NumbaIRAssumptionWarning

    _register(rules, inline)
    options = {"nogil": True, "error_model": "numpy"}  # NaN and inf as numpy makes them
    # Inlining a rule with branches sets off NumbaIRAssumptionWarning, an internal
    # "pedantic check" of numba's SSA pass (its message asks for a bug report, not a
    # change of the code); tests/test_compiled_pricing.py checks what the loops compute.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
        try:
            _clear_stale_cache(Path(module_file), tuple(sources))
        except OSError:  # no writable cache folder (a read-only install): nothing cached
            return tuple(numba.njit(types(), **options)(loop) for loop, types in loops.items())
        return tuple(jit(loop, types(), **options) for loop, types in loops.items())


def readonly(dtype: str, ndim: int):
    """numba's type of a read-only array of any layout (what the loops read)."""
    from numba import types

    return types.Array(getattr(types, dtype), ndim, "A", readonly=True)


def writable(dtype: str, ndim: int):
    """numba's type of a C-contiguous array the loops write."""
    from numba import types

    return types.Array(getattr(types, dtype), ndim, "C")


def _clear_stale_cache(module: Path, sources: tuple[str, ...]) -> None:
    """Delete ``module``'s cached loops when a file they compile from has changed."""
    here = module.parent
    names = sorted({module.name, *sources})
    digest = hashlib.sha256(b"".join((here / name).read_bytes() for name in names)).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / f"{module.stem}.loops.sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return
    cache.mkdir(exist_ok=True)
    for old in cache.glob(f"{module.stem}.*.nb[ic]"):
        old.unlink()
    stamp.write_text(digest)
