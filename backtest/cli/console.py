"""The ``backtest`` console command (also ``python -m backtest``)."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Console entry point: start the CLI."""
    from backtest.cli.commands import main as cli_main

    cli_main()
