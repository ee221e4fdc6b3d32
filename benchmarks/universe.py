"""``make universe``: configs/us100_earnings.yaml's event study on all 500 names of ../shared/data.

Steps (nothing here is needed by ``make run``; the package never reads ../shared):

1. :func:`make_us100.build` with ``n=500`` (lenient: a source's repeated row inside
   one report is listed and dropped instead of stopping the build) writes
   ``prices.parquet`` and ``earnings.csv`` into ``build/universe500/`` (git-ignored);
2. :func:`backtest.data.importer.import_panel` (``backtest data import``) turns the
   panel into ``build/universe500/prices/<TICKER>.parquet``; the bundled SPY.csv is
   copied next to them as the benchmark;
3. the config is configs/us100_earnings.yaml with ``data.source: files`` on that
   folder, every name whose bars pass the run's price validation (the others are
   listed), and the events CSV (``type: csv``); it is written to
   ``build/universe500/universe500_earnings.yaml``;
4. prices and events are loaded and aligned by the run's own stages
   (:func:`backtest.run.runner.load_inputs`, :func:`backtest.run.pipeline.align`)
   and the configured event study (surprise quintiles known at the event) is run
   and written to ``results/universe500_event_study/`` (tables and charts, among
   them ``charts/caar_by_surprise_quantile.png``); the surprise-quantile CAAR
   table (n per quantile) is printed.

The strategy library itself is not backtested on the 500 names: the vectorbt engine
holds (ticks x signals) matrices, one column per signal, and ~21,000 signals over
7,128 ticks did not fit in this machine's memory (configs/us100_earnings.yaml on the
100 names peaks at 5-6.5 GB). Sweeps of one strategy over all 500 names use the
event-level kernel instead: benchmarks/w2.py.

Run ``make universe`` or ``.venv/bin/python benchmarks/universe.py [--data DIR] [--rebuild]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import make_us100  # noqa: E402

from backtest.config.model import load_config  # noqa: E402
from backtest.core.errors import DataIntegrityError  # noqa: E402
from backtest.core.sessions import get_calendar  # noqa: E402
from backtest.data.bundled import bundled_file  # noqa: E402
from backtest.data.files import FilePrices  # noqa: E402
from backtest.data.importer import import_panel  # noqa: E402
from backtest.data.universe import panel_tickers  # noqa: E402
from backtest.data.validate import validate_prices  # noqa: E402
from backtest.report.eventstudy_writer import write_event_study  # noqa: E402
from backtest.run.pipeline import align, study_events  # noqa: E402
from backtest.run.runner import load_inputs  # noqa: E402

BUILD = REPO / "build" / "universe500"
BASE_CONFIG = REPO / "configs" / "us100_earnings.yaml"
N_NAMES = 500


def build_inputs(data: Path, folder: Path, rebuild: bool) -> None:
    """Panel, earnings and per-ticker price files of all names (skipped when present)."""
    if rebuild and folder.exists():
        shutil.rmtree(folder)
    if not (folder / "earnings.csv").is_file():
        make_us100.build(data, folder, N_NAMES, lenient=True)
    if not (folder / "prices").is_dir():
        report = import_panel(folder / "prices.parquet", folder / "prices")
        print(f"imported {report.tickers} tickers, {report.rows:,} rows into {report.folder}")
        shutil.copy(bundled_file("prices", "SPY.csv"), folder / "prices" / "SPY.csv")


def usable_tickers(folder: Path) -> list[str]:
    """Names whose prices pass the run's own validation; the others are listed, not hidden.

    A few yfinance bars of the 500 break the bar rules (e.g. an open outside
    [low, high]); ``backtest run`` stops on them, so those names are left out here.
    """
    source, cal = FilePrices(folder / "prices"), get_calendar("XNYS")
    keep, bad = [], []
    for ticker in panel_tickers(folder / "prices.parquet"):
        try:
            validate_prices(source.load(ticker), ticker, cal)
            keep.append(ticker)
        except DataIntegrityError as exc:
            bad.append(str(exc).split(" (")[0])
    print(f"{len(keep)} names pass price validation; left out {len(bad)}: {'; '.join(bad)}")
    return keep


def write_config(folder: Path) -> Path:
    """configs/us100_earnings.yaml pointed at the 500-name files."""
    config = yaml.safe_load(BASE_CONFIG.read_text())
    config["name"] = "universe500_earnings"
    config["data"] = {
        **{k: v for k, v in config["data"].items() if k != "source"},
        "source": "files",
        "path": "prices",
        "tickers": usable_tickers(folder),
    }
    config["events"]["sources"] = [{"type": "csv", "path": "earnings.csv"}]
    path = folder / "universe500_earnings.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def quantile_table(folder: Path) -> pd.DataFrame:
    """CAAR of all events and of each surprise quintile over [0,+1] and [+2,+20], with n and p."""
    tests = pd.read_csv(folder / "tests.csv")
    keep = tests["group_by"].isin(["all", "surprise_quantile"]) & (
        tests["test"] == "cross_sectional_t"
    )
    rows = []
    for (by, group), part in tests[keep].groupby(["group_by", "group"], sort=False):
        by_window = part.set_index("window")
        row = {"group": group if by != "all" else "all", "n": int(by_window["n"].iloc[0])}
        for window in ("[0,+1]", "[+2,+20]"):
            row[f"CAAR{window} %"] = round(100 * by_window.at[window, "caar"], 2)
            row[f"p{window}"] = round(by_window.at[window, "p_value"], 4)
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=make_us100.DEFAULT_DATA)
    p.add_argument("--rebuild", action="store_true", help="rebuild build/universe500")
    args = p.parse_args(argv)
    if not (args.data / make_us100.LIQUID500).is_file():
        raise SystemExit(
            f"no {make_us100.LIQUID500} under {args.data}; pass --data DIR (shared/data)"
        )
    started = time.perf_counter()
    build_inputs(args.data, BUILD, args.rebuild)
    loaded = load_config(write_config(BUILD))
    inputs = load_inputs(loaded)
    aligned, drops = align(loaded, inputs.events, inputs.prices, inputs.cal, None)
    print(
        f"{len(loaded.config.data.tickers)} names, {len(inputs.events):,} reports loaded, "
        f"{len(aligned):,} aligned, dropped {drops['reason'].value_counts().to_dict()}"
    )
    study, note = study_events(loaded, aligned, inputs.prices, None)
    if study is None:
        raise SystemExit(f"event study {note}")
    out = REPO / "results" / "universe500_event_study"
    shutil.rmtree(out, ignore_errors=True)
    write_event_study(study, out)
    print(
        f"event study: {len(study.car):,} events studied, dropped "
        f"{study.drops['reason'].value_counts().to_dict()}; written to {out} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    print(
        "survivorship bias: the names are the liquid500 set ranked on 2023-03..2024-03, "
        "today's survivors (see backtest/sample_data/DATA.md)"
    )
    print(quantile_table(out).to_string(index=False))


if __name__ == "__main__":
    main()
