"""`cxe-gate scorecard`: one release's checkpoint reports side by side, as Markdown, HTML or JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..report.scorecard import build_scorecard, check_scorecard_path, read_report, write_scorecard
from .common import ExitCode, errors_exit


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the scorecard; the extension picks the format: .md .html .json. Repeatable.",
)
def scorecard(reports: tuple[Path, ...], outputs: tuple[Path, ...]) -> None:
    """A release's scorecard from the JSON reports of its checkpoints (`evaluate --checkpoint
    NAME -o NAME.json`): each checkpoint's verdict and what did not pass, as the reports say
    (nothing is judged again). Reports of different releases or criteria files are refused."""
    with errors_exit():
        paths = [check_scorecard_path(p) for p in outputs]
        card = build_scorecard([(path, read_report(path)) for path in reports])
    click.echo(card.headline)
    for path in paths:
        try:
            write_scorecard(card, path)
        except OSError as exc:
            click.secho(
                f"{path}: cannot write the scorecard: {exc.strerror or exc}", fg="red", err=True
            )
            sys.exit(ExitCode.ERROR)
        click.echo(f"wrote {path}")
