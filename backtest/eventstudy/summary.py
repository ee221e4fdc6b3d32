"""One line that sums up an event study, for the command line."""

from __future__ import annotations

import math

from backtest.core.sample_size import event_sample
from backtest.eventstudy.caar import window_label

__all__ = ["HEADLINE_TEST", "HEADLINE_WINDOW", "headline"]

HEADLINE_WINDOW = (0, 1)  # day 0 and the session after: the reaction, if the window is studied
HEADLINE_TEST = "cross_sectional_t"


def _number(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "n/a"


def headline(result) -> str:
    """Summarise the ``all`` group's mean CAR and its cross-sectional t test in one line.

    Below :data:`~backtest.core.sample_size.MIN_EVENTS` events the test is not shown.

    The window is :data:`HEADLINE_WINDOW` if it is among the study's CAR windows,
    else the first of them.

    Parameters
    ----------
    result : EventStudyResult
        The study (its ``tests``, ``drops`` and ``settings`` are read).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> import pandas as pd
    >>> t = pd.DataFrame({"group_by": ["all"], "group": ["all"], "window": ["[0,+1]"],
    ...     "test": ["cross_sectional_t"], "n": [3], "caar": [0.0123], "statistic": [1.5],
    ...     "p_value": [0.27]})
    >>> cfg = NS(car_windows=((0, 0), (0, 1)), benchmark="SPY")
    >>> headline(NS(tests=t, drops=pd.DataFrame({"event_id": ["x"]}), settings=cfg))
    'event study: 3 events vs SPY (1 dropped), mean CAR[0,+1] = +1.23% (n = 3: too few for a test)'
    >>> headline(NS(tests=t.assign(n=8), drops=pd.DataFrame({"event_id": []}), settings=cfg))
    'event study: 8 events vs SPY, mean CAR[0,+1] = +1.23% (t = 1.50, p = 0.270)'
    """
    tests, windows = result.tests, [tuple(w) for w in result.settings.car_windows]
    label = window_label(HEADLINE_WINDOW if HEADLINE_WINDOW in windows else windows[0])
    benchmark, n_dropped = result.settings.benchmark, len(result.drops)
    rows = tests[
        (tests["group_by"] == "all") & (tests["window"] == label) & (tests["test"] == HEADLINE_TEST)
    ]
    dropped = f" ({n_dropped} dropped)" if n_dropped else ""
    if rows.empty:
        return f"event study: no event could be studied vs {benchmark}{dropped}"
    row = rows.iloc[0]
    sample = event_sample(row["n"])
    test = (
        f"{sample.label} for a test"
        if sample.too_few
        else f"t = {_number(row['statistic'], '.2f')}, p = {_number(row['p_value'], '.3f')}"
    )
    return (
        f"event study: {int(row['n'])} events vs {benchmark}{dropped}, mean CAR{label} = "
        f"{_number(100 * row['caar'], '+.2f')}% ({test})"
    )
