"""Benchmark W1: a 60-combination earnings sweep over 500 liquid US stocks, four ways.

Workload W1 (see benchmarks/RESULTS.md): the 500 tickers of the dieperdev
``liquid500`` parquet, sessions 2010-01-04..2024-03-01 (3,564), one synthetic
"quarterly" earnings event per ticker about every 63 sessions (seeded jitter),
``earnings_hold`` with entry offset -5..4 x hold {1, 2, 3, 5, 10, 20} sessions,
entry and exit at the close, fee 0.1% per fill. Every method gets the same data,
already in memory, and must produce the same trades:

(a) our sweep through its public API: :func:`backtest.sweep.evaluate.sweep_grid`
    (end to end) and :func:`backtest.sweep.evaluate.chunk_returns` (the kernel alone,
    on data :func:`backtest.sweep.evaluate.prepare` indexed once);
(b) vectorbt ``Portfolio.from_signals`` with the Numba engine and (c) the Rust
    engine, one column per (combination, ticker), timed up to its trade records;
(d) a plain numpy gather written here: price at the entry close, price at the
    exit close, fee on both fills.
(e) with realism (unless ``--skip-realism``): our sweep with a hedge leg per trade (beta
    on the bundled SPY), with a Corwin-Schultz spread, and with both; and vectorbt on the
    same hedged, costed trades (:func:`hedged_inputs`: a SPY-leg column per stock column,
    per-fill slippage = the half spread ours reads; all 60 combinations unless
    ``--vbt-realism-combos`` asks fewer, time then scaled), checked trade for trade.

Our sweep applies ``events.overlap: skip`` (its default, as ``backtest run``);
vectorbt and the gather price every window. W1's events of one ticker are at
least 53 sessions apart and its holds at most 20 sessions, so skip drops
nothing and all four compute the same trades (a dropped one would fail the checks).

Timings are warm: each method runs once, untimed, then ``--repeats`` times;
the median is reported. Memory is measured in separate runs (timing runs carry
no tracer): ``tracemalloc`` peak (Python and numpy allocations only; it misses
memory that Numba or Rust allocate natively) and the peak resident set size
above the level before the call, sampled every millisecond with psutil.

Then: a cold ``backtest run configs/baba_2026.yaml`` against a bare
``python -c "import vectorbt"`` (median of ``--cold-repeats`` alternating
subprocesses each; ``--cold-only`` times just this), and a
600-combination grid (W1 x side {long, short} x fees {0, 5, 10, 20, 50} bps)
through ``sweep_grid`` in chunks, to show time linear in combinations and
memory bounded by ``chunk_cells``.

Run ``make bench`` or ``.venv/bin/python benchmarks/w1.py [--data DIR]``.
The data is read from ``../shared`` (next to the repository) at benchmark
time; the package itself never reads it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# Measure the checkout this script is in: a script's sys.path starts at benchmarks/, so
# `backtest` would otherwise come from wherever the venv's editable install points
# (another worktree, e.g. main).
sys.path.insert(0, str(REPO))

import backtest  # noqa: E402
from backtest.core.sessions import get_calendar  # noqa: E402
from backtest.events.align import align_events  # noqa: E402
from backtest.strategy.signals import MarketView, get_strategy  # noqa: E402
from backtest.sweep.evaluate import chunk_returns, expand_grid, prepare, sweep_grid  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "dieperdev_yfinance" / "liquid500"
PARQUET_GLOB = "liquid500_daily_*.parquet"
OFFSETS = list(range(-5, 5))
HOLDS = [1, 2, 3, 5, 10, 20]
BIG_GRID = {"side": ["long", "short"], "fees_bps": [0.0, 5.0, 10.0, 20.0, 50.0]}
TOLERANCE = 1e-9
COLD_TARGET = 1.7  # issue "One execution model": median of alternating pairs, one process


# --------------------------------------------------------------------------- data


def load_prices(folder: Path, n_tickers: int, start: str, end: str) -> dict[str, pd.DataFrame]:
    """The ``n_tickers`` most liquid tickers' bars in [start, end], in the prices schema."""
    files = sorted(folder.glob(PARQUET_GLOB)) if folder.is_dir() else []
    if not files:
        raise SystemExit(
            f"W1 data not found: no {PARQUET_GLOB} in {folder}.\n"
            "Pass --data DIR (the dieperdev_yfinance/liquid500 folder of the shared data set; "
            "see shared/data/SOURCES.md)."
        )
    frame = pd.read_parquet(files[0])
    ranked = pd.read_csv(folder / "liquid500_tickers.csv").sort_values("rank")
    wanted = ranked["ticker"].head(n_tickers).tolist()
    frame = frame[frame["ticker"].isin(wanted) & frame["date"].between(start, end)]
    cols = ["open", "high", "low", "close", "volume"]
    frame = frame.sort_values(["ticker", "date"], kind="stable")
    tickers = frame["ticker"].astype(str).to_numpy()
    cuts = np.flatnonzero(tickers[1:] != tickers[:-1]) + 1
    values = frame[cols].to_numpy(dtype=float)
    dates = pd.DatetimeIndex(frame["date"]).as_unit("ns")
    return {
        tickers[a]: pd.DataFrame(values[a:b], index=dates[a:b].rename("session"), columns=cols)
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(frame)], strict=True)
    }


