"""The sizing modes: ``percent`` of equity or a ``fixed`` cash value.

``percent``: each entry spends ``size`` % of the account's equity measured at
the fill before it (fees included); ``fixed``: each entry is worth ``size`` in
account currency at its reference (unslipped) price. Under ``portfolio:`` every
signal carries its own ``size_pct`` (``position_pct``). The book that turns
them into shares, never spending short proceeds, is
:func:`backtest.engine.rules.book.book_sizes`; the defaults are in
:mod:`backtest.engine.rules.defaults`.
"""

from __future__ import annotations

from backtest.core.errors import ConfigError

__all__ = ["SIZINGS", "check_sizing"]

SIZINGS = ("percent", "fixed")


def check_sizing(sizing: str) -> str:
    """``sizing`` if it is one of :data:`SIZINGS`, else a :class:`ConfigError`.

    Examples
    --------
    >>> check_sizing("fixed")
    'fixed'
    """
    if sizing not in SIZINGS:
        raise ConfigError(f"engine.sizing.mode must be one of {SIZINGS}, got {sizing!r}")
    return sizing
