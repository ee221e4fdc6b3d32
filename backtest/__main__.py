"""``python -m backtest`` is the ``backtest`` command."""

from backtest.cli.console import main

main()
