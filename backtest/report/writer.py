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


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a table with ISO timestamps and full float precision (byte-stable)."""
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
