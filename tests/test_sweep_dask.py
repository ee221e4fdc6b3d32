"""Sweeps on Dask: the same table as in-process, bit for bit; clear errors before any work.

Clusters here live on this machine only: an in-process (threads) cluster, and one
test with worker processes on 127.0.0.1. The socket guard below lets loopback
through and still fails any other address.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import psutil
import pytest

import backtest.sweep.cluster
import backtest.sweep.evaluate
import backtest.sweep.runner
from backtest.config.model import load_config
from backtest.core.errors import ConfigError, LookAheadError
from backtest.sweep.cluster import cluster_overrides
from backtest.sweep.runner import run_sweep
from tests.conftest import REPO, write_config
from tests.test_sweep import NOW, sweep_config

# 3 x 3 x 2 x 2 = 36 combinations; with chunk_cells=1000 and ~130 events that is
# more chunks than the 4 a 2-thread cluster keeps in flight.
GRID = {
    "entry_offset": [0, 1, 2],
    "hold_sessions": [1, 2, 3],
    "side": ["long", "short"],
    "stop_loss_pct": [None, 4],
}
SMALL_CHUNKS = ["sweep.chunk_cells=1000"]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Loopback only: the test clusters talk over 127.0.0.1; anything else fails loudly."""
    real_connect = socket.socket.connect

    def guard(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if self.family == socket.AF_UNIX or ipaddress.ip_address(host).is_loopback:
            return real_connect(self, address, *args, **kwargs)
        raise RuntimeError(f"tests must not touch the network (tried {address})")

    monkeypatch.setattr(socket.socket, "connect", guard)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    cfg = sweep_config(None, GRID, walk_forward={"train_years": 3, "test_years": 2})
    return write_config(tmp_path_factory.mktemp("dask"), cfg)


@pytest.fixture(scope="module")
def in_process(config_path):
    return run_sweep(load_config(config_path, SMALL_CHUNKS), now=NOW)


@pytest.fixture(scope="module")
def threads_cluster():
    """Two single-threaded workers inside this process (inproc transport, no sockets)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address="127.0.0.1:0",  # a free port: nothing to collide with, nothing to warn
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster


def assert_bitwise_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for col in want.select_dtypes("float").columns:
        bits = want[col].to_numpy().view(np.uint64), got[col].to_numpy().view(np.uint64)
        assert np.array_equal(*bits), col


def assert_same_sweep(got, want) -> None:
    assert_bitwise_equal(got.table, want.table)
    assert_bitwise_equal(got.walkforward, want.walkforward)
    assert got.run_id == want.run_id  # where the chunks ran is not part of the result's id
    assert {k: v for k, v in got.summary.items() if k != "seconds"} == {
        k: v for k, v in want.summary.items() if k != "seconds"
    }


def test_scheduler_gives_the_in_process_tables_bit_for_bit(
    config_path, in_process, threads_cluster
):
    seen = []
    sets = [*SMALL_CHUNKS, *cluster_overrides(threads_cluster.scheduler_address, None)]
    result = run_sweep(
        load_config(config_path, sets), now=NOW, progress=lambda d, t: seen.append((d, t))
    )
    assert len(in_process.table) == 36 and len(in_process.walkforward) >= 3
    assert_same_sweep(result, in_process)
    # One progress call per chunk (at most 1000 combination x event cells) as it completes.
    per_chunk = 1000 // in_process.summary["events"]
    sizes = [per_chunk] * (36 // per_chunk) + ([36 % per_chunk] if 36 % per_chunk else [])
    done = [d for d, _ in seen]
    assert len(sizes) > 2 * 2  # more chunks than the two workers keep in flight
    assert sorted(np.diff([0, *done])) == sorted(sizes) and done[-1] == 36
    assert {t for _, t in seen} == {36}


def test_an_error_in_a_worker_reaches_the_driver_as_itself(
    config_path, threads_cluster, monkeypatch
):
    real = backtest.sweep.evaluate.chunk_trades

    def peeking(data, combos):
        if any(c["hold_sessions"] == 3 and c["side"] == "short" for c in combos):
            raise LookAheadError("strategy earnings_hold: 1 planned trades enter before ...")
        return real(data, combos)

    # Threads in this process share the module, so the workers run the patched function.
    monkeypatch.setattr(backtest.sweep.evaluate, "chunk_trades", peeking)
    sets = [*SMALL_CHUNKS, *cluster_overrides(threads_cluster.scheduler_address, None)]
    with pytest.raises(LookAheadError, match="enter before"):
        run_sweep(load_config(config_path, sets), now=NOW)


def child_pids() -> set[int]:
    """This process's children, less multiprocessing's resource tracker (it lives as long as we do)."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
        except psutil.NoSuchProcess:  # exited between the listing and the look
            continue
    return pids


def test_workers_start_a_local_process_cluster_and_close_it(config_path, in_process):
    before, during = child_pids(), []
    result = run_sweep(
        load_config(config_path, [*SMALL_CHUNKS, "sweep.workers=2"]),
        now=NOW,
        progress=lambda d, t: during.append(len(child_pids() - before)),
    )
    assert_same_sweep(result, in_process)
    assert min(during) >= 2  # the chunks ran while two worker processes were up
    assert child_pids() <= before  # the cluster's nanny and worker processes are gone


def test_unreachable_scheduler_fails_fast_before_loading_data(config_path, monkeypatch):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(backtest.sweep.cluster, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(backtest.sweep.runner, "_data", lambda *a: pytest.fail("data was loaded"))
    started = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        run_sweep(load_config(config_path, cluster_overrides(address, None)), now=NOW)
    assert time.perf_counter() - started < 5
    message = str(err.value)
    assert address in message and "dask scheduler" in message and "--workers" in message
    assert "\n" not in message


def test_a_scheduler_without_workers_fails_instead_of_waiting_forever(config_path, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr(backtest.sweep.cluster, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(backtest.sweep.runner, "_data", lambda *a: pytest.fail("data was loaded"))
    with LocalCluster(
        n_workers=0, processes=False, dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR
    ) as empty:
        sets = cluster_overrides(empty.scheduler_address, None)
        with pytest.raises(ConfigError, match="has no workers .* `dask worker inproc://"):
            run_sweep(load_config(config_path, sets), now=NOW)


def test_scheduler_and_workers_together_is_an_error(tmp_path, config_path):
    both = sweep_config(None, GRID, scheduler="tcp://127.0.0.1:8786", workers=2)
    with pytest.raises(ConfigError, match="sweep: scheduler .* and workers .* keep one"):
        load_config(write_config(tmp_path, both))
    with pytest.raises(ConfigError, match="--scheduler and --workers both given"):
        cluster_overrides("tcp://127.0.0.1:8786", 2)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "backtest",
            "sweep",
            str(config_path),
            "--scheduler",
            "tcp://127.0.0.1:8786",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--scheduler and --workers both given" in out.stderr


def test_a_cli_flag_replaces_the_yaml_choice(tmp_path):
    yaml_scheduler = write_config(
        tmp_path, sweep_config(None, GRID, scheduler="tcp://127.0.0.1:8786")
    )
    sweep = load_config(yaml_scheduler, cluster_overrides(None, 3)).config.sweep
    assert (sweep.scheduler, sweep.workers) == (None, 3)
    sweep = load_config(yaml_scheduler, cluster_overrides("tcp://[::1]:9000", None)).config.sweep
    assert (sweep.scheduler, sweep.workers) == ("tcp://[::1]:9000", None)


def test_runs_and_in_process_sweeps_do_not_import_dask():
    code = (
        "import sys, backtest.cli.commands, backtest.run.runner, backtest.sweep.runner\n"
        "from backtest.sweep.cluster import open_runner\n"
        "with open_runner(None, None) as runner:\n"
        "    assert runner is None\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not loaded, loaded\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr


def test_overlap_skip_gives_the_in_process_tables_on_worker_processes(tmp_path):
    """``events.overlap: skip`` travels with the prepared data to the workers."""
    grid = {"entry_offset": [0, 2], "hold_sessions": [1, 40, 70], "side": ["long", "short"]}
    cfg = sweep_config(None, grid, walk_forward={"train_years": 3, "test_years": 2})
    cfg["events"]["overlap"] = "skip"
    path = write_config(tmp_path, cfg)
    in_process = run_sweep(load_config(path, SMALL_CHUNKS), now=NOW)
    on_cluster = run_sweep(load_config(path, [*SMALL_CHUNKS, "sweep.workers=2"]), now=NOW)
    assert_same_sweep(on_cluster, in_process)
    allowed = run_sweep(load_config(path, [*SMALL_CHUNKS, "events.overlap=allow"]), now=NOW)
    more = allowed.table["n_trades"] > in_process.table["n_trades"]
    hold = in_process.table["hold_sessions"]
    assert more[hold == 70].all() and not more[hold == 1].any()  # skip dropped some trades
    assert allowed.run_id != in_process.run_id  # checkpoints of one never resume the other


def test_overlap_truncate_gives_the_in_process_tables_on_worker_processes(tmp_path):
    """``events.overlap: truncate`` travels with the prepared data to the workers."""
    grid = {"entry_offset": [0, 2], "hold_sessions": [1, 40, 70], "side": ["long", "short"]}
    cfg = sweep_config(None, grid, walk_forward={"train_years": 3, "test_years": 2})
    cfg["events"]["overlap"] = "truncate"
    path = write_config(tmp_path, cfg)
    in_process = run_sweep(load_config(path, SMALL_CHUNKS), now=NOW)
    on_cluster = run_sweep(load_config(path, [*SMALL_CHUNKS, "sweep.workers=2"]), now=NOW)
    assert_same_sweep(on_cluster, in_process)
    allowed = run_sweep(load_config(path, [*SMALL_CHUNKS, "events.overlap=allow"]), now=NOW)
    # Quarterly reports never share a fill: truncation keeps every trade but shortens some.
    assert allowed.table["n_trades"].tolist() == in_process.table["n_trades"].tolist()
    moved = allowed.table["mean_trade_return"] != in_process.table["mean_trade_return"]
    hold = in_process.table["hold_sessions"]
    assert moved[hold == 70].all() and not moved[hold == 1].any()
    assert allowed.run_id != in_process.run_id  # checkpoints of one never resume the other
