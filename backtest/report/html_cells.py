"""Format table cells for the HTML report: percent columns, numbers, dates, escaping.

Every value that reaches the page passes through :func:`html.escape` here or in
:mod:`backtest.report.html`; nothing from a results file is trusted as markup.
"""

from __future__ import annotations

import html
import math
import re

import pandas as pd

__all__ = [
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
        "total_return", "cagr", "max_drawdown", "hit_rate", "avg_trade_return",
        "median_trade_return", "exposure", "benchmark_return", "annual_volatility",
        "gross_return", "net_return", "trade_hit_rate",
        "sequential_return_at_size", "sequential_max_drawdown_at_size",
        "ar", "aar", "car", "caar", "caar_low", "caar_high", "ci_low", "ci_high",
    }
)  # fmt: skip
# Per-window CAR columns of an event study, e.g. "car[-1,+1]".
PERCENT_PREFIXES = ("car[",)
# A date at midnight without a zone is a session label: show only the date.
SESSION_LABEL = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T| )00:00:00$")
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


def format_value(name: str, value: object, integer: bool = False) -> str:
    """Text of one cell of column ``name`` (not yet escaped).

    Parameters
    ----------
    name : str
        Column name; decides percent formatting.
    value : object
        The cell.
    integer : bool
        The whole column holds whole numbers (counts, sizes of 0/1, years).

    Examples
    --------
    >>> format_value("total_return", -0.0383384), format_value("sharpe", 2.171991)
    ('-3.83%', '2.17')
    >>> format_value("pnl", -2607.058), format_value("sortino", -0.36602)
    ('-2,607.06', '-0.37')
    >>> format_value("p_value", 0.0123456), format_value("alpha", 0.0)
    ('0.0123', '0.00')
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
    return match.group(1) if match else text


def _number(name: str, value: float, integer: bool) -> str:
    if not math.isfinite(value):
        return NOT_DEFINED if math.isnan(value) else str(value)
    if is_percent(name):
        return f"{value:.2%}"
    if integer:
        return f"{value:.0f}"
    # Two decimals read evenly down a column; tiny values (p-values, daily alphas) keep 3 digits.
    return f"{value:,.2f}" if value == 0 or abs(value) >= SMALL else f"{value:.3g}"


def _whole(series: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(series):
        return True
    if not pd.api.types.is_float_dtype(series):
        return False
    values = series.dropna()
    return bool(len(values)) and bool((values == values.round()).all())


def format_column(series: pd.Series, numeric: bool | None = None) -> list[str]:
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
        format_value(str(series.name), missing if _missing(value) else value, integer)
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


def table_html(frame: pd.DataFrame) -> str:
    """An escaped ``<table>`` of ``frame``; numeric columns right-aligned, index ignored.

    Examples
    --------
    >>> print(table_html(pd.DataFrame({"strategy": ["a<b"], "cagr": [0.5]})))
    <table>
    <thead><tr><th scope="col">strategy</th><th scope="col" class="num">cagr</th></tr></thead>
    <tbody>
    <tr><td>a&lt;b</td><td class="num">50.00%</td></tr>
    </tbody>
    </table>
    """
    columns = [str(c) for c in frame.columns]
    series = [frame.iloc[:, i].rename(c) for i, c in enumerate(columns)]
    rows = list(zip(*(format_column(s) for s in series), strict=True)) if columns else []
    return _render(columns, rows, [_numeric(s) for s in series], row_headers=False)


def transposed_html(frame: pd.DataFrame, corner: str) -> str:
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
    rows = [
        [str(column), *format_column(frame[column].rename(str(column)), numeric=True)]
        for column in frame.columns[1:]
    ]
    return _render([corner, *names], rows, [False] + [True] * len(names), row_headers=True)


def _render(columns: list[str], rows: list, numeric: list[bool], row_headers: bool) -> str:
    head = "".join(_cell("th", c, n, "col") for c, n in zip(columns, numeric, strict=True))
    body = []
    for row in rows:
        cells = [
            _cell("th", text, n, "row") if row_headers and i == 0 else _cell("td", text, n)
            for i, (text, n) in enumerate(zip(row, numeric, strict=True))
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    rows_html = "\n".join(body)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows_html}\n</tbody>\n</table>"


def _cell(tag: str, text: str, numeric: bool, scope: str = "") -> str:
    attrs = f' scope="{scope}"' if scope else ""
    attrs += ' class="num"' if numeric else ""
    return f"<{tag}{attrs}>{html.escape(text)}</{tag}>"
