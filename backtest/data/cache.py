"""On-disk Parquet cache for fetched data: atomic, locked, checksummed, versioned.

Layout, one entry per key ``(kind, ticker, interval, basis)`` under the cache root::

    <root>/<kind>/<TICKER>_<interval>_<basis>.json                 manifest (the commit point)
    <root>/<kind>/<TICKER>_<interval>_<basis>.<sha12>.parquet      data it points to
    <root>/<kind>/<TICKER>_<interval>_<basis>.lock                 filelock

A write puts the data in a new, uniquely named Parquet file (temp file in the
same folder, fsynced, ``os.replace``) and then replaces the manifest the same
way. Replacing the manifest is the single commit point: a writer killed at any
instant leaves either the old manifest with its old data file, or the new one
with its new file, never a half-written entry (RELIABILITY K2). Writers and
readers hold a per-key :class:`filelock.FileLock` (K5).

The manifest records the data file's sha256, the fetch time, the yfinance
version and the schema version of its kind; the fetch time, yfinance version and
schema version are also stored in the Parquet key-value metadata. A file whose
bytes do not match the checksum, or that Parquet cannot read, is corrupt
(K1): :meth:`ParquetCache.quarantine` moves it aside as ``*.corrupt-<time>``
so it is never deleted silently nor read as valid. An entry written by another
schema version of its kind (:func:`schema_version`) is treated as missing (K4):
the caller refetches. Versions are per kind, so a change to the stored price
columns does not discard earnings vintages, which no refetch can restore.

The root is, in order: the ``EARNINGS_BACKTEST_CACHE`` environment variable,
the config key ``data.cache_dir``, ``~/.cache/earnings-backtest``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock

from backtest.core.errors import CacheCorrupt, DataError
from backtest.core.paths import CACHE_ENV, cache_root

__all__ = [
    "CACHE_ENV",
    "SCHEMA_VERSION",
    "CacheEntry",
    "CacheKey",
    "KIND_SCHEMA_VERSIONS",
    "ParquetCache",
    "cache_root",
    "schema_version",
]

# Bump a kind's version when its stored columns change; older entries are then
# refetched, not misread. Kinds not listed are at SCHEMA_VERSION.
SCHEMA_VERSION = 1
# prices 2: bars carry split_ratio (Yahoo's split events; RELIABILITY P9).
KIND_SCHEMA_VERSIONS = {"prices": 2}
LOCK_TIMEOUT_S = 120.0
_SAFE = re.compile(r"[^A-Za-z0-9.=^\-]")


def schema_version(kind: str) -> int:
    """The schema version entries of ``kind`` are written with and must have to be read.

    Examples
    --------
    >>> schema_version("prices"), schema_version("earnings")
    (2, 1)
    """
    return KIND_SCHEMA_VERSIONS.get(kind, SCHEMA_VERSION)


@dataclass(frozen=True)
class CacheKey:
    """What a cache entry holds: kind of data, ticker, bar interval, price basis.

    Examples
    --------
    >>> CacheKey("prices", "BRK/B", "1d", "unadjusted").stem
    'BRK_B_1d_unadjusted'
    """

    kind: str
    ticker: str
    interval: str = "1d"
    basis: str = "none"

    @property
    def stem(self) -> str:
        """File-name stem, with characters unsafe in file names replaced."""
        return _SAFE.sub("_", f"{self.ticker}_{self.interval}_{self.basis}")


@dataclass(frozen=True)
class CacheEntry:
    """A valid cache entry: the table and what the manifest says about it."""

    frame: pd.DataFrame
    fetched_at: pd.Timestamp
    yfinance_version: str
    path: Path
    extra: dict = field(default_factory=dict)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    with contextlib.suppress(OSError):  # directory fsync is not possible on every OS
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(folder: Path, final_name: str, payload: bytes) -> Path:
    """Write ``payload`` to a temp file in ``folder`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{final_name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        _fsync_replace(Path(tmp), folder / final_name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return folder / final_name


def _parquet_bytes(frame: pd.DataFrame, meta: dict[str, str]) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=True)
    merged = {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in meta.items()}}
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(merged), buffer)
    return buffer.getvalue()


class ParquetCache:
    """Parquet cache under ``root`` (see the module docstring for the guarantees).

    Examples
    --------
    >>> import tempfile
    >>> cache = ParquetCache(Path(tempfile.mkdtemp()))
    >>> key = CacheKey("prices", "BABA")
    >>> cache.read(key) is None
    True
    >>> _ = cache.write(key, pd.DataFrame({"close": [1.0]}), pd.Timestamp("2026-01-02", tz="UTC"))
    >>> cache.read(key).frame["close"].tolist()
    [1.0]
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, key: CacheKey) -> Path:
        """Folder of ``key``'s kind, created on first use."""
        path = self.root / key.kind
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"cannot create cache folder {path}: {exc}; set {CACHE_ENV} or "
                "data.cache_dir to a writable folder"
            ) from exc
        return path

    def manifest_path(self, key: CacheKey) -> Path:
        """Path of ``key``'s manifest (the entry exists when this file does)."""
        return self.folder(key) / f"{key.stem}.json"

    @contextlib.contextmanager
    def lock(self, key: CacheKey) -> Iterator[None]:
        """Hold ``key``'s inter-process lock (re-entrant within one process)."""
        path = str(self.folder(key) / f"{key.stem}.lock")
        # One lock object per path, so a caller holding it (fetch-then-write) can re-enter.
        with FileLock(path, timeout=LOCK_TIMEOUT_S, is_singleton=True):
            yield

    def read(self, key: CacheKey) -> CacheEntry | None:
        """Return the entry, or None when missing or written by another schema version.

        Raises
        ------
        CacheCorrupt
            The manifest or data file is unreadable or fails its checksum.
        """
        with self.lock(key):
            return self._read_unlocked(key)

    def _read_unlocked(self, key: CacheKey) -> CacheEntry | None:
        manifest_path = self.manifest_path(key)
        if not manifest_path.is_file():
            return None
        manifest = self._manifest(manifest_path)
        if manifest.get("schema_version") != schema_version(key.kind):
            return None
        data_path = manifest_path.parent / str(manifest.get("file", ""))
        if not data_path.is_file() or _sha256(data_path) != manifest.get("sha256"):
            raise self._corrupt(data_path, "does not match the checksum in its manifest")
        try:
            frame = pq.read_table(data_path).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise self._corrupt(data_path, f"is not readable Parquet ({exc})") from exc
        return CacheEntry(
            frame,
            pd.Timestamp(manifest["fetched_at"]),
            manifest["yfinance_version"],
            data_path,
            dict(manifest.get("extra", {})),
        )

    def _manifest(self, path: Path) -> dict:
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise self._corrupt(path, f"is not valid JSON ({exc})") from exc
        if not isinstance(manifest, dict):
            raise self._corrupt(path, "is not a JSON object")
        return manifest

    @staticmethod
    def _corrupt(path: Path, what: str) -> CacheCorrupt:
        return CacheCorrupt(
            f"cache file {path} {what}; it was cut short or edited. Run again online "
            f"to refetch it (the bad file is kept as *.corrupt-<time>), or delete {path.parent}"
        )

    def write(
        self,
        key: CacheKey,
        frame: pd.DataFrame,
        fetched_at: pd.Timestamp,
        yfinance_version: str = "",
        extra: dict[str, str] | None = None,
    ) -> Path:
        """Atomically replace ``key``'s entry with ``frame``; return the data file path.

        ``extra`` is stored in the manifest and returned as :attr:`CacheEntry.extra`
        (the price source keeps the earliest requested start there).

        Raises
        ------
        DataError
            The cache folder is not writable or the disk is full (K6).
        """
        meta = {
            "fetched_at": pd.Timestamp(fetched_at).isoformat(),
            "yfinance_version": yfinance_version,
            "schema_version": str(schema_version(key.kind)),
            "cache_key": json.dumps(key.__dict__, sort_keys=True),
        }
        payload = _parquet_bytes(frame, meta)
        digest = hashlib.sha256(payload).hexdigest()
        manifest = {**meta, "schema_version": schema_version(key.kind), "sha256": digest}
        manifest["extra"] = dict(extra or {})
        manifest["file"] = f"{key.stem}.{digest[:12]}.parquet"
        with self.lock(key):
            folder = self.folder(key)
            try:
                _write_atomic(folder, manifest["file"], payload)
                _write_atomic(folder, f"{key.stem}.json", json.dumps(manifest).encode())
            except OSError as exc:
                raise DataError(f"cannot write cache file in {folder}: {exc}") from exc
            self._remove_stale(key, manifest["file"])
        return folder / manifest["file"]

    def _remove_stale(self, key: CacheKey, keep: str) -> None:
        """Delete data files of ``key`` no manifest points to (superseded or orphaned)."""
        for path in self.folder(key).glob(f"{key.stem}.*.parquet"):
            if path.name != keep:
                with contextlib.suppress(OSError):
                    path.unlink()

    def quarantine(self, key: CacheKey) -> list[Path]:
        """Move ``key``'s manifest and data aside as ``*.corrupt-<time>``; return the new paths."""
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%f")
        moved = []
        with self.lock(key):
            folder = self.folder(key)
            for path in [folder / f"{key.stem}.json", *folder.glob(f"{key.stem}.*.parquet")]:
                if path.exists():
                    target = path.with_name(f"{path.name}.corrupt-{stamp}")
                    os.replace(path, target)
                    moved.append(target)
        return moved
