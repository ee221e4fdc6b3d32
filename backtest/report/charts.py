"""Matplotlib charts of a run, drawn on Agg figures (no global pyplot state).

Each function takes plain pandas objects, writes one PNG and returns its path.
"""

from __future__ import annotations

import textwrap
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

from backtest.core.sample_size import Sample
from backtest.report.drawing import write_png
from backtest.stats.tearsheet import MONTHS, drawdown_series

matplotlib.use("Agg")

__all__ = [
    "plot_drawdown",
    "plot_equity",
    "plot_event_window",
    "plot_monthly_returns",
    "plot_return_distributions",
    "plot_rolling",
    "plot_trade_returns",
]

SIZE, DPI = (10, 5), 110
CANDLE_WIDTH = 0.6  # sessions
BENCH_PREFIX = "benchmark:"
EXCHANGE_TZ = "America/New_York"


def _figure(size: tuple[float, float] = SIZE) -> tuple[Figure, object]:
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, path: Path, tight: bool = True) -> Path:
    """Lay ``fig`` out tightly (unless its margins are set), render it once and write it
    as a PNG (:func:`write_png`)."""
    path = Path(path)
    # Not fig.tight_layout(): it leaves a placeholder layout engine on the figure,
    # for which savefig runs a second, non-rendering draw (a quarter of a chart's time).
    if tight:  # a draw of its own: half the time of a chart with many texts
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
        drawdown = 100.0 * drawdown_series(equity[col])
        ax.plot(drawdown.index, drawdown, label=_label(col, labels), **_style(col))
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


HEATMAP_ROW_INCHES = 0.42  # height of one year's row of a monthly heatmap
HEATMAP_MARGIN_INCHES = (1.0, 0.1, 1.45)  # top (title, months), bottom, left (year labels)
HEATMAP_TITLE_CHARS = 100  # a longer title is wrapped (the top margin fits two lines)
NO_DATA_COLOR = "#eeeeee"


def plot_monthly_returns(table: pd.DataFrame, path: Path, title: str) -> Path:
    """Heatmap of monthly returns (%) per year, with the year's compounded return last.

    Parameters
    ----------
    table : pandas.DataFrame
        One strategy's :func:`backtest.stats.tearsheet.monthly_table`.
    path : pathlib.Path
        Where to write the PNG.
    title : str
        Chart title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    values = 100.0 * table[[*MONTHS, "year_return"]].to_numpy(dtype=float)
    top, bottom, left = HEATMAP_MARGIN_INCHES
    height = top + bottom + HEATMAP_ROW_INCHES * max(len(table), 1)
    fig, ax = _figure((SIZE[0], height))
    # Fixed margins, in inches, instead of a tight layout (its extra draw of every label).
    fig.subplots_adjust(
        left=left / SIZE[0], right=0.99, top=1 - top / height, bottom=bottom / height
    )
    # One colour scale centred on 0, set by the months (a year would wash them out).
    spread = np.nanmax(np.abs(values[:, :-1]), initial=0.0) or 1.0
    norm = matplotlib.colors.TwoSlopeNorm(vmin=-spread, vcenter=0.0, vmax=spread)
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad=NO_DATA_COLOR)
    ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
    for (row, col), value in np.ndenumerate(values):
        if np.isfinite(value):  # white on the darkest cells, where black would not read
            color = "white" if abs(value) > 0.7 * spread else "black"
            weight = "bold" if col == len(MONTHS) else "normal"
            ax.text(col, row, f"{value:+.1f}", ha="center", va="center", fontsize=10,
                    color=color, fontweight=weight)  # fmt: skip
    ax.grid(False)
    ax.axvline(len(MONTHS) - 0.5, color="black", linewidth=1.2)
    ax.set_xticks(range(len(MONTHS) + 1), [*MONTHS, "Year"])
    rows = zip(table["year"], table["n_sessions"], strict=True)
    years = [f"{int(y)} (n = {int(n)})" for y, n in rows]
    ax.set_yticks(range(len(table)), years)
    ax.tick_params(length=0)
    ax.xaxis.set_ticks_position("top")
    ax.tick_params(labelsize=11)
    # Fixed margins cannot grow for a long title: wrap it instead.
    head = "\n".join(textwrap.wrap(f"{title} (%)", HEATMAP_TITLE_CHARS))
    ax.set_title(f"{head}\nn = sessions of the year; grey: no session", fontsize=11)
    return _save(fig, path, tight=False)


def _warm_up(ax, returns: pd.Series, window: int) -> None:
    """Shade the sessions before the first full window: no value is drawn there."""
    if len(returns) >= window:
        ax.axvspan(returns.index[0], returns.index[window - 1], color="0.88", zorder=0)


def _rolling_panel(
    ax, lines: Mapping[int, pd.Series], returns: pd.Series, windows, scale: float
) -> None:
    """One statistic's rolling line per window; a window longer than the data gets a note."""
    for window in windows:
        sample = Sample(int(returns.notna().sum()), window, "sessions")
        if sample.too_few or window not in lines:  # a legend entry without a line says why
            ax.plot([], [], " ", label=f"{window}-session window: {sample.label}")
            continue
        ax.plot(lines[window].index, scale * lines[window], linewidth=1.0 + window / 252,
                label=f"{window}-session window ({window // 21} months)")  # fmt: skip
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)


def plot_rolling(
    panels: Mapping[str, Mapping[int, pd.Series]],
    returns: pd.Series,
    windows: tuple[int, ...],
    path: Path,
    title: str,
) -> Path:
    """Rolling statistics of one strategy, one panel each, one line per window.

    Parameters
    ----------
    panels : mapping of str to mapping of int to pandas.Series
        Panel title (e.g. ``"Sharpe ratio"``, ``"Volatility (%)"``) to the rolling
        series of each window (:func:`backtest.stats.tearsheet.rolling_stats`); a
        title ending in ``(%)`` is drawn in percent.
    returns : pandas.Series
        The strategy's daily returns (their count judges each window).
    windows : tuple of int
        Every window length; one missing from a panel is named with its n instead.
    path : pathlib.Path
        Where to write the PNG.
    title : str
        Chart title.

    Returns
    -------
    pathlib.Path
        ``path``. The sessions before the shortest window is full are shaded grey.
    """
    fig = Figure(figsize=(SIZE[0], 2.4 * len(panels) + 0.6), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, lines) in zip(axes, panels.items(), strict=True):
        _warm_up(ax, returns, min(windows))
        _rolling_panel(ax, lines, returns, windows, 100.0 if name.endswith("(%)") else 1.0)
        ax.set_ylabel(name)
    axes[0].set_title(title + " (grey: the first window filling; a gap: no move in the window)")
    axes[-1].set_xlabel("Session")
    _date_axis(axes[-1])
    return _save(fig, path)
