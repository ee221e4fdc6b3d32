"""Break-even cost and the cost-sensitivity table (bps per side), checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.engine.rules.costs import break_even_bps, net_return, return_at_cost
from backtest.run.sensitivity import cost_sensitivity


def test_cost_per_side_is_the_engines_fee_on_both_fills():
    ref_in, ref_out, side = np.array([100.0, 80.0]), np.array([104.0, 78.0]), np.array([1, -1])
    engine = net_return(ref_in, ref_out, side, slippage_bps=0.0, fees_bps=25.0)
    assert np.allclose(return_at_cost(ref_in, ref_out, side, 25.0), engine, rtol=0, atol=1e-15)


def test_mean_return_is_zero_at_the_break_even_cost():
    rng = np.random.default_rng(7)
    ref_in = 100 * np.exp(rng.normal(0, 0.2, 200))
    ref_out = ref_in * np.exp(rng.normal(0.004, 0.03, 200))
    side = rng.choice([1, -1], 200, p=[0.8, 0.2])
    even = break_even_bps(ref_in, ref_out, side)
    assert return_at_cost(ref_in, ref_out, side, even).mean() == pytest.approx(0.0, abs=1e-15)
    assert return_at_cost(ref_in, ref_out, side, even + 1).mean() < 0


def test_table_by_hand():
    # Long 100 -> 102 and long 50 -> 49.5: gross +2 % and -1 %; at 10 bps per side each
    # pays 0.001 * (1 + out / in): 0.00202 and 0.00199.
    t = pd.DataFrame(
        {"strategy": "s", "side": [1, 1], "entry_ref_price": [100.0, 50.0],
         "exit_ref_price": [102.0, 49.5]}
    )  # fmt: skip
    out = cost_sensitivity(t).set_index("cost_bps_per_side")
    assert out.index.tolist() == [0.0, 5.0, 10.0, 25.0, 50.0]
    assert (out["n"] == 2).all()
    assert out.loc[10.0, "mean_trade_return"] == pytest.approx(
        ((0.02 - 0.00202) + (-0.01 - 0.00199)) / 2, abs=1e-15
    )
    assert out.loc[0.0, "trade_hit_rate"] == 0.5
    assert out["break_even_bps"].iloc[0] == pytest.approx(0.005 / 2.005 * 1e4)
