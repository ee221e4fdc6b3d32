"""Market-model event study of any event set, and per-trade overnight/intraday attribution.

Import chain (one way): config <- returns <- market_model <- statistic <- parametric,
nonparametric, bootstrap <- caar <- groups <- sample <- attribution <- study <- charts
<- writer. Every stage is a pure function over numpy arrays or pandas tables.

Public API: :func:`run_event_study`, :func:`write_event_study`,
:class:`EventStudyConfig`, :class:`EventStudyResult`, the tests, and
:func:`attribute_trades` / :func:`extreme_events`.
"""

from backtest.eventstudy.attribution import attribute_trades, extreme_events
from backtest.eventstudy.bootstrap import bootstrap_caar
from backtest.eventstudy.config import EventStudyConfig
from backtest.eventstudy.nonparametric import corrado_rank_test, generalized_sign_test
from backtest.eventstudy.parametric import bmp_test, cross_sectional_t, patell_test
from backtest.eventstudy.study import EventStudyResult, run_event_study
from backtest.eventstudy.writer import write_event_study

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
    "patell_test",
    "run_event_study",
    "write_event_study",
]
