"""tests/CATALOGUE.md stays honest: every catalogue id once, every cited test real (issue 6.2)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TABLE = HERE / "CATALOGUE.md"
# The ids of the project's RELIABILITY.md (sections 4 and 5), copied here so the check
# does not depend on a file outside the repository.
CATALOGUE_IDS = (
    [f"C{i}" for i in range(1, 11)]
    + [f"P{i}" for i in range(1, 14)]
    + [f"E{i}" for i in range(1, 11)]
    + [f"K{i}" for i in range(1, 8)]
    + [f"R{i}" for i in range(1, 8)]
    + [f"I{i}" for i in range(1, 22)]
)
# The hostile-input classes of tests/CATALOGUE.md's second table (issue: hardened inputs).
HOSTILE_IDS = [f"H{i}" for i in range(1, 20)]
ALL_IDS = CATALOGUE_IDS + HOSTILE_IDS
ROW = re.compile(r"^\|\s*([A-Z]\d+)\s*\|(.*)\|(.*)\|(.*)\|\s*$")
TEST_REF = re.compile(r"^(test_\w+\.py)::(test_\w+)$")
STATUS = re.compile(r"^(tested\b|partly: \S|not applicable yet: \S)")


def rows() -> list[tuple[str, str, list[str], str]]:
    """(id, requirement, test references, status) of every table row."""
    out = []
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line)
        if match:
            ident, requirement, tests, status = (g.strip() for g in match.groups())
            refs = [] if tests in ("", "—") else [t.strip() for t in tests.split("<br>")]
            out.append((ident, requirement, refs, status))
    return out


@cache
def functions_in(file_name: str) -> frozenset[str]:
    """Names of the top-level ``test_*`` functions of a test file, read with ast."""
    tree = ast.parse((HERE / file_name).read_text())
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )


def test_the_catalogue_has_68_ids():
    assert len(CATALOGUE_IDS) == len(set(CATALOGUE_IDS)) == 68


def test_every_catalogue_id_appears_exactly_once():
    found = [r[0] for r in rows()]
    duplicates = sorted({i for i in found if found.count(i) > 1})
    assert duplicates == []
    assert sorted(set(ALL_IDS) - set(found)) == []
    assert sorted(set(found) - set(ALL_IDS)) == []  # no invented ids


def test_every_status_is_tested_partly_or_not_applicable_with_a_reason():
    bad = [(i, status) for i, _, _, status in rows() if not STATUS.match(status)]
    assert bad == []


@pytest.mark.parametrize(("ident", "refs", "status"), [(r[0], r[2], r[3]) for r in rows()])
def test_every_cited_test_exists(ident, refs, status):
    if status.startswith("not applicable yet"):
        assert refs == [], f"{ident}: not applicable, yet tests are cited"
        return
    assert refs, f"{ident}: {status} but no test cited"
    for ref in refs:
        match = TEST_REF.match(ref)
        assert match, f"{ident}: {ref!r} is not file.py::test_function"
        file_name, function = match.groups()
        assert (HERE / file_name).is_file(), f"{ident}: no tests/{file_name}"
        assert function in functions_in(file_name), f"{ident}: no {function} in {file_name}"


def test_every_gap_test_is_in_the_table():
    """A catalogue test nobody can find from the table is as good as missing."""
    cited = {ref for _, _, refs, _ in rows() for ref in refs}
    missing = sorted(
        f"test_catalogue_gaps.py::{name}"
        for name in functions_in("test_catalogue_gaps.py")
        if f"test_catalogue_gaps.py::{name}" not in cited
    )
    assert missing == []
