"""The Parquet cache survives truncation, killed writers and concurrent writers (K1, K2, K4, K5, K6)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time

import pandas as pd
import pytest
from _cache_workers import KEY, version_frame, write_forever, write_n

from backtest.core.errors import CacheCorrupt, DataError
from backtest.data.cache import CACHE_ENV, SCHEMA_VERSION, CacheKey, ParquetCache, cache_root

FETCHED = pd.Timestamp("2026-02-20 22:00", tz="UTC")


def _frame() -> pd.DataFrame:
    index = pd.DatetimeIndex(["2026-02-18", "2026-02-19"], name="session")
    return pd.DataFrame({"close": [150.0, 155.5], "volume": [1e6, 2e6]}, index=index)


def test_round_trip_keeps_index_values_and_metadata(tmp_path):
    cache = ParquetCache(tmp_path)
    path = cache.write(KEY, _frame(), FETCHED, "1.7.0")
    entry = cache.read(KEY)
    pd.testing.assert_frame_equal(entry.frame, _frame())
    assert entry.fetched_at == FETCHED and entry.yfinance_version == "1.7.0"
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata
    assert meta[b"yfinance_version"] == b"1.7.0"
    assert pd.Timestamp(meta[b"fetched_at"].decode()) == FETCHED


def test_root_precedence_env_over_config(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert cache_root(tmp_path / "cfg") == tmp_path / "env"
    monkeypatch.delenv(CACHE_ENV)
    assert cache_root(tmp_path / "cfg") == tmp_path / "cfg"


def test_file_cut_in_half_is_detected_and_quarantined(tmp_path):
    cache = ParquetCache(tmp_path)
    path = cache.write(KEY, _frame(), FETCHED)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheCorrupt, match=str(path)) as info:
        cache.read(KEY)
    assert "refetch" in str(info.value)
    moved = cache.quarantine(KEY)
    assert {p.name.split(".corrupt-")[0] for p in moved} == {path.name, "KILL_1d_unadjusted.json"}
    assert cache.read(KEY) is None  # gone from the cache, but kept on disk
    assert all(p.exists() for p in moved)


def test_corrupt_manifest_is_detected(tmp_path):
    cache = ParquetCache(tmp_path)
    cache.write(KEY, _frame(), FETCHED)
    manifest = cache.manifest_path(KEY)
    manifest.write_text(manifest.read_text()[:20])
    with pytest.raises(CacheCorrupt, match="not valid JSON"):
        cache.read(KEY)


def test_bytes_changed_but_same_length_fail_the_checksum(tmp_path):
    cache = ParquetCache(tmp_path)
    path = cache.write(KEY, _frame(), FETCHED)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CacheCorrupt, match="checksum"):
        cache.read(KEY)


def test_older_schema_version_reads_as_missing(tmp_path):
    cache = ParquetCache(tmp_path)
    cache.write(KEY, _frame(), FETCHED)
    manifest = cache.manifest_path(KEY)
    data = json.loads(manifest.read_text())
    data["schema_version"] = SCHEMA_VERSION - 1
    manifest.write_text(json.dumps(data))
    assert cache.read(KEY) is None


def test_unwritable_root_is_a_data_error_naming_the_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match=str(blocker)):
        ParquetCache(blocker).write(KEY, _frame(), FETCHED)


def test_rewrite_leaves_one_data_file(tmp_path):
    cache = ParquetCache(tmp_path)
    cache.write(KEY, _frame(), FETCHED)
    cache.write(KEY, _frame() * 2, FETCHED)
    assert len(list((tmp_path / "prices").glob("*.parquet"))) == 1
    assert cache.read(KEY).frame["close"].tolist() == [300.0, 311.0]


def _assert_one_whole_version(cache: ParquetCache) -> int:
    frame = cache.read(KEY).frame
    values = set(frame["close"].unique())
    assert len(values) == 1, f"torn entry mixes versions {sorted(values)[:5]}"
    assert len(frame) in (version_frame(0).shape[0], version_frame(0, rows=20_000).shape[0])
    return int(values.pop())


def test_writer_killed_mid_write_leaves_a_whole_entry(tmp_path):
    cache = ParquetCache(tmp_path)
    cache.write(KEY, version_frame(0), FETCHED)
    ctx = mp.get_context("spawn")
    seen = []
    for delay in (1.5, 2.3, 3.1):  # child start-up takes ~1 s; kills land at varied points
        proc = ctx.Process(target=write_forever, args=(str(tmp_path), 100 * len(seen) + 1))
        proc.start()
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL
        seen.append(_assert_one_whole_version(cache))
    assert seen[-1] > 0, "the writer never committed; the kill test did not exercise a write"
    leftovers = [p for p in (tmp_path / "prices").iterdir() if p.suffix == ".tmp"]
    referenced = json.loads(cache.manifest_path(KEY).read_text())["file"]
    assert all(p.name != referenced for p in leftovers)


def test_four_concurrent_writers_never_corrupt(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=write_n, args=(str(tmp_path), w, 15)) for w in range(1, 5)]
    for p in procs:
        p.start()
    cache = ParquetCache(tmp_path)
    reads = 0
    while any(p.is_alive() for p in procs):
        if cache.manifest_path(KEY).exists():
            _assert_one_whole_version(cache)
            reads += 1
        time.sleep(0.05)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = _assert_one_whole_version(cache)
    assert final % 1000 == 14  # some writer's last write won
    assert len(list((tmp_path / "prices").glob("*.parquet"))) == 1


def test_key_stem_is_file_name_safe():
    assert CacheKey("prices", "../etc", "1d", "x").stem == ".._etc_1d_x"
