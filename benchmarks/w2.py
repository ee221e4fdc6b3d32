"""Benchmark W2: every timed earnings report of 500 real names, a 1,000-combination grid,
in process and on a 2-worker Dask LocalCluster; then a 5,000-name variant.

Workload (see benchmarks/RESULTS.md):

- prices: the 500 tickers of the dieperdev ``liquid500`` parquet, 2010-01-04..2024-03-08,
  read straight from ../shared/data (as W1 does);
- events: every report with a time of day (``timing_source`` sec_8k or zacks; 3,843 of
  21,383) of ``build/universe500/earnings.csv``, the file ``make universe`` builds with
  benchmarks/make_us100.py (built here first when missing), aligned by the project's rule;
- grid: ``earnings_hold`` with entry_offset -5..4 x hold_sessions {1, 2, 3, 5, 10} x side
  {long, short} x fees_bps {0, 1, 2, 5, 10, 15, 20, 30, 50, 100} = 1,000 combinations;
  100 and 300 are the same grid with the first 1 and 3 fee levels;
- runs: :func:`backtest.sweep.evaluate.sweep_tables` (the public chunked sweep behind
  ``backtest sweep``) in this process, and with ``run_chunks`` from
  :func:`backtest.sweep.cluster.open_runner` (``--workers 2``: a LocalCluster of two
  single-threaded worker processes); the two tables must be equal float for float.

Memory: peak resident set size, sampled every 5 ms, of this process alone (in process)
and of this process plus every child (the Dask scheduler runs in this process, the
workers are children). Time: wall clock of the sweep, set-up (loading, aligning,
indexing) reported apart; the Dask time includes starting the cluster.

5,000-name variant (``--copies 10``): each of the 500 names is repeated 10 times (copy
k of AAPL is ``AAPL.k``, with AAPL's prices), and copy k's events are AAPL's events moved
``k * 3`` sessions later at the same time of day (known_at moved alike), so each copy
trades other days of the same series; events that move past the last session are
dropped by alignment. Run with ``--copies-combos`` combinations (default 300) to keep
the benchmark short.

Run: ``.venv/bin/python benchmarks/w2.py [--data DIR] [--copies 10]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import make_us100  # noqa: E402
import w1  # noqa: E402

from backtest.core.sessions import get_calendar  # noqa: E402
from backtest.events.align import align_events  # noqa: E402
from backtest.events.loaders import load_event_csv  # noqa: E402
from backtest.strategy.signals import MarketView, get_strategy  # noqa: E402
from backtest.sweep.cluster import open_runner  # noqa: E402
from backtest.sweep.evaluate import expand_grid, prepare, sweep_tables  # noqa: E402

BUILD = REPO / "build" / "universe500"
START, END = "2010-01-04", "2024-03-08"
OFFSETS = list(range(-5, 5))
HOLDS = [1, 2, 3, 5, 10]
SIDES = ["long", "short"]
FEES = [0.0, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0]
CELLS = 4_000_000
SHIFT_SESSIONS = 3


def grid(n_fees: int) -> dict:
    """The W2 grid with the first ``n_fees`` cost levels (100 combinations per level)."""
    return {
        "entry_offset": OFFSETS,
        "hold_sessions": HOLDS,
        "side": SIDES,
        "fees_bps": FEES[:n_fees],
    }


class TreeRssPeak:
    """Peak RSS of this process (and, with ``children``, of all its descendants), 5 ms samples."""

    def __init__(self, children: bool) -> None:
        import psutil

        self._proc, self._children = psutil.Process(), children

    def _now(self) -> int:
        import psutil

        procs = [self._proc]
        if self._children:
            procs += self._proc.children(recursive=True)
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # a worker that just exited
                pass
        return total

    def __enter__(self) -> TreeRssPeak:
        self.peak = self._now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._now())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._now())

    @property
    def mb(self) -> float:
        return self.peak / 2**20


def timed_events(cal, prices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every report with a time of day, aligned (unknown-timing reports left out)."""
    if not (BUILD / "earnings.csv").is_file():
        make_us100.build(make_us100.DEFAULT_DATA, BUILD, 500, lenient=True)
    table = pd.read_csv(BUILD / "earnings.csv", dtype=str, keep_default_na=False)
    timed = table[table["timing_source"].isin(["sec_8k", "zacks"])]
    path = BUILD / "w2_timed_earnings.csv"
    timed.to_csv(path, index=False)
    events = load_event_csv(path, cal)
    aligned, drops = align_events(events, prices, cal, dedupe="earliest")
    print(
        f"events: {len(table):,} reports, {len(timed):,} timed, {len(aligned):,} aligned, "
        f"{len(drops)} dropped {drops['reason'].value_counts().to_dict()}"
    )
    return aligned