def quarterly_positions(first: int, last: int, rng, spacing: int, jitter: int) -> np.ndarray:
    """Session positions about every ``spacing`` sessions, leaving room for every window."""
    lo, hi = first + 10, last - 30  # entry up to 5 sessions before, exit up to 25 after
    grid = np.arange(lo + int(rng.integers(0, spacing)), hi, spacing)
    pos = grid + rng.integers(-jitter, jitter + 1, size=len(grid))
    return pos[(pos >= lo) & (pos <= hi)]


def make_events(prices, sessions: pd.DatetimeIndex, seed: int, spacing: int, jitter: int):
    """Synthetic earnings: half before the open of session R, half after the previous close."""
    rng = np.random.default_rng(seed)
    tickers, pos = [], []
    for ticker in sorted(prices):
        index = prices[ticker].index
        p = quarterly_positions(
            sessions.get_loc(index[0]), sessions.get_loc(index[-1]), rng, spacing, jitter
        )
        tickers += [ticker] * len(p)
        pos.append(p)
    pos = np.concatenate(pos)
    bmo = rng.random(len(pos)) < 0.5
    local = np.where(
        bmo,
        sessions[pos] + pd.Timedelta(hours=8),
        sessions[pos - 1] + pd.Timedelta(hours=16, minutes=30),
    )
    when = pd.DatetimeIndex(local).tz_localize("America/New_York").tz_convert("UTC")
    return pd.DataFrame(
        {
            "event_id": [f"{t}-{d:%Y-%m-%d}" for t, d in zip(tickers, sessions[pos], strict=True)],
            "ticker": tickers,
            "event_type": "earnings",
            "event_time": when,
            "timing": np.where(bmo, "bmo", "amc"),
            "known_at": when - pd.Timedelta(days=60),
            "source": "w1_synthetic",
        }
    )


@dataclass(frozen=True)
class Workload:
    """W1 in memory, plus the arrays the non-package methods index with."""

    prices: dict[str, pd.DataFrame]
    aligned: pd.DataFrame
    sessions: pd.DatetimeIndex
    tickers: list[str]
    close: np.ndarray  # (tickers, sessions), NaN where a ticker has no bar
    row: np.ndarray  # ticker row of each aligned event
    pos: np.ndarray  # session position of each aligned event's reaction session
    combos: list[dict]
    fees_bps: float

    @property
    def fee(self) -> float:
        """Fee per fill as a fraction."""
        return self.fees_bps / 10_000


def build_workload(args) -> Workload:
    cal = get_calendar("XNYS")
    sessions = cal.sessions_in_range(args.start, args.end)
    prices = load_prices(args.data, args.tickers, args.start, args.end)
    events = make_events(prices, sessions, args.seed, args.spacing, args.jitter)
    aligned, drops = align_events(events, prices, cal, now=pd.Timestamp("2025-01-01", tz="UTC"))
    if len(drops):
        raise SystemExit(
            f"alignment dropped {len(drops)} W1 events: {drops['reason'].value_counts()}"
        )
    tickers = sorted(prices)
    close = np.vstack([prices[t]["close"].reindex(sessions).to_numpy() for t in tickers])
    rows = {t: i for i, t in enumerate(tickers)}
    combos = [
        {"entry_offset": o, "hold_sessions": h, "fees_bps": args.fees_bps}
        for o in OFFSETS
        for h in HOLDS
    ]
    return Workload(
        prices,
        aligned,
        sessions,
        tickers,
        close,
        aligned["ticker"].map(rows).to_numpy(),
        sessions.get_indexer(pd.DatetimeIndex(aligned["session"])),
        combos,
        args.fees_bps,
    )


