"""``python -m backtest`` is the ``backtest`` command."""

from backtest.cli import main

main()
