"""The strategy library's doctests, run under the name it is imported by (backtest.strategies).

pytest's own doctest collection would import strategies/ as a top-level package
named ``strategies``, the very name clash the mapping in pyproject.toml avoids.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import backtest.strategies as library
import pytest

MODULES = sorted(m.name for m in pkgutil.iter_modules(library.__path__, f"{library.__name__}."))


@pytest.mark.parametrize("name", MODULES)
def test_doctests_of_the_strategy_library_pass(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests failed in {name}"