def combo_arrays(combos: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Entry offsets and holds as (C, 1) columns."""
    return (
        np.array([c["entry_offset"] for c in combos])[:, None],
        np.array([c["hold_sessions"] for c in combos])[:, None],
    )


def entry_exit(w: Workload, combos: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit session positions, (C, E): close of R - offset, close h sessions later."""
    offset, hold = combo_arrays(combos)
    entry = w.pos[None, :] - offset
    return entry, entry + hold


# --------------------------------------------------------------------------- methods


def numpy_gather(w: Workload, combos: list[dict]) -> np.ndarray:
    """(d) Net return per (combination, event) from two gathers of the close matrix."""
    entry, exit_ = entry_exit(w, combos)
    p_in, p_out = w.close[w.row, entry], w.close[w.row, exit_]
    return (p_out - p_in - w.fee * (p_in + p_out)) / p_in


def numpy_gather_from_frames(w: Workload, combos: list[dict]) -> np.ndarray:
    """(d') The same gather with its set-up timed: from the frames and events sweep_grid gets.

    Builds the close matrix, each event's ticker row and session position the way
    ``build_workload`` does, so both this and ``sweep_grid`` start from the same inputs.
    """
    tickers = sorted(w.prices)
    close = np.vstack([w.prices[t]["close"].reindex(w.sessions).to_numpy() for t in tickers])
    row = w.aligned["ticker"].map({t: i for i, t in enumerate(tickers)}).to_numpy()
    pos = w.sessions.get_indexer(pd.DatetimeIndex(w.aligned["session"]))
    offset, hold = combo_arrays(combos)
    entry = pos[None, :] - offset
    p_in, p_out = close[row, entry], close[row, entry + hold]
    return (p_out - p_in - w.fee * (p_in + p_out)) / p_in


def ours_prepare(w: Workload):
    """Index events and prices once (the part of a sweep that does not grow with the grid)."""
    spec = get_strategy("earnings_hold")
    return prepare(spec, w.aligned, w.prices, MarketView(w.prices, get_calendar("XNYS")))


def ours_sweep(w: Workload, grid: dict, keep: bool, cells: int = 4_000_000, hedge=None, costs=None):
    """(a) End to end through the public API: prepare, every chunk, metrics per combination."""
    prices = w.prices if hedge is None else {**w.prices, HEDGE_INSTRUMENT: bundled_spy(w)}
    return sweep_grid(
        prices,
        w.aligned,
        grid,
        base={"fees_bps": w.fees_bps},
        chunk_cells=cells,
        keep_returns=keep,
        hedge=hedge,
        costs=costs,
    )


HEDGE_INSTRUMENT = "SPY"  # the package's bundled SPY (liquid500 has no ETF)


def bundled_spy(w: Workload) -> pd.DataFrame:
    """The bundled SPY bars over W1's sessions (the hedge instrument of the hedged rows)."""
    from backtest.data.bundled import bundled_file, read_price_csv

    spy = read_price_csv(bundled_file("prices", "SPY.csv"))
    return spy[(spy.index >= w.sessions[0]) & (spy.index <= w.sessions[-1])]


REALISM = {  # the hedge and the spread of the realistic rows
    "hedge": {"window": 60, "min_obs": 40},
    "spread": {"spread_estimator": "corwin_schultz", "notional": 10_000.0},
}


def realism_specs():
    from backtest.engine.rules.hedge import HedgeSpec
    from backtest.engine.rules.trade_costs import TradeCosts

    hedge = HedgeSpec(HEDGE_INSTRUMENT, ratio="beta", **REALISM["hedge"])
    return hedge, TradeCosts(**REALISM["spread"])


def realism_rows(w: Workload, args) -> tuple[list[Row], list[str]]:
    """sweep_grid with a hedge leg (beta on SPY), with the costs: section's spread, and both;
    then vectorbt on the same hedged, costed trades (:func:`vbt_hedged_rows`)."""
    hedge, spread = realism_specs()
    rows = []
    for name, kwargs in (
        ("ours: sweep_grid + hedge (beta on SPY)", {"hedge": hedge}),
        ("ours: sweep_grid + costs (CS spread)", {"costs": spread}),
        ("ours: sweep_grid + hedge + costs", {"hedge": hedge, "costs": spread}),
    ):
        row, result = measure(
            name, lambda k=kwargs: ours_sweep(w, W1_GRID, keep=True, **k), args.repeats
        )
        rows.append(row)
    if args.skip_vectorbt:
        return rows, []
    vrows, checks = vbt_hedged_rows(w, args, result.returns)
    return rows + vrows, checks


def hedged_inputs(w: Workload, combos: list[dict]) -> dict:
    """vectorbt's inputs for W1 hedged with beta on SPY and paying a Corwin-Schultz spread.

    One column per (combination, ticker) for the stock, and one more for its SPY
    leg; each fill slips by the half spread our cost panel reads for it (the
    entry's estimate at the entry, the carried-forward one at the exit) and pays
    the fee; the leg is short for a positive beta. The hedged return is then
    ``stock + |beta| x leg``, as ours. The estimates are ours, made here, outside
    vectorbt's timing: vectorbt has no beta or spread estimator, and this leaves
    it only the trades to compute.
    """
    from backtest.core.timeline import build_timeline
    from backtest.engine.rules.hedge import ratio_table
    from backtest.engine.rules.trade_costs import build_cost_panel

    hedge, spread = realism_specs()
    cal = get_calendar("XNYS")
    prices = {**w.prices, HEDGE_INSTRUMENT: bundled_spy(w)}
    timeline = build_timeline(cal, w.sessions[0], w.sessions[-1])
    assert timeline.sessions.equals(w.sessions)
    stock = build_cost_panel(w.tickers, prices, timeline, spread)
    spy = build_cost_panel([HEDGE_INSTRUMENT], prices, timeline, spread)
    calendar = cal.sessions_in_range(w.sessions[0], w.sessions[-1])
    beta = ratio_table(prices, w.tickers, hedge, w.sessions, calendar)
    entry, exit_ = entry_exit(w, combos)
    row = np.broadcast_to(w.row, entry.shape)
    ratio = beta[row, entry]
    slip_in, slip_out = stock.half_spread[row, entry], stock.half_spread_exit[row, exit_]
    h_in, h_out = spy.half_spread[0, entry], spy.half_spread_exit[0, exit_]
    # The trades ours prices: a beta and both legs' entry spreads known (else dropped).
    ok = np.isfinite(ratio) & np.isfinite(slip_in) & np.isfinite(h_in)
    n_t, n_s = len(w.tickers), len(w.sessions)
    cols = np.arange(len(combos))[:, None] * n_t + row
    n_c = len(combos) * n_t
    shape = (n_s, 2 * n_c)
    signals = {k: np.zeros(shape, dtype=bool) for k in ("entries", "exits", "se", "sx")}
    slippage = np.zeros(shape)
    e, x, c = entry[ok], exit_[ok], cols[ok]
    signals["entries"][e, c] = True
    signals["exits"][x, c] = True
    slippage[e, c], slippage[x, c] = slip_in[ok], slip_out[ok]
    short = ratio[ok] > 0  # the leg opposite the long stock for a positive beta
    hc = c + n_c
    signals["se"][e[short], hc[short]] = True
    signals["sx"][x[short], hc[short]] = True
    signals["entries"][e[~short], hc[~short]] = True
    signals["exits"][x[~short], hc[~short]] = True
    slippage[e, hc], slippage[x, hc] = h_in[ok], h_out[ok]
    spy_close = np.nan_to_num(spy_close_on(prices, w), nan=1.0)
    close = np.hstack(
        [
            np.tile(np.nan_to_num(w.close.T, nan=1.0), (1, len(combos))),
            np.tile(spy_close[:, None], (1, n_c)),
        ]
    )
    return {
        "close": close,
        "slippage": slippage,
        **signals,
        "n_trades": int(2 * ok.sum()),
        "ratio": np.where(ok, ratio, np.nan),
        "cols": cols,
        "entry": entry,
        "n_c": n_c,
    }


def spy_close_on(prices: dict, w: Workload) -> np.ndarray:
    """SPY's closes on W1's sessions."""
    frame = prices[HEDGE_INSTRUMENT]
    dates = pd.DatetimeIndex(frame.index).tz_localize(None).normalize()
    return (
        pd.Series(frame["close"].to_numpy(dtype=float), index=dates).reindex(w.sessions).to_numpy()
    )


def vbt_hedged_trades(inputs: dict, engine: str, fee: float) -> np.ndarray:
    """``Portfolio.from_signals`` on the stock and hedge-leg columns, to its trade records."""
    import vectorbt as vbt

    pf = vbt.Portfolio.from_signals(
        inputs["close"],
        inputs["entries"],
        inputs["exits"],
        short_entries=inputs["se"],
        short_exits=inputs["sx"],
        fees=fee,
        slippage=inputs["slippage"],
        init_cash=100.0,
        max_orders=2 * inputs["n_trades"] + 16,
        engine=engine,
    )
    return pf.trades.records_arr


def hedged_matrix(w: Workload, inputs: dict, records: np.ndarray) -> np.ndarray:
    """Each (combination, event)'s hedged return from vectorbt's two trades."""
    n_s = len(w.sessions)
    by_key = {}
    for leg, offset in (("stock", 0), ("hedge", inputs["n_c"])):
        keys = ((inputs["cols"] + offset) * n_s + inputs["entry"]).ravel()
        got = records["col"].astype(np.int64) * n_s + records["entry_idx"]
        order = np.argsort(got)
        pos = np.clip(np.searchsorted(got, keys, sorter=order), 0, max(len(got) - 1, 0))
        hit = got[order[pos]] == keys
        by_key[leg] = np.where(hit, records["return"][order[pos]], np.nan).reshape(
            inputs["entry"].shape
        )
    return by_key["stock"] + np.abs(inputs["ratio"]) * by_key["hedge"]


def vbt_hedged_rows(w: Workload, args, ours: np.ndarray) -> tuple[list[Row], list[str]]:
    """vectorbt on W1 hedged and costed (:func:`hedged_inputs`): every combination by
    default (about 50 s a run on the Numba engine, 7 GB at its peak), or a subset with the time
    scaled (a subset's time per combination was about a fifth lower)."""
    combos = w.combos[: args.vbt_realism_combos]
    scale = len(w.combos) / len(combos)
    note = "stock + SPY-leg columns"
    if scale != 1:
        note = f"{len(combos)} of {len(w.combos)} combos, time x{scale:g}; {note}"
    inputs = hedged_inputs(w, combos)
    return engine_rows(
        ", hedge + costs",
        args.vbt_realism_engines.split(","),
        lambda engine: vbt_hedged_trades(inputs, engine, w.fee),
        lambda records: (hedged_matrix(w, inputs, records), 0),
        ours[: len(combos)],
        scale,
        note,
    )


W1_GRID = {"entry_offset": OFFSETS, "hold_sessions": HOLDS}


def vbt_inputs(w: Workload, combos: list[dict]) -> dict:
    """Close, entries and exits with one column per (combination, ticker)."""
    entry, exit_ = entry_exit(w, combos)
    n_t, n_s = len(w.tickers), len(w.sessions)
    cols = np.arange(len(combos))[:, None] * n_t + w.row[None, :]
    entries = np.zeros((n_s, len(combos) * n_t), dtype=bool)
    exits = np.zeros_like(entries)
    entries[entry, cols] = True
    exits[exit_, cols] = True
    close = np.tile(np.nan_to_num(w.close.T, nan=1.0), (1, len(combos)))
    return {"close": close, "entries": entries, "exits": exits, "n_trades": entry.size}


def vbt_trades(inputs: dict, engine: str, fee: float) -> np.ndarray:
    """(b, c) ``Portfolio.from_signals`` and its trade records (col, entry_idx, exit_idx, return)."""
    import vectorbt as vbt

    pf = vbt.Portfolio.from_signals(
        inputs["close"],
        inputs["entries"],
        inputs["exits"],
        fees=fee,
        init_cash=100.0,
        max_orders=2 * inputs["n_trades"] + 16,
        engine=engine,
    )
    return pf.trades.records_arr


def vbt_matrix(w: Workload, combos: list[dict], records: np.ndarray) -> tuple[np.ndarray, int]:
    """Place vectorbt's trades on the (combination, event) grid; count exit mismatches."""
    entry, exit_ = entry_exit(w, combos)
    n_t, n_s = len(w.tickers), len(w.sessions)
    cols = np.arange(len(combos))[:, None] * n_t + w.row[None, :]
    keys = (cols * n_s + entry).ravel()
    order = np.argsort(keys)
    got = records["col"].astype(np.int64) * n_s + records["entry_idx"]
    at = np.clip(np.searchsorted(keys, got, sorter=order), 0, len(keys) - 1)
    flat = order[at]
    found = keys[flat] == got
    out = np.full(entry.size, np.nan)
    out[flat[found]] = records["return"][found]
    bad_exit = int((exit_.ravel()[flat[found]] != records["exit_idx"][found]).sum())
    return out.reshape(entry.shape), bad_exit + int((~found).sum())


# --------------------------------------------------------------------------- measuring


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Warm run (untimed), then the median of ``repeats`` timed runs."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


class RssPeak:
    """Peak resident set size above the level at entry, sampled every millisecond."""

    def __enter__(self) -> RssPeak:
        import psutil

        self._proc = psutil.Process()
        self.base = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


def memory(fn: Callable[[], object]) -> tuple[float, float]:
    """(tracemalloc peak MB, RSS peak above baseline MB), from two separate runs."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    with RssPeak() as rss:
        fn()
    return peak, rss.mb


@dataclass
class Row:
    method: str
    seconds: float
    traced_mb: float
    rss_mb: float
    note: str = ""


def measure(name: str, fn: Callable[[], object], repeats: int, note: str = "") -> tuple:
    seconds, result = timed(fn, repeats)
    traced, rss = memory(fn)
    print(f"  {name}: {seconds:.3f} s", flush=True)
    return Row(name, seconds, traced, rss, note), result


# --------------------------------------------------------------------------- checks


def compare(name: str, ref: np.ndarray, other: np.ndarray) -> str:
    """Same trades (NaN pattern) and the largest |return difference|."""
    same = np.array_equal(np.isnan(ref), np.isnan(other))
    delta = float(np.nanmax(np.abs(ref - other))) if same else float("nan")
    ok = same and delta <= TOLERANCE
    return (
        f"| {name} | {int((~np.isnan(other)).sum()):,} | {int((~np.isnan(ref)).sum()):,} | "
        f"{delta:.2e} | {'yes' if ok else 'NO'} |"
    )


def cold_start(repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of cold ``backtest run`` and bare ``import vectorbt`` processes, alternating."""
    backtest = Path(sys.executable).with_name("backtest")

    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's package, as above

    def once(cmd: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO, env=env)
        return time.perf_counter() - start

    runs, imports = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            out = ["--out", str(Path(tmp) / str(i))]
            runs.append(once([str(backtest), "run", "configs/baba_2026.yaml", *out]))
            imports.append(once([sys.executable, "-c", "import vectorbt"]))
    return runs, imports


def print_cold_start(repeats: int) -> None:
    runs, imports = cold_start(repeats)
    run_s, import_s = statistics.median(runs), statistics.median(imports)
    pairs = sorted(r / i for r, i in zip(runs, imports, strict=True))
    print(
        f"\nCold start (median of {repeats} alternating subprocesses): "
        f"`backtest run configs/baba_2026.yaml` {run_s:.2f} s ({min(runs):.2f}-{max(runs):.2f}), "
        f'`python -c "import vectorbt"` {import_s:.2f} s ({min(imports):.2f}-{max(imports):.2f}), '
        f"ratio of medians {run_s / import_s:.2f}x; run/import pairs "
        f"{pairs[0]:.2f}-{pairs[-1]:.2f}x, median pair {statistics.median(pairs):.2f}x "
        f"(target <= {COLD_TARGET}x), {sum(p <= COLD_TARGET for p in pairs)} of {repeats} "
        f"pairs <= {COLD_TARGET}x"
    )


# --------------------------------------------------------------------------- report


def machine() -> list[str]:
    import importlib.metadata as md

    import psutil

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown",
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    versions = ", ".join(
        f"{p} {md.version(p)}" for p in ("numpy", "pandas", "numba", "vectorbt", "vectorbt-rust")
    )
    return [
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} logical CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM, CPU model: {cpu}",
        f"- Python {platform.python_version()} ({platform.system()} {platform.release()}); {versions}",
        f"- package measured: {Path(backtest.__file__).parent}",
    ]