def shifted_copies(prices, events: pd.DataFrame, copies: int, cal):
    """The 5,000-name variant: copy k of each name, events ``k * SHIFT_SESSIONS`` sessions later."""
    sessions = cal.sessions
    out_prices, frames = {}, []
    tz = cal.tz
    for k in range(copies):
        for t, frame in prices.items():
            out_prices[f"{t}.{k}" if k else t] = frame
        ev = events.copy()
        local = ev["event_time"].dt.tz_convert(tz)
        day = local.dt.normalize().dt.tz_localize(None)
        pos = sessions.searchsorted(day) + k * SHIFT_SESSIONS
        keep = pos < len(sessions)
        ev, local, day, pos = ev[keep], local[keep], day[keep], pos[keep]
        delta = pd.to_datetime(sessions[pos]) - day.to_numpy()
        ev["event_time"] = (local + delta.to_numpy()).dt.tz_convert("UTC")
        ev["known_at"] = ev["known_at"] + delta.to_numpy()
        if k:
            ev["ticker"] = ev["ticker"] + f".{k}"
            ev["event_id"] = ev["event_id"] + f".{k}"
        frames.append(ev)
    events = pd.concat(frames, ignore_index=True)
    keep = [c for c in events.columns if c not in ("session", "fill_at", "actionable_at")]
    aligned, drops = align_events(events[keep], out_prices, cal, dedupe="earliest")
    print(f"{copies} copies: {len(out_prices):,} names, {len(aligned):,} events aligned")
    return out_prices, aligned


def sweep(data, spec, combos, runner) -> tuple[pd.DataFrame, float]:
    subsets = {"all": np.ones(len(data.ev.events), dtype=bool)}
    start = time.perf_counter()
    tables = sweep_tables(data, combos, CELLS, subsets, run_chunks=runner)
    return tables["all"], time.perf_counter() - start


def measure(prices, aligned, cal, sizes: list[int], label: str) -> list[dict]:
    spec = get_strategy("earnings_hold")
    rows = []
    with TreeRssPeak(children=False) as setup_mem:
        start = time.perf_counter()
        data = prepare(spec, aligned, prices, MarketView(prices, cal), "skip")
        setup = time.perf_counter() - start
    print(f"{label}: prepare {setup:.1f} s, RSS {setup_mem.mb:,.0f} MB")
    for n_fees in sizes:
        combos, invalid = expand_grid(spec, {}, grid(n_fees), 100_000)
        assert not invalid, invalid[:3]
        with TreeRssPeak(children=False) as local_mem:
            local, local_s = sweep(data, spec, combos, None)
        with TreeRssPeak(children=True) as dask_mem:
            started = time.perf_counter()
            with open_runner(None, 2) as runner:
                remote, dask_s = sweep(data, spec, combos, runner)
            dask_total = time.perf_counter() - started
        same = local.equals(remote)
        row = {
            "workload": label,
            "names": len(prices),
            "events": len(data.ev.events),
            "combinations": len(combos),
            "trades": int(local["n_trades"].sum()) if "n_trades" in local else None,
            "local_s": round(local_s, 2),
            "local_peak_rss_mb": round(local_mem.mb),
            "dask2_sweep_s": round(dask_s, 2),
            "dask2_with_cluster_start_s": round(dask_total, 2),
            "dask2_peak_rss_all_processes_mb": round(dask_mem.mb),
            "identical": same,
        }
        print(row, flush=True)
        assert same, "in-process and Dask tables differ"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=w1.DEFAULT_DATA, help="the liquid500 folder")
    p.add_argument("--copies", type=int, default=10, help="5,000-name variant: copies of 500")
    p.add_argument("--copies-combos", type=int, default=300, choices=[100, 300, 1000])
    p.add_argument("--skip-copies", action="store_true")
    args = p.parse_args(argv)
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.platform()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()}"
    )
    cal = get_calendar("XNYS")
    start = time.perf_counter()
    prices = w1.load_prices(args.data, 500, START, END)
    aligned = timed_events(cal, prices)
    print(f"load + align: {time.perf_counter() - start:.1f} s")
    rows = measure(prices, aligned, cal, [1, 3, 10], "500 names")
    if not args.skip_copies and args.copies > 1:
        big_prices, big_aligned = shifted_copies(prices, aligned, args.copies, cal)
        rows += measure(big_prices, big_aligned, cal, [args.copies_combos // 100], "x copies")
    print(f"load average at the end {os.getloadavg()}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
