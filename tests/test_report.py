"""Results folders: atomic publish, a rerun replaces its folder whole, reproducible bytes (R1, R2, R5, R7)."""

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
    "monthly_returns.csv",
    "drawdowns.csv",
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
        "monthly_earnings_hold.png",
        "monthly_news_momentum.png",
        "trade_returns.png",
    ]  # no rolling_*.png: fewer sessions than the 126-session window (the notes say so)
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
    again = ["output.if_exists=suffix"]  # keep the first folder to compare with
    second = run(config_path, out_dir=tmp_path / "results", overrides=again)
    assert second.folder.name == first.folder.name + "-2"
    for name in (
        "trades.csv",
        "drops.csv",
        "events.csv",
        "equity.csv",
        "metrics.json",
    ):
        assert sha(first.folder / name) == sha(second.folder / name), name
    # config.yaml differs in output.if_exists only (the override above); nothing else moved.
    text = (first.folder / "config.yaml").read_text()
    assert (
        text.replace("if_exists: replace", "if_exists: suffix")
        == (second.folder / "config.yaml").read_text()
    )


def test_if_exists_error_refuses_to_overwrite(tmp_path, config_path):
    run(config_path, out_dir=tmp_path / "results")
    with pytest.raises(ResultsExistError, match="already exists"):
        run(config_path, out_dir=tmp_path / "results", overrides=["output.if_exists=error"])


def _tree(folder) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_rerunning_the_same_config_replaces_its_folder_whole(tmp_path, config_path):
    root = tmp_path / "results"
    first = run(config_path, out_dir=root)
    before = _tree(first.folder)
    (first.folder / "stray.txt").write_text("left by hand\n")  # gone after: a swap, no merge
    second = run(config_path, out_dir=root)
    assert second.folder == first.folder
    assert sorted(p.name for p in root.iterdir()) == [first.run_id]  # no -2, no temp folders
    after = _tree(second.folder)
    assert "stray.txt" not in after and set(after) == set(before)
    for name in ("trades.csv", "drops.csv", "events.csv", "equity.csv", "metrics.json"):
        assert after[name] == before[name], name


def test_a_different_config_still_gets_its_own_folder(tmp_path, config_path):
    root = tmp_path / "results"
    a = run(config_path, out_dir=root)
    b = run(config_path, out_dir=root, overrides=["engine.fees_bps=11"])
    assert a.folder != b.folder
    assert sorted(p.name for p in root.iterdir()) == sorted([a.run_id, b.run_id])


def _files(name: str, text: str):
    return lambda folder: (folder / name).write_text(text)


def test_a_failing_rerun_leaves_the_published_folder_as_it_was(tmp_path):
    publish(tmp_path, "run", "replace", _files("trades.csv", "complete\n"))

    def broken(folder):
        (folder / "trades.csv").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish(tmp_path, "run", "replace", broken)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert _tree(tmp_path / "run") == {"trades.csv": b"complete\n"}


def test_replace_without_an_atomic_exchange_swaps_by_two_renames(tmp_path, monkeypatch):
    from backtest.report import writer

    monkeypatch.setattr(writer, "_exchange", lambda a, b: False)  # macOS, old kernels, some fs
    publish(tmp_path, "run", "replace", _files("a.csv", "old\n"))
    publish(tmp_path, "run", "replace", _files("b.csv", "new\n"))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert _tree(tmp_path / "run") == {"b.csv": b"new\n"}


def test_replace_puts_the_old_folder_back_when_moving_the_new_one_in_fails(tmp_path, monkeypatch):
    import os

    from backtest.report import writer

    publish(tmp_path, "run", "replace", _files("a.csv", "old\n"))
    monkeypatch.setattr(writer, "_exchange", lambda a, b: False)
    real = os.rename

    def rename(src, dst):
        if str(src).startswith(str(tmp_path / ".tmp-")) and (tmp_path / "run") != src:
            raise OSError(28, "No space left on device")  # the new folder cannot move in
        return real(src, dst)

    monkeypatch.setattr(writer.os, "rename", rename)
    with pytest.raises(OSError, match="No space left"):
        publish(tmp_path, "run", "replace", _files("b.csv", "new\n"))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert _tree(tmp_path / "run") == {"a.csv": b"old\n"}


def test_replace_refuses_a_file_that_is_not_a_results_folder(tmp_path):
    (tmp_path / "run").write_text("mine\n")
    with pytest.raises(ResultsExistError, match="run exists and is not a results folder"):
        publish(tmp_path, "run", "replace", _files("a.csv", "x\n"))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert (tmp_path / "run").read_text() == "mine\n"


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
