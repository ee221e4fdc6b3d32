"""How much each entry buys or sells: percent of cash, or a fixed cash value.

``percent``: each entry spends ``size`` % of the cash available at its tick
(fees included); ``fixed``: each entry is worth ``size`` in account currency
at its reference (unslipped) price. Under ``portfolio:`` every signal carries
its own ``size_pct`` (:func:`backtest.engine.portfolio.size_pcts`) and is sized
as that percent of cash. The defaults are in :mod:`backtest.engine.rules.defaults`.
"""

from __future__ import annotations

import numpy as np

from backtest.core.errors import ConfigError

__all__ = ["SIZINGS", "entry_sizes"]

SIZINGS = ("percent", "fixed")


def entry_sizes(
    sizing: str, size: float, n: int, size_pct: np.ndarray | None = None
) -> tuple[np.ndarray, str]:
    """Per-entry order sizes and their unit, as vectorbt's ``size`` and ``size_type`` take them.

    Returns (n,) sizes and ``"percent"`` (a fraction of the available cash) or
    ``"value"`` (cash value at the reference price). ``size_pct`` (per entry,
    in %) overrides ``sizing``.

    Examples
    --------
    >>> entry_sizes("percent", 10.0, 2)[0].tolist(), entry_sizes("percent", 10.0, 2)[1]
    ([0.1, 0.1], 'percent')
    >>> entry_sizes("fixed", 1000.0, 1)
    (array([1000.]), 'value')
    >>> entry_sizes("fixed", 1000.0, 2, size_pct=np.array([5.0, 12.5]))[0].tolist()
    [0.05, 0.125]
    """
    if size_pct is not None:
        return np.asarray(size_pct, dtype=float) / 100.0, "percent"
    if sizing == "percent":
        return np.full(n, size / 100.0), "percent"
    if sizing == "fixed":
        return np.full(n, float(size)), "value"
    raise ConfigError(f"engine.sizing.mode must be one of {SIZINGS}, got {sizing!r}")
