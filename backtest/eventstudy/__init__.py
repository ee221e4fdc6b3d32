"""Market-model event study of any event set, and per-trade overnight/intraday attribution.

Import chain (one way): settings <- returns <- market_model <- statistic <- parametric,
nonparametric, bootstrap <- caar <- groups <- sample <- attribution <- study <- summary.
Every stage is a pure function over numpy arrays or pandas tables; its charts and files
are drawn and written by the report stage (:mod:`backtest.report.eventstudy_writer`).

Public API: :func:`run_event_study`, :class:`EventStudyConfig`, :class:`EventStudyResult`, the tests, and
:func:`attribute_trades` / :func:`extreme_events`, and the one-line :func:`headline`.

The names are imported on first use (PEP 562), so that ``backtest.config.model`` can
use :class:`EventStudyConfig` without loading scipy.stats and matplotlib for
commands that never run a study.
"""

from __future__ import annotations

import importlib

__all__ = [
    "EventStudyConfig",
    "EventStudyResult",
    "attribute_trades",
    "bmp_test",
    "bootstrap_caar",
    "corrado_rank_test",
    "cross_sectional_t",
    "extreme_events",
    "generalized_sign_test",
    "headline",
    "patell_test",
    "run_event_study",
]

_HOME = {
    "EventStudyConfig": "settings",
    "EventStudyResult": "study",
    "attribute_trades": "attribution",
    "bmp_test": "parametric",
    "bootstrap_caar": "bootstrap",
    "corrado_rank_test": "nonparametric",
    "cross_sectional_t": "parametric",
    "extreme_events": "attribution",
    "generalized_sign_test": "nonparametric",
    "headline": "summary",
    "patell_test": "parametric",
    "run_event_study": "study",
}


def __getattr__(name: str):
    """Import a public name from its module on first access.

    Examples
    --------
    >>> from backtest.eventstudy import EventStudyConfig
    >>> EventStudyConfig().benchmark
    'SPY'
    """
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
