"""Charts are drawn in this process, in the order given, and a chart's failure surfaces here.

They are rendered in the calling thread and only their PNG encoding runs on one background
thread: every PNG exists when draw_charts returns, and an encoding error is raised, not lost.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from backtest.report.charts import plot_drawdown, plot_equity, plot_trade_returns
from backtest.report.drawing import Chart, draw_charts, write_png


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


def _red(path: Path) -> Chart:
    image = np.zeros((20, 30, 4), dtype=np.uint8)
    image[..., 0] = image[..., 3] = 255
    return Chart(path, lambda: write_png(image, path, 110.0, software="test"))


def test_every_png_is_complete_when_draw_charts_returns(tmp_path):
    charts = [_red(tmp_path / f"{i}.png") for i in range(12)]
    assert draw_charts(charts) == [c.path for c in charts]
    for chart in charts:
        with Image.open(chart.path) as image:
            image.load()
            assert image.size == (30, 20)
            assert image.getpixel((5, 5)) == (255, 0, 0, 255)
            assert round(image.info["dpi"][0]) == 110
            assert image.info["Software"] == "test"


def test_encoding_runs_off_the_drawing_thread_inside_draw_charts(tmp_path, monkeypatch):
    import backtest.report.drawing as drawing

    threads = []
    real = drawing._encode_png

    def spy(*args):
        threads.append(threading.current_thread())
        real(*args)

    monkeypatch.setattr(drawing, "_encode_png", spy)
    draw_charts([_red(tmp_path / "a.png")])
    assert threads and threads[0] is not threading.current_thread()
    write_png(np.zeros((2, 2, 4), np.uint8), tmp_path / "b.png", 100.0)  # outside: here
    assert threads[1] is threading.current_thread()


def test_an_encoding_error_is_raised_by_draw_charts(tmp_path):
    missing = tmp_path / "no-such-folder" / "a.png"
    with pytest.raises(FileNotFoundError):
        draw_charts([_red(tmp_path / "ok.png"), _red(missing)])
    assert (tmp_path / "ok.png").exists()
