"""Draw a run's charts, one after another, in this process.

Each chart is a :class:`Chart`: its path and a call that writes it, so the
callers list what to draw and this module owns the one loop that draws them.

Charts are rendered one at a time in the calling thread (matplotlib is not
thread-safe); only the PNG encoding of a rendered image (:func:`write_png`),
which Pillow runs without holding the GIL, goes to one background thread
while the next chart renders. :func:`draw_charts` returns once every file is
written, and raises the first encoding error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["Chart", "draw_charts", "write_png"]

# zlib level 1, not PIL's 6: same pixels, ~10% larger files, a third less encoding.
PNG_COMPRESS_LEVEL = 1
# The pending encodings of the draw_charts call running in this context, if any.
_PENDING: ContextVar[tuple[ThreadPoolExecutor, list[Future]] | None] = ContextVar(
    "pending_png_writes", default=None
)


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
    pending: list[Future] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="png") as pool:
        token = _PENDING.set((pool, pending))
        try:
            for chart in charts:
                chart.draw()
        finally:
            _PENDING.reset(token)
            for future in pending:  # every file written before returning, or the first error
                future.result()
    return [c.path for c in charts]


def write_png(rgba: np.ndarray, path: Path, dpi: float, software: str = "") -> None:
    """Write an (height, width, 4) uint8 image as a PNG at ``dpi`` (as matplotlib's savefig).

    Inside :func:`draw_charts` the encoding runs on its background thread and
    ``rgba`` must not change afterwards; elsewhere it runs here.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "red.png"
    >>> write_png(np.full((2, 3, 4), [255, 0, 0, 255], dtype=np.uint8), path, 100.0)
    >>> with Image.open(path) as image:
    ...     image.size, image.getpixel((0, 0))
    ((3, 2), (255, 0, 0, 255))
    """
    state = _PENDING.get()
    if state is None:
        _encode_png(rgba, path, dpi, software)
    else:
        pool, pending = state
        pending.append(pool.submit(_encode_png, rgba, path, dpi, software))


def _encode_png(rgba: np.ndarray, path: Path, dpi: float, software: str) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if software:
        info.add_text("Software", software)
    Image.fromarray(rgba, mode="RGBA").save(
        path, format="png", dpi=(dpi, dpi), pnginfo=info, compress_level=PNG_COMPRESS_LEVEL
    )