def table(rows: list[Row], base: float) -> list[str]:
    out = [
        "| method | warm seconds | x our kernel | tracemalloc peak MB | RSS peak MB | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.method} | {r.seconds:.3f} | {r.seconds / base:.1f} | {r.traced_mb:,.0f} | "
            f"{r.rss_mb:,.0f} | {r.note} |"
        )
    return out


# --------------------------------------------------------------------------- main


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="liquid500 folder")
    p.add_argument("--tickers", type=int, default=500)
    p.add_argument("--start", default="2010-01-04")
    p.add_argument("--end", default="2024-03-01")
    p.add_argument("--seed", type=int, default=20240301)
    p.add_argument("--spacing", type=int, default=63, help="sessions between a ticker's events")
    p.add_argument("--jitter", type=int, default=10, help="+- sessions around the spacing")
    p.add_argument("--fees-bps", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=5, help="timed runs of the fast methods")
    p.add_argument("--vbt-combos", type=int, default=60, help="combinations run by vectorbt")
    p.add_argument("--skip-vectorbt", action="store_true")
    p.add_argument("--skip-cold", action="store_true")
    p.add_argument("--skip-realism", action="store_true", help="no hedged or costed rows")
    p.add_argument(
        "--vbt-realism-combos", type=int, default=60, help="combinations vectorbt runs hedged"
    )
    p.add_argument(
        "--vbt-realism-engines",
        default="numba",
        help="vectorbt engines of the hedged rows, comma-separated (numba,rust)",
    )
    p.add_argument("--cold-only", action="store_true", help="time only the cold start")
    p.add_argument("--cold-repeats", type=int, default=9, help="cold runs of each command")
    p.add_argument("--profile", action="store_true", help="cProfile the kernel and print the top")
    return p.parse_args(argv)


