"""``python -m backtest`` is the ``backtest`` command."""

from backtest.console import main

main()
