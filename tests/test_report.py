"""Results folders: atomic publish, never overwrite, reproducible bytes (RELIABILITY R1, R2, R5, R7)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from backtest.errors import ResultsExistError
from backtest.report.writer import publish
from backtest.run import run
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
