"""Matplotlib charts of a run, drawn on Agg figures (no global pyplot state).

Each function takes plain pandas objects, writes one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.layout_engine import TightLayoutEngine

from backtest.report.drawing import write_png

matplotlib.use("Agg")

__all__ = [
    "plot_drawdown",
    "plot_equity",
    "plot_event_window",
    "plot_return_distributions",
    "plot_trade_returns",
]

SIZE, DPI = (10, 5), 110
CANDLE_WIDTH = 0.6  # sessions
BENCH_PREFIX = "benchmark:"
EXCHANGE_TZ = "America/New_York"


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, path: Path) -> Path:
    """Lay ``fig`` out tightly, render it once and write it as a PNG (:func:`write_png`)."""
    path = Path(path)
    # Not fig.tight_layout(): it leaves a placeholder layout engine on the figure,
    # for which savefig runs a second, non-rendering draw (a quarter of a chart's time).
    TightLayoutEngine().execute(fig)
    fig.canvas.draw()
    # A copy: the encoding may run after this figure is gone (drawing.draw_charts).
    rgba = np.array(fig.canvas.buffer_rgba())
    write_png(rgba, path, fig.dpi, software=f"Matplotlib version{matplotlib.__version__}")
    return path


def _date_axis(ax) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _style(column: str) -> dict:
    if column.startswith(BENCH_PREFIX):
        return {"linestyle": "--", "linewidth": 1.2, "alpha": 0.8}
    return {"linestyle": "-", "linewidth": 1.8}


def _label(col: str, labels: Mapping[str, str] | None) -> str:
    if labels and col in labels:
        return labels[col]
    return col.removeprefix(BENCH_PREFIX) + (
        " (buy & hold)" if col.startswith(BENCH_PREFIX) else ""
    )


def plot_equity(
    equity: pd.DataFrame,
    path: Path,
    title: str,
    ylabel: str = "Equity (USD)",
    labels: Mapping[str, str] | None = None,
    log: bool = True,
) -> Path:
    """Equity of each strategy (solid) and benchmark (dashed), log scale by default.

    ``labels`` maps a column to its legend entry (with its n, from
    :func:`backtest.core.sample_size.with_n`).
    """
    fig, ax = _figure()
    for col in equity.columns:
        ax.plot(equity.index, equity[col], label=_label(col, labels), **_style(col))
    if log and bool((equity.dropna(how="all") > 0).all().all()):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ylabel += ", log scale"
    ax.set(title=title, ylabel=ylabel, xlabel="Session")
    ax.grid(alpha=0.3)
    _date_axis(ax)
    ax.legend(loc="best", fontsize="small", framealpha=0.9)
    return _save(fig, path)


def plot_drawdown(
    equity: pd.DataFrame, path: Path, title: str, labels: Mapping[str, str] | None = None
) -> Path:
    """Drawdown from the running peak, in percent, per column."""
    fig, ax = _figure()
    for col in equity.columns:
        series = equity[col].dropna()
        drawdown = 100.0 * (series / series.cummax() - 1.0)
        ax.plot(series.index, drawdown, label=_label(col, labels), **_style(col))
    ax.set(title=title, ylabel="Drawdown (%)", xlabel="Session")
    ax.grid(alpha=0.3)
    _date_axis(ax)
    ax.legend(loc="lower left", fontsize="small", framealpha=0.9)
    return _save(fig, path)


def plot_trade_returns(trades: pd.DataFrame, path: Path, title: str) -> Path:
    """Histogram of net trade returns (%) per strategy, with each strategy's mean."""
    fig, ax = _figure()
    ax.set(title=title, xlabel="Net return per trade (%)", ylabel="Trades")
    if trades.empty:
        ax.text(0.5, 0.5, "no trades", ha="center", va="center", transform=ax.transAxes)
        return _save(fig, path)
    values = 100.0 * trades["net_return"].astype(float)
    bins = np.histogram_bin_edges(values, bins=min(30, max(5, len(values))))
    for name, group in trades.groupby("strategy", sort=True):
        pct = 100.0 * group["net_return"].astype(float)
        ax.hist(pct, bins=bins, alpha=0.55, label=f"{name} (n={len(pct)}, mean {pct.mean():+.2f}%)")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.9)
    return _save(fig, path)


