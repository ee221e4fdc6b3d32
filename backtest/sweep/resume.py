"""Checkpoints for sweeps: each finished chunk is saved, ``--resume`` reuses them.

A sweep interrupted by Ctrl-C, SIGTERM or a crash loses at most the chunks in
flight. Finished chunks live in ``<out>/.sweep-<run_id>.partial/`` (hidden, so
never taken for a result) as ``chunk-00000.parquet`` files, each written to a
temp file and renamed. The run id hashes the config and the data, so a
checkpoint is only ever reused by the same sweep on the same data; each file
also carries its combinations, checked against the chunk it claims to be. The
folder is removed once the sweep is published.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from backtest.sweep.evaluate import ChunkRunner, ChunkTables, SweepData, run_in_process

__all__ = ["checkpoint_dir", "checkpointed", "clear_checkpoints"]

SUBSET = "_subset"
# Part of the checkpoint folder's name: bump it when the same config and data give
# other chunk results (2: sweeps apply events.overlap: skip), so older checkpoints
# are never resumed into a newer sweep. (Sweeps with overlap: truncate were refused
# before they were supported, so no older checkpoint holds one: no bump for them.)
CHECKPOINT_FORMAT = 2
# Chunks sent to a cluster per batch: enough to keep workers busy, few enough to lose little.
CLUSTER_BATCH = 16


def checkpoint_dir(root: Path, run_id: str) -> Path:
    """Where a sweep's finished chunks are kept until it is published."""
    return Path(root) / f".sweep-{run_id}.v{CHECKPOINT_FORMAT}.partial"


def _path(folder: Path, index: int) -> Path:
    return folder / f"chunk-{index:05d}.parquet"


def _save(folder: Path, index: int, tables: ChunkTables) -> None:
    frame = pd.concat([t.assign(**{SUBSET: name}) for name, t in tables.items()], ignore_index=True)
    tmp = folder / f".{_path(folder, index).name}.{os.getpid()}.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, _path(folder, index))


def _load(folder: Path, index: int, part: list[dict], subsets) -> ChunkTables | None:
    """A saved chunk, or None when it is missing, unreadable or of other combinations."""
    try:
        frame = pd.read_parquet(_path(folder, index))
    except (OSError, ValueError):
        return None
    tables = {
        name: frame[frame[SUBSET] == name].drop(columns=SUBSET).reset_index(drop=True)
        for name in subsets
    }
    params = pd.DataFrame(part)
    for table in tables.values():
        if len(table) != len(params) or not table[params.columns].astype(str).equals(
            params.astype(str)
        ):
            return None
    return tables


def checkpointed(
    runner: ChunkRunner | None, folder: Path, resume: bool, on_reuse: Callable[[int], None]
) -> ChunkRunner:
    """Wrap a chunk runner so finished chunks are saved and, on resume, reused.

    ``on_reuse(n)`` is told how many chunks were taken from the checkpoint.
    """
    run = runner or run_in_process
    batch = 1 if runner is None else CLUSTER_BATCH

    def run_chunks(data: SweepData, parts: list, subsets: dict, progress=None) -> list:
        folder.mkdir(parents=True, exist_ok=True)
        done = {}
        if resume:
            done = {i: t for i, p in enumerate(parts) if (t := _load(folder, i, p, subsets))}
        on_reuse(len(done))
        if progress and done:
            progress(sum(len(parts[i]) for i in done))
        todo = [i for i in range(len(parts)) if i not in done]
        for start in range(0, len(todo), batch):
            ids = todo[start : start + batch]
            for i, tables in zip(
                ids, run(data, [parts[i] for i in ids], subsets, progress), strict=True
            ):
                _save(folder, i, tables)
                done[i] = tables
        return [done[i] for i in range(len(parts))]

    return run_chunks


def clear_checkpoints(folder: Path) -> None:
    """Remove a published sweep's checkpoint folder."""
    shutil.rmtree(folder, ignore_errors=True)
