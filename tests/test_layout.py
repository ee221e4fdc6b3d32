"""The package's shape: stages in one direction, the strategy library under its own name.

Import cycles and the stage layers are checked by `make lint` (the cycle tool and
import-linter); these tests pin what those tools cannot see.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

#: What the strategy library (and so a user's strategy) may import from the project.
STRATEGY_API = ("backtest.strategy", "backtest.core", "backtest.strategies")


def _project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name.split(".")[0] in {"backtest", "strategies"}}


def test_the_strategy_library_imports_only_the_strategy_api():
    for path in sorted((REPO / "strategies").glob("*.py")):
        outside = {m for m in _project_imports(path) if not m.startswith(STRATEGY_API)}
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_pyproject_lists_every_package_of_the_tree():
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(tool["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "backtest").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert listed == on_disk | {"backtest.strategies"}
    assert tool["package-dir"] == {"backtest.strategies": "strategies"}


def _clashing_folder(tmp_path: Path) -> Path:
    """A user's working folder with modules named like the project's own."""
    folder = tmp_path / "work"
    folder.mkdir(parents=True)
    (folder / "strategies.py").write_text(
        "raise ImportError('the user strategies.py was imported')\n"
    )
    (folder / "backtest.py").write_text("raise ImportError('the user backtest.py was imported')\n")
    return folder


def test_the_cli_runs_from_a_folder_holding_strategies_py_and_backtest_py(tmp_path):
    folder = _clashing_folder(tmp_path)
    console = Path(sys.executable).with_name("backtest")
    out = subprocess.run(
        [
            str(console),
            "run",
            str(REPO / "configs" / "baba_2026.yaml"),
            "--out",
            str(tmp_path / "r"),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "earnings_hold" in out.stdout


def test_the_api_runs_beside_a_users_strategies_py(tmp_path):
    """A notebook's folder is on sys.path: its strategies.py must not shadow the library.

    (A module of the user's named ``backtest.py`` on sys.path would shadow the whole
    package, as any module named like an installed package does; a script run from
    elsewhere with that folder as its working directory is unaffected, tested too.)
    """
    folder = _clashing_folder(tmp_path)
    code = (
        "from backtest.config import load_config\n"
        "from backtest.run import run_loaded\n"
        f"res = run_loaded(load_config({str(REPO / 'configs' / 'baba_2026.yaml')!r}))\n"
        "print(sorted(res.trades['strategy'].unique()))\n"
    )
    (folder / "backtest.py").unlink()
    notebook = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(folder)},
    )
    assert notebook.returncode == 0, notebook.stderr
    assert "earnings_hold" in notebook.stdout
    _clashing_folder(tmp_path / "again")
    script = tmp_path / "script.py"
    script.write_text(code)
    elsewhere = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path / "again" / "work",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "earnings_hold" in elsewhere.stdout
