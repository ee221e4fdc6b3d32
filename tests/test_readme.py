"""README's notebook block runs as written (from a fresh working directory)."""

from __future__ import annotations

import re

import pandas as pd

from tests.conftest import REPO


def notebook_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## From a notebook", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_notebook_block_runs_and_gives_tables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # results/ goes where the user runs from
    code = notebook_block().replace('"configs/', f'"{REPO / "configs"}/')
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)  # noqa: S102 - the README's own code
    res, mem, cmp = names["res"], names["mem"], names["cmp"]
    assert res.folder.resolve().parent == tmp_path.resolve() / "results"
    assert (res.folder / "trades.csv").is_file()
    assert isinstance(res.event_study.tests, pd.DataFrame) and len(res.event_study.tests)
    assert mem.folder is None
    assert set(res.trades["event_id"]) == set(mem.trades["event_id"])
    assert len(cmp.comparison) == 15  # six strategies, every pair once


def test_the_sample_size_thresholds_in_the_readme_are_the_codes():
    from backtest.core import sample_size
    from backtest.stats.tearsheet import ROLLING_WINDOWS

    text = (REPO / "README.md").read_text().split("## Reading the report", 1)[1]
    text = text.split("\n## ", 1)[0]
    for needle in (
        f"| {sample_size.MIN_TRADES} trades |",
        f"| {sample_size.MIN_SESSIONS} sessions |",
        f"| {sample_size.MIN_YEAR} sessions |",
        f"| {sample_size.MIN_EVENTS} events |",
        f"{sample_size.MIN_PAIR_TRADES['mean']} trades a side (means), "
        f"{sample_size.MIN_PAIR_TRADES['sharpe']} (Sharpe ratios)",
        f"rolling {ROLLING_WINDOWS[0]}- and\n{ROLLING_WINDOWS[1]}-session",
    ):
        assert needle in text, needle
