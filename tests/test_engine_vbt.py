"""vectorbt's Rust engine runs without starting Numba: the group sizes it needs are counted in numpy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vectorbt.base import column_grouper

from backtest.engine.vectorbt import group_lens, numpy_group_lens

REPO = Path(__file__).resolve().parents[1]

sorted_codes = st.lists(st.integers(0, 6), max_size=40).map(sorted)


# The reference is a Numba function: its first call compiles, which can outlast hypothesis' deadline.
@settings(deadline=None)
@given(sorted_codes)
def test_group_lens_equals_vectorbts_numba_count(codes):
    groups = np.array(codes, dtype=np.int64)
    expected = column_grouper.get_group_lens_nb(groups)
    got = group_lens(groups)
    assert got.dtype == expected.dtype
    assert got.tolist() == expected.tolist()


def test_unsorted_groups_raise_vectorbts_error():
    groups = np.array([0, 1, 0])
    with pytest.raises(ValueError) as numba_error:
        column_grouper.get_group_lens_nb(groups)
    with pytest.raises(ValueError, match="coherent and sorted") as ours:
        group_lens(groups)
    assert str(ours.value) == str(numba_error.value)


def test_the_substitute_is_restored_after_the_simulation():
    original = column_grouper.get_group_lens_nb
    with numpy_group_lens():
        assert column_grouper.get_group_lens_nb is group_lens
    assert column_grouper.get_group_lens_nb is original


SCRIPT = """
from backtest.config.model import load_config
from backtest.run.runner import run_loaded
from vectorbt.base import column_grouper
res = run_loaded(load_config("configs/baba_2026.yaml"))
assert len(res.trades) > 0, res.trades
print(len(column_grouper.get_group_lens_nb.signatures))
"""


def test_a_vectorbt_run_compiles_no_numba_function():
    # A fresh process: in this one, other tests have already started Numba.
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "0"
