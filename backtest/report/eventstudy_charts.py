"""CAR charts of an event study, in the house style of :mod:`backtest.report.charts`.

One PNG per group: each event's CAR path (thin grey), the CAAR (bold) and its
confidence band, days -10..+20 around day 0. One more PNG per grouping overlays
the groups' CAAR lines to compare them.

Charts that would repeat another are not drawn (each costs ~0.1 s): a grouping
with one group holds the same events as ``all``, and a group of one event has no
band, its line is on the grouping's comparison chart and its CAR in ``car.csv``.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.core.sample_size import band_sample
from backtest.report.charts import _figure, _save
from backtest.report.drawing import Chart, draw_charts

__all__ = [
    "car_charts",
    "drawn_groups",
    "plot_car_group",
    "plot_caar_comparison",
    "write_car_charts",
]

PCT = 100.0
MIN_GROUP_CHART = 2  # events a group needs for a chart of its own ("all" always gets one)


def _day_axis(ax, days: np.ndarray) -> None:
    ax.axvline(0, color="black", linestyle=":", linewidth=1.0)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlim(days.min(), days.max())
    ax.set_xticks(np.arange(days.min(), days.max() + 1, 5 if len(days) > 15 else 1))
    ax.grid(alpha=0.3)


def plot_car_group(
    paths: pd.DataFrame, caar: pd.DataFrame, path: Path, title: str, confidence: float
) -> Path:
    """CAR of every event in a group, their CAAR and its band, in percent.

    Parameters
    ----------
    paths : pandas.DataFrame
        Cumulative AR per event: index = day, one column per event.
    caar : pandas.DataFrame
        The group's rows of ``EventStudyResult.caar``.
    path : pathlib.Path
        PNG to write.
    title : str
        Chart title.
    confidence : float
        Level of the band, for the legend.
    """
    fig, ax = _figure()
    days = caar["day"].to_numpy()
    ax.plot(paths.index, PCT * paths.to_numpy(), color="grey", linewidth=0.5, alpha=0.25)
    ax.plot([], [], color="grey", linewidth=0.8, label=f"single events (n = {paths.shape[1]})")
    sample = band_sample(caar["n"].min() if len(caar) else 0)
    if sample.too_few:  # no band: its width would be noise (sample_size.MIN_EVENTS)
        caar = caar.assign(caar_low=np.nan, caar_high=np.nan)
        ax.plot([], [], " ", label=f"no {confidence:.0%} band: {sample.label}")
    else:
        ax.fill_between(
            days,
            PCT * caar["caar_low"],
            PCT * caar["caar_high"],
            color="tab:blue",
            alpha=0.25,
            label=f"{confidence:.0%} confidence band ({sample.label})",
        )
    ax.plot(
        days,
        PCT * caar["caar"],
        color="tab:blue",
        linewidth=2.2,
        marker="o",
        markersize=3,
        label="CAAR",
    )
    _day_axis(ax, days)
    low, high = np.nanpercentile(PCT * paths.to_numpy(), [5, 95]) if paths.size else (-1, 1)
    span = [min(low, PCT * caar["caar_low"].min()), max(high, PCT * caar["caar_high"].max())]
    if np.all(np.isfinite(span)):
        pad = 0.05 * (span[1] - span[0] or 1.0)
        ax.set_ylim(span[0] - pad, span[1] + pad)  # a few extreme events must not flatten the CAAR
    ax.set(
        title=title,
        xlabel="Session relative to day 0 (first tradable session)",
        ylabel="Cumulative abnormal return (%)",
    )
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
    return _save(fig, path)


def plot_caar_comparison(
    caar: pd.DataFrame, path: Path, title: str, confidence: float = 0.95
) -> Path:
    """CAAR of each group of one grouping on one chart, in percent, with their bands.

    A group of fewer than :data:`~backtest.core.sample_size.MIN_EVENTS` events has no
    band and its legend entry says so; the legend says what the shading is, since each
    band takes its group's colour.
    """
    fig, ax = _figure()
    for name, part in caar.groupby("group", sort=False):
        days = part["day"].to_numpy()
        sample = band_sample(part["n"].min())
        label = f"{name} ({sample.label}{' for a band' if sample.too_few else ''})"
        line = ax.plot(days, PCT * part["caar"], linewidth=2.0, label=label)[0]
        if sample.too_few:
            continue
        ax.fill_between(
            days,
            PCT * part["caar_low"],
            PCT * part["caar_high"],
            color=line.get_color(),
            alpha=0.12,
        )
    ax.fill_between([], [], [], color="grey", alpha=0.2, label=f"{confidence:.0%} band, per group")
    _day_axis(ax, caar["day"].to_numpy())
    ax.set(
        title=title, xlabel="Session relative to day 0 (first tradable session)", ylabel="CAAR (%)"
    )
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
    return _save(fig, path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "group"


def _paths(ar: pd.DataFrame, event_ids: pd.Series) -> pd.DataFrame:
    part = ar[ar["event_id"].isin(set(event_ids))]
    wide = part.pivot(index="day", columns="event_id", values="ar")
    return wide.cumsum()


def drawn_groups(caar: pd.DataFrame) -> tuple[list[tuple[str, str]], list[str]]:
    """(grouping, group) pairs that get a CAR chart, and groupings that get a comparison.

    Examples
    --------
    >>> caar = pd.DataFrame({"group_by": ["all", "timing", "event_type", "event_type"],
    ...                      "group": ["all", "bmo", "earnings", "news"], "n": [3, 3, 2, 1]})
    >>> drawn_groups(caar)  # timing = bmo repeats all; news is one event
    ([('all', 'all'), ('event_type', 'earnings')], ['event_type'])
    """
    sizes = caar.groupby(["group_by", "group"], sort=False)["n"].first()
    counts = sizes.groupby(level=0, sort=False).size()
    total = sizes.get(("all", "all"), -1)
    compared = [by for by, k in counts.items() if by != "all" and k >= 2]

    def repeats_all(by: str, n: int) -> bool:
        return counts[by] == 1 and n == total

    groups = [
        (by, name)
        for (by, name), n in sizes.items()
        if by == "all" or (n >= MIN_GROUP_CHART and not repeats_all(by, n))
    ]
    return groups, compared


def car_charts(result, folder: Path) -> list[Chart]:
    """Every group's CAR chart and each grouping's comparison chart, to draw into ``folder``.

    Parameters
    ----------
    result : EventStudyResult
        The study to draw.
    folder : pathlib.Path
        Folder for the PNGs (``car_<grouping>_<group>.png``, ``caar_by_<grouping>.png``).
    """
    charts = []
    conf = result.settings.confidence
    groups, compared = drawn_groups(result.caar)
    for (by, name), rows in result.caar.groupby(["group_by", "group"], sort=False):
        if (by, name) not in groups:
            continue
        ids = result.groups.loc[
            (result.groups["group_by"] == by) & (result.groups["group"] == name), "event_id"
        ]
        title = "CAR, all events" if by == "all" else f"CAR, {by.replace('_', ' ')} = {name}"
        path = folder / f"car_{_slug(by)}_{_slug(str(name))}.png"
        draw = partial(plot_car_group, _paths(result.ar, ids), rows, path, title, conf)
        charts.append(Chart(path, draw))
    for by, rows in result.caar.groupby("group_by", sort=False):
        if by in compared:
            path = folder / f"caar_by_{_slug(by)}.png"
            title = f"CAAR by {by.replace('_', ' ')}"
            charts.append(Chart(path, partial(plot_caar_comparison, rows, path, title, conf)))
    return charts


def write_car_charts(result, folder: Path) -> list[Path]:
    """Write every chart of :func:`car_charts` into the existing ``folder``; return their paths."""
    return draw_charts(car_charts(result, folder))
