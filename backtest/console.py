"""The ``backtest`` console command: fork the engine helper first, then start the CLI.

A command that simulates (``run``, ``compare``) gains most when vectorbt's import
starts at once, before this process imports the CLI itself (typer, rich), so the
helper of :mod:`backtest.engine_helper` is forked here, from a process that has
imported almost nothing and started no threads.
"""

from __future__ import annotations

import sys

__all__ = ["command_name", "main"]

#: Commands whose simulations a helper can run (see :mod:`backtest.engine_helper`).
SIMULATING_COMMANDS = frozenset({"run", "compare"})


def command_name(argv: list[str]) -> str | None:
    """The subcommand in ``argv`` (the first word that is not an option), if any.

    The global options (``--debug``, ``--offline``) are flags, so the first
    word is the command.

    Examples
    --------
    >>> command_name(["--debug", "run", "configs/baba_2026.yaml"])
    'run'
    >>> command_name(["--help"]) is None
    True
    """
    return next((arg for arg in argv if not arg.startswith("-")), None)


def wants_helper(argv: list[str]) -> bool:
    """Whether the command line simulates (and is not just asking for help).

    Examples
    --------
    >>> wants_helper(["run", "configs/baba_2026.yaml"]), wants_helper(["run", "--help"])
    (True, False)
    >>> wants_helper(["events", "configs/baba_2026.yaml"])
    False
    """
    return command_name(argv) in SIMULATING_COMMANDS and "--help" not in argv


def main() -> None:
    """Console entry point (``backtest`` and ``python -m backtest``)."""
    helper = None
    if wants_helper(sys.argv[1:]):
        from backtest.engine_helper import start_helper

        helper = start_helper()
    from backtest.cli import main as cli_main

    cli_main(helper)
