"""Publish a run's files atomically: write into a temp folder, then rename or swap.

A reader never sees a half-written results folder: everything goes into
``<out>/.tmp-<uuid>/`` first and is moved to ``<out>/<run_id>/`` only when
complete. On any exception, Ctrl-C or SIGTERM (the CLI turns it into
SystemExit) the temp folder is removed and an existing folder is left as it
was; a process killed outright (SIGKILL, power loss) leaves the temp folder
behind with an ``INCOMPLETE`` marker and a name starting with a dot, so it
never looks like a result.

When ``<out>/<run_id>/`` exists already (``output.if_exists``):

- ``replace`` (the default): the run id hashes the config and the data, so the
  folder holds the results of the same inputs; the new folder takes its place
  in one atomic swap (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two
  renames, the old folder put back if the second fails), then the old one is
  deleted. Rerunning a config never piles up ``-2``, ``-3`` copies.
- ``suffix``: the new folder is published as ``<run_id>-2``, ``-3``...
- ``error``: :class:`~backtest.core.errors.ResultsExistError`.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from backtest.core.errors import DataError, ResultsExistError

__all__ = ["IF_EXISTS", "INCOMPLETE", "publish", "write_csv", "write_json"]

INCOMPLETE = "INCOMPLETE"
IF_EXISTS = ("replace", "suffix", "error")  # what publish does when the folder exists


def _target(root: Path, run_id: str, if_exists: str) -> Path:
    target = root / run_id
    if not target.exists():
        return target
    if if_exists == "error":
        raise ResultsExistError(
            f"{target} already exists; delete it, or set output.if_exists: replace (or suffix)"
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
                    "output.if_exists: replace (or suffix)"
                ) from None
    raise ResultsExistError(
        f"could not find a free name for {root / run_id} after {attempts} tries"
    )


AT_FDCWD = -100  # <fcntl.h>: paths relative to the working directory
RENAME_EXCHANGE = 2  # <linux/fs.h>: swap the two paths in one step
# errno values that mean "this kernel or filesystem cannot exchange": fall back to renames.
NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def _exchange(a: Path, b: Path) -> bool:
    """Swap paths ``a`` and ``b`` atomically; False where the system cannot.

    Linux (3.15+, glibc 2.28+) has ``renameat2(..., RENAME_EXCHANGE)``, which
    Python does not wrap: called through ctypes. Other systems return False.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # only when a folder is replaced

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_by_renames(tmp: Path, target: Path) -> Path:
    """Move ``target`` aside, ``tmp`` in, and return where the old folder went.

    If the second rename fails, the old folder is put back and the error raised;
    if it failed because another run published the same id meanwhile (the same
    config and data), theirs is kept and ours dropped.
    """
    aside = target.parent / f".old-{uuid.uuid4().hex}"
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except OSError:
        if target.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            return aside
        os.rename(aside, target)
        raise
    return aside


def _replace(tmp: Path, target: Path) -> Path:
    """Publish ``tmp`` as ``target``, swapping out a folder already there."""
    try:
        os.rename(tmp, target)  # no folder yet: a plain atomic rename
        return target
    except OSError:
        if not target.exists():
            raise
    if target.is_symlink() or not target.is_dir():
        raise ResultsExistError(
            f"{target} exists and is not a results folder; move it away, or set "
            "output.dir to another folder"
        )
    old = tmp if _exchange(tmp, target) else _swap_by_renames(tmp, target)
    shutil.rmtree(old, ignore_errors=True)  # a leftover is hidden (dot name), never a result
    return target


def publish(root: Path, run_id: str, if_exists: str, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_folder)`` and publish the folder as ``root/run_id`` atomically.

    Parameters
    ----------
    root : pathlib.Path
        The results root (created if missing).
    run_id : str
        The folder's name.
    if_exists : {"replace", "suffix", "error"}
        What to do when ``root/run_id`` exists (see the module docstring).
    write : callable
        Writes the folder's files into the folder it is given.

    Returns
    -------
    pathlib.Path
        The published folder.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> publish(root, "demo", "replace", lambda d: (d / "a.txt").write_text("x")).name
    'demo'
    >>> publish(root, "demo", "replace", lambda d: (d / "a.txt").write_text("y")).name
    'demo'
    >>> (root / "demo" / "a.txt").read_text(), sorted(p.name for p in root.iterdir())
    ('y', ['demo'])
    >>> publish(root, "demo", "suffix", lambda d: None).name
    'demo-2'
    """
    if if_exists not in IF_EXISTS:
        raise ValueError(f"if_exists must be one of {IF_EXISTS}, not {if_exists!r}")
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
        if if_exists == "replace":
            return _replace(tmp, root / run_id)
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