def plot_return_distributions(trades: pd.DataFrame, path: Path, title: str) -> Path:
    """Box plot of net trade returns (%) per strategy, with each strategy's mean marked."""
    fig, ax = _figure()
    ax.set(title=title, ylabel="Net return per trade (%)")
    groups = [
        (str(n), 100.0 * g["net_return"].astype(float))
        for n, g in trades.groupby("strategy", sort=False)
    ]
    if not groups:
        ax.text(0.5, 0.5, "no trades", ha="center", va="center", transform=ax.transAxes)
        return _save(fig, path)
    labels = [f"{n}\n(n={len(v)})" for n, v in groups]
    ax.boxplot([v.to_numpy() for _, v in groups], showmeans=True, tick_labels=labels)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.tick_params(axis="x", labelsize="small", labelrotation=15 if len(groups) > 4 else 0)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def _session_of(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert(EXCHANGE_TZ).normalize().tz_localize(None)


def _candles(ax, prices: pd.DataFrame) -> None:
    """Daily candles: a high-low line and an open-close body per session, green up, red down.

    The bodies are one collection, not a bar patch each: the same picture, and
    a third less time per event chart (legend placement and drawing walk every
    artist).
    """
    x = np.arange(len(prices))
    up = (prices["close"] >= prices["open"]).to_numpy()
    colors = np.where(up, "tab:green", "tab:red")
    ax.vlines(x, prices["low"], prices["high"], color=colors, linewidth=1)
    bottom = np.minimum(prices["open"], prices["close"]).to_numpy(dtype=float)
    top = np.maximum(prices["open"], prices["close"]).to_numpy(dtype=float)
    left, right = x - CANDLE_WIDTH / 2, x + CANDLE_WIDTH / 2
    bodies = np.stack(
        [
            np.column_stack(corner)
            for corner in ((left, bottom), (left, top), (right, top), (right, bottom))
        ],
        axis=1,
    )  # (sessions, 4 corners, xy)
    ax.add_collection(PolyCollection(bodies, facecolors=colors, edgecolors=colors))
    ax.autoscale_view()


def _mark_trades(ax, prices: pd.DataFrame, trades: pd.DataFrame) -> None:
    pos = {s: i for i, s in enumerate(prices.index)}
    for tr in trades.itertuples(index=False):
        entry, exit_ = pos.get(_session_of(tr.entry_time)), pos.get(_session_of(tr.exit_time))
        long = tr.side > 0
        if entry is not None:
            ax.scatter(
                entry,
                tr.entry_price,
                marker="^" if long else "v",
                s=110,
                zorder=5,
                color="darkgreen" if long else "darkred",
                edgecolor="black",
                label=f"{'long' if long else 'short'} entry {tr.entry_price:.2f}",
            )
        if exit_ is not None:
            ax.scatter(
                exit_,
                tr.exit_price,
                marker="X",
                s=110,
                zorder=5,
                color="black",
                label=f"exit {tr.exit_price:.2f} ({100 * tr.net_return:+.2f}%)",
            )


def plot_event_window(
    prices: pd.DataFrame,
    trades: pd.DataFrame,
    event: pd.Series,
    path: Path,
    title: str | None = None,
) -> Path:
    """Daily candles around one event, the event's tradable session and the trades."""
    fig, ax = _figure()
    _candles(ax, prices)
    if event["session"] in prices.index:
        x = list(prices.index).index(event["session"])
        ax.axvline(
            x,
            color="tab:blue",
            linestyle=":",
            linewidth=1.5,
            label=f"tradable from {event['session']:%Y-%m-%d} {event['fill_at']} "
            f"({event['timing']})",
        )
    _mark_trades(ax, prices, trades)
    step = max(1, len(prices) // 10)
    ax.set_xticks(range(0, len(prices), step))
    ax.set_xticklabels([f"{d:%b %d}" for d in prices.index[::step]], rotation=0)
    published = event["event_time"].tz_convert(EXCHANGE_TZ)
    ax.set(
        title=title or f"{event['event_id']} (published {published:%Y-%m-%d %H:%M} New York)",
        ylabel=f"{event['ticker']} price (USD)",
        xlabel="Session",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.9)
    return _save(fig, path)
