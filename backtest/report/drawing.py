"""Draw a run's charts, one after another, in this process.

Each chart is a :class:`Chart`: its path and a call that writes it, so the
callers list what to draw and this module owns the one loop that draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["Chart", "draw_charts"]


class Chart(NamedTuple):
    """One PNG to draw: its path and a call with no arguments that writes it."""

    path: Path
    draw: Callable[[], object]


def draw_charts(charts: Sequence[Chart]) -> list[Path]:
    """Write every chart; return their paths in the order given.

    Parameters
    ----------
    charts : sequence of Chart
        The PNGs to write; their folders must exist.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> charts = [Chart(folder / n, (folder / n).touch) for n in ("a.png", "b.png")]
    >>> [p.name for p in draw_charts(charts)]
    ['a.png', 'b.png']
    >>> sorted(p.name for p in folder.iterdir())
    ['a.png', 'b.png']
    """
    for chart in charts:
        chart.draw()
    return [c.path for c in charts]
