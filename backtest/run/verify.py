"""``backtest run --verify results/<id>``: does a published result still reproduce?

The folder's ``config.yaml`` (every default filled in) is run again without
publishing, its tables are written to a scratch folder and compared byte for
byte with the published ones. Data fingerprints and package versions from the
manifest say *why* a result no longer reproduces.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from backtest.config.model import load_config
from backtest.core.errors import DataUnavailable
from backtest.report.manifest import package_versions

__all__ = ["COMPARED_FILES", "VerifyReport", "verify_results"]

COMPARED_FILES = ("trades.csv", "drops.csv", "events.csv", "equity.csv", "metrics.json")


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of re-running a results folder.

    ``files``: file name -> identical?  ``data_changes``: inputs whose
    fingerprint differs from the manifest.  ``version_changes``: package ->
    (then, now) for packages whose version changed.
    """

    folder: Path
    files: dict[str, bool]
    data_changes: list[str]
    version_changes: dict[str, tuple[str, str]]

    @property
    def reproduces(self) -> bool:
        """True when every compared file is byte-identical."""
        return all(self.files.values())


def _manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not path.is_file() or not (folder / "config.yaml").is_file():
        raise DataUnavailable(
            str(folder), "not a results folder (needs manifest.json and config.yaml)"
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataUnavailable(str(folder), f"manifest.json cannot be read ({exc})") from None
    if not isinstance(manifest, dict):
        raise DataUnavailable(str(folder), "manifest.json is not a JSON object")
    return manifest


def _loaded(folder: Path, manifest: dict):
    """The folder's config, with relative input paths resolved as in the original run."""
    # Plugins come from installed packages only: never from a module planted in the folder.
    loaded = load_config(folder / "config.yaml", plugin_folder=False)
    original = Path(manifest.get("config_file", ""))
    return replace(loaded, path=original) if original.parent.is_dir() else loaded


def _changed_versions(then: dict) -> dict[str, tuple[str, str]]:
    now = package_versions()
    return {k: (v, now.get(k, "missing")) for k, v in then.items() if now.get(k) != v}


def verify_results(folder: str | Path) -> VerifyReport:
    """Re-run ``folder``'s config and compare its outputs with the published ones."""
    from backtest.report.results import write_tables
    from backtest.run.runner import run_loaded

    folder = Path(folder)
    manifest = _manifest(folder)
    result = run_loaded(_loaded(folder, manifest))
    with tempfile.TemporaryDirectory() as scratch:
        write_tables(result, Path(scratch))
        files = {
            name: (folder / name).is_file()
            and (folder / name).read_bytes() == (Path(scratch) / name).read_bytes()
            for name in COMPARED_FILES
        }
    then = manifest.get("data_fingerprints", {})
    changes = [
        k
        for k in sorted(set(then) | set(result.fingerprints))
        if then.get(k) != result.fingerprints.get(k)
    ]
    return VerifyReport(folder, files, changes, _changed_versions(manifest.get("versions", {})))
