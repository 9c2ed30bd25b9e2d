"""The `cxe-gate` command: parses options, calls the core, renders results. Nothing else lives here:
the gate's commands are in gate_commands.py, the seeder's in seeder_commands.py, `init` (a
starter criteria file from the seeder's journeys) in init_command.py, `history` (reports across
releases) in history_command.py, `scorecard` (a release's checkpoints) in scorecard_command.py."""

from __future__ import annotations

import click

from .. import __version__
from .common import ExitCode, exit_code
from .gate_commands import evaluate, plan, queries, schema, validate
from .history_command import history
from .init_command import init
from .scorecard_command import scorecard
from .seeder_commands import journeys, seed

__all__ = ["ExitCode", "exit_code", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cxe-gate")
def main() -> None:
    """Did this release succeed for customers? A release gate on customer-experience metrics."""


for command in (
    evaluate,
    validate,
    plan,
    schema,
    queries,
    journeys,
    seed,
    init,
    history,
    scorecard,
):
    main.add_command(command)
