"""Cash dividends of the ``costs:`` section: yfinance's own list where a table has one,
else derived from ``adj_close`` (issue "Trades a desk could actually do", costs).

yfinance is fed a recorded chart payload at its HTTP boundary (tests/yahoo_fake.py) with
a dividend event added in Yahoo's format, so its own parsing makes the ``Dividends``
column the package keeps as ``dividend``.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from yahoo_fake import load_chart

from backtest.core.timeline import build_timeline
from backtest.data.synthetic import geometric_prices
from backtest.data.validate import validate_prices
from backtest.engine.rules.trade_costs import TradeCosts, build_cost_panel
from tests.conftest import CAL
from tests.test_data_yahoo import fresh_yfinance  # noqa: F401  (autouse: yfinance caches in tmp)
from tests.test_splits import nvda_source

EX_DATE = pd.Timestamp("2024-06-07")  # the recorded chart holds 06-07 and 06-10


def _with_dividend(chart: dict, day: pd.Timestamp, amount: float) -> dict:
    chart = copy.deepcopy(chart)
    result = chart["chart"]["result"][0]
    stamps = result["timestamp"]
    # Yahoo dates an event at the session's open instant, as its bars.
    stamp = next(t for t in stamps if pd.Timestamp(t, unit="s").normalize() == day)
    result.setdefault("events", {})["dividends"] = {str(stamp): {"amount": amount, "date": stamp}}
    return chart


def test_yahoos_dividend_events_are_kept_as_the_dividend_column(tmp_path):
    src = nvda_source(tmp_path, _with_dividend(load_chart("NVDA"), EX_DATE, 0.01))
    frame = src.load("NVDA")
    assert frame["dividend"].to_dict()[EX_DATE] == 0.01
    assert (frame["dividend"].drop(EX_DATE) == 0.0).all()
    clean, _ = validate_prices(frame, "NVDA", CAL)
    assert clean.loc[EX_DATE, "dividend"] == 0.01  # validation keeps it for the costs


def _geometric(listed: float | None, implied: float | None) -> pd.DataFrame:
    sessions = CAL.sessions_in_range("2025-01-02", "2025-12-31")
    frame = geometric_prices(sessions, growth=0.001)
    ex = 150
    frame["adj_close"] = frame["close"]
    if implied is not None:  # adjusted closes that say `implied` was paid on session ex
        factor = 1.0 - implied / frame["close"].iloc[ex - 1]
        frame.loc[frame.index[:ex], "adj_close"] = frame["close"].iloc[:ex] * factor
    if listed is not None:
        frame["dividend"] = np.where(np.arange(len(frame)) == ex, listed, 0.0)
    return frame


@pytest.mark.parametrize("together", [False, True])
def test_a_listed_dividend_is_paid_and_adj_close_serves_where_no_list_exists(together):
    prices = {
        "LIST": _geometric(listed=0.5, implied=1.0),  # the list wins over adj_close
        "ADJ": _geometric(listed=None, implied=1.0),
        "NONE": _geometric(listed=None, implied=None).drop(columns="adj_close"),
    }
    sessions = prices["ADJ"].index
    timeline = build_timeline(CAL, sessions[0], sessions[-1])
    costs = TradeCosts(dividends=True)
    names = list(prices) if together else None
    paid = {}
    for ticker in prices:
        panel = build_cost_panel(names or [ticker], prices, timeline, costs)
        paid[ticker] = panel.cum_div[(names or [ticker]).index(ticker)]
    assert paid["LIST"][-1] == pytest.approx(0.5, abs=1e-12)
    assert paid["ADJ"][-1] == pytest.approx(1.0, abs=1e-9)
    assert paid["NONE"][-1] == 0.0
    # Counted at the ex-date's open tick, not before.
    ex_open = 2 * 150
    assert paid["LIST"][ex_open - 1] == 0.0 and paid["LIST"][ex_open] == 0.5


def test_adjusted_prices_drop_the_list_they_already_include():
    from backtest.data.prices import apply_basis

    frame = _geometric(listed=0.5, implied=0.5)
    assert "dividend" not in apply_basis(frame, "adjusted", "X").columns
    assert "dividend" in apply_basis(frame, "raw", "X").columns
