"""Publish a run's files atomically: write into a temp folder, then rename.

A reader never sees a half-written results folder: everything goes into
``<out>/.tmp-<uuid>/`` first and is renamed to ``<out>/<run_id>/`` only when
complete. On any exception, Ctrl-C or SIGTERM (the CLI turns it into
SystemExit) the temp folder is removed; a process killed outright (SIGKILL,
power loss) leaves it behind with an ``INCOMPLETE`` marker and a name starting
with a dot, so it never looks like a result. An existing
folder is never overwritten: a ``-2``, ``-3``... suffix is added, or
:class:`~backtest.core.errors.ResultsExistError` raised (``output.if_exists``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from backtest.core.errors import DataError, ResultsExistError

__all__ = ["INCOMPLETE", "publish", "write_csv", "write_json"]

INCOMPLETE = "INCOMPLETE"


def _target(root: Path, run_id: str, if_exists: str) -> Path:
    target = root / run_id
    if not target.exists():
        return target
    if if_exists == "error":
        raise ResultsExistError(
            f"{target} already exists; delete it, or set output.if_exists: suffix"
        )
    n = 2
    while (root / f"{run_id}-{n}").exists():
        n += 1
    return root / f"{run_id}-{n}"


def _rename(tmp: Path, root: Path, run_id: str, if_exists: str, attempts: int = 100) -> Path:
    """Rename ``tmp`` to a free target; a run publishing the same id meanwhile loses nothing."""
    for _ in range(attempts):
        target = _target(root, run_id, if_exists)
        try:
            os.rename(tmp, target)  # atomic on one filesystem; fails rather than merging folders
            return target
        except OSError:
            if not target.exists():
                raise
            if if_exists == "error":
                raise ResultsExistError(
                    f"{target} was published by another run meanwhile; delete it, or set "
                    "output.if_exists: suffix"
                ) from None
    raise ResultsExistError(
        f"could not find a free name for {root / run_id} after {attempts} tries"
    )


def publish(root: Path, run_id: str, if_exists: str, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_folder)`` and publish the folder as ``root/run_id`` atomically.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> publish(root, "demo", "suffix", lambda d: (d / "a.txt").write_text("x")).name
    'demo'
    >>> publish(root, "demo", "suffix", lambda d: None).name
    'demo-2'
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create results folder {root.resolve()}: {exc.strerror}") from exc
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    marker = tmp / INCOMPLETE
    marker.write_text("being written; a folder with this file is not a result\n")
    try:
        write(tmp)
        marker.unlink()
        return _rename(tmp, root, run_id, if_exists)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# Spreadsheet tools run a cell starting with one of these as a formula (CSV injection); a
# leading apostrophe makes it text, as OWASP recommends. Plain numbers (-1.5) are left alone.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def neutralise(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``.

    Examples
    --------
    >>> neutralise("=HYPERLINK(1)")
    "'=HYPERLINK(1)"
    >>> neutralise("-1.5"), neutralise("Alibaba up"), neutralise(3)
    ('-1.5', 'Alibaba up', 3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a table with ISO timestamps and full float precision (byte-stable).

    Text cells that would run as spreadsheet formulas are neutralised (:func:`neutralise`).
    """
    text_columns = [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)
    ]
    if text_columns:
        frame = frame.copy()
        for column in text_columns:
            frame[column] = frame[column].map(neutralise)
    frame.to_csv(path, index=False, float_format="%.12g", date_format="%Y-%m-%dT%H:%M:%S%z")


def _clean(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def write_json(data: dict, path: Path) -> None:
    """Write JSON with sorted keys; NaN and infinities become null (valid JSON)."""
    path.write_text(json.dumps(_clean(data), indent=2, sort_keys=True, default=str) + "\n")
