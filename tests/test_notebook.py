"""Notebook use: run() without writing a folder, and the HTML summary of a result."""

from __future__ import annotations

from backtest.run.runner import run
from tests.conftest import REPO


def test_run_without_writing_returns_a_result_and_a_judged_summary(tmp_path):
    result = run(REPO / "configs" / "baba_2026.yaml", out_dir=tmp_path, write=False)
    assert result.folder is None and not any(tmp_path.iterdir())
    page = result._repr_html_()
    assert result.run_id in page and "not written" in page
    assert "n = 1: too few" in page  # news_momentum's one trade: its Sharpe is greyed
