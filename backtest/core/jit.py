"""Compiling a numeric loop with numba, on first use, cached on disk where it can be.

numba is vectorbt's own dependency. It is imported only when a loop is first
called, so a command that never reaches one (most runs) neither imports nor
compiles anything. numba's disk cache checks the file of the compiled function
only: a loop here calls nothing outside its own module (the per-trade rules,
which do, are compiled by :mod:`backtest.engine.rules.compiled`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["compiled", "jit"]


def jit(loop: Callable, signature=None, **options) -> Callable:
    """``loop`` compiled by numba (for ``signature`` only, if given), cached on disk.

    A read-only install has no folder for numba's cache: the loop is then
    compiled in every process instead.
    """
    import numba

    args = () if signature is None else (signature,)
    try:
        return numba.njit(*args, cache=True, **options)(loop)
    except (RuntimeError, OSError):  # no writable cache folder
        return numba.njit(*args, **options)(loop)


@functools.cache
def compiled(loop: Callable) -> Callable:
    """``loop`` compiled on its first call with each set of argument types (:func:`jit`).

    Examples
    --------
    >>> import numpy as np
    >>> def total(a):
    ...     s = 0.0
    ...     for x in a:
    ...         s += x
    ...     return s
    >>> compiled(total)(np.arange(4.0))
    6.0
    """
    return jit(loop, nogil=True)
