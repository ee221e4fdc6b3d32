"""Shared fixtures: synthetic geometric markets written as user files, and a config builder."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import settings

from backtest.core.sessions import get_calendar
from backtest.data.synthetic import geometric_prices

# CI replays the same examples on every run (a red main must mean a change broke it);
# at a desk, each run explores new ones. Found failures get an @example.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

CAL = get_calendar("XNYS")
SESSIONS = CAL.sessions_in_range("2026-01-02", "2026-03-31")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any attempt to open a socket fails the test loudly: tests run offline."""

    def guard(*args, **kwargs):
        raise RuntimeError("tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", guard)


def write_prices(folder: Path, frames: dict[str, pd.DataFrame]) -> Path:
    """Write price frames as <TICKER>.csv files the `files` source reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for ticker, frame in frames.items():
        frame.rename_axis("date").to_csv(folder / f"{ticker}.csv")
    return folder


@pytest.fixture
def market(tmp_path) -> Path:
    """A: close 100*1.01**i, open gaps +0.2%; SPY: flat at 100. Sessions 2026-01-02..03-31."""
    return write_prices(
        tmp_path / "prices",
        {
            "A": geometric_prices(SESSIONS, growth=0.01, gap=0.002),
            "SPY": geometric_prices(SESSIONS, growth=0.0, gap=0.0),
        },
    )


def base_config(prices: Path, events: list[dict], strategies: list[dict], **engine) -> dict:
    """A config mapping trading ticker A with inline events and zero costs by default."""
    return {
        "name": "synthetic",
        "data": {"source": "files", "path": str(prices), "tickers": ["A"]},
        "events": {"sources": [{"type": "inline", "events": events}], "max_drop_pct": 100},
        "strategies": strategies,
        "engine": {
            "fees_bps": 0,
            "slippage_bps": 0,
            "sizing": {"mode": "fixed", "value": 1000},
            **engine,
        },
        "benchmarks": ["SPY"],
        "output": {"charts": False},
    }


def write_config(folder: Path, data: dict) -> Path:
    """Write a config mapping as YAML and return its path."""
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
