"""Where the project keeps its on-disk caches (prices, events, exchange calendars).

The root is, in order: the ``EARNINGS_BACKTEST_CACHE`` environment variable,
the config key ``data.cache_dir``, ``~/.cache/earnings-backtest``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "DEFAULT_ROOT", "cache_root"]

CACHE_ENV = "EARNINGS_BACKTEST_CACHE"
DEFAULT_ROOT = Path("~/.cache/earnings-backtest")


def cache_root(config_dir: str | Path | None = None) -> Path:
    """Return the cache root: env var, else ``data.cache_dir``, else the default.

    Examples
    --------
    >>> import os
    >>> os.environ.pop(CACHE_ENV, None) and None
    >>> cache_root("/tmp/x").as_posix()
    '/tmp/x'
    >>> cache_root().name
    'earnings-backtest'
    """
    env = os.environ.get(CACHE_ENV)
    chosen = env or config_dir or DEFAULT_ROOT
    return Path(chosen).expanduser()
