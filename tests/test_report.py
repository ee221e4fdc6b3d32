"""Results folders: atomic publish, never overwrite, reproducible bytes (RELIABILITY R1, R2, R5, R7)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from backtest.core.errors import ResultsExistError
from backtest.report.writer import publish
from backtest.run.runner import run
from tests.conftest import base_config, write_config
from tests.test_pipeline import EARNINGS, HOLD, MOMENTUM, NEWS

FILES = (
    "config.yaml",
    "manifest.json",
    "events.csv",
    "trades.csv",
    "drops.csv",
    "equity.csv",
    "metrics.json",
    "metrics.csv",
    "report.html",
)


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def config_path(tmp_path, market):
    data = base_config(market, [EARNINGS, NEWS], [HOLD, MOMENTUM], fees_bps=10, slippage_bps=5)
    data["output"] = {"charts": True, "max_event_charts": 1}
    return write_config(tmp_path, data)


def test_run_publishes_every_documented_file(tmp_path, config_path):
    result = run(config_path, out_dir=tmp_path / "results")
    assert result.folder.parent == tmp_path / "results"
    for name in FILES:
        assert (result.folder / name).is_file(), name
    charts = sorted(p.name for p in (result.folder / "charts").rglob("*.png"))
    assert charts == [
        "A-news-2026-01-13T134204Z.png",
        "drawdown.png",
        "equity.png",
        "trade_returns.png",
    ]
    trades = pd.read_csv(result.folder / "trades.csv")
    assert list(trades.columns[:13]) == [
        "strategy",
        "ticker",
        "event_id",
        "side",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "size",
        "fees",
        "gross_return",
        "net_return",
        "exit_reason",
    ]
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["run_id"] == result.folder.name
    assert set(manifest["data_fingerprints"]) == {"A", "SPY", "events"}
    assert manifest["data"] == {
        "source": "files",
        "price_basis": "raw",
        "offline": False,
        "refresh": False,
    }
    assert manifest["versions"]["vectorbt"] != "not installed"


def test_same_config_twice_gives_identical_bytes_in_a_new_folder(tmp_path, config_path):
    first = run(config_path, out_dir=tmp_path / "results")
    second = run(config_path, out_dir=tmp_path / "results")
    assert second.folder.name == first.folder.name + "-2"  # never overwritten
    for name in (
        "trades.csv",
        "drops.csv",
        "events.csv",
        "equity.csv",
        "metrics.json",
        "config.yaml",
    ):
        assert sha(first.folder / name) == sha(second.folder / name), name


def test_if_exists_error_refuses_to_overwrite(tmp_path, config_path):
    run(config_path, out_dir=tmp_path / "results")
    with pytest.raises(ResultsExistError, match="already exists"):
        run(config_path, out_dir=tmp_path / "results", overrides=["output.if_exists=error"])


def test_a_failing_writer_publishes_nothing(tmp_path):
    def broken(folder):
        (folder / "trades.csv").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish(tmp_path, "run", "suffix", broken)
    assert list(tmp_path.iterdir()) == []


def test_config_change_changes_the_run_id(tmp_path, config_path):
    a = run(config_path, out_dir=tmp_path / "r")
    b = run(config_path, out_dir=tmp_path / "r", overrides=["engine.fees_bps=11"])
    assert a.run_id != b.run_id


def test_metrics_json_is_valid_json_with_null_for_undefined(tmp_path, market):
    far = {**NEWS, "time": "2026-03-31 08:00", "timezone": "America/New_York"}
    data = base_config(market, [far], [MOMENTUM])
    result = run(write_config(tmp_path, data), out_dir=tmp_path / "results")
    metrics = json.loads((result.folder / "metrics.json").read_text())
    assert metrics["news_momentum"]["n_trades"] == 0
    assert metrics["news_momentum"]["hit_rate"] is None


def test_a_run_published_meanwhile_under_the_same_id_gets_a_suffix_not_an_error(tmp_path):
    """R1: another process renames its folder to the target between our check and our rename."""

    def write(folder):
        (folder / "trades.csv").write_text("mine\n")
        (tmp_path / "same-id").mkdir()  # the other run wins the race
        (tmp_path / "same-id" / "trades.csv").write_text("theirs\n")

    target = publish(tmp_path, "same-id", "suffix", write)
    assert target.name == "same-id-2"
    assert (target / "trades.csv").read_text() == "mine\n"
    assert (tmp_path / "same-id" / "trades.csv").read_text() == "theirs\n"


def test_the_race_with_if_exists_error_raises_and_leaves_no_temp_folder(tmp_path):
    with pytest.raises(
        ResultsExistError, match="same-id (already exists|was published by another)"
    ):
        publish(tmp_path, "same-id", "error", lambda folder: (tmp_path / "same-id").mkdir())
    assert [p.name for p in tmp_path.iterdir()] == ["same-id"]


def _publish_in_process(root: str) -> str:
    from pathlib import Path

    def write(folder):
        for i in range(50):
            (folder / f"part-{i}.csv").write_text("x\n" * 100)

    return publish(Path(root), "race", "suffix", write).name


def test_four_processes_publishing_one_run_id_each_get_a_complete_folder(tmp_path):
    import concurrent.futures
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=ctx) as pool:
        names = list(pool.map(_publish_in_process, [str(tmp_path)] * 4))
    assert sorted(names) == ["race", "race-2", "race-3", "race-4"]
    for name in names:
        assert len(list((tmp_path / name).iterdir())) == 50
    assert not list(tmp_path.glob(".tmp-*"))
