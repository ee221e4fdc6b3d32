"""Run stage: load prices and events, plan, simulate, measure and publish one backtest."""

from backtest.run.runner import RunResult, run, run_loaded

__all__ = ["RunResult", "run", "run_loaded"]
