"""Sweep chunks on a Dask cluster: ``sweep.scheduler`` / ``--scheduler``, ``sweep.workers`` / ``--workers``.

The driver prepares the sweep data as for an in-process run, broadcasts it to
every worker once, then sends each chunk as nothing more than its list of
parameter combinations. A worker runs :func:`backtest.sweep.evaluate.chunk_tables` (the
function the in-process loop runs) and returns summary rows only; per-trade
returns never cross the wire. Results are collected as they complete, feeding
the progress callback, and put back in chunk order, so the table is the one an
in-process run gives, float for float.

At most :data:`IN_FLIGHT_PER_THREAD` chunks per worker thread are queued at
once, so neither the scheduler nor the workers hold the whole grid's results.

``dask.distributed`` is imported only here and only when a cluster is asked
for: ``backtest run`` and in-process sweeps never pay its import time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from backtest.core.errors import ConfigError
from backtest.sweep.evaluate import ChunkRunner, ChunkTables, SweepData, chunk_tables

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "CONNECT_TIMEOUT_S",
    "IN_FLIGHT_PER_THREAD",
    "cluster_overrides",
    "open_runner",
    "probe_scheduler",
    "run_on_client",
]

CONNECT_TIMEOUT_S = 5.0
IN_FLIGHT_PER_THREAD = 2


def cluster_overrides(scheduler: str | None, workers: int | None) -> list[str]:
    """``--set`` overrides for the CLI's ``--scheduler`` / ``--workers``; a flag replaces the YAML's choice.

    Examples
    --------
    >>> cluster_overrides(None, 4)
    ['sweep.workers=4', 'sweep.scheduler=null']
    >>> cluster_overrides("tcp://10.0.0.5:8786", None)
    ['sweep.scheduler="tcp://10.0.0.5:8786"', 'sweep.workers=null']
    >>> cluster_overrides(None, None)
    []
    """
    if scheduler is not None and workers is not None:
        raise ConfigError(
            "--scheduler and --workers both given; use --scheduler ADDRESS for a running "
            "cluster or --workers N for a local one started for this run"
        )
    if workers is not None:
        return [f"sweep.workers={workers}", "sweep.scheduler=null"]
    if scheduler is not None:
        # JSON-quoted so YAML keeps the address a string whatever it looks like.
        return [f"sweep.scheduler={json.dumps(scheduler)}", "sweep.workers=null"]
    return []


@contextmanager
def open_runner(scheduler: str | None, workers: int | None) -> Iterator[ChunkRunner | None]:
    """Where the sweep's chunks run: ``None`` (in-process), a running cluster, or a local one.

    Connecting happens on entry, so an unreachable scheduler fails before any
    data is loaded; a local cluster is closed on exit, also after an error.
    """
    if scheduler is not None and workers is not None:
        raise ConfigError("sweep.scheduler and sweep.workers both set; keep one of them")
    if scheduler is None and workers is None:
        yield None
        return
    with _local_cluster(workers) if workers else nullcontext(scheduler) as address:
        with _connect(address) as client:
            yield partial(run_on_client, client)


@contextmanager
def _local_cluster(workers: int) -> Iterator[str]:
    """A LocalCluster of ``workers`` single-threaded processes on loopback, for this run only."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # Port 0: a free port chosen by the OS, so a second cluster (or a dashboard
        # already on 8787) never collides and distributed has nothing to warn about.
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@contextmanager
def _connect(address: str) -> Iterator[Client]:
    """A client of the scheduler at ``address``; a ConfigError naming it when it cannot be reached."""
    from distributed import Client

    probe_scheduler(address)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"sweep.scheduler {address!r}: no Dask scheduler reachable there ({exc}); start "
            "one (`dask scheduler`, then `dask worker ADDRESS`), fix the address, use "
            "--workers N for a local cluster, or drop --scheduler / sweep.scheduler to sweep "
            "in-process"
        ) from None
    try:
        _require_workers(client, address)
        yield client
    finally:
        client.close()


# A Dask comm frame starts with its length as a little-endian uint64: small. "HTTP/1.1" read
# that way is ~3.5e18 (the "Unable to allocate 3.07 EiB" a proxy answer gave).
_MAX_FIRST_FRAME = 2**32


def probe_scheduler(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ConfigError within ``timeout`` unless a Dask scheduler seems to answer at ``address``.

    A TCP address (``tcp://host:port`` or ``host:port``) is connected to and its
    first bytes read: a scheduler greets every connection with a handshake frame,
    an HTTP server or proxy either says nothing (timeout) or answers text. Other
    transports (``tls://``, ``inproc://``, ``ucx://``) are left to Dask.
    """
    import socket
    import struct

    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"sweep.scheduler {address!r}: expected tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
        )
    advice = (
        "start one (`dask scheduler`), fix the address, use --workers N for a local cluster, "
        "or drop --scheduler / sweep.scheduler to sweep in-process"
    )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            first = sock.recv(8)
    except TimeoutError:
        raise ConfigError(
            f"sweep.scheduler {address!r}: something listens there but sent no Dask handshake "
            f"within {timeout:g} s, so it is not a Dask scheduler (an HTTP server?); {advice}"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"sweep.scheduler {address!r}: no Dask scheduler reachable there "
            f"({exc.strerror or exc}); {advice}"
        ) from None
    if len(first) < 8 or struct.unpack("<Q", first)[0] > _MAX_FIRST_FRAME:
        shown = first[:8].decode("ascii", "replace")
        raise ConfigError(
            f"sweep.scheduler {address!r}: the server there answered {shown!r}, not a Dask "
            f"handshake, so it is not a Dask scheduler (an HTTP server or proxy?); {advice}"
        )


def _require_workers(client: Client, address: str) -> None:
    """Fail now rather than queue chunks forever on a scheduler that has no workers."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ConfigError(
            f"sweep.scheduler {address!r}: the scheduler answers but has no workers after "
            f"{CONNECT_TIMEOUT_S:g} s; start some with `dask worker {address}`"
        ) from None


def run_on_client(
    client: Client,
    data: SweepData,
    parts: list[list[dict]],
    subsets: dict[str, np.ndarray],
    progress: Callable[[int], None] | None = None,
) -> list[ChunkTables]:
    """Run every chunk on ``client``'s cluster; tables come back in chunk order (a ChunkRunner)."""
    from distributed import as_completed

    # Broadcast once: every task then refers to the workers' own copy by key.
    shared_data, shared_subsets = client.scatter([data, subsets], broadcast=True, hash=False)
    window = IN_FLIGHT_PER_THREAD * max(sum(client.nthreads().values()), 1)
    todo = iter(range(len(parts)))
    queue, index, results = as_completed(loop=client.loop), {}, [None] * len(parts)

    def submit_next() -> None:
        i = next(todo, None)
        if i is not None:
            future = client.submit(chunk_tables, shared_data, parts[i], shared_subsets, pure=False)
            index[future] = i
            queue.add(future)

    for _ in range(window):
        submit_next()
    for future in queue:
        i = index.pop(future)
        results[i] = future.result()  # re-raises a worker's exception (e.g. LookAheadError) here
        future.release()
        if progress:
            progress(len(parts[i]))
        submit_next()
    return results
