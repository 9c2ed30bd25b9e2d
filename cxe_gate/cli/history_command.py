"""`cxe-gate history`: each criterion across releases, from their JSON reports."""

from __future__ import annotations

from pathlib import Path

import click

from ..report.history import write_history
from .common import errors_exit


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="history.html (a page with a trend per criterion) or history.md",
)
def history(reports: tuple[Path, ...], output: Path) -> None:
    """Each criterion's value, baseline and verdict across releases, from their JSON reports
    (REPORT.json...), ordered by deploy time."""
    with errors_exit():
        written = write_history(list(reports), output)
    click.echo(f"wrote {written}")
