"""The cost panel estimates many tickers together: each row equals the ticker estimated alone.

:func:`backtest.engine.rules.trade_costs.build_cost_panel` estimates tickers whose bars
are one unbroken run of the universe's dates as columns of one frame (fast); any other
ticker goes alone. Either way a row must be exactly what the estimators give that
ticker's own bars (``_estimates`` on its own bars), for every estimator and cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.core.sessions import get_calendar
from backtest.core.timeline import build_timeline
from backtest.data.synthetic import geometric_prices
from backtest.engine.rules.date_grid import frame_keys
from backtest.engine.rules.trade_costs import (
    TradeCosts,
    _estimates,
    _fields,
    build_cost_panel,
)

CAL = get_calendar("XNYS")
DAYS = CAL.sessions_in_range("2025-01-02", "2025-12-31")


def _frame(seed: int, dividend_on: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = geometric_prices(DAYS, start=20 + seed, growth=0.0003)
    noise = np.exp(np.cumsum(rng.normal(0, 0.01, len(DAYS))))
    for k in ("open", "high", "low", "close"):
        frame[k] = frame[k] * noise
    frame["high"] *= 1 + rng.uniform(0, 0.02, len(DAYS))
    frame["low"] *= 1 - rng.uniform(0, 0.02, len(DAYS))
    frame["volume"] = rng.integers(1_000, 100_000, len(DAYS)).astype(float)
    factor = np.ones(len(DAYS))
    if dividend_on is not None:
        factor[:dividend_on] = 0.99  # a 1 % dividend going ex on that session
    frame["adj_close"] = frame["close"] * factor
    return frame


def _universe() -> dict[str, pd.DataFrame]:
    prices = {f"T{i}": _frame(i, dividend_on=50 + i) for i in range(6)}
    prices["T1"] = prices["T1"].drop(DAYS[120:123])  # a hole: estimated alone
    prices["T2"] = prices["T2"].iloc[40:]  # listed late: one unbroken run
    prices["T3"] = prices["T3"].iloc[:200]  # delisted early
    stray = prices["T4"].iloc[[5]].set_axis([pd.Timestamp("2025-01-11")])  # a Saturday
    prices["T4"] = pd.concat([prices["T4"], stray]).sort_index()
    prices["T5"] = prices["T5"].drop(columns="adj_close")  # no dividend data
    prices["T0"].index = prices["T0"].index.tz_localize("America/New_York")  # tz-aware dates
    return prices


@pytest.mark.parametrize(
    "costs",
    [
        TradeCosts(spread_estimator="corwin_schultz", spread_window=15, dividends=True),
        TradeCosts(spread_estimator="abdi_ranaldo", impact_k=0.5, vol_window=10, adv_window=8),
        TradeCosts(spread_bps=4.0, participation_pct=1.0, dividends=True),
    ],
)
def test_each_panel_row_is_the_ticker_estimated_alone(costs):
    prices = _universe()
    timeline = build_timeline(CAL, DAYS[30], DAYS[-1])
    tickers = [*sorted(prices), "T0"]  # a repeat is allowed
    panel = build_cost_panel(tickers, prices, timeline, costs)
    for row, ticker in enumerate(tickers):
        frame = prices[ticker]
        fields = {k: frame[k].to_numpy(dtype=float) for k in _fields(costs) if k in frame}
        keys = frame_keys(frame)
        half, sigma, adv, cum_div = _estimates(fields, keys, timeline.sessions, costs)
        np.testing.assert_array_equal(panel.half_spread[row], half)
        np.testing.assert_array_equal(panel.sigma[row], sigma)
        np.testing.assert_array_equal(panel.adv[row], adv)
        np.testing.assert_array_equal(panel.cum_div[row], cum_div)
    if costs.impact_k:
        assert np.isfinite(panel.sigma).mean() > 0.7
    else:  # only impact reads sigma: not estimated
        assert np.isnan(panel.sigma).all()
    if costs.dividends:
        assert (panel.cum_div[:, -1] > 0).sum() >= 4  # the dividends went through
