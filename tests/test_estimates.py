"""Trailing estimators: independent implementations on real bars, and no look-ahead as a property.

Corwin-Schultz and Abdi-Ranaldo are re-implemented here as plain loops over the
bundled BABA bars, straight from the papers' formulas; beta against statsmodels'
OLS. The property: replacing or cutting every bar from a session on changes no
estimate at or before that session (estimates use bars closed before it).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.data.bundled import BundledPrices
from backtest.data.prices import load_prices
from backtest.engine.rules.estimates import (
    abdi_ranaldo,
    corwin_schultz,
    trailing_adv,
    trailing_beta,
    trailing_vol,
)
from backtest.engine.rules.windows import window_cov_var, window_mean
from tests.conftest import CAL


@pytest.fixture(scope="module")
def bars():
    prices, _ = load_prices(BundledPrices(), ["BABA", "KWEB"], "raw", CAL)
    baba = prices["BABA"].loc["2023-01-01":"2024-12-31"]
    kweb = prices["KWEB"].reindex(baba.index)
    return baba, kweb


def _cs_loop(hi, lo, window):
    k = 3 - 2 * math.sqrt(2)
    pair = [float("nan")]
    for t in range(1, len(hi)):
        b = math.log(hi[t - 1] / lo[t - 1]) ** 2 + math.log(hi[t] / lo[t]) ** 2
        g = math.log(max(hi[t - 1], hi[t]) / min(lo[t - 1], lo[t])) ** 2
        a = (math.sqrt(2 * b) - math.sqrt(b)) / k - math.sqrt(g / k)
        pair.append(max(0.0, 2 * (math.exp(a) - 1) / (1 + math.exp(a))))
    out = [float("nan")]  # the estimate for session s: the window of pairs ending at s-1
    for s in range(1, len(hi)):
        vals = [v for v in pair[max(0, s - window) : s] if not math.isnan(v)]
        out.append(sum(vals) / len(vals) if len(vals) >= window // 2 else float("nan"))
    return np.array(out)


def _ar_loop(hi, lo, c, window):
    pair = [float("nan")]
    for t in range(1, len(hi)):
        eta0 = (math.log(hi[t - 1]) + math.log(lo[t - 1])) / 2
        eta1 = (math.log(hi[t]) + math.log(lo[t])) / 2
        c0 = math.log(c[t - 1])
        pair.append(4 * (c0 - eta0) * (c0 - eta1))
    out = [float("nan")]
    for s in range(1, len(hi)):
        vals = [v for v in pair[max(0, s - window) : s] if not math.isnan(v)]
        ok = len(vals) >= window // 2
        out.append(math.sqrt(max(sum(vals) / len(vals), 0.0)) if ok else float("nan"))
    return np.array(out)


def test_corwin_schultz_matches_a_loop_on_real_bars(bars):
    baba, _ = bars
    hi, lo = baba["high"].to_numpy(), baba["low"].to_numpy()
    got = corwin_schultz(baba["high"], baba["low"], window=21).to_numpy()
    want = _cs_loop(hi, lo, 21)
    assert np.allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
    assert 0.0005 < np.nanmedian(got) < 0.02  # a plausible spread for BABA (5-200 bps)


def test_abdi_ranaldo_matches_a_loop_on_real_bars(bars):
    baba, _ = bars
    cols = [baba[k].to_numpy() for k in ("high", "low", "close")]
    got = abdi_ranaldo(baba["high"], baba["low"], baba["close"], window=21).to_numpy()
    want = _ar_loop(*cols, 21)
    assert np.allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isfinite(got[30:]).all()


def test_beta_matches_least_squares(bars):
    baba, kweb = bars
    r, m = baba["close"].pct_change(), kweb["close"].pct_change()
    beta = trailing_beta(r, m, window=120, min_obs=60)
    s = 300  # the estimate at session s: OLS over sessions s-120 .. s-1
    y, x = r.iloc[s - 120 : s], m.iloc[s - 120 : s]
    ok = y.notna() & x.notna()
    design = np.column_stack([np.ones(ok.sum()), x[ok].to_numpy()])
    slope = np.linalg.lstsq(design, y[ok].to_numpy(), rcond=None)[0][1]
    assert beta.iloc[s] == pytest.approx(slope, rel=1e-10)
    shrunk = trailing_beta(r, m, window=120, min_obs=60, shrink=0.25)
    assert shrunk.iloc[s] == pytest.approx(0.75 * slope + 0.25, rel=1e-10)


def test_vol_and_adv_by_hand():
    close = pd.Series([100.0, 110.0, 99.0, 108.9])
    vol = trailing_vol(close, window=2, min_obs=2)
    assert vol.iloc[3] == pytest.approx(np.std([0.1, -0.1], ddof=1))
    assert math.isnan(vol.iloc[2])  # one return before session 2
    adv = trailing_adv(pd.Series([10.0, 20.0, 30.0, 40.0]), window=2, min_obs=2)
    assert adv.tolist()[2:] == [15.0, 25.0]


def _all(baba, kweb):
    r, m = baba["close"].pct_change(), kweb["close"].pct_change()
    return {
        "beta": trailing_beta(r, m, window=60, min_obs=30, shrink=0.1),
        "cs": corwin_schultz(baba["high"], baba["low"]),
        "ar": abdi_ranaldo(baba["high"], baba["low"], baba["close"]),
        "vol": trailing_vol(baba["close"]),
        "adv": trailing_adv(baba["volume"]),
    }


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(70, 480), scale=st.floats(0.3, 3.0), seed=st.integers(0, 2**16))
def test_no_estimate_sees_its_session_or_later(bars, cut, scale, seed):
    baba, kweb = bars
    before = _all(baba, kweb)
    noise = np.random.default_rng(seed).uniform(0.5, 2.0, (len(baba) - cut, 1))
    fut = baba.copy()
    cols = ["open", "high", "low", "close", "volume"]
    fut.iloc[cut:, [fut.columns.get_loc(c) for c in cols]] *= noise * scale
    kfut = kweb.copy()
    kfut.iloc[cut:, kfut.columns.get_loc("close")] *= scale
    perturbed, cut_off = _all(fut, kfut), _all(baba.iloc[:cut], kweb.iloc[:cut])
    for k, series in before.items():
        upto = series.iloc[: cut + 1]  # the estimate at the cut session uses bars before it
        pd.testing.assert_series_equal(perturbed[k].iloc[: cut + 1], upto, check_names=False)
        pd.testing.assert_series_equal(cut_off[k], series.iloc[:cut], check_names=False)
        assert perturbed[k].iloc[cut + 2 :].ne(series.iloc[cut + 2 :]).any() or k == "adv"


# One property per estimator, on drawn bars with gaps (NaN sessions) and zero volumes:
# the estimate at session t uses bars before t only, so cutting the bars after t, or
# changing t's bar and every later one, leaves every estimate up to t unchanged.
ESTIMATORS = {
    "beta": lambda f, m: trailing_beta(
        f["close"].pct_change(fill_method=None),
        m["close"].pct_change(fill_method=None),
        window=15,
        min_obs=8,
        shrink=0.2,
    ),
    "corwin_schultz": lambda f, m: corwin_schultz(f["high"], f["low"], window=10),
    "abdi_ranaldo": lambda f, m: abdi_ranaldo(f["high"], f["low"], f["close"], window=10),
    "vol": lambda f, m: trailing_vol(f["close"], window=10, min_obs=5),
    "adv": lambda f, m: trailing_adv(f["volume"], window=10, min_obs=5),
}


@st.composite
def drawn_bars(draw):
    """A ticker's and an index's daily bars: random moves and ranges, some sessions missing."""
    n = draw(st.integers(25, 70))
    moves = st.lists(st.floats(-0.08, 0.08), min_size=n, max_size=n)
    ranges = st.lists(st.floats(0.0, 0.05), min_size=n, max_size=n)
    volume = st.lists(st.sampled_from([0.0, 1e3, 5e5, 2e6]), min_size=n, max_size=n)
    gaps = draw(st.sets(st.integers(0, n - 1), max_size=n // 5))
    days = pd.bdate_range("2025-01-02", periods=n)
    frames = []
    for _ in range(2):
        close = 100 * np.cumprod(1 + np.array(draw(moves)))
        open_ = np.r_[100.0, close[:-1]]
        spread = np.array(draw(ranges))
        frame = pd.DataFrame(
            {
                "open": open_,
                "high": np.maximum(open_, close) * (1 + spread),
                "low": np.minimum(open_, close) * (1 - spread),
                "close": close,
                "volume": np.array(draw(volume)),
            },
            index=days,
        )
        frame.iloc[sorted(gaps)] = np.nan
        frames.append(frame)
    return frames[0], frames[1], draw(st.integers(1, n - 1)), draw(st.floats(0.3, 3.0))


@pytest.mark.parametrize("name", list(ESTIMATORS))
@settings(max_examples=40, deadline=None)
@given(drawn=drawn_bars())
def test_each_estimator_at_t_ignores_every_bar_from_t_on(name, drawn):
    stock, index, t, scale = drawn
    estimate = ESTIMATORS[name]
    full = estimate(stock, index).to_numpy()
    cut = estimate(stock.iloc[: t + 1], index.iloc[: t + 1]).to_numpy()
    moved_stock, moved_index = stock.copy(), index.copy()
    moved_stock.iloc[t:] *= scale
    moved_index.iloc[t:] *= 1 / scale
    moved = estimate(moved_stock, moved_index).to_numpy()
    np.testing.assert_array_equal(cut, full[: t + 1])
    np.testing.assert_array_equal(moved[: t + 1], full[: t + 1])


# The window kernels every estimator reads (backtest/engine/rules/windows.py), against
# pandas' rolling mean, covariance and variance on drawn columns with missing values;
# and a column behind missing rows (a ticker listed later in a panel) gets the same floats.
@st.composite
def drawn_columns(draw):
    n = draw(st.integers(5, 80))
    cols = draw(st.integers(1, 4))
    values = st.lists(
        st.one_of(st.floats(-0.2, 0.2), st.just(float("nan"))), min_size=n, max_size=n
    )
    x = np.column_stack([draw(values) for _ in range(cols)])
    y = np.column_stack([draw(values) for _ in range(cols)])
    window = draw(st.integers(2, 25))
    return x, y, window, draw(st.integers(1, window))


@settings(max_examples=60, deadline=None)
@given(drawn=drawn_columns())
def test_window_kernels_match_pandas_rolling(drawn):
    x, y, window, min_obs = drawn
    got = window_mean(x, window, min_obs)
    want = pd.DataFrame(x).rolling(window, min_periods=min_obs).mean().to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)
    cov, var = window_cov_var(x, y, window, min_obs)
    both = np.isfinite(x) & np.isfinite(y)
    xs, ys = pd.DataFrame(np.where(both, x, np.nan)), pd.DataFrame(np.where(both, y, np.nan))
    roll = {"window": window, "min_periods": max(min_obs, 2)}
    want_cov = xs.rolling(**roll).cov(ys).to_numpy()
    want_var = ys.rolling(**roll).var().to_numpy()
    assert np.array_equal(np.isnan(cov), np.isnan(want_cov))
    scale = np.nanmax(np.abs(np.where(both, y, 0.0))) ** 2 + 1e-300
    ok = ~np.isnan(want_var)
    np.testing.assert_allclose(cov[ok], want_cov[ok], rtol=0, atol=1e-12 * scale)
    # A variance rounded to zero by either is a flat window (FLAT): compare the rest.
    assert ((var[ok] == 0) | np.isclose(var[ok], want_var[ok], rtol=1e-8, atol=1e-14)).all()


@settings(max_examples=40, deadline=None)
@given(drawn=drawn_columns(), lead=st.integers(1, 30))
def test_a_column_behind_missing_rows_gets_the_same_floats(drawn, lead):
    x, y, window, min_obs = drawn
    pad = np.full((lead, x.shape[1]), np.nan)
    px, py = np.vstack([pad, x]), np.vstack([pad, y])
    np.testing.assert_array_equal(
        window_mean(px, window, min_obs)[lead:], window_mean(x, window, min_obs)
    )
    for got, alone in zip(
        window_cov_var(px, py, window, min_obs), window_cov_var(x, y, window, min_obs), strict=True
    ):
        np.testing.assert_array_equal(got[lead:], alone)
    # and each column of a panel is the column alone
    for j in range(x.shape[1]):
        np.testing.assert_array_equal(
            window_mean(x, window, min_obs)[:, j], window_mean(x[:, j], window, min_obs)
        )
