"""`backtest sweep --resume` (issue 6.4): an interrupted sweep loses only its chunk in flight."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtest.sweep.runner import sweep_and_publish

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "earnings_sweep.yaml"
# 259 events and 1,000 cells per chunk: 3 combinations a chunk, 20 chunks for 60 combinations.
SETS = ["sweep.top_n=0", "sweep.chunk_cells=1000"]


def interrupt_after(chunks: int):
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) > chunks:
            raise KeyboardInterrupt

    return progress


def interrupted_run(out: Path, chunks: int = 3) -> Path:
    with pytest.raises(KeyboardInterrupt):
        sweep_and_publish(CONFIG, out, SETS, progress=interrupt_after(chunks))
    (partial,) = out.glob(".sweep-*.partial")
    return partial


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    return sweep_and_publish(CONFIG, tmp_path_factory.mktemp("fresh"), SETS)


def test_an_interrupted_sweep_publishes_nothing_and_keeps_its_finished_chunks(tmp_path):
    partial = interrupted_run(tmp_path)
    assert sorted(p.name for p in partial.iterdir()) == [
        "chunk-00000.parquet",
        "chunk-00001.parquet",
        "chunk-00002.parquet",
    ]
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


def test_resume_reuses_finished_chunks_and_gives_the_fresh_result(tmp_path, fresh):
    partial = interrupted_run(tmp_path)
    resumed = sweep_and_publish(CONFIG, tmp_path, SETS, resume=True)
    assert resumed.summary["chunks_resumed"] == 3
    assert resumed.run_id == fresh.run_id
    pd.testing.assert_frame_equal(
        pd.read_parquet(resumed.folder / "sweep.parquet"),
        pd.read_parquet(fresh.folder / "sweep.parquet"),
    )
    pd.testing.assert_frame_equal(resumed.walkforward, fresh.walkforward)
    assert not partial.exists()


def test_a_damaged_chunk_is_recomputed_not_trusted(tmp_path, fresh):
    partial = interrupted_run(tmp_path)
    damaged = partial / "chunk-00001.parquet"
    damaged.write_bytes(damaged.read_bytes()[:100])
    resumed = sweep_and_publish(CONFIG, tmp_path, SETS, resume=True)
    assert resumed.summary["chunks_resumed"] == 2
    pd.testing.assert_frame_equal(resumed.table, fresh.table)


def test_without_resume_the_checkpoint_is_not_used(tmp_path, fresh):
    interrupted_run(tmp_path)
    again = sweep_and_publish(CONFIG, tmp_path, SETS)
    assert again.summary["chunks_resumed"] == 0
    pd.testing.assert_frame_equal(again.table, fresh.table)


def test_checkpoints_of_an_older_format_are_not_resumed(tmp_path, fresh):
    """Same config and data, older chunk results (before sweeps applied overlap: skip)."""
    partial = interrupted_run(tmp_path)
    older = partial.with_name(partial.name.replace(".v2.partial", ".partial"))
    partial.rename(older)
    resumed = sweep_and_publish(CONFIG, tmp_path, SETS, resume=True)
    assert resumed.summary["chunks_resumed"] == 0
    pd.testing.assert_frame_equal(resumed.table, fresh.table)