def vectorbt_rows(w: Workload, args, ref: np.ndarray) -> tuple[list[Row], list[str]]:
    combos = w.combos[: args.vbt_combos]
    scale = len(w.combos) / len(combos)
    note = "" if scale == 1 else f"{len(combos)} of {len(w.combos)} combos, time x{scale:g}"
    inputs = vbt_inputs(w, combos)
    return engine_rows(
        "",
        ["numba", "rust"],
        lambda engine: vbt_trades(inputs, engine, w.fee),
        lambda records: vbt_matrix(w, combos, records),
        ref[: len(combos)],
        scale,
        note,
    )


def engine_rows(
    label: str, engines: list[str], trades, matrix, ref: np.ndarray, scale: float, note: str
):
    """Time ``trades(engine)`` once on each of vectorbt's ``engines`` (seconds scaled by
    ``scale``) and check ``matrix(records)`` (returns, trades on an unexpected bar) against
    ``ref``."""
    rows, checks = [], []
    for engine in engines:
        row, records = measure(
            f"vectorbt from_signals ({engine}){label}",
            lambda e=engine: trades(e),
            repeats=1,
            note=note,
        )
        row.seconds *= scale
        rows.append(row)
        got, bad = matrix(records)
        checks.append(compare(f"vectorbt {engine}{label}", ref, got))
        if bad:
            checks.append(f"| vectorbt {engine}: {bad} trades on an unexpected bar | | | | NO |")
    return rows, checks


