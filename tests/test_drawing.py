"""Charts are drawn in this process, in the order given, and a chart's failure surfaces here."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.report.charts import plot_drawdown, plot_equity, plot_trade_returns
from backtest.report.drawing import Chart, draw_charts


def _equity() -> pd.DataFrame:
    sessions = pd.bdate_range("2024-01-02", periods=40, name="session")
    growth = 1.01 ** np.arange(40)
    return pd.DataFrame({"s": 1e5 * growth, "benchmark:SPY": 1e5 / growth}, index=sessions)


def _real_charts(folder: Path) -> list[Chart]:
    equity = _equity()
    trades = pd.DataFrame({"strategy": ["s", "s", "s"], "net_return": [0.02, -0.01, 0.03]})
    paths = [folder / n for n in ("equity.png", "drawdown.png", "returns.png")]
    return [
        Chart(paths[0], partial(plot_equity, equity, paths[0], "equity")),
        Chart(paths[1], partial(plot_drawdown, equity, paths[1], "drawdown")),
        Chart(paths[2], partial(plot_trade_returns, trades, paths[2], "returns")),
    ]


def _record_pid(path: Path) -> None:
    path.write_text(str(os.getpid()))


def _fail(message: str) -> None:
    raise ValueError(message)


def test_real_charts_are_written_as_png(tmp_path):
    written = draw_charts(_real_charts(tmp_path))
    assert [p.name for p in written] == ["equity.png", "drawdown.png", "returns.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_drawing_keeps_the_order_and_draws_everything_in_this_process(tmp_path):
    paths = [tmp_path / f"{i}.txt" for i in range(3)]
    written = draw_charts([Chart(p, partial(_record_pid, p)) for p in paths])
    assert written == paths
    assert {int(p.read_text()) for p in paths} == {os.getpid()}


def test_a_failing_chart_raises_here_and_stops_the_rest(tmp_path):
    after = tmp_path / "after.txt"
    charts = [Chart(tmp_path / "x", partial(_fail, "chart broke")), Chart(after, after.touch)]
    with pytest.raises(ValueError, match="chart broke"):
        draw_charts(charts)
    assert not after.exists()
