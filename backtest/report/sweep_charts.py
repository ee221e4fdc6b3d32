"""Heatmaps of a sweep: the chosen metric over every pair of swept parameters."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from backtest.report.charts import _save

__all__ = ["plot_heatmap", "plot_heatmaps"]

MAX_PAIRS = 6


def plot_heatmap(table: pd.DataFrame, x: str, y: str, metric: str, path: Path) -> Path:
    """Mean of ``metric`` over the other parameters for each (x, y) cell, annotated."""
    pivot = table.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
    fig = Figure(
        figsize=(1.2 * max(len(pivot.columns), 5) + 2, 0.6 * max(len(pivot.index), 4) + 2), dpi=110
    )
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values = pivot.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    image = ax.imshow(values, cmap="RdYlGn", vmin=-bound, vmax=bound, aspect="auto", origin="lower")
    ax.set_xticks(range(len(pivot.columns)), [str(c) for c in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [str(i) for i in pivot.index])
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set(xlabel=x, ylabel=y, title=f"{metric} (mean over other parameters)")
    fig.colorbar(image, ax=ax, label=metric)
    return _save(fig, path)


def plot_heatmaps(table: pd.DataFrame, swept: list[str], metric: str, folder: Path) -> list[Path]:
    """One heatmap per pair of swept parameters that take more than one value."""
    varying = [k for k in swept if table[k].nunique(dropna=False) > 1]
    pairs = list(itertools.combinations(varying, 2))[:MAX_PAIRS]
    return [
        plot_heatmap(table, x, y, metric, Path(folder) / f"heatmap_{x}_{y}.png") for x, y in pairs
    ]
