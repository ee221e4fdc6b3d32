"""Reviewed real-data goldens: build, compare and (with ``--accept``) rewrite them.

A golden (``tests/golden/<config>.json``) holds what one bundled config produces
offline with a fixed clock: the metrics of every strategy and benchmark, the key
fields of every trade, and data-volume counts (price rows per ticker, events
loaded, aligned and dropped per reason at each stage, events traded per
strategy), LEAN's ``DataPoints`` idea. Paths, run ids (they hash the data and
the config) and git shas are left out, so a golden moves only when results do.

Usage, from the repository root::

    python -m tests.regen_golden            # print the diff; exit 1 if any
    python -m tests.regen_golden --accept   # ... and write the new goldens

A golden changes only after its diff was read and accepted, and the commit
says why the numbers moved (RELIABILITY I21).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from backtest.config.model import load_config
from backtest.data.cache import CACHE_ENV
from backtest.run.runner import RunInputs, RunResult, backtest_inputs, load_inputs
from backtest.strategy.signals import get_strategy

__all__ = ["CONFIGS", "GOLDEN_DIR", "build", "diff", "main", "read", "render"]

REPO = Path(__file__).resolve().parents[1]
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
CONFIGS = ("baba_2026", "compare_six")
# The run's clock, as in test_golden.py: after every bundled price, so no event is "future".
NOW = pd.Timestamp("2026-11-25", tz="UTC")
# Floats match to RTOL; ATOL only absorbs values that are zero up to rounding (the
# primary benchmark's alpha against itself is about 3e-17). Counts and ids match exactly.
RTOL, ATOL = 1e-9, 1e-12
SIGNIFICANT = 12  # digits kept in the file: readable, and far inside RTOL
ONE_LINE = 250  # a mapping of scalars this short is written on one line
TRADE_FIELDS = ("side", "entry_time", "exit_time", "entry_ref_price", "exit_ref_price")


def _scalar(value: object) -> object:
    """A JSON scalar: numpy numbers as Python ones, NaN as None, floats to 12 digits."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.{SIGNIFICANT}g}")
    return value


def _metrics(result: RunResult) -> dict:
    table = result.metrics.set_index("strategy").to_dict(orient="index")  # keeps int columns
    return {s: {k: _scalar(v) for k, v in row.items()} for s, row in table.items()}


def _trades(result: RunResult) -> dict:
    """Strategy -> event_id -> key fields (a strategy trades an event at most once)."""
    out: dict = {}
    for row in result.trades.itertuples(index=False):
        fields = {f: _scalar(getattr(row, f)) for f in TRADE_FIELDS}
        fields["net_return"] = _scalar(row.net_return)
        out.setdefault(row.strategy, {})[row.event_id] = fields
    return out


def _per_reason(drops: pd.DataFrame) -> dict:
    return {r: int(n) for r, n in drops["reason"].value_counts().sort_index().items()}


def _price_counts(inputs: RunInputs) -> dict:
    out = {}
    for report in inputs.reports:
        frame = inputs.prices[report.ticker]
        out[report.ticker] = {
            "rows_in": report.rows_in,
            "rows_out": report.rows_out,
            "dropped": dict(sorted(report.dropped.items())),
            "first": str(frame.index[0].date()),
            "last": str(frame.index[-1].date()),
        }
    return out


def _strategy_counts(result: RunResult) -> dict:
    out = {}
    for cfg in result.config.config.strategies:
        label = cfg.label or cfg.name
        types = get_strategy(cfg.name).event_types
        out[label] = {
            "eligible": int(result.events["event_type"].isin(types).sum()),
            "traded": int((result.trades["strategy"] == label).sum()),
            "dropped": _per_reason(result.drops[result.drops["strategy"] == label]),
        }
    return out


def _counts(inputs: RunInputs, result: RunResult) -> dict:
    stage = result.drops["stage"]
    return {
        "prices": _price_counts(inputs),
        "events": {
            "loaded": len(inputs.events),
            "load_dropped": _per_reason(inputs.load_drops),
            "aligned": len(result.events),
            "aligned_by_type": _per_reason(result.events.rename(columns={"event_type": "reason"})),
            "align_dropped": _per_reason(result.drops[stage == "align"]),
        },
        "strategies": _strategy_counts(result),
    }


@contextlib.contextmanager
def _private_cache() -> Iterator[None]:
    """Point the cache root (calendars) at a temporary folder for the duration."""
    old = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory() as folder:
        os.environ[CACHE_ENV] = folder
        try:
            yield
        finally:
            if old is None:
                del os.environ[CACHE_ENV]
            else:
                os.environ[CACHE_ENV] = old


