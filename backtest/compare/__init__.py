"""Compare stage: several strategies or configs side by side, with tests of their differences."""

from backtest.compare.runner import compare_configs, publish_compare

__all__ = ["compare_configs", "publish_compare"]
