"""Fuzz the input boundaries: whatever a user gives, the answer is a result or a BacktestError.

Random bytes and random YAML documents go to the config loader; random rows go to
each CSV reader (prices, events, ISIN tables). Any other exception is a bug: the
CLI would print it as an internal error (issue: hardened inputs, deliverable 8).
"""

from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backtest.config.model import load_config
from backtest.core.errors import BacktestError
from backtest.core.sessions import get_calendar
from backtest.data.bundled import read_price_csv
from backtest.events.isin import read_isin_table
from backtest.events.loaders import load_event_csv
from tests.conftest import REPO

CAL = get_calendar("XNYS")
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
BABA = yaml.safe_load((REPO / "configs" / "baba_2026.yaml").read_text())


def _file(name: str, content: bytes) -> Path:
    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(content)
    return path


def _only_backtest_errors(call) -> None:
    try:
        call()
    except BacktestError as exc:
        assert str(exc).strip(), "an error must say something"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.dates(),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(string.ascii_lowercase + "_.", max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
SECTIONS = [
    "name",
    "data",
    "events",
    "strategies",
    "engine",
    "sweep",
    "benchmarks",
    "output",
    "event_study",
    "portfolio",
]  # plugins: never import random names


@FUZZ
@given(st.binary(max_size=2000))
@example(b"\x89PNG\r\n\x1a\n\x00")
@example(b"a: &a [*a]")
@example(b"\xff\xfe\x00\x00")
def test_random_bytes_as_a_config_give_a_result_or_a_backtest_error(content):
    path = _file("c.yaml", content)
    _only_backtest_errors(lambda: load_config(path))


@FUZZ
@given(documents)
def test_random_yaml_documents_give_a_result_or_a_backtest_error(document):
    path = _file("c.yaml", yaml.safe_dump(document).encode())
    _only_backtest_errors(lambda: load_config(path))


@FUZZ
@given(st.sampled_from(SECTIONS), documents, st.lists(st.text(max_size=40), max_size=3))
def test_a_real_config_with_one_section_replaced_and_random_overrides(section, value, sets):
    data = {**BABA, section: value}
    path = _file("c.yaml", yaml.safe_dump(data, default_flow_style=False).encode())
    _only_backtest_errors(lambda: load_config(path, sets))


cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "2026-01-13",
            "13.01.2026",
            "01/02/2026",
            "9999-01-01",
            "1e400",
            "-1",
            "nan",
            "",
            "BABA",
            "US01609W1027",
            "bmo",
            "=1+2",
            '"',
            "0",
        ]
    ),
)
rows = st.lists(st.lists(cells, min_size=1, max_size=8), max_size=6)


def _csv(header: str, body: list[list[str]]) -> bytes:
    return ("\n".join([header, *(",".join(r) for r in body)]) + "\n").encode()


@FUZZ
@given(
    rows,
    st.sampled_from(
        [
            "date,open,high,low,close,volume",
            "Date,Open,High,Low,Close,Adj Close,Volume",
            "date,close",
            "",
        ]
    ),
)
def test_random_price_rows_give_prices_or_a_backtest_error(body, header):
    path = _file("A.csv", _csv(header, body))
    _only_backtest_errors(lambda: read_price_csv(path))


@FUZZ
@given(
    rows,
    st.sampled_from(
        [
            "ticker,event_time",
            "ticker,event_time,timing,known_at",
            "isin,date,event_type",
            "ticker,report_date,timezone",
            "x",
        ]
    ),
)
def test_random_event_rows_give_events_or_a_backtest_error(body, header):
    path = _file("events.csv", _csv(header, body))
    _only_backtest_errors(lambda: load_event_csv(path, CAL, None))


@FUZZ
@given(rows, st.sampled_from(["isin,ticker", "isin", "ticker,isin,name"]))
def test_random_isin_rows_give_a_table_or_a_backtest_error(body, header):
    path = _file("isins.csv", _csv(header, body))
    _only_backtest_errors(lambda: read_isin_table(path))


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_as_any_csv_give_a_result_or_a_backtest_error(content):
    for call in (
        lambda p: read_price_csv(p),
        lambda p: load_event_csv(p, CAL, None),
        lambda p: read_isin_table(p),
    ):
        path = _file("f.csv", content)
        _only_backtest_errors(lambda: call(path))  # noqa: B023
