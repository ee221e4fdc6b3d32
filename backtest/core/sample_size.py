"""Sample sizes: the thresholds below which a statistic is not shown as a plain number.

One module decides and every reader asks it: the console tables, ``report.html``,
``compare`` (its pairwise tests), the event-study tables and the chart legends. It
lives in :mod:`backtest.core` because those readers sit in layers that cannot import
one another (the event study and the metrics are siblings).

Thresholds (a value is *too few* when its n is below the threshold)

=========================  ====================================================  =========
what                       statistics                                            threshold
=========================  ====================================================  =========
trades of a strategy       Sharpe, Sortino, Calmar, profit factor, hit rate,     10 trades
                           mean and median trade return, volatility, alpha,
                           beta, information ratio
sessions of a benchmark    the same ratios of a buy-and-hold row (no trades)     63 sessions
sessions of any row        CAGR and Calmar (annualised growth)                   252 sessions
events of a test           an event-study test's statistic, p and interval;      5 events
                           a CAAR confidence band
trades of a pair           difference of mean trade returns (each side)          5 trades
                           difference of Sharpe ratios (each side)               10 trades
=========================  ====================================================  =========

Why these numbers: below 10 trades one trade moves a Sharpe ratio or a hit rate by
10 points or more (one winning trade is a "100 %" hit rate); a buy-and-hold row has a
return every session, and a quarter of sessions (63) is the shortest span whose
annualised ratio is more than a scaled-up month; a CAGR from less than a year
extrapolates; with fewer than 5 events a t statistic has under 4 degrees of freedom
and a 95 % band spans most of the plausible range. Descriptive values (total return,
maximum drawdown, exposure, counts) are facts of the sample and are never judged.

Machine outputs keep every number; ``metrics.csv`` adds ``n_sessions``, ``judged_by``
(``trades`` or ``sessions``) and ``too_few`` (the names of the metrics of that row
below their threshold, ``;``-separated), so a program can find the same cells a
reader sees greyed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "MIN_EVENTS",
    "MIN_PAIR_TRADES",
    "MIN_SESSIONS",
    "MIN_TRADES",
    "MIN_YEAR",
    "RATIO_METRICS",
    "Sample",
    "YEAR_METRICS",
    "band_column_samples",
    "band_sample",
    "judged_by",
    "metric_sample",
    "pair_column_samples",
    "pair_samples",
    "row_samples",
    "event_column_samples",
    "event_sample",
    "too_few_metrics",
    "with_n",
]

MIN_TRADES = 10  # trades behind a strategy's ratio or per-trade statistic
MIN_SESSIONS = 63  # sessions behind a benchmark's ratio (a quarter)
MIN_YEAR = 252  # sessions behind an annualised growth rate (a year)
MIN_EVENTS = 5  # events behind a test, a confidence band, a mean-difference side
MIN_PAIR_TRADES = {"mean": MIN_EVENTS, "sharpe": MIN_TRADES}  # per side of a pair

# Metrics judged by the row's trades (a strategy) or sessions (a benchmark).
RATIO_METRICS = (
    "sharpe", "sortino", "calmar", "profit_factor", "hit_rate", "avg_trade_return",
    "median_trade_return", "annual_volatility", "alpha", "beta", "information_ratio",
)  # fmt: skip
# Metrics that annualise growth: they need a year of sessions on any row.
YEAR_METRICS = ("cagr", "calmar")
# Columns of a pairwise comparison judged per test.
PAIR_COLUMNS = {
    "mean": ("mean_diff", "mean_ci_low", "mean_ci_high", "mean_p_value"),
    "sharpe": (
        "sharpe_a", "sharpe_b", "sharpe_diff", "sharpe_p_value", "sharpe_boot_ci_low",
        "sharpe_boot_ci_high", "sharpe_boot_p_value",
    ),
}  # fmt: skip
TEST_COLUMNS = ("statistic", "p_value", "ci_low", "ci_high")
BAND_COLUMNS = ("caar_low", "caar_high")


@dataclass(frozen=True)
class Sample:
    """The n behind a value and the least n it needs.

    Examples
    --------
    >>> s = Sample(3, MIN_EVENTS, "events")
    >>> s.too_few, s.label
    (True, 'n = 3: too few')
    >>> Sample(125, MIN_YEAR, "sessions").label, Sample(12, MIN_TRADES, "trades").too_few
    ('n = 125 sessions: too few', False)
    """

    n: int
    minimum: int
    unit: str = "trades"

    @property
    def too_few(self) -> bool:
        return self.n < self.minimum

    @property
    def label(self) -> str:
        """``n = 3: too few`` (sessions are named, trades and events are the default)."""
        unit = " sessions" if self.unit == "sessions" else ""
        return f"n = {self.n}{unit}: too few" if self.too_few else f"n = {self.n}{unit}"

    @property
    def reason(self) -> str:
        """One sentence for a tooltip or a note."""
        return f"{self.n} {self.unit}, below the threshold of {self.minimum} {self.unit}"


def _int(value: object) -> int:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    return int(number) if math.isfinite(number) else 0


def judged_by(n_trades: int, benchmark: bool) -> str:
    """``sessions`` for a buy-and-hold row, else ``trades``.

    Examples
    --------
    >>> judged_by(0, benchmark=True), judged_by(3, benchmark=False)
    ('sessions', 'trades')
    """
    return "sessions" if benchmark else "trades"


def metric_sample(metric: str, row: Mapping) -> Sample | None:
    """The sample behind ``metric`` of a metrics row; None for a descriptive metric.

    ``row`` holds ``n_trades``, ``n_sessions`` and ``judged_by`` (as ``metrics.csv``).
    Calmar needs both a year and enough trades; the first rule it fails is returned.

    Examples
    --------
    >>> row = {"n_trades": 1, "n_sessions": 125, "judged_by": "trades"}
    >>> metric_sample("sharpe", row).label, metric_sample("cagr", row).label
    ('n = 1: too few', 'n = 125 sessions: too few')
    >>> metric_sample("total_return", row) is None
    True
    >>> bench = {"n_trades": 0, "n_sessions": 125, "judged_by": "sessions"}
    >>> metric_sample("sharpe", bench).too_few
    False
    """
    sessions = _int(row.get("n_sessions"))
    year = Sample(sessions, MIN_YEAR, "sessions")
    if metric in YEAR_METRICS and year.too_few:
        return year
    if metric not in RATIO_METRICS:
        return year if metric in YEAR_METRICS else None
    if row.get("judged_by") == "sessions":
        return Sample(sessions, MIN_SESSIONS, "sessions")
    return Sample(_int(row.get("n_trades")), MIN_TRADES, "trades")


def too_few_metrics(row: Mapping) -> list[str]:
    """Names of the metrics of ``row`` below their threshold, in the row's order.

    Examples
    --------
    >>> too_few_metrics({"cagr": 0.1, "sharpe": 2.0, "total_return": 0.03, "n_trades": 1,
    ...                  "n_sessions": 125, "judged_by": "trades"})
    ['cagr', 'sharpe']
    """
    return [k for k in row if (s := metric_sample(str(k), row)) is not None and s.too_few]


def row_samples(row: Mapping) -> dict[str, Sample]:
    """Every judged metric of a metrics row and its sample (too few or not)."""
    return {str(k): s for k in row if (s := metric_sample(str(k), row)) is not None}


def event_sample(n: object) -> Sample:
    """The sample of an event-study test (or its interval) of ``n`` events.

    Examples
    --------
    >>> event_sample(2).label, event_sample(5).too_few
    ('n = 2: too few', False)
    """
    return Sample(_int(n), MIN_EVENTS, "events")


def band_sample(n: object) -> Sample:
    """The sample of a confidence band around a CAAR of ``n`` events (as a test)."""
    return event_sample(n)


def pair_samples(n_a: object, n_b: object) -> dict[str, Sample]:
    """Per test of a pair (``mean``, ``sharpe``): the smaller side's trades and the minimum.

    Examples
    --------
    >>> {k: s.label for k, s in pair_samples(3, 1).items()}
    {'mean': 'n = 1: too few', 'sharpe': 'n = 1: too few'}
    >>> pair_samples(73, 8)["mean"].too_few, pair_samples(73, 8)["sharpe"].too_few
    (False, True)
    """
    n = min(_int(n_a), _int(n_b))
    return {test: Sample(n, minimum, "trades") for test, minimum in MIN_PAIR_TRADES.items()}


def pair_column_samples(row: Mapping) -> dict[str, Sample]:
    """Each column of a pairwise-comparison row and the sample of its test."""
    samples = pair_samples(row.get("n_trades_a"), row.get("n_trades_b"))
    return {col: samples[test] for test, cols in PAIR_COLUMNS.items() for col in cols}


def event_column_samples(row: Mapping) -> dict[str, Sample]:
    """The statistic, p and interval columns of an event-study test row."""
    sample = event_sample(row.get("n"))
    return {col: sample for col in TEST_COLUMNS}


def band_column_samples(row: Mapping) -> dict[str, Sample]:
    """The band columns of a CAAR row."""
    sample = band_sample(row.get("n"))
    return {col: sample for col in BAND_COLUMNS}


def with_n(name: str, n: int, unit: str = "trades", minimum: int | None = None) -> str:
    """A chart-legend label with its n, flagged when below ``minimum``.

    Examples
    --------
    >>> with_n("earnings_hold", 2, minimum=MIN_TRADES)
    'earnings_hold (n = 2 trades: too few)'
    >>> with_n("SPY", 125, "sessions")
    'SPY (n = 125 sessions)'
    """
    text = f"{name} (n = {n} {unit}"
    return text + (": too few)" if minimum is not None and n < minimum else ")")
