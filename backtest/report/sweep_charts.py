"""Heatmaps of a sweep: the ranking statistic over every pair of swept parameters.

Each cell is the mean of the statistic over the combinations of the other
swept parameters, so a cell must never mix long and short trades (a long and
a short of the same window average to about minus the costs): when ``side`` is
swept and is not one of the two axes, the chart has one panel per side. Every
cell shows how many trades each of its combinations made (``n``).
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from backtest.report.charts import _save
from backtest.report.html_cells import is_percent

__all__ = ["SIDE", "plot_heatmap", "plot_heatmaps"]

MAX_PAIRS = 6
SIDE = "side"  # the strategy parameter that flips a trade's sign: never averaged over
# Parameters whose values are different trades, not settings of one: a heatmap gets a
# panel per value of the first one that is not its axis (side, then the sweep's hedge
# ratio key: hedged and unhedged trades are not averaged together).
PANEL_KEYS = (SIDE, "hedge")


def _n_label(low: float, high: float) -> str:
    """Trades per combination of a cell: one number, or the range when they differ.

    Examples
    --------
    >>> _n_label(259, 259), _n_label(25, 40)
    ('n=259', 'n=25-40')
    """
    return f"n={int(low)}" if low == high else f"n={int(low)}-{int(high)}"


def _value_label(metric: str, value: float) -> str:
    if np.isnan(value):
        return "n/a"
    return f"{value:+.2%}" if is_percent(metric) else f"{value:.2f}"


def _cells(table: pd.DataFrame, x: str, y: str, metric: str) -> tuple[pd.DataFrame, ...]:
    grouped = table.groupby([y, x], dropna=False)
    stats = pd.DataFrame(
        {
            "value": grouped[metric].mean(),
            "low": grouped["n_trades"].min(),
            "high": grouped["n_trades"].max(),
            "combos": grouped.size(),
        }
    )
    return tuple(stats[c].unstack(x) for c in ("value", "low", "high", "combos"))


def plot_heatmap(
    table: pd.DataFrame,
    x: str,
    y: str,
    metric: str,
    path: Path,
    panel_by: str | None = None,
    averaged: list[str] | None = None,
) -> Path:
    """Mean of ``metric`` over the other parameters for each (x, y) cell, annotated with ``n``.

    ``table`` needs columns ``x``, ``y``, ``metric`` and ``n_trades``. With
    ``panel_by`` (e.g. ``side``), one panel per value of that column, so its
    values are never averaged together; all panels share one colour scale.
    ``averaged`` names the other swept parameters the cells average over (title).
    """
    values = [None] if panel_by is None else sorted(table[panel_by].dropna().unique())
    parts = [(v, table if v is None else table[table[panel_by] == v]) for v in values]
    panels = [(v, part, _cells(part, x, y, metric)) for v, part in parts]
    finite = np.concatenate([p[2][0].to_numpy(dtype=float).ravel() for p in panels])
    finite = finite[np.isfinite(finite)]
    bound = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    cols, rows = panels[0][2][0].shape[1], panels[0][2][0].shape[0]
    fig = Figure(
        figsize=(len(panels) * (1.2 * max(cols, 4) + 1) + 1.5, 0.6 * max(rows, 4) + 2.4), dpi=110
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image = None
    for ax, (value, part, (mean, low, high, combos)) in zip(axes, panels, strict=True):
        grid = mean.to_numpy(dtype=float)
        image = ax.imshow(
            grid, cmap="RdYlGn", vmin=-bound, vmax=bound, aspect="auto", origin="lower"
        )
        ax.set_xticks(range(len(mean.columns)), [str(c) for c in mean.columns])
        ax.set_yticks(range(len(mean.index)), [str(i) for i in mean.index])
        for (i, j), v in np.ndenumerate(grid):
            label = _value_label(metric, v)
            if not np.isnan(low.iat[i, j]):
                label += "\n" + _n_label(low.iat[i, j], high.iat[i, j])
            # White on the darkest cells (either end of RdYlGn), black elsewhere.
            dark = np.isfinite(v) and abs(v) > 0.6 * bound
            ax.text(j, i, label, ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")  # fmt: skip
        per_cell = int(combos.max().max()) if combos.size else 0
        where = "all" if value is None else f"{panel_by} = {value}"
        ax.set(xlabel=x, ylabel=y, title=f"{where}: {len(part)} combinations, {per_cell} per cell")
    over = f"mean over {', '.join(averaged)}" if averaged else "one combination per cell"
    title = f"{metric} by {y} and {x} ({over}); n = trades per combination"
    # Wrapped to the figure's width (about 11 characters per inch at this size), so a
    # narrow grid of few columns never cuts its title (the tight layout ignores suptitles).
    width = max(20, int(fig.get_figwidth() * 11))
    fig.suptitle("\n".join(textwrap.wrap(title, width)))
    # On the last panel only (the scale is shared): a colorbar spanning several axes
    # defeats the tight layout the charts are saved with.
    fig.colorbar(image, ax=axes[-1], label=metric if len(axes) == 1 else f"{metric} (all panels)")
    return _save(fig, path)


def plot_heatmaps(table: pd.DataFrame, swept: list[str], metric: str, folder: Path) -> list[Path]:
    """One heatmap per pair of swept parameters that take more than one value.

    ``side`` (when swept with more than one value) is an axis of the pairs it
    belongs to and a panel of every other pair: long and short are never averaged.
    The hedge ratio (``hedge``) likewise, where ``side`` is not already the panel.
    """
    varying = [k for k in swept if table[k].nunique(dropna=False) > 1]
    pairs = list(itertools.combinations(varying, 2))[:MAX_PAIRS]
    paths = []
    for x, y in pairs:
        panel_by = next((k for k in PANEL_KEYS if k in varying and k not in (x, y)), None)
        averaged = [k for k in varying if k not in (x, y, panel_by)]
        path = Path(folder) / f"heatmap_{x}_{y}.png"
        paths.append(plot_heatmap(table, x, y, metric, path, panel_by, averaged))
    return paths
