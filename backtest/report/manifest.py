"""The run manifest: what produced a results folder, so it can be reproduced."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

__all__ = ["data_fingerprint", "git_sha", "package_versions"]

PACKAGES = (
    "earnings-backtest",
    "pandas",
    "numpy",
    "vectorbt",
    "vectorbt-rust",
    "yfinance",
    "exchange-calendars",
    "pydantic",
    "matplotlib",
    "pyarrow",
    "PyYAML",
)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape results."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def data_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's values and index (order-sensitive), first 16 hex digits.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1.0, 2.0]})
    >>> data_fingerprint(a) == data_fingerprint(a.copy()), data_fingerprint(a) == data_fingerprint(a * 2)
    (True, False)
    """
    hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def git_sha(folder: Path) -> str | None:
    """The git commit of ``folder``'s checkout, or None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
