"""Per-event strategies vs their vectorized planners in a sweep (time per combination x event).

    .venv/bin/python benchmarks/per_event_sweep.py

Sweeps the same grid of earnings_hold and gap_follow, and of their per-event twins
(strategies/per_event.py), over the bundled earnings of configs/compare_six.yaml,
checks that both give the same table, and prints the seconds and microseconds per
(combination, event) cell. Offline.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from backtest.audit.decisions import FAR_FUTURE
from backtest.config.model import load_config
from backtest.run.pipeline import align
from backtest.run.runner import load_inputs
from backtest.sweep.evaluate import sweep_grid

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "compare_six.yaml"
GRIDS = {
    "earnings_hold": {"entry_offset": [-1, 0, 1, 2], "hold_sessions": [1, 2, 3, 5, 10]},
    "gap_follow": {"min_abs_gap_pct": [0, 2, 4, 6], "hold_sessions": [1, 2, 3, 5, 10]},
}


def main() -> None:
    loaded = load_config(CONFIG)
    inputs = load_inputs(loaded)
    aligned, _ = align(loaded, inputs.events, inputs.prices, inputs.cal, FAR_FUTURE)
    earnings = aligned[aligned["event_type"] == "earnings"].reset_index(drop=True)
    for name, grid in GRIDS.items():
        tables, seconds = {}, {}
        for strategy in (name, f"{name}_per_event"):
            started = time.perf_counter()
            out = sweep_grid(inputs.prices, earnings, grid, strategy, calendar=inputs.cal)
            seconds[strategy] = time.perf_counter() - started
            tables[strategy] = out.table
        pd.testing.assert_frame_equal(tables[name], tables[f"{name}_per_event"])
        cells = len(tables[name]) * len(earnings)
        for strategy, s in seconds.items():
            print(
                f"{strategy:28} {len(tables[name])} combinations x {len(earnings)} events: "
                f"{s:.2f} s ({1e6 * s / cells:.0f} us per cell)"
            )


if __name__ == "__main__":
    main()