def build(name: str) -> dict:
    """Run the bundled config ``configs/<name>.yaml`` offline at :data:`NOW`; its golden.

    Nothing is published, and the calendar cache goes to a temporary folder, so
    the run reads only the repository.
    """
    loaded = load_config(REPO / "configs" / f"{name}.yaml")
    with _private_cache():
        inputs = load_inputs(loaded)
        result = backtest_inputs(loaded, inputs, NOW)
    return {
        "config": f"configs/{name}.yaml",
        "now": NOW.isoformat(),
        "metrics": _metrics(result),
        "trades": _trades(result),
        "counts": _counts(inputs, result),
    }


def _render(value: object, depth: int) -> str:
    flat = json.dumps(value, sort_keys=True, allow_nan=False)
    if not isinstance(value, dict) or not value or len(flat) + 2 * depth <= ONE_LINE:
        return flat
    pad = "  " * (depth + 1)
    items = [f"{pad}{json.dumps(k)}: {_render(v, depth + 1)}" for k, v in sorted(value.items())]
    return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"


def render(golden: dict) -> str:
    """The golden as JSON text: sorted keys, a short mapping per line (one trade a line).

    Examples
    --------
    >>> render({"b": {"x": 1}, "a": 2}).splitlines()
    ['{"a": 2, "b": {"x": 1}}']
    """
    return _render(golden, 0) + "\n"


def read(path: Path) -> dict:
    """The golden stored at ``path`` ({} when there is none yet)."""
    return json.loads(path.read_text()) if path.is_file() else {}


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


def _moved(old: object, new: object) -> bool:
    numbers = (int, float)
    if isinstance(old, bool) or isinstance(new, bool):
        return old != new
    if isinstance(old, float) or isinstance(new, float):
        if not (isinstance(old, numbers) and isinstance(new, numbers)):
            return True
        return not math.isclose(old, new, rel_tol=RTOL, abs_tol=ATOL)
    return old != new


def diff(old: object, new: object, path: str = "") -> list[str]:
    """Readable lines ``path: old -> new`` for every field that moved beyond tolerance.

    Floats compare to ``RTOL`` (and ``ATOL`` near zero); ints, strings and keys exactly.

    Examples
    --------
    >>> diff({"a": 1.0, "n": 3}, {"a": 1.0 + 1e-12, "n": 4})
    ['n: 3 -> 4']
    >>> diff({"t": {"x": 1}}, {"t": {}})
    ['t.x: 1 -> (missing)']
    """
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [f"{path}: {_show(old)} -> {_show(new)}"] if _moved(old, new) else []
    lines = []
    for key in sorted(old.keys() | new.keys()):
        where = f"{path}.{key}" if path else str(key)
        lines += diff(old.get(key, _MISSING), new.get(key, _MISSING), where)
    return lines


def _leaves(value: object) -> int:
    return sum(map(_leaves, value.values())) if isinstance(value, dict) else 1


def _show(value: object) -> str:
    """A value for a diff line; a large mapping (a whole new config) only by its size."""
    if isinstance(value, _Missing):
        return repr(value)
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= ONE_LINE else f"{{{_leaves(value)} fields}}"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.regen_golden", description=__doc__)
    parser.add_argument("configs", nargs="*", default=list(CONFIGS), help="bundled config names")
    parser.add_argument("--accept", action="store_true", help="write the new goldens")
    parser.add_argument("--golden-dir", type=Path, default=GOLDEN_DIR, help="where goldens live")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, make: Callable[[str], dict] = build) -> int:
    """Re-run every config, print its diff, write it with ``--accept``.

    Returns
    -------
    int
        0 when nothing moved or the changes were accepted, 1 when something moved.
    """
    args = _parse(argv)
    moved = False
    for name in args.configs:
        path = args.golden_dir / f"{name}.json"
        fresh = make(name)
        lines = diff(read(path), fresh)
        moved_text = f"{len(lines)} fields moved (golden -> this run)"
        print(f"{path.name}: {moved_text if lines else 'no change'}")
        print("".join(f"  {line}\n" for line in lines), end="")
        if lines and args.accept:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(fresh))
            print(f"  wrote {path}")
        moved = moved or bool(lines)
    if moved and not args.accept:
        print("goldens not written: review the diff, then rerun with --accept")
    return 1 if moved and not args.accept else 0


if __name__ == "__main__":
    sys.exit(main())
