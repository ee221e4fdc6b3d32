"""``make universe``: configs/us100_earnings.yaml's study on all 500 names of ../shared/data.

Steps (nothing here is needed by ``make run``; the package never reads ../shared):

1. :func:`make_us100.build` with ``n=500`` (lenient: a source's repeated row inside
   one report is listed and dropped instead of stopping the build) writes
   ``prices.parquet`` and ``earnings.csv`` into ``build/universe500/`` (git-ignored);
2. :func:`backtest.data.importer.import_panel` (``backtest data import``) turns the
   panel into ``build/universe500/prices/<TICKER>.parquet``; the bundled SPY.csv is
   copied next to them as the benchmark;
3. the config is configs/us100_earnings.yaml with ``data.source: files`` on that
   folder, every name of the panel, and the events CSV (``type: csv``): the same
   strategies, portfolio, costs and event study (surprise quintiles known at the
   event); names whose bars fail the run's price validation are left out and listed;
   it is written to ``build/universe500/universe500_earnings.yaml`` and run (results
   under ``results/``);
4. the surprise-quantile CAAR table (n per quantile) is printed.

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

from backtest.core.errors import DataIntegrityError  # noqa: E402
from backtest.core.sessions import get_calendar  # noqa: E402
from backtest.data import FilePrices, validate_prices  # noqa: E402
from backtest.data.bundled import bundled_file  # noqa: E402
from backtest.data.importer import import_panel  # noqa: E402
from backtest.data.universe import panel_tickers  # noqa: E402
from backtest.run.runner import run  # noqa: E402

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
    """CAAR of each surprise quintile over [0,+1] and [+2,+20], with n and the t-test."""
    tests = pd.read_csv(folder / "event_study" / "tests.csv")
    keep = (
        (tests["group_by"].isin(["all", "surprise_quantile"]))
        & (tests["test"] == "cross_sectional_t")
        & (tests["window"].isin(["[0,+1]", "[+2,+20]"]))
    )
    table = tests[keep].pivot_table(
        index=["group_by", "group"], columns="window", values=["n", "caar", "p_value"]
    )
    return table


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
    result = run(write_config(BUILD), out_dir=REPO / "results")
    print(f"results: {result.folder} ({time.perf_counter() - started:.0f} s)")
    print(f"events aligned: {len(result.events)}, trades: {len(result.trades)}")
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(quantile_table(result.folder))


if __name__ == "__main__":
    main()
