"""Charts of a comparison: pairwise tests as a forest plot, equity at a common exposure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from backtest.core.sample_size import MIN_TRADES, pair_samples
from backtest.report.charts import _date_axis, _figure, _label, _save, _style

__all__ = ["exposure_scaled", "plot_exposure_scaled", "plot_pairwise_forest"]

PCT = 100.0


def exposure_scaled(returns: pd.DataFrame, exposure: Mapping[str, float]) -> pd.DataFrame:
    """Cumulative simple sum of daily returns scaled to the largest average exposure.

    Each strategy's returns are multiplied by ``max(exposure) / exposure``: a strategy
    in the market 5 % of the time is shown as if it were in the market as often as the
    busiest one. Summed, not compounded, so a large scale cannot turn into ruin.

    Examples
    --------
    >>> r = pd.DataFrame({"a": [0.01, 0.0], "b": [0.01, 0.01]})
    >>> exposure_scaled(r, {"a": 0.5, "b": 1.0}).iloc[-1].round(6).tolist()
    [0.02, 0.02]
    """
    target = max(exposure.values())
    scale = {c: target / exposure[c] if exposure.get(c) else np.nan for c in returns.columns}
    return (returns.fillna(0.0) * pd.Series(scale)).cumsum()


def plot_exposure_scaled(
    returns: pd.DataFrame,
    exposure: Mapping[str, float],
    path: Path,
    labels: Mapping[str, str] | None = None,
    left_out: list[str] | None = None,
) -> Path:
    """Cumulative return of each strategy at the same average exposure (see above).

    ``left_out`` names strategies not drawn (too few trades to scale), for the title.
    """
    fig, ax = _figure()
    scaled = exposure_scaled(returns, exposure)
    target = max(exposure.values())
    for col in scaled.columns:
        text = f"{_label(col, labels)}, x{target / exposure[col]:.1f}"
        ax.plot(scaled.index, PCT * scaled[col], label=text, **_style(col))
    ax.axhline(0.0, color="black", linewidth=0.8)
    title = f"Cumulative return scaled to the same average exposure ({target:.0%}), summed"
    if left_out:
        title += f"\nnot drawn, too few trades (< {MIN_TRADES}): {', '.join(left_out)}"
    ax.set(
        title=title,
        ylabel="Cumulative return (%)",
        xlabel="Session",
    )
    ax.grid(alpha=0.3)
    _date_axis(ax)
    ax.legend(loc="best", fontsize="small", framealpha=0.9)
    return _save(fig, path)


def _panel(ax, rows: list[dict], test: str, keys: tuple[str, str, str], scale: float, unit: str):
    y = np.arange(len(rows))[::-1]
    for yi, row in zip(y, rows, strict=True):
        sample = pair_samples(row["n_trades_a"], row["n_trades_b"])[test]
        mid, low, high = (row[k] for k in keys)
        if sample.too_few or not np.isfinite(mid):
            ax.text(0, yi, sample.label if sample.too_few else "n/a", va="center", ha="center",
                    color="grey", fontsize="small", style="italic",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})  # fmt: skip
            continue
        if np.isfinite(low) and np.isfinite(high):
            ax.plot([scale * low, scale * high], [yi, yi], color="tab:blue", linewidth=2)
        ax.plot(scale * mid, yi, "o", color="tab:blue")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_ylim(-0.7, len(rows) - 0.3)  # room for the bottom row's note above the axis
    ax.grid(alpha=0.3, axis="x")
    ax.set_xlabel(unit)


def plot_pairwise_forest(comparison: pd.DataFrame, path: Path) -> Path:
    """Each pair's difference with its 95 % interval: mean trade return and Sharpe ratio.

    Pairs whose smaller side is below the threshold of a test
    (:func:`backtest.core.sample_size.pair_samples`) show ``n = k: too few`` instead.
    """
    rows = comparison.to_dict("records")
    height = max(3.0, 0.45 * len(rows) + 1.5)
    fig = Figure(figsize=(11, height), dpi=110)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, sharey=True)
    _panel(left, rows, "mean", ("mean_diff", "mean_ci_low", "mean_ci_high"), PCT,
           "Mean trade return, a minus b (%)\nWelch 95% CI")  # fmt: skip
    _panel(right, rows, "sharpe", ("sharpe_diff", "sharpe_boot_ci_low", "sharpe_boot_ci_high"),
           1.0, "Sharpe ratio, a minus b (annualised)\nbootstrap 95% CI")  # fmt: skip
    left.set_yticklabels([f"{r['a']} - {r['b']} (n = {r['n_trades_a']}, {r['n_trades_b']})"
                          for r in rows], fontsize="small")  # fmt: skip
    fig.suptitle("Pairwise differences (a minus b) with 95% intervals")
    return _save(fig, path)


_ = _figure  # the house figure helper, re-exported for symmetry with charts.py
