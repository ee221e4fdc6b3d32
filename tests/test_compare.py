"""`backtest compare`: side-by-side tables and difference tests checked against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from backtest.cli.commands import app
from backtest.compare.runner import compare_configs
from backtest.core.errors import ConfigError
from tests.conftest import base_config, write_config
from tests.test_audit import BUILT_INS, EARNINGS, NEWS


@pytest.fixture
def two_strategies(tmp_path, market):
    return write_config(tmp_path, base_config(market, NEWS + EARNINGS, BUILT_INS))


def test_pairwise_tests_match_an_independent_scipy_computation(two_strategies):
    result = compare_configs([two_strategies])
    row = result.comparison.iloc[0]
    assert (row["a"], row["b"]) == ("earnings_hold", "news_momentum")
    trades = result.trades.groupby("strategy")["net_return"]
    a, b = trades.get_group("earnings_hold"), trades.get_group("news_momentum")
    welch = stats.ttest_ind(a, b, equal_var=False)
    assert row["mean_diff"] == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert row["mean_p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
    returns = result.equity[["earnings_hold", "news_momentum"]].pct_change().dropna()
    sharpe = returns.mean() / returns.std(ddof=1) * np.sqrt(252)
    assert row["sharpe_a"] == pytest.approx(sharpe["earnings_hold"], rel=1e-9)
    assert row["sharpe_diff"] == pytest.approx(sharpe.iloc[0] - sharpe.iloc[1], rel=1e-9)
    assert row["sessions"] == len(returns)
    assert row["sharpe_boot_ci_low"] <= row["sharpe_diff"] <= row["sharpe_boot_ci_high"]


def test_per_event_table_has_one_column_per_strategy(two_strategies):
    result = compare_configs([two_strategies])
    per_event = result.per_event.set_index("event_id")
    assert list(per_event.columns) == ["earnings_hold", "news_momentum"]
    assert per_event.notna().sum().tolist() == [2, 6]  # 2 earnings trades, 6 news trades


def test_two_configs_are_compared_with_prefixed_labels(tmp_path, market, two_strategies):
    other = tmp_path / "other"
    other.mkdir()
    data = base_config(market, NEWS, [BUILT_INS[1]], fees_bps=50)
    data["name"] = "costly"
    second = write_config(other, data)
    result = compare_configs([two_strategies, second])
    names = [s for s in result.metrics["strategy"] if not s.startswith("benchmark:")]
    assert names == ["synthetic/earnings_hold", "synthetic/news_momentum", "costly/news_momentum"]
    assert len(result.comparison) == 3
    cheap, dear = (
        result.metrics.set_index("strategy").loc[n, "total_return"]
        for n in ("synthetic/news_momentum", "costly/news_momentum")
    )
    assert dear < cheap


def test_one_strategy_is_not_a_comparison(tmp_path, market):
    config = write_config(tmp_path, base_config(market, NEWS, [BUILT_INS[1]]))
    with pytest.raises(ConfigError, match="compare needs at least two strategies"):
        compare_configs([config])


def test_compare_command_writes_the_comparison_folder(tmp_path, two_strategies):
    out = tmp_path / "results"
    done = CliRunner().invoke(app, ["compare", str(two_strategies), "--out", str(out)])
    assert done.exit_code == 0, done.output
    folder = next(out.iterdir())
    assert folder.name.startswith("compare-")
    expected = {
        "metrics.csv",
        "comparison.csv",
        "per_event.csv",
        "trades.csv",
        "equity.csv",
        "manifest.json",
        "charts",
    }
    assert expected <= {p.name for p in folder.iterdir()}
    assert sorted(p.name for p in (folder / "charts").iterdir()) == [
        "drawdown.png",
        "equity.png",
        "exposure_scaled.png",
        "pairwise.png",
        "return_distributions.png",
    ]
    assert "Pairwise" in done.output
    assert len(pd.read_csv(folder / "comparison.csv")) == 1
