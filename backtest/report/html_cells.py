"""Format table cells for the HTML report: percent columns, numbers, dates, small samples.

Tables are rendered by the jinja2 template ``templates/table.html.j2`` with
autoescaping; nothing from a results file is trusted as markup. A cell whose
statistic rests on too few observations (:mod:`backtest.core.sample_size`) shows its
n greyed ("n = 3: too few") instead of the number; the number stays in the file and
in the cell's tooltip. Timestamps with an offset are shown in the exchange's zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from backtest.core.sample_size import Sample
from backtest.report.templates import render

__all__ = [
    "Cell",
    "PERCENT_COLUMNS",
    "format_column",
    "format_value",
    "is_percent",
    "table_html",
    "transposed_html",
]

# Columns holding fractions (0.0123 = 1.23%): run metrics, trade returns, event-study returns.
PERCENT_COLUMNS = frozenset(
    {
        "total_return", "cagr", "max_drawdown", "hit_rate", "avg_trade_return", "alpha",
        "median_trade_return", "exposure", "benchmark_return", "annual_volatility",
        "gross_return", "net_return", "trade_hit_rate",
        "sequential_return_at_size", "sequential_max_drawdown_at_size",
        "ar", "aar", "car", "caar", "caar_low", "caar_high", "ci_low", "ci_high",
        "mean_abs_report_day", "mean_abs_next_day", "depth",
        # monthly_returns.csv: each month's return (the year's is year_return)
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    }
)  # fmt: skip
# Per-window CAR columns of an event study, e.g. "car[-1,+1]".
PERCENT_PREFIXES = ("car[",)
# A date at midnight without a zone is a session label: show only the date.
SESSION_LABEL = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T| )00:00:00$")
# An instant with a UTC offset (as write_csv writes them): shown in the exchange's zone.
INSTANT = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$"
)
TINY = 0.0001  # p-values below this print as "< 0.0001"
NOT_DEFINED = "n/a"
SMALL = 0.1  # below this, plain numbers show significant digits instead of two decimals


def is_percent(name: str) -> bool:
    """Whether column ``name`` holds fractions to show as percent.

    ``move_pct`` and ``surprise_pct`` are already in percent units, so they are not.

    Examples
    --------
    >>> is_percent("cagr"), is_percent("exit_return"), is_percent("move_pct")
    (True, True, False)
    >>> is_percent("car[0,+1]"), is_percent("ci_high")
    (True, True)
    """
    return name in PERCENT_COLUMNS or name.endswith("_return") or name.startswith(PERCENT_PREFIXES)


def format_value(name: str, value: object, integer: bool = False, tz: str | None = None) -> str:
    """Text of one cell of column ``name`` (not yet escaped).

    Parameters
    ----------
    name : str
        Column name; decides percent formatting.
    value : object
        The cell.
    integer : bool
        The whole column holds whole numbers (counts, sizes of 0/1, years).
    tz : str, optional
        The exchange's time zone: instants are shown there, with the zone's name.

    Examples
    --------
    >>> format_value("total_return", -0.0383384), format_value("sharpe", 2.171991)
    ('-3.83%', '2.17')
    >>> format_value("pnl", -2607.058), format_value("sortino", -0.36602)
    ('-2,607.06', '-0.37')
    >>> format_value("p_value", 0.0123456), format_value("alpha", 5.52e-06)
    ('0.0123', '0.00%')
    >>> format_value("beta", 0.000616), format_value("p_value", 2e-9)
    ('0.0006', '< 0.0001')
    >>> format_value("entry_time", "2026-01-13T14:30:00+0000", tz="America/New_York")
    '2026-01-13 09:30 EST'
    >>> format_value("n_trades", 2.0, integer=True), format_value("sortino", float("nan"))
    ('2', 'n/a')
    >>> format_value("session", "2025-11-25T00:00:00"), format_value("strategy", None)
    ('2025-11-25', '')
    """
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(name, float(value), integer)
    text = str(value)
    match = SESSION_LABEL.match(text)
    if match:
        return match.group(1)
    if tz and INSTANT.match(text):
        return pd.Timestamp(text).tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z")
    return text


def _number(name: str, value: float, integer: bool) -> str:
    if not math.isfinite(value):
        return NOT_DEFINED if math.isnan(value) else str(value)
    if is_percent(name):
        return f"{value:.2%}"
    if integer:
        return f"{value:.0f}"
    if name.endswith("p_value") and 0 < value < TINY:
        return "< 0.0001"
    # Two decimals read evenly down a column; p-values keep 3 digits, other tiny values
    # (a beta near 0) four decimals: never an exponent.
    if value == 0 or abs(value) >= SMALL:
        return f"{value:,.2f}"
    return f"{value:.3g}" if name.endswith("p_value") else f"{value:.4f}"


def _whole(series: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(series):
        return True
    if not pd.api.types.is_float_dtype(series):
        return False
    values = series.dropna()
    return bool(len(values)) and bool((values == values.round()).all())


def format_column(
    series: pd.Series, numeric: bool | None = None, tz: str | None = None
) -> list[str]:
    """Texts of a whole column; whole-number float columns (NaN-padded ints) print as ints.

    Parameters
    ----------
    series : Series
        The column, named.
    numeric : bool, optional
        Whether a missing value means "not defined" (``n/a``) rather than an empty
        text cell; default: guessed from the dtype (an all-empty column is text).

    Examples
    --------
    >>> format_column(pd.Series([2.0, None], name="n_trades"))
    ['2', 'n/a']
    >>> format_column(pd.Series([0.1, 0.25], name="net_return"))
    ['10.00%', '25.00%']
    >>> format_column(pd.Series([float("nan")], name="strategy"))  # an empty column
    ['']
    """
    integer = _whole(series)
    numeric = _numeric(series) if numeric is None else numeric
    missing = math.nan if numeric else None  # "n/a" for a number, "" for text
    return [
        format_value(str(series.name), missing if _missing(value) else value, integer, tz)
        for value in series.tolist()
    ]


def _missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA; a list cell (Parquet) is never missing as a whole."""
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _numeric(series: pd.Series) -> bool:
    """Numbers, not flags; an all-empty column (read by pandas as float) counts as text."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return False
    return not (len(series) and series.isna().all())


@dataclass(frozen=True)
class Cell:
    """One cell of a rendered table: text, CSS classes and a tooltip (all escaped later)."""

    text: str
    classes: str = ""
    title: str = ""


Judge = Callable[[Mapping], Mapping[str, Sample]]


def _cell(text: str, numeric: bool, sample: Sample | None = None) -> Cell:
    classes = "num" if numeric else ""
    if sample is None or not sample.too_few or text in ("", NOT_DEFINED):
        return Cell(text, classes)
    return Cell(sample.label, f"{classes} few".strip(), f"{text}: {sample.reason}")


def table_html(
    frame: pd.DataFrame,
    judge: Judge | None = None,
    tz: str | None = None,
    blank_missing: bool = False,
) -> str:
    """An escaped ``<table>`` of ``frame``; numeric columns right-aligned, index ignored.

    Parameters
    ----------
    frame : DataFrame
    judge : callable, optional
        Row (a mapping of column to value) -> {column: Sample}; cells of a sample
        below its threshold show the sample's label, greyed.
    tz : str, optional
        The exchange's time zone for instants.
    blank_missing : bool, default False
        Show a missing number as an empty cell (no data there, e.g. a month without
        a session) instead of ``n/a`` (not defined).

    Examples
    --------
    >>> print(table_html(pd.DataFrame({"strategy": ["a<b"], "cagr": [0.5]})))
    <table>
    <thead><tr><th scope="col">strategy</th><th scope="col" class="num">cagr</th></tr></thead>
    <tbody>
    <tr><td>a&lt;b</td><td class="num">50.00%</td></tr>
    </tbody>
    </table>
    >>> from backtest.core.sample_size import event_column_samples
    >>> frame = pd.DataFrame({"n": [2], "p_value": [0.04]})
    >>> 'class="num few" title="0.04: 2 events' in table_html(frame, event_column_samples)
    True
    """
    columns = [str(c) for c in frame.columns]
    series = [frame.iloc[:, i].rename(c) for i, c in enumerate(columns)]
    numeric = [_numeric(s) for s in series]
    forced = False if blank_missing else None  # numeric=False: a missing value prints ""
    texts = [format_column(s, numeric=forced, tz=tz) for s in series]
    texts = list(zip(*texts, strict=True)) if columns else []
    records = frame.to_dict("records") if judge else [{}] * len(texts)
    rows = []
    for text_row, record in zip(texts, records, strict=True):
        samples = judge(record) if judge else {}
        rows.append(
            [
                _cell(t, n, samples.get(c))
                for t, n, c in zip(text_row, numeric, columns, strict=True)
            ]
        )
    head = [Cell(c, "num" if n else "") for c, n in zip(columns, numeric, strict=True)]
    return _render(head, rows, row_headers=False)


def transposed_html(frame: pd.DataFrame, corner: str, judge: Judge | None = None) -> str:
    """``frame`` turned on its side: one row per column, one column per row of ``frame``.

    The first column of ``frame`` names the new columns (e.g. strategy names); each
    value keeps the format of its original column, so a metrics table reads down.

    Examples
    --------
    >>> frame = pd.DataFrame({"strategy": ["a"], "cagr": [None], "sharpe": [1.234]})
    >>> print(transposed_html(frame, "metric"))
    <table>
    <thead><tr><th scope="col">metric</th><th scope="col" class="num">a</th></tr></thead>
    <tbody>
    <tr><th scope="row">cagr</th><td class="num">n/a</td></tr>
    <tr><th scope="row">sharpe</th><td class="num">1.23</td></tr>
    </tbody>
    </table>
    """
    names = format_column(frame.iloc[:, 0])
    records = frame.to_dict("records")
    samples = [judge(r) if judge else {} for r in records]
    rows = []
    for column in frame.columns[1:]:
        texts = format_column(frame[column].rename(str(column)), numeric=True)
        cells = [_cell(t, True, s.get(str(column))) for t, s in zip(texts, samples, strict=True)]
        rows.append([Cell(str(column)), *cells])
    head = [Cell(corner), *[Cell(n, "num") for n in names]]
    return _render(head, rows, row_headers=True)


def _render(head: list[Cell], rows: list[list[Cell]], row_headers: bool) -> str:
    return str(render("table.html.j2", head=head, rows=rows, row_headers=row_headers))