def profile_kernel(data, combos) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(chunk_returns, data, combos)
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.cold_only:
        print_cold_start(args.cold_repeats)
        return
    started = time.perf_counter()
    w = build_workload(args)
    spec = get_strategy("earnings_hold")
    combos, _ = expand_grid(spec, {"fees_bps": args.fees_bps}, W1_GRID, 100_000)
    n_ev = len(w.aligned)
    print(
        f"W1: {len(w.tickers)} tickers x {len(w.sessions)} sessions, {n_ev:,} events, "
        f"{len(combos)} combinations = {n_ev * len(combos):,} trades "
        f"(set-up {time.perf_counter() - started:.0f} s, untimed)",
        flush=True,
    )
    data = ours_prepare(w)
    rows: list[Row] = []
    kernel, ours = measure(
        "ours: kernel (chunk_returns, prepared)", lambda: chunk_returns(data, combos), args.repeats
    )
    rows.append(kernel)
    row, full = measure(
        "ours: sweep_grid end to end",
        lambda: ours_sweep(w, W1_GRID, keep=True),
        args.repeats,
        "incl. prepare + metrics table",
    )
    rows.append(row)
    row, _ = measure(
        "ours: prepare alone",
        lambda: ours_prepare(w),
        args.repeats,
        "one-time index of prices/events",
    )
    rows.append(row)
    row, gathered = measure(
        "numpy gather (inline)", lambda: numpy_gather(w, w.combos), args.repeats
    )
    rows.append(row)
    gather_s = row.seconds
    row, from_frames = measure(
        "numpy gather incl. set-up",
        lambda: numpy_gather_from_frames(w, w.combos),
        args.repeats,
        "close matrix from the frames sweep_grid gets",
    )
    rows.append(row)
    realism_checks: list[str] = []
    if not args.skip_realism:
        realism, realism_checks = realism_rows(w, args)
        rows += realism
    sweep_s = rows[1].seconds
    ratios = (
        f"sweep_grid end to end / numpy gather: {sweep_s / gather_s:.1f}x inline, "
        f"{sweep_s / row.seconds:.1f}x with its set-up (target <= 2x)"
    )
    checks = [
        compare("ours: sweep_grid", ours, full.returns),
        compare("numpy gather", ours, gathered),
        compare("numpy gather incl. set-up", ours, from_frames),
    ]
    if not args.skip_vectorbt:
        vrows, vchecks = vectorbt_rows(w, args, ours)
        rows += vrows
        checks += vchecks
    checks += realism_checks
    if args.profile:
        profile_kernel(data, combos)
    report(args, w, combos, rows, checks, kernel.seconds)
    print("\n" + ratios)
    big_grid(w, args, kernel.seconds)
    if not args.skip_cold:
        print_cold_start(args.cold_repeats)


def report(args, w: Workload, combos, rows: list[Row], checks: list[str], base: float) -> None:
    print("\n" + "\n".join(machine()))
    print(
        f"\nW1: {len(w.tickers)} tickers, {len(w.sessions):,} sessions, {len(w.aligned):,} events "
        f"(seed {args.seed}, spacing {args.spacing} +- {args.jitter}), {len(combos)} combinations, "
        f"fee {args.fees_bps:g} bps per fill; warm median of {args.repeats} (vectorbt: 1) runs.\n"
    )
    print("\n".join(table(rows, base)))
    print("\n| check against our kernel | trades | kernel trades | max abs delta return | same |")
    print("|---|---:|---:|---:|---|")
    print("\n".join(checks))


def big_grid(w: Workload, args, kernel_60: float) -> None:
    grid = {**W1_GRID, **BIG_GRID}
    n = int(np.prod([len(v) for v in grid.values()]))
    started = time.perf_counter()
    out = ours_sweep(w, grid, keep=False)
    seconds = time.perf_counter() - started
    traced, rss = memory(lambda: ours_sweep(w, grid, keep=False))
    print(
        f"\n{n}-combination grid (W1 x side x fees) through sweep_grid, chunk_cells 4,000,000: "
        f"{seconds:.2f} s end to end ({1000 * seconds / n:.1f} ms per combination; the 60-grid "
        f"kernel: {1000 * kernel_60 / 60:.1f} ms per combination), {len(out.table)} rows, "
        f"{int(out.table['n_trades'].sum()):,} trades; peak memory: tracemalloc {traced:,.0f} MB, "
        f"RSS {rss:,.0f} MB above baseline"
    )


if __name__ == "__main__":
    main()
